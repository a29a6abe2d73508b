"""Group commit (``write_batch``) and the raw SQLite intent path store what the Core path does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence import Database, OrderRepository

T0 = datetime(2024, 6, 3, 0, 30, tzinfo=UTC)


def _ops(cid: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("transition", cid, {"to_status": "submitted", "at": T0 + timedelta(seconds=1),
                             "venue_order_id": "V-1", "detail": "ack"}),
        ("add_fill", cid, {"quantity": Decimal("0.3"), "price": Decimal("101.5"),
                           "fee": Decimal("0.01"), "fee_currency": "KRW", "venue_fill_id": "F1",
                           "ts": T0 + timedelta(seconds=2), "to_status": "partially_filled"}),
        # the same venue fill again: skipped, as add_fill does
        ("add_fill", cid, {"quantity": Decimal("0.3"), "price": Decimal("101.5"),
                           "venue_fill_id": "F1", "ts": T0 + timedelta(seconds=2),
                           "to_status": "partially_filled"}),
        ("add_fill", cid, {"quantity": Decimal("0.7"), "price": Decimal("102"),
                           "venue_fill_id": "F2", "ts": T0 + timedelta(seconds=3),
                           "to_status": "filled", "detail": "done"}),
    ]  # fmt: skip


def _one_by_one(repo: OrderRepository, ops: list[tuple[str, str, dict[str, Any]]]) -> None:
    for method, cid, kwargs in ops:
        if method == "transition":
            repo.transition(cid, **kwargs)
        else:
            repo.add_fill(cid, **kwargs)


def _state(repo: OrderRepository, cid: str) -> tuple[Any, ...]:
    order = repo.by_client_id(cid)
    assert order is not None
    fills = [(f.venue_fill_id, f.quantity, f.price, f.fee, f.fee_currency, f.ts)
             for f in repo.fills(cid)]  # fmt: skip
    events = [(e.from_status, e.to_status, e.at, e.detail) for e in repo.events(cid)]
    return (
        order.status, order.venue_order_id, order.quantity, order.price, order.filled_quantity,
        order.avg_fill_price, order.created_at, order.updated_at, fills, events,
    )  # fmt: skip


def _raw_rows(db: Database, cid: str) -> list[tuple[Any, ...]]:
    """The stored values as the database holds them (text on SQLite), minus ids."""
    with db.connect() as conn:
        order = conn.execute(
            sa.text(
                "SELECT status, venue_order_id, quantity, price, filled_quantity, avg_fill_price,"
                " created_at, updated_at FROM orders WHERE client_order_id = :c"
            ),
            {"c": cid},
        ).one()
        fills = conn.execute(
            sa.text("SELECT quantity, price, fee, ts FROM fills WHERE client_order_id = :c"),
            {"c": cid},
        ).all()
    return [tuple(order), *[tuple(f) for f in fills]]


def test_write_batch_equals_the_same_calls_one_by_one(db: Database) -> None:
    repo = OrderRepository(db)
    for cid in ("a", "b"):
        repo.record_intent(cid, "AAA", "buy", "limit", Decimal(1), price=Decimal(102), at=T0)
    _one_by_one(repo, _ops("a"))
    repo.write_batch(_ops("b"))
    assert _state(repo, "a") == _state(repo, "b")
    assert _raw_rows(db, "a") == _raw_rows(db, "b")
    assert _state(repo, "b")[4] == Decimal(1) and _state(repo, "b")[0] == "filled"
    repo.close()


def test_a_failing_batch_writes_nothing_and_names_the_order(db: Database) -> None:
    repo = OrderRepository(db)
    repo.record_intent("ok", "AAA", "buy", "market", 5, at=T0)
    ops = [
        ("transition", "ok", {"to_status": "submitted", "at": T0}),
        ("transition", "ghost", {"to_status": "submitted", "at": T0}),
    ]
    with pytest.raises(PersistenceError, match="ghost"):
        repo.write_batch(ops)
    stored = repo.by_client_id("ok")
    assert stored is not None and stored.status == "new"  # rolled back with the bad op
    assert [e.to_status for e in repo.events("ok")] == ["new"]
    repo.write_batch(ops[:1])  # the repository is usable after the failure
    assert repo.by_client_id("ok").status == "submitted"  # type: ignore[union-attr]
    repo.close()


def test_intent_duplicate_and_bad_session_are_told_apart(db: Database) -> None:
    repo = OrderRepository(db)
    repo.record_intent("dup", "AAA", "sell", "market", 5, at=T0)
    with pytest.raises(PersistenceError, match="already recorded"):
        repo.record_intent("dup", "AAA", "sell", "market", 7, at=T0)
    with pytest.raises(PersistenceError) as info:
        repo.record_intent("orphan", "AAA", "sell", "market", 7, at=T0, session_id=999_999)
    assert "already recorded" not in str(info.value)
    assert repo.by_client_id("orphan") is None
    repo.close()
