"""Opening databases: connection settings, migrations on start-up, dead-database errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence import create_database, mask_url
from stom_desktop.persistence._migrate import current_revision, head_revision
from stom_desktop.persistence.models import Base


def test_migrations_create_every_table_and_restart_is_a_no_op(database_url: str) -> None:
    first = create_database(database_url)
    with first.connect() as conn:
        assert current_revision(conn) == head_revision()
        tables = set(sa.inspect(conn).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables
    first.dispose()

    # A second start on the same database: nothing to do, data untouched.
    again = create_database(database_url)
    with again.begin() as conn:
        conn.execute(sa.text("INSERT INTO job_runs (job_id, status) VALUES ('j', 'ok')"))
    third = create_database(database_url)
    with third.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert conn.execute(sa.text("SELECT count(*) FROM job_runs")).scalar() == 1
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    assert versions == [(head_revision(),)]
    again.dispose()
    third.dispose()


def test_sqlite_connections_use_wal_full_sync_and_foreign_keys(tmp_path: Path) -> None:
    db = create_database(f"sqlite:///{tmp_path / 'a.sqlite'}")
    with db.connect() as conn:
        pragma = {
            "journal_mode": conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
            "synchronous": conn.exec_driver_sql("PRAGMA synchronous").scalar(),
            "foreign_keys": conn.exec_driver_sql("PRAGMA foreign_keys").scalar(),
            "busy_timeout": conn.exec_driver_sql("PRAGMA busy_timeout").scalar(),
        }
    db.dispose()
    assert pragma == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 10000,
    }


def test_sqlite_foreign_keys_are_enforced(tmp_path: Path) -> None:
    db = create_database(f"sqlite:///{tmp_path / 'fk.sqlite'}")
    insert = sa.text(
        "INSERT INTO order_events (order_id, to_status, at) VALUES (999, 'new', '2024-01-01')"
    )
    with pytest.raises(PersistenceError, match="refused"), db.begin() as conn:
        conn.execute(insert)
    db.dispose()


@pytest.mark.postgres
def test_plain_postgresql_url_is_rewritten_to_psycopg(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    db = create_database(plain, migrate=False)
    assert db.engine.url.drivername == "postgresql+psycopg"
    assert db.dialect == "postgresql"
    db.dispose()


@pytest.mark.postgres
def test_refused_connection_names_url_and_hints() -> None:
    with pytest.raises(PersistenceError) as caught:
        create_database("postgresql+psycopg://nobody@127.0.0.1:1/x")
    message = str(caught.value)
    assert "postgresql+psycopg://nobody@127.0.0.1:1/x" in message
    assert "running" in caught.value.hint  # type: ignore[operator]


@pytest.mark.postgres
def test_login_failure_masks_the_password(postgres_url: str) -> None:
    host_and_db = postgres_url.split("@", 1)[1]
    url = f"postgresql://no_such_role_stom:Sup3rS3cretPw@{host_and_db}"
    with pytest.raises(PersistenceError) as caught:
        create_database(url)
    message = str(caught.value)
    assert "Sup3rS3cretPw" not in message
    assert "no_such_role_stom:***@" in message
    assert "user name and password" in message


def test_password_is_masked_even_in_unparsable_or_unsupported_urls() -> None:
    with pytest.raises(PersistenceError) as caught:
        create_database("mysql://root:hunter2pw@localhost/db")
    assert "hunter2pw" not in str(caught.value)
    assert "root:***@" in str(caught.value)
    assert mask_url("postgresql://a:b%40c@h/d") == "postgresql://a:***@h/d"


def test_sqlite_in_missing_folder_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "folder" / "db.sqlite"
    with pytest.raises(PersistenceError, match="does not exist"):
        create_database(f"sqlite:///{missing}")
    assert not missing.parent.exists()  # nothing was created on the way


def test_sqlite_in_read_only_location_is_refused() -> None:
    # /proc exists but no file can be created there, not even by root.
    with pytest.raises(PersistenceError) as caught:
        create_database("sqlite:////proc/stom-test.sqlite")
    assert "sqlite:////proc/stom-test.sqlite" in str(caught.value)
    assert caught.value.hint is not None


def test_unknown_host_is_reported_not_raised_raw() -> None:
    with pytest.raises(PersistenceError) as caught:
        create_database("postgresql://u:pw1234567@no-such-host.invalid:5432/db")
    assert "pw1234567" not in str(caught.value)
    assert "no-such-host.invalid" in str(caught.value)


def test_in_memory_sqlite_works_for_quick_tools() -> None:
    db = create_database("sqlite://")
    with db.begin() as conn:
        conn.execute(sa.text("INSERT INTO job_runs (job_id, status) VALUES ('x', 'missed')"))
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM job_runs")).scalar() == "missed"
    db.dispose()
