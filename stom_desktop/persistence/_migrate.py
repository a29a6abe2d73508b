"""Run Alembic migrations from code: a Config built here, no alembic.ini at runtime."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant: serialises concurrent start-ups migrating the same PostgreSQL database.
_PG_MIGRATION_LOCK = 0x5707_0001


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at our migrations, optionally bound to ``connection``."""
    config = Config()
    # ConfigParser interpolation treats '%' specially; escape it in the path.
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this version of the application."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Apply every pending migration in one transaction (a no-op when up to date)."""
    with engine.connect() as conn:
        # Marks the transaction as a write (BEGIN IMMEDIATE on SQLite), see db._begin_sqlite.
        conn.execution_options(stom_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                )
            if current_revision(conn) == head_revision():
                return  # the common case at start-up: skip Alembic's command machinery
            command.upgrade(alembic_config(conn), "head")
