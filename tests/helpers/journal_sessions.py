"""Factories: stored trading sessions with orders and fills on chosen days (journal only).

They write what a finished (or crashed) session leaves in the app database, so reports and
the equity history can be tested without running an engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from stom_desktop.persistence import OrderRepository, SessionRepository
from stom_desktop.persistence.db import Database
from stom_desktop.persistence.models import TradingSession, table_of

#: (side, quantity, price, fee) of one filled market order.
Trade = tuple[str, str, str, str]


def stored_session(
    db: Database,
    created_at: datetime,
    trades: Sequence[Trade],
    *,
    mode: str = "paper",
    status: str = "stopped",
    symbol: str = "SIM1",
    initial_cash: str = "10000000",
    unsent: int = 0,
    exchange: str | None = None,
) -> int:
    """A session created at ``created_at`` whose orders filled as ``trades``; returns its id.

    ``unsent`` adds orders recorded as intents only (what a crash before sending leaves).
    """
    spec: dict[str, object] = {
        "name": f"s-{created_at:%m%d%H%M}",
        "strategy": "sma_cross",
        "symbols": [symbol],
        "mode": mode,
        "initial_cash": initial_cash,
    }
    if exchange is not None:  # a venue session: books in the symbol's quote currency
        spec["exchange"] = exchange
    record = SessionRepository(db).create(
        str(spec["name"]),
        "sma_cross",
        mode,
        [symbol],
        config={"spec": spec},
        status=status,
    )
    with db.begin() as conn:  # the repository stamps "now"; a history needs other days
        table = table_of(TradingSession)
        conn.execute(sa.update(table).where(table.c.id == record.id).values(created_at=created_at))
    journal = OrderRepository(db)
    for n, (side, qty, price, fee) in enumerate(trades, 1):
        cid = f"stom-s{record.id}-{n:06d}"
        journal.record_intent(cid, symbol, side, "market", qty, session_id=record.id)
        journal.transition(cid, "submitted")
        journal.add_fill(
            cid,
            qty,
            price,
            fee=fee,
            venue_fill_id=f"paper:{cid}",
            to_status="filled",
            ts=created_at,
        )
    for n in range(unsent):
        cid = f"stom-s{record.id}-9{n:05d}"
        journal.record_intent(cid, symbol, "buy", "market", "1", session_id=record.id)
    return record.id
