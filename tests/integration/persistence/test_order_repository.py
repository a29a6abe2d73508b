"""The order journal: intents, transitions and fills are atomic and exact on both back-ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence import Database, OrderRepository, SessionRepository

T0 = datetime(2024, 6, 3, 0, 30, tzinfo=UTC)


def _count(db: Database, table: str) -> int:
    with db.connect() as conn:
        query = sa.select(sa.func.count()).select_from(sa.table(table))
        return int(conn.execute(query).scalar_one())


def test_record_intent_stores_order_and_creation_event(db: Database) -> None:
    session = SessionRepository(db).create("s", "sma", "paper", ["BTC/KRW"])
    repo = OrderRepository(db)
    order = repo.record_intent(
        "stom-1",
        "BTC/KRW",
        "buy",
        "limit",
        Decimal("0.123456789012345678"),
        price=Decimal("98765432.1"),
        session_id=session.id,
        at=T0,
        detail="signal",
    )
    assert order.status == "new"
    assert order.quantity == Decimal("0.1234567890")  # quantized to 10 places, exactly
    assert order.price == Decimal("98765432.1000000000")
    assert order.filled_quantity == Decimal(0) and order.avg_fill_price is None
    assert order.created_at == T0 and order.updated_at.tzinfo is UTC
    assert repo.by_client_id("stom-1") == order
    assert repo.by_client_id("nope") is None
    events = repo.events("stom-1")
    assert [(e.from_status, e.to_status, e.detail) for e in events] == [(None, "new", "signal")]


def test_duplicate_client_id_is_refused_and_writes_nothing(db: Database) -> None:
    repo = OrderRepository(db)
    repo.record_intent("dup", "AAA", "sell", "market", 5)
    with pytest.raises(PersistenceError, match="order dup"):
        repo.record_intent("dup", "AAA", "sell", "market", 7)
    assert _count(db, "orders") == 1 and _count(db, "order_events") == 1


def test_transitions_are_journalled(db: Database) -> None:
    repo = OrderRepository(db)
    repo.record_intent("o1", "AAA", "buy", "limit", 10, price=100, at=T0)
    sent = repo.transition("o1", "submitted", at=T0 + timedelta(seconds=1), venue_order_id="V-9")
    assert (sent.status, sent.venue_order_id) == ("submitted", "V-9")
    done = repo.transition("o1", "cancelled", reason="user", detail="tray menu")
    assert (done.status, done.reason, done.venue_order_id) == ("cancelled", "user", "V-9")
    assert [(e.from_status, e.to_status) for e in repo.events("o1")] == [
        (None, "new"),
        ("new", "submitted"),
        ("submitted", "cancelled"),
    ]
    with pytest.raises(PersistenceError, match="order ghost: not recorded"):
        repo.transition("ghost", "submitted")


def test_fills_update_quantity_and_average_price_atomically(db: Database) -> None:
    repo = OrderRepository(db)
    repo.record_intent("f1", "ETH/USDT", "buy", "limit", Decimal("3"), price=Decimal("2000"))
    first = repo.add_fill(
        "f1",
        Decimal("1"),
        Decimal("1999.5"),
        fee=Decimal("0.001"),
        fee_currency="ETH",
        venue_fill_id="t1",
        ts=T0,
        to_status="partially_filled",
    )
    assert not first.duplicate
    assert first.order.filled_quantity == Decimal("1") and first.order.status == "partially_filled"
    assert first.order.avg_fill_price == Decimal("1999.5")
    second = repo.add_fill(
        "f1", Decimal("2"), Decimal("2000.25"), venue_fill_id="t2", to_status="filled"
    )
    # (1 * 1999.5 + 2 * 2000.25) / 3 = 2000.0
    assert second.order.avg_fill_price == Decimal("2000.0000000000")
    assert second.order.filled_quantity == Decimal(3) and second.order.status == "filled"
    assert second.fill.fee == Decimal(0) and second.fill.client_order_id == "f1"

    # The same venue fill reported again (reconnect, restart recovery) changes nothing.
    again = repo.add_fill("f1", Decimal("1"), Decimal("1999.5"), venue_fill_id="t1")
    assert again.duplicate and again.fill == first.fill
    assert again.order == second.order
    fills = repo.fills("f1")
    assert [(f.venue_fill_id, f.quantity, f.price) for f in fills] == [
        ("t1", Decimal("1.0000000000"), Decimal("1999.5000000000")),
        ("t2", Decimal("2.0000000000"), Decimal("2000.2500000000")),
    ]
    assert fills[0].ts == T0 and fills[0].fee_currency == "ETH"
    assert [e.to_status for e in repo.events("f1")] == ["new", "partially_filled", "filled"]
    assert repo.unfinished() == []


def test_failed_fill_leaves_order_untouched(db: Database) -> None:
    repo = OrderRepository(db)
    before = repo.record_intent("f2", "AAA", "buy", "market", 10)
    # Fits 28 digits for the fill, but not the order's filled quantity: the update fails
    # after the fill row was inserted, so the whole transaction must roll back.
    huge = Decimal("999999999999999999")
    repo.transition("f2", "submitted")
    repo.add_fill("f2", huge, 1)
    submitted = repo.by_client_id("f2")
    assert submitted is not None
    with pytest.raises(ValueError, match="does not fit"):
        repo.add_fill("f2", huge, 1, to_status="filled")
    assert repo.by_client_id("f2") == submitted
    assert len(repo.fills("f2")) == 1
    assert [e.to_status for e in repo.events("f2")] == ["new", "submitted"]
    assert before.id == submitted.id


def test_unfinished_lists_orders_not_in_a_final_state(db: Database) -> None:
    sessions = SessionRepository(db)
    s1 = sessions.create("a", "sma", "live", ["A"]).id
    s2 = sessions.create("b", "sma", "dry_run", ["B"]).id
    repo = OrderRepository(db)
    for cid, status, sid in [
        ("u1", None, s1),
        ("u2", "submitted", s1),
        ("u3", "filled", s1),
        ("u4", "rejected", s2),
        ("u5", "partially_filled", s2),
        ("u6", "expired", None),
    ]:
        repo.record_intent(cid, "A", "buy", "market", 1, session_id=sid)
        if status is not None:
            repo.transition(cid, status)
    assert [o.client_order_id for o in repo.unfinished()] == ["u1", "u2", "u5"]
    assert [o.client_order_id for o in repo.unfinished(session_id=s2)] == ["u5"]


def test_money_inputs_are_checked_at_the_boundary(db: Database) -> None:
    repo = OrderRepository(db)
    with pytest.raises(TypeError, match="float"):
        repo.record_intent("m1", "A", "buy", "limit", 1, price=0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        repo.record_intent("m2", "A", "buy", "market", 0)
    with pytest.raises(ValueError, match="side"):
        repo.record_intent("m3", "A", "hold", "market", 1)
    with pytest.raises(ValueError, match="naive"):
        repo.record_intent("m4", "A", "buy", "market", 1, at=datetime(2024, 1, 1))
    assert _count(db, "orders") == 0
