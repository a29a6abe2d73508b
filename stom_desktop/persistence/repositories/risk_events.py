"""Risk events: every order refusal, kill-switch change and forced liquidation, with why."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from stom_desktop.persistence.db import Database
from stom_desktop.persistence.models import RiskEvent, table_of
from stom_desktop.persistence.repositories._common import aware, check_text

_T = table_of(RiskEvent)


@dataclass(frozen=True, slots=True)
class RiskEventRecord:
    """One stored risk event: ``rule`` names the check, ``detail`` explains it."""

    id: int
    session_id: int | None
    rule: str
    client_order_id: str | None
    detail: str
    at: datetime


class RiskEventRepository:
    """Append risk events and list them (implements ``engine.risk.RiskEventRecorder``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(
        self,
        rule: str,
        detail: str,
        *,
        session_id: int | None = None,
        client_order_id: str | None = None,
        at: datetime | None = None,
    ) -> RiskEventRecord:
        """Store one event in its own transaction and return it."""
        check_text(rule, "risk rule", 64)
        check_text(detail, "risk event detail", 100_000)
        if client_order_id is not None:
            check_text(client_order_id, "client order id", 64)
        moment = aware(at, f"risk event {rule}")
        with self._db.begin() as conn:
            new_id = conn.execute(
                sa.insert(_T)
                .values(
                    session_id=session_id,
                    rule=rule,
                    client_order_id=client_order_id,
                    detail=detail,
                    at=moment,
                )
                .returning(_T.c.id)
            ).scalar_one()
            return _record(conn.execute(sa.select(_T).where(_T.c.id == new_id)).one())

    def list(
        self,
        *,
        session_id: int | None = None,
        rule: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[RiskEventRecord]:
        """Events oldest first, optionally filtered by session, rule and time."""
        query = sa.select(_T)
        if session_id is not None:
            query = query.where(_T.c.session_id == session_id)
        if rule is not None:
            query = query.where(_T.c.rule == rule)
        if since is not None:
            query = query.where(_T.c.at >= aware(since, "since"))
        query = query.order_by(_T.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._db.connect() as conn:
            return [_record(row) for row in conn.execute(query)]


def _record(row: Any) -> RiskEventRecord:
    return RiskEventRecord(
        id=row.id,
        session_id=row.session_id,
        rule=row.rule,
        client_order_id=row.client_order_id,
        detail=row.detail,
        at=row.at,
    )
