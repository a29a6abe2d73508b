"""Trading sessions: created before they start, status and errors updated as they run."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence.db import Database
from stom_desktop.persistence.models import TradingSession, table_of
from stom_desktop.persistence.records import SessionRecord
from stom_desktop.persistence.repositories._common import aware, check_text, jsonable, utc_now

_T = table_of(TradingSession)
MODES = ("paper", "live", "dry_run")
# Statuses that end a session: set ``stopped_at`` when entered.
ENDED_STATUSES = frozenset({"stopped", "error"})


class SessionRepository:
    """Create sessions and record their status; the engine decides which changes are legal."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        name: str,
        strategy_name: str,
        mode: str,
        symbols: builtins.list[str],
        *,
        strategy_version: int | None = None,
        config: dict[str, Any] | None = None,
        status: str = "created",
    ) -> SessionRecord:
        """Store a new session and return it."""
        check_text(name, "session name", 128)
        check_text(strategy_name, "strategy name", 128)
        if mode not in MODES:
            raise ValueError(f"session {name!r}: mode must be one of {MODES}, got {mode!r}")
        row = {
            "name": name,
            "strategy_name": strategy_name,
            "strategy_version": strategy_version,
            "mode": mode,
            "symbols": [check_text(s, "symbol", 64) for s in symbols],
            "status": status,
            "created_at": utc_now(),
            "config": jsonable(config or {}, f"session {name!r} config"),
        }
        with self._db.begin() as conn:
            new_id = conn.execute(sa.insert(_T).values(**row).returning(_T.c.id)).scalar_one()
            return _record(conn.execute(sa.select(_T).where(_T.c.id == new_id)).one())

    def set_status(
        self,
        session_id: int,
        status: str,
        *,
        at: datetime | None = None,
        error: str | None = None,
    ) -> SessionRecord:
        """Record a new status.

        'running' sets ``started_at`` (first time only); 'stopped'/'error' set ``stopped_at``.
        """
        moment = aware(at, f"session {session_id} status time")
        values: dict[str, Any] = {"status": status}
        if error is not None:
            values["error"] = error
        with self._db.begin() as conn:
            current = conn.execute(sa.select(_T).where(_T.c.id == session_id)).first()
            if current is None:
                raise PersistenceError(f"session {session_id} does not exist")
            if status == "running" and current.started_at is None:
                values["started_at"] = moment
            if status in ENDED_STATUSES:
                values["stopped_at"] = moment
            conn.execute(sa.update(_T).where(_T.c.id == session_id).values(**values))
            return _record(conn.execute(sa.select(_T).where(_T.c.id == session_id)).one())

    def get(self, session_id: int) -> SessionRecord | None:
        """The session, or None."""
        with self._db.connect() as conn:
            row = conn.execute(sa.select(_T).where(_T.c.id == session_id)).first()
        return None if row is None else _record(row)

    def list(self, limit: int = 100) -> builtins.list[SessionRecord]:
        """The newest ``limit`` sessions, newest first."""
        with self._db.connect() as conn:
            rows = conn.execute(sa.select(_T).order_by(_T.c.id.desc()).limit(limit))
            return [_record(row) for row in rows]


def _record(row: Any) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        name=row.name,
        strategy_name=row.strategy_name,
        strategy_version=row.strategy_version,
        mode=row.mode,
        symbols=list(row.symbols),
        status=row.status,
        created_at=row.created_at,
        started_at=row.started_at,
        stopped_at=row.stopped_at,
        config=row.config,
        error=row.error,
    )
