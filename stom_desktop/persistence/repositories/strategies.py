"""Versioned strategy source: every save is a new version number per strategy name."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from stom_desktop.persistence.db import Database
from stom_desktop.persistence.models import StrategyVersion, table_of
from stom_desktop.persistence.records import StrategyRecord
from stom_desktop.persistence.repositories._common import check_text, jsonable, utc_now

_T = table_of(StrategyVersion)


class StrategyRepository:
    """Save and read versions of strategies (code text plus default parameters)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save_version(self, name: str, code: str, parameters: dict[str, Any]) -> int:
        """Store a new version of ``name`` and return its number (1 for the first)."""
        check_text(name, "strategy name", 128)
        if not isinstance(code, str):
            raise TypeError(f"strategy {name!r}: code must be text, got {type(code).__name__}")
        params = jsonable(parameters, f"strategy {name!r} parameters")
        with self._db.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Two saves of one name at once must not both pick max+1 (SQLite's
                # BEGIN IMMEDIATE already serialises writers).
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(name))))
            latest = conn.execute(sa.select(sa.func.max(_T.c.version)).where(_T.c.name == name))
            version = (latest.scalar() or 0) + 1
            conn.execute(
                sa.insert(_T).values(
                    name=name,
                    version=version,
                    code=code,
                    parameters=params,
                    created_at=utc_now(),
                )
            )
        return version

    def latest(self, name: str) -> StrategyRecord | None:
        """The newest version of ``name``, or None if it was never saved."""
        query = sa.select(_T).where(_T.c.name == name).order_by(_T.c.version.desc()).limit(1)
        return self._one(query)

    def get(self, name: str, version: int) -> StrategyRecord | None:
        """Version ``version`` of ``name``, or None."""
        return self._one(sa.select(_T).where(_T.c.name == name, _T.c.version == version))

    def versions(self, name: str) -> list[StrategyRecord]:
        """Every version of ``name``, oldest first."""
        with self._db.connect() as conn:
            rows = conn.execute(sa.select(_T).where(_T.c.name == name).order_by(_T.c.version))
            return [_record(row) for row in rows]

    def list(self) -> list[StrategyRecord]:
        """The newest version of every strategy, by name."""
        newest = (
            sa.select(_T.c.name, sa.func.max(_T.c.version).label("version"))
            .group_by(_T.c.name)
            .subquery()
        )
        query = (
            sa.select(_T)
            .join(newest, sa.and_(_T.c.name == newest.c.name, _T.c.version == newest.c.version))
            .order_by(_T.c.name)
        )
        with self._db.connect() as conn:
            return [_record(row) for row in conn.execute(query)]

    def _one(self, query: Any) -> StrategyRecord | None:
        with self._db.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _record(row)


def _record(row: Any) -> StrategyRecord:
    return StrategyRecord(
        id=row.id,
        name=row.name,
        version=row.version,
        code=row.code,
        parameters=row.parameters,
        created_at=row.created_at,
    )
