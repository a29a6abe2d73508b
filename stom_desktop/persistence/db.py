"""Open the database: engine, connection settings, automatic migrations, transactions.

``create_database(url)`` is the only way in. It accepts ``sqlite:///path`` (the default,
in the user data dir) and PostgreSQL URLs (``postgresql://`` is rewritten to the psycopg 3
driver), connects, migrates to the newest schema, and returns a :class:`Database`. Any
failure to reach or open the database becomes a ``PersistenceError`` naming the URL (with
its password masked) and what to check.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.util.exc import CommandError
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence._migrate import upgrade_to_head

# How long SQLite waits for another connection's write lock before failing (ms).
SQLITE_BUSY_TIMEOUT_MS = 10_000
# PRAGMA values cannot be bound parameters: the statement is a fixed literal.
_BUSY_TIMEOUT_PRAGMA = "PRAGMA busy_timeout = 10000"
assert _BUSY_TIMEOUT_PRAGMA.endswith(str(SQLITE_BUSY_TIMEOUT_MS))
# Seconds to wait for a PostgreSQL server before reporting it unreachable.
PG_CONNECT_TIMEOUT_S = 10
# Execution option marking a connection whose transaction will write (see _begin_sqlite).
_WRITE = "stom_write"


class Database:
    """An open, migrated database: transactions for repositories, sessions for the ORM.

    Use :meth:`begin` for work that writes (all or nothing), :meth:`connect` for reads,
    and :meth:`dispose` when the application shuts down.
    """

    def __init__(self, engine: Engine, display_url: str, secret: str | None = None) -> None:
        self.engine = engine
        self.display_url = display_url  # the URL with its password masked: safe to show
        self._secret = secret  # only used to scrub the password out of error messages
        self.session_factory: sessionmaker[Session] = sessionmaker(
            bind=engine, expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        """``'sqlite'`` or ``'postgresql'``."""
        return self.engine.dialect.name

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one write transaction: committed on success, else rolled back.

        On SQLite the transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock
        up front (waiting up to the busy timeout) instead of failing half-way when a read
        turns into a write while another connection writes.
        """
        try:
            with self.engine.connect() as conn:
                conn.execution_options(**{_WRITE: True})
                with conn.begin():
                    yield conn
        except sa.exc.DBAPIError as exc:
            raise database_error(exc, self.display_url, "write", self._secret) from exc
        except sa.exc.StatementError as exc:  # a value the column type refused
            raise value_error(exc, self.display_url) from exc

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reading (one consistent snapshot per transaction)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except sa.exc.DBAPIError as exc:
            raise database_error(exc, self.display_url, "read", self._secret) from exc
        except sa.exc.StatementError as exc:  # a value the column type refused
            raise value_error(exc, self.display_url) from exc

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session in one write transaction (flushed and committed on success)."""
        with self.begin() as conn, Session(bind=conn, expire_on_commit=False) as session:
            yield session
            session.flush()

    def dispose(self) -> None:
        """Close every pooled connection (call on shutdown; the object is unusable after)."""
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.display_url!r})"


def create_database(url: str, *, migrate: bool = True, echo: bool = False) -> Database:
    """Connect to ``url``, apply pending migrations (unless ``migrate=False``) and return it.

    Raises ``PersistenceError`` (URL password masked, with a hint) when the URL is invalid,
    the server is unreachable, the login is refused, the SQLite file cannot be opened, or
    the schema was written by a newer version of STOM Desktop.
    """
    sa_url = _parse_url(url)
    display = mask_url(sa_url)
    secret = str(sa_url.password) if sa_url.password else None
    if sa_url.get_backend_name() == "sqlite":
        _check_sqlite_folder(sa_url, display)
        engine = _sqlite_engine(sa_url, echo)
    else:
        engine = sa.create_engine(
            sa_url,
            echo=echo,
            json_serializer=_json_dumps,
            pool_pre_ping=True,  # a desktop sleeps; its pooled connections go stale
            connect_args={
                "connect_timeout": PG_CONNECT_TIMEOUT_S,
                "application_name": "stom-desktop",
            },
        )
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        if migrate:
            upgrade_to_head(engine)
    except (sa.exc.DBAPIError, sqlite3.Error, OSError) as exc:
        engine.dispose()
        raise database_error(exc, display, "open", secret) from exc
    except CommandError as exc:
        engine.dispose()
        raise PersistenceError(
            f"cannot migrate database {display}: {exc}",
            hint="it was probably written by a newer STOM Desktop; upgrade the application",
        ) from exc
    return Database(engine, display, secret)


def mask_url(url: str | sa.URL) -> str:
    """The URL as text with any password replaced by ``***``."""
    if isinstance(url, sa.URL):
        return url.render_as_string(hide_password=True)
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def database_error(
    exc: BaseException, display_url: str, action: str, secret: str | None = None
) -> PersistenceError:
    """Turn a driver/SQLAlchemy failure into a ``PersistenceError`` with a useful hint.

    ``secret`` (the password) is scrubbed from the driver's text: drivers do not normally
    echo it, but it must never reach a log or a dialog.
    """
    original = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
    reason = " ".join(str(original).split()) or type(original).__name__
    if secret:
        reason = reason.replace(secret, "***")
    if isinstance(exc, sa.exc.IntegrityError):
        return PersistenceError(
            f"database {display_url} refused the {action}: {reason}",
            hint="a unique or foreign-key rule was broken; nothing was written",
        )
    return PersistenceError(
        f"cannot {action} database {display_url}: {reason}", hint=_hint(reason.lower())
    )


def value_error(exc: sa.exc.StatementError, display_url: str) -> PersistenceError:
    """A value refused by a column type (e.g. a float for money) as a ``PersistenceError``."""
    return PersistenceError(
        f"database {display_url}: a value could not be stored: {exc.orig}",
        hint="nothing was written; repositories check values first, so this is a bug",
    )


def _hint(reason: str) -> str:
    if "refused" in reason or "could not connect" in reason or "timeout" in reason:
        return "is the PostgreSQL server running and listening at that host and port?"
    if "resolve" in reason or "name or service" in reason or "nodename" in reason:
        return "check the host name in database_url"
    if "password" in reason or "authentication" in reason or "role" in reason:
        return "check the user name and password in database_url"
    if "database" in reason and "does not exist" in reason:
        return "create the database first (createdb NAME) or fix its name in database_url"
    if "unable to open" in reason or "readonly" in reason or "read-only" in reason:
        return "the SQLite file's folder must exist and be writable; check database_url"
    if "locked" in reason or "busy" in reason:
        return "another program holds the database; close it or wait and retry"
    return "check database_url (stom config show) and that the database is reachable"


def _json_dumps(value: Any) -> str:
    # PostgreSQL's JSON has no NaN/Infinity: refuse them on SQLite too, so both agree.
    return json.dumps(value, allow_nan=False)


def _parse_url(url: str) -> sa.URL:
    try:
        sa_url = sa.make_url(url)
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise PersistenceError(
            f"invalid database URL {mask_url(url)!r}",
            hint="use sqlite:///path/to/file.sqlite or postgresql://user:password@host/db",
        ) from exc
    backend = sa_url.get_backend_name()
    if backend == "postgres":  # Heroku-style alias
        backend = "postgresql"
    if backend == "postgresql":
        sa_url = sa_url.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise PersistenceError(
            f"unsupported database {mask_url(sa_url)!r}",
            hint="STOM Desktop stores data in SQLite or PostgreSQL",
        )
    return sa_url


def _check_sqlite_folder(sa_url: sa.URL, display: str) -> None:
    database = sa_url.database
    if not database or database == ":memory:":
        return
    folder = Path(database).expanduser().resolve().parent
    if not folder.is_dir():
        raise PersistenceError(
            f"cannot open database {display}: folder {folder} does not exist",
            hint="create the folder or point database_url at an existing one",
        )


def _sqlite_engine(sa_url: sa.URL, echo: bool) -> Engine:
    in_memory = not sa_url.database or sa_url.database == ":memory:"
    kwargs: dict[str, Any] = {}
    if in_memory:
        # One shared connection, or every pooled connection would see its own empty DB.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = sa.create_engine(sa_url, echo=echo, json_serializer=_json_dumps, **kwargs)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself: pysqlite's implicit transactions
    # start only at the first INSERT/UPDATE, so a read-then-write would not be atomic.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(_BUSY_TIMEOUT_PRAGMA)
        # 32 MB page cache (allocated only as used): bulk bar writes ran ~25% faster.
        cursor.execute("PRAGMA cache_size = -32768")
        # WAL: readers never block the writer (GUI reads while the engine journals).
        cursor.execute("PRAGMA journal_mode = WAL")
        # FULL: order intents are committed through this engine; NORMAL could lose the
        # last commits on power loss (a process crash loses nothing in either mode).
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _begin_sqlite(conn: Connection) -> None:
    immediate = conn.get_execution_options().get(_WRITE, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
