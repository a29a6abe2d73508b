"""Restart recovery: unfinished orders, never-sent intents, unjournaled fills, orphans."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from order_fakes import FakeBroker, RecordingBus
from order_journal import fresh_sqlite_url

from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderType
from stom_desktop.core.portfolio import Portfolio
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.recovery import NEVER_SENT, OrphanPolicy, recover
from stom_desktop.engine.requests import OrderRequest
from stom_desktop.persistence import Database, OrderRepository, create_database

CASH = Decimal(1_000_000)
T0_MS = 1_767_571_200_000


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    return create_database(fresh_sqlite_url(tmp_path))


def manager(db: Database, broker: FakeBroker) -> OrderManager:
    om = OrderManager(broker, OrderRepository(db), SimulatedClock(T0_MS), RecordingBus())
    om.register_session("s1", initial_cash=CASH)
    return om


def limit(qty: int, key: str | None = None, side: Side = Side.BUY) -> OrderRequest:
    return OrderRequest(
        "s1", "SIM1", side, Decimal(qty), OrderType.LIMIT, Decimal(100), intent_key=key
    )


def test_intent_never_sent_is_rejected_with_the_recovery_reason(db: Database) -> None:
    broker = FakeBroker()
    journal = OrderRepository(db)
    # The process died between journaling the intent and calling the broker.
    journal.record_intent("stom-s1-000001", "SIM1", "buy", "market", 5, detail="intent=k1")
    report = recover(broker, journal, clock=SimulatedClock(T0_MS))
    assert report.never_sent == ["stom-s1-000001"] and report.adopted == []
    stored = journal.by_client_id("stom-s1-000001")
    assert stored is not None and stored.status == "rejected" and stored.reason == NEVER_SENT
    assert broker.submit_calls == []  # recovery never (re)sends


def test_venue_fills_missed_while_down_are_adopted_once(db: Database) -> None:
    broker = FakeBroker()
    om = manager(db, broker)
    cid = om.place(limit(10, "k1")).client_order_id
    assert cid is not None
    broker.deliver = False  # the process is dead: fills happen at the venue only
    broker.fill(cid, Decimal(4), Decimal(100))
    broker.fill(cid, Decimal(6), Decimal(101))

    restarted = manager(db, FakeBroker())
    restarted._broker = broker  # same venue, new process
    report = restarted.recover()
    assert report.adopted == [cid] and report.finished == [cid] and report.fills_added == 2
    assert report.positions == {"s1": {"SIM1": Decimal(10)}}
    assert report.cash["s1"] == CASH - 400 - 606
    journal = OrderRepository(db)
    assert journal.by_client_id(cid).status == "filled"  # type: ignore[union-attr]
    # A second recovery finds nothing to do and books nothing twice.
    again = recover(broker, journal, clock=SimulatedClock(T0_MS), initial_cash={"s1": CASH})
    assert again.clean and again.cash["s1"] == CASH - 1006
    assert len(journal.all_fills()) == 2


def test_same_intent_after_restart_is_not_sent_again(db: Database) -> None:
    broker = FakeBroker(auto_fill=True)
    om = manager(db, broker)
    first = om.place(OrderRequest("s1", "SIM1", Side.BUY, Decimal(2), intent_key="bar7"))
    restarted = OrderManager(broker, OrderRepository(db), SimulatedClock(T0_MS), RecordingBus())
    restarted.register_session("s1", initial_cash=CASH)
    restarted.recover()
    again = restarted.place(OrderRequest("s1", "SIM1", Side.BUY, Decimal(2), intent_key="bar7"))
    assert again.duplicate and again.client_order_id == first.client_order_id
    fresh = restarted.place(OrderRequest("s1", "SIM1", Side.BUY, Decimal(1), intent_key="bar8"))
    assert fresh.ok and fresh.client_order_id == "stom-s1-000002"  # numbering resumed
    assert len(broker.submit_calls) == 2
    assert restarted.portfolio("s1").position("SIM1").quantity == 3


def test_orphans_are_journaled_and_adopted_or_cancelled(db: Database) -> None:
    broker = FakeBroker()
    clock = SimulatedClock(T0_MS)
    for n in (1, 2):
        broker.submit(
            Order(
                f"stom-s1-00000{n}", "SIM1", Side.BUY, 3, created_at=clock.now(),
                order_type=OrderType.LIMIT, price=Decimal(90),
            )
        )  # fmt: skip
    broker.fill("stom-s1-000001", Decimal(1))
    broker.submit(Order("other-x-000001", "SIM1", Side.BUY, 1, created_at=clock.now()))
    journal = OrderRepository(db)
    adopt = recover(broker, journal, clock=clock)
    assert sorted(adopt.orphans) == ["stom-s1-000001", "stom-s1-000002"]
    assert journal.by_client_id("other-x-000001") is None  # not ours: left alone
    stored = journal.by_client_id("stom-s1-000001")
    assert stored is not None and stored.status == "partially_filled"
    assert adopt.positions["s1"] == {"SIM1": Decimal(1)}

    broker.submit(
        Order(
            "stom-s1-000003", "SIM1", Side.SELL, 1, created_at=clock.now(),
            order_type=OrderType.LIMIT, price=Decimal(120),
        )
    )  # fmt: skip
    cancel = recover(broker, journal, clock=clock, orphan_policy=OrphanPolicy.CANCEL)
    assert cancel.orphans == ["stom-s1-000003"] == cancel.orphans_cancelled
    assert broker.orders["stom-s1-000003"].status is OrderStatus.CANCELLED
    assert journal.by_client_id("stom-s1-000003").status == "cancelled"  # type: ignore[union-attr]


def test_positions_and_cash_rebuilt_equal_the_live_portfolio(db: Database) -> None:
    broker = FakeBroker(auto_fill=True, fee_rate=Decimal("0.001"))
    om = manager(db, broker)
    for qty, side in [(5, Side.BUY), (2, Side.SELL), (4, Side.SELL), (7, Side.BUY)]:
        om.place(OrderRequest("s1", "SIM1", side, Decimal(qty)))
    live: Portfolio = om.portfolio("s1")
    report = recover(
        broker, OrderRepository(db), clock=SimulatedClock(T0_MS), initial_cash={"s1": CASH}
    )
    rebuilt = report.portfolios["s1"]
    assert rebuilt.cash == live.cash and rebuilt.positions == live.positions
    assert rebuilt.fees_paid == live.fees_paid > 0


def test_unreachable_broker_leaves_orders_for_later(db: Database) -> None:
    broker = FakeBroker()
    om = manager(db, broker)
    cid = om.place(limit(1)).client_order_id

    from stom_desktop.core.errors import TemporaryBrokerError

    def down(_cid: str) -> None:
        raise TemporaryBrokerError("503")

    broker.fetch_order = down  # type: ignore[assignment,method-assign]
    report = recover(broker, OrderRepository(db), clock=SimulatedClock(T0_MS))
    assert report.unresolved == [cid] and not report.clean
