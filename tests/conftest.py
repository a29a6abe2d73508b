"""Shared fixtures: an isolated STOM_HOME per test and the real PostgreSQL/Redis services.

Service fixtures skip with a clear reason when the server is not reachable, unless
``STOM_REQUIRE_SERVICES=1`` (set by ``.ci/run``), in which case a missing service fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_ADMIN_URL = os.environ.get(
    "STOM_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("STOM_TEST_REDIS", "redis://127.0.0.1:6379/15")

# file_keyring, server and app: fixtures shared across test folders (tests/helpers).
pytest_plugins = ("shared_fixtures",)


def _service_missing(what: str, exc: BaseException) -> None:
    message = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if os.environ.get("STOM_REQUIRE_SERVICES") == "1":
        pytest.fail(f"STOM_REQUIRE_SERVICES=1 but {message}", pytrace=False)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def stom_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own config/data/log folders; the user's profile is never touched."""
    home = tmp_path / "stom-home"
    monkeypatch.setenv("STOM_HOME", str(home))
    for key in list(os.environ):
        if (
            key.startswith("STOM_")
            and key not in {"STOM_HOME", "STOM_REQUIRE_SERVICES"}
            and not key.startswith("STOM_TEST_")
        ):
            monkeypatch.delenv(key)
    return home


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test session; dropped afterwards."""
    try:
        import sqlalchemy as sa

        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        name = f"stom_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means "missing"
        _service_missing("PostgreSQL at 127.0.0.1:5432", exc)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each storage test runs twice: on a SQLite file and on a fresh PostgreSQL schema-set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.sqlite'}"
        return
    base_url: str = request.getfixturevalue("postgres_url")
    # One database per session, a clean slate per test: drop everything the test created.
    yield base_url
    import sqlalchemy as sa

    engine = sa.create_engine(base_url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture()
def redis_url() -> str:
    """The real Redis server (database 15, flushed before the test)."""
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.flushdb()
        client.close()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means "missing"
        _service_missing("Redis at 127.0.0.1:6379", exc)
    return REDIS_URL
