"""OrderManager: journal-first placing, the state machine, idempotency, broker failures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from order_fakes import T0, FakeBroker, RecordingBus
from order_journal import fresh_sqlite_url

from stom_desktop.config.settings import RiskLimits
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import PersistenceError
from stom_desktop.core.events import (
    ErrorEvent,
    FillEvent,
    OrderUpdateEvent,
    PositionEvent,
    RiskRejectEvent,
)
from stom_desktop.core.fills import Fill
from stom_desktop.core.market_rules import KrxStockRules
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderType
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.requests import OrderRequest, PlaceResult
from stom_desktop.engine.risk import RiskManager
from stom_desktop.persistence import Database, OrderRepository, create_database
from stom_desktop.persistence.repositories.risk_events import RiskEventRepository

CASH = Decimal(10_000_000)
T0_MS = 1_767_571_200_000  # 2026-01-05 00:00 UTC = 09:00 Seoul


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Database]:
    database = create_database(fresh_sqlite_url(tmp_path))
    yield database
    database.dispose()


class Rig:
    """An order manager over a fake broker and a real journal."""

    def __init__(self, db: Database, *, auto_fill: bool = True, risk: bool = False) -> None:
        self.db = db
        self.journal = OrderRepository(db)
        self.broker = FakeBroker(auto_fill=auto_fill)
        self.bus = RecordingBus()
        self.clock = SimulatedClock(T0_MS)
        self.risk_events = RiskEventRepository(db)
        self.risk = (
            RiskManager(RiskLimits(), clock=self.clock, bus=self.bus, recorder=self.risk_events)
            if risk
            else None
        )
        self.om = OrderManager(
            self.broker,
            self.journal,
            self.clock,
            self.bus,
            risk=self.risk,
            price_source=lambda _s: Decimal(100),
        )
        self.om.register_session("s1", initial_cash=CASH)

    def buy(self, qty: int = 10, **kw: Any) -> PlaceResult:
        return self.om.place(OrderRequest("s1", "SIM1", Side.BUY, Decimal(qty), **kw))

    def sell(self, qty: int = 10, **kw: Any) -> PlaceResult:
        return self.om.place(OrderRequest("s1", "SIM1", Side.SELL, Decimal(qty), **kw))

    def assert_journal_equals_memory(self) -> None:
        for snap in self.om.orders():
            stored = self.journal.by_client_id(snap.client_order_id)
            assert stored is not None, snap.client_order_id
            assert stored.status == snap.status.value, snap.client_order_id
            assert stored.filled_quantity == snap.filled_quantity
            assert stored.quantity == snap.quantity
            fills = self.journal.fills(snap.client_order_id)
            assert sum((f.quantity for f in fills), Decimal(0)) == snap.filled_quantity


@pytest.fixture()
def rig(db: Database) -> Rig:
    return Rig(db)


def test_market_order_is_journaled_sent_filled_and_booked(rig: Rig) -> None:
    result = rig.buy(10)
    assert result.ok and result.success and result.status is OrderStatus.FILLED
    cid = result.client_order_id
    assert cid is not None and cid.startswith("stom-s1-")
    stored = rig.journal.by_client_id(cid)
    assert stored is not None and stored.status == "filled" and stored.venue_order_id == "V1"
    assert [e.to_status for e in rig.journal.events(cid)][:2] == ["new", "submitted"]
    assert rig.journal.events(cid)[-1].to_status == "filled"
    position = rig.om.portfolio("s1").position("SIM1")
    assert position.quantity == 10 and rig.om.portfolio("s1").cash == CASH - 1000
    statuses = [e.order.status for e in rig.bus.of(OrderUpdateEvent)]  # type: ignore[attr-defined]
    assert statuses[0] is OrderStatus.NEW and statuses[-1] is OrderStatus.FILLED
    assert len(rig.bus.of(FillEvent)) == 1 and len(rig.bus.of(PositionEvent)) == 1
    rig.assert_journal_equals_memory()


def test_intent_is_committed_before_the_broker_sees_the_order(rig: Rig) -> None:
    seen: list[str | None] = []
    original = rig.broker.submit

    def spying_submit(order: Order) -> str:
        # A second connection sees the committed row: it is durable, not just pending.
        other = OrderRepository(rig.db)
        stored = other.by_client_id(order.client_order_id)
        seen.append(None if stored is None else stored.status)
        return original(order)

    rig.broker.submit = spying_submit  # type: ignore[method-assign]
    rig.buy(5)
    assert seen == ["new"]


def test_every_order_gets_a_unique_client_id(rig: Rig) -> None:
    ids = [rig.buy(1).client_order_id for _ in range(20)]
    assert len(set(ids)) == 20
    assert len(rig.journal.orders()) == 20


def test_same_intent_key_never_makes_two_orders(rig: Rig) -> None:
    first = rig.buy(3, intent_key="bar-42:enter")
    second = rig.buy(3, intent_key="bar-42:enter")
    assert second.duplicate and second.ok and second.client_order_id == first.client_order_id
    assert rig.broker.submit_calls == [first.client_order_id]
    assert len(rig.journal.orders()) == 1
    assert rig.om.portfolio("s1").position("SIM1").quantity == 3


def test_temporary_error_before_acceptance_resends_the_same_id(rig: Rig) -> None:
    rig.broker.fail_next_submit = "before"
    result = rig.buy(4)
    cid = result.client_order_id
    assert result.ok and result.status is OrderStatus.NEW and "pending" in (result.reason or "")
    assert rig.journal.by_client_id(cid).status == "new"  # type: ignore[union-attr]
    assert rig.om.reconcile_pending() == [cid]
    assert rig.broker.submit_calls == [cid, cid]  # same id, never a new one
    assert rig.om.order(cid).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert len(rig.journal.orders()) == 1
    rig.assert_journal_equals_memory()


def test_temporary_error_after_acceptance_is_adopted_not_resent(db: Database) -> None:
    rig = Rig(db, auto_fill=False)
    rig.broker.fail_next_submit = "after"
    cid = rig.buy(4, order_type=OrderType.LIMIT, price=Decimal(99)).client_order_id
    assert rig.om.order(cid).status is OrderStatus.NEW  # type: ignore[union-attr]
    rig.om.tick()
    assert rig.broker.submit_calls == [cid]
    snap = rig.om.order(cid)
    assert snap is not None and snap.status is OrderStatus.SUBMITTED
    assert snap.venue_order_id == "V1"
    rig.assert_journal_equals_memory()


def test_venue_rejection_is_journaled_with_rule_and_reason(rig: Rig) -> None:
    rig.broker.reject_next_submit = "insufficient funds"
    result = rig.buy(1)
    assert not result.ok and result.rule == "venue.test"
    assert result.reason == "insufficient funds" and result.status is OrderStatus.REJECTED
    stored = rig.journal.by_client_id(result.client_order_id)  # type: ignore[arg-type]
    assert stored is not None and stored.status == "rejected"
    assert stored.reason == "venue.test: insufficient funds"


def test_market_rule_refusal_is_not_sent_and_is_recorded(db: Database) -> None:
    rig = Rig(db, risk=True)
    rig.om = OrderManager(
        rig.broker, rig.journal, rig.clock, rig.bus, risk=rig.risk,
        rules_for=lambda _s: KrxStockRules(),
    )  # fmt: skip
    rig.om.register_session("s1", initial_cash=CASH)
    result = rig.buy(1, order_type=OrderType.LIMIT, price=Decimal("2001"))
    assert not result.ok and result.rule == "krx.tick_size"
    assert rig.broker.submit_calls == [] and rig.journal.orders() == []
    events = rig.risk_events.list()
    assert [e.rule for e in events] == ["krx.tick_size"]
    assert events[0].client_order_id == result.client_order_id
    rejects = rig.bus.of(RiskRejectEvent)
    assert len(rejects) == 1 and rejects[0].rule == "krx.tick_size"  # type: ignore[attr-defined]


def test_journal_failure_on_intent_means_nothing_is_sent(rig: Rig) -> None:
    def broken(*_a: Any, **_k: Any) -> None:
        raise PersistenceError("disk full")

    rig.journal.record_intent = broken  # type: ignore[method-assign]
    result = rig.buy(1)
    assert not result.ok and result.rule == "journal" and "disk full" in (result.reason or "")
    assert rig.broker.submit_calls == []
    assert rig.bus.of(OrderUpdateEvent) == []


def test_journal_failure_on_fill_leaves_memory_unchanged_then_reconciles(db: Database) -> None:
    rig = Rig(db, auto_fill=False)
    cid = rig.buy(10, order_type=OrderType.LIMIT, price=Decimal(100)).client_order_id
    assert cid is not None
    real_add_fill = rig.journal.add_fill

    def broken(*_a: Any, **_k: Any) -> None:
        raise PersistenceError("database is locked")

    rig.journal.add_fill = broken  # type: ignore[method-assign]
    rig.broker.fill(cid, Decimal(4))
    assert rig.om.order(cid).filled_quantity == 0  # type: ignore[union-attr]
    assert rig.om.portfolio("s1").position("SIM1").quantity == 0
    assert len(rig.bus.of(ErrorEvent)) == 1
    rig.journal.add_fill = real_add_fill  # type: ignore[method-assign]
    rig.om.tick()  # reconciliation books the fill from the venue, once
    assert rig.om.order(cid).filled_quantity == 4  # type: ignore[union-attr]
    assert rig.om.portfolio("s1").position("SIM1").quantity == 4
    rig.assert_journal_equals_memory()


def test_partial_fills_then_cancel(db: Database) -> None:
    rig = Rig(db, auto_fill=False)
    cid = rig.buy(10, order_type=OrderType.LIMIT, price=Decimal(100)).client_order_id
    assert cid is not None
    rig.broker.fill(cid, Decimal(3), Decimal(100))
    rig.broker.fill(cid, Decimal(2), Decimal(99))
    snap = rig.om.order(cid)
    assert snap is not None and snap.status is OrderStatus.PARTIALLY_FILLED
    assert snap.filled_quantity == 5
    rig.om.cancel(cid)
    snap = rig.om.order(cid)
    assert snap is not None and snap.status is OrderStatus.CANCELLED
    stored = rig.journal.by_client_id(cid)
    assert stored is not None and stored.status == "cancelled" and stored.filled_quantity == 5
    assert stored.avg_fill_price == Decimal("99.6")
    assert rig.om.portfolio("s1").cash == CASH - 300 - 198
    rig.assert_journal_equals_memory()


def test_fill_before_acknowledgement_is_accepted(db: Database) -> None:
    rig = Rig(db)
    rig.broker._update = lambda _venue: None  # type: ignore[method-assign]  # no ack update
    result = rig.buy(2)
    assert result.status is OrderStatus.FILLED
    stored = rig.journal.by_client_id(result.client_order_id)  # type: ignore[arg-type]
    assert stored is not None and stored.venue_order_id == "V1"
    rig.assert_journal_equals_memory()


def test_out_of_order_report_is_refused_and_reported(db: Database) -> None:
    rig = Rig(db, auto_fill=False)
    cid = rig.buy(2, order_type=OrderType.LIMIT, price=Decimal(100)).client_order_id
    assert cid is not None
    rig.om.cancel(cid)
    venue = rig.broker.orders[cid]
    # A (buggy) venue reports a fill for an order it confirmed cancelled.
    rig.om.on_fill(
        Fill("late", cid, "SIM1", Side.BUY, Decimal(1), Decimal(100), Decimal(0), "KRW", T0)
    )
    assert venue.status is OrderStatus.CANCELLED
    assert rig.om.order(cid).status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert rig.journal.fills(cid) == []
    assert any("illegal transition" in e.message for e in rig.bus.of(ErrorEvent))  # type: ignore[attr-defined]


def test_venue_expiry_and_unknown_reports(db: Database) -> None:
    rig = Rig(db, auto_fill=False)
    cid = rig.buy(2, order_type=OrderType.LIMIT, price=Decimal(100)).client_order_id
    assert cid is not None
    rig.broker.expire(cid)
    assert rig.journal.by_client_id(cid).status == "expired"  # type: ignore[union-attr]
    ghost = rig.broker.orders[cid].snapshot()
    rig.om.on_order_update(replace(ghost, client_order_id="stom-other-000001"))
    assert len(rig.om.unknown_reports) == 1


def test_cancel_all_only_touches_open_orders_of_the_session(db: Database) -> None:
    rig = Rig(db, auto_fill=False)
    rig.om.register_session("s2", initial_cash=CASH)
    a = rig.buy(1, order_type=OrderType.LIMIT, price=Decimal(90)).client_order_id
    b = rig.om.place(
        OrderRequest("s2", "SIM2", Side.BUY, Decimal(1), OrderType.LIMIT, Decimal(90))
    ).client_order_id
    assert rig.om.cancel_all("s1") == [a]
    assert rig.om.order(b).status is OrderStatus.SUBMITTED  # type: ignore[arg-type,union-attr]


def test_amend_is_journaled(db: Database) -> None:
    rig = Rig(db, auto_fill=False)
    cid = rig.buy(5, order_type=OrderType.LIMIT, price=Decimal(90)).client_order_id
    assert cid is not None
    rig.om.amend(cid, quantity=Decimal(8), price=Decimal(91))
    stored = rig.journal.by_client_id(cid)
    assert stored is not None and stored.quantity == 8 and stored.price == 91
    assert rig.broker.orders[cid].quantity == 8
    rig.assert_journal_equals_memory()


def test_unregistered_session_is_refused(rig: Rig) -> None:
    result = rig.om.place(OrderRequest("nope", "SIM1", Side.BUY, Decimal(1)))
    assert not result.ok and result.rule == "session"


def test_float_quantities_are_refused_at_the_edge() -> None:
    with pytest.raises(TypeError, match="float"):
        OrderRequest("s1", "SIM1", Side.BUY, 1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("with_fills", [False, True])
def test_journal_integration_on_each_backend(database_url: str, with_fills: bool) -> None:
    database = create_database(database_url)
    try:
        rig = Rig(database, auto_fill=with_fills)
        ids = [rig.buy(2).client_order_id, rig.sell(1).client_order_id]
        expected = "filled" if with_fills else "submitted"
        assert [rig.journal.by_client_id(c).status for c in ids] == [expected] * 2  # type: ignore[arg-type,union-attr]
        assert len(rig.journal.all_fills()) == (2 if with_fills else 0)
        rig.assert_journal_equals_memory()
    finally:
        database.dispose()
