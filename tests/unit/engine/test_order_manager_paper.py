"""OrderManager over the real PaperBroker: fills arrive through on_market, all journaled."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from order_fakes import RecordingBus
from order_journal import fresh_sqlite_url

from stom_desktop.adapters.brokers.paper import PaperBroker
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.events import QuoteEvent
from stom_desktop.core.market_rules import FixedTickRules, KrxStockRules
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import OrderType
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.recovery import recover
from stom_desktop.engine.requests import OrderRequest
from stom_desktop.persistence import Database, OrderRepository, create_database

T0_MS = 1_767_571_200_000  # 09:00 Seoul
CASH = Decimal(10_000_000)


@pytest.fixture()
def db(tmp_path: Path) -> Database:
    return create_database(fresh_sqlite_url(tmp_path))


def rig(db: Database, rules: object = None) -> tuple[OrderManager, PaperBroker, SimulatedClock]:
    clock = SimulatedClock(T0_MS)
    broker = PaperBroker(clock, rules or FixedTickRules(fee_rate=Decimal("0.001")), cash=CASH)  # type: ignore[arg-type]
    om = OrderManager(broker, OrderRepository(db), clock, RecordingBus())
    om.register_session("s1", initial_cash=CASH)
    return om, broker, clock


def quote(clock: SimulatedClock, broker: PaperBroker, ms: int, bid: float, ask: float) -> None:
    clock.set_ms(T0_MS + ms)
    broker.on_market(QuoteEvent("SIM1", T0_MS + ms, bid, ask, (bid + ask) / 2, 1000.0, 1000.0))


def test_market_and_limit_orders_fill_through_the_paper_book(db: Database) -> None:
    om, broker, clock = rig(db)
    quote(clock, broker, 0, 99.0, 101.0)
    market = om.place(OrderRequest("s1", "SIM1", Side.BUY, Decimal(10)))
    limit = om.place(OrderRequest("s1", "SIM1", Side.BUY, Decimal(5), OrderType.LIMIT, Decimal(98)))
    assert market.ok and limit.ok
    quote(clock, broker, 1000, 99.0, 101.0)
    assert om.order(market.client_order_id).status is OrderStatus.FILLED  # type: ignore[arg-type,union-attr]
    assert om.order(limit.client_order_id).status is OrderStatus.SUBMITTED  # type: ignore[arg-type,union-attr]
    quote(clock, broker, 2000, 96.0, 97.0)  # ask crosses the limit
    assert om.order(limit.client_order_id).status is OrderStatus.FILLED  # type: ignore[arg-type,union-attr]
    portfolio = om.portfolio("s1")
    assert portfolio.position("SIM1").quantity == 15
    # The order manager's books equal the paper venue's own account, fee for fee.
    assert portfolio.cash == broker.balances()["KRW"]
    journal = OrderRepository(db)
    assert {o.status for o in journal.orders()} == {"filled"}
    rebuilt = recover(broker, journal, clock=clock, initial_cash={"s1": CASH})
    assert rebuilt.clean and rebuilt.portfolios["s1"].cash == portfolio.cash


def test_cancel_is_confirmed_by_the_paper_broker(db: Database) -> None:
    om, broker, clock = rig(db)
    quote(clock, broker, 0, 99.0, 101.0)
    cid = om.place(
        OrderRequest("s1", "SIM1", Side.BUY, Decimal(5), OrderType.LIMIT, Decimal(90))
    ).client_order_id
    assert cid is not None
    om.cancel(cid)
    quote(clock, broker, 1000, 99.0, 101.0)
    assert om.order(cid).status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert OrderRepository(db).by_client_id(cid).status == "cancelled"  # type: ignore[union-attr]


def test_paper_rule_rejection_is_journaled_with_its_rule(db: Database) -> None:
    om, _broker, _clock = rig(db, KrxStockRules())
    result = om.place(
        OrderRequest("s1", "SIM1", Side.BUY, Decimal(1), OrderType.LIMIT, Decimal("2001"))
    )
    assert not result.ok and result.rule == "krx.tick_size"
    stored = OrderRepository(db).by_client_id(result.client_order_id)  # type: ignore[arg-type]
    assert stored is not None and stored.status == "rejected"
    assert stored.reason is not None and stored.reason.startswith("krx.tick_size")
