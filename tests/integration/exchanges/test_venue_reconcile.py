"""Reconciliation at session start against fake Binance and Upbit (real ccxt, real journal).

Each test writes what an earlier live session on the account left in a SQLite journal,
sets the fake venue's wallet and orders, and checks what ``reconcile`` reports and what
``decide`` does with it under each policy.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from fake_exchanges import API_KEY, SECRET, FakeBinance
from fake_upbit import FakeUpbit

from stom_desktop.adapters.brokers.ccxt_broker import CcxtBroker
from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.core.enums import Side
from stom_desktop.core.orders import Order, OrderType
from stom_desktop.persistence import (
    Database,
    OrderRepository,
    SessionRecord,
    SessionRepository,
    create_database,
)
from stom_desktop.services.trading_spec import MANUAL_STRATEGY, SessionSpec
from stom_desktop.services.venue_reconcile import (
    VenueMismatchError,
    decide,
    reconcile,
)

T0 = datetime(2026, 1, 5, tzinfo=UTC)
BTC = "BTC/USDT"
KRW_BTC = "BTC/KRW"


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return create_database(f"sqlite:///{tmp_path / 'journal.db'}")


def spec(exchange: str = "binance", symbol: str = BTC, account: str = "acc") -> SessionSpec:
    return SessionSpec(
        name="rec", strategy=MANUAL_STRATEGY, symbols=(symbol,), mode="live",
        exchange=exchange, account=account,
    )  # fmt: skip


def earlier(db: Database, exchange: str = "binance", symbol: str = BTC, account: str = "acc"):  # type: ignore[no-untyped-def]
    """A stored live session of the account (as start_session stores it)."""
    s = spec(exchange, symbol, account)
    return SessionRepository(db).create(
        "earlier", MANUAL_STRATEGY, "live", [symbol], config={"spec": s.to_dict()}
    )


def bought(repo: OrderRepository, record: SessionRecord, cid: str, qty: str, symbol: str = BTC,
           fee: str = "0", fee_currency: str = "USDT") -> None:  # fmt: skip
    """An order of ``record`` that bought ``qty`` (filled)."""
    repo.record_intent(cid, symbol, "buy", "market", D(qty), session_id=record.id, at=T0)
    repo.transition(cid, "submitted", at=T0, venue_order_id="1")
    repo.add_fill(cid, D(qty), D(30000), fee=D(fee), fee_currency=fee_currency,
                  venue_fill_id=f"f-{cid}", ts=T0, to_status="filled")  # fmt: skip


def binance_broker(venue: FakeBinance) -> CcxtBroker:
    ex = make_exchange("binance", api_key=API_KEY, secret=SECRET, base_url=venue.base_url,
                       timeout_ms=400, enable_rate_limit=False)  # fmt: skip
    broker = CcxtBroker(ex, "binance", symbols=[BTC])
    broker.load_markets()
    return broker


def limit(cid: str, qty: str = "0.001", px: str = "29000.00", symbol: str = BTC) -> Order:
    return Order(cid, symbol, Side.BUY, D(qty), created_at=T0, order_type=OrderType.LIMIT,
                 price=D(px))  # fmt: skip


def test_matching_account_reports_no_difference(db: Database, binance: FakeBinance) -> None:
    repo = OrderRepository(db)
    record = earlier(db)
    bought(repo, record, "stom-s1-000001", "0.003")
    # A resting order of that session, at the venue and open in the journal: consistent.
    broker = binance_broker(binance)
    repo.record_intent("stom-s1-000002", BTC, "buy", "limit", D("0.001"), price=D(29000),
                       session_id=record.id, at=T0)  # fmt: skip
    broker.submit(limit("stom-s1-000002"))
    repo.transition("stom-s1-000002", "submitted", at=T0)
    binance.balances["BTC"] = D("0.003")
    report = reconcile(broker, repo, spec(), [record], quote="USDT")
    assert report.matches, report.differences
    assert [(a.asset, a.venue, a.book) for a in report.assets] == [("BTC", D("0.003"), D("0.003"))]
    assert report.quote_free == D(100_000) and report.sessions == (record.id,)
    assert report.other_holdings == {"ETH": D(10)}  # not traded, not in the books: not compared
    start = decide(report, "halt", (BTC,), broker.ticker_price)
    assert not start.halt and start.initial_cash == D(100_000) and start.adopt == {}
    start.check()  # does not raise


def test_foreign_balance_is_reported_and_halts_by_default(
    db: Database, binance: FakeBinance
) -> None:
    binance.balances["BTC"] = D("0.5")  # bought by hand, not by any session of the account
    broker = binance_broker(binance)
    other_account = earlier(db, account="someone-else")
    bought(OrderRepository(db), other_account, "stom-s1-000001", "0.2")  # another account
    report = reconcile(broker, OrderRepository(db), spec(), [other_account], quote="USDT")
    assert not report.matches and report.sessions == ()
    (line,) = report.assets
    assert (line.asset, line.venue, line.book, line.difference) == ("BTC", D("0.5"), 0, D("0.5"))
    assert report.differences == ("BTC: venue 0.5, journal 0 (DIFFERS by +0.5)",)
    start = decide(report, "halt", (BTC,), broker.ticker_price)
    assert start.halt
    with pytest.raises(VenueMismatchError, match=r"BTC: venue 0\.5") as info:
        start.check()
    assert info.value.hint is not None and "--on-venue-mismatch" in info.value.hint
    # report: start beside it, nothing adopted; the cash is still only the free USDT
    relaxed = decide(report, "report", (BTC,), broker.ticker_price)
    assert not relaxed.halt and relaxed.adopt == {} and relaxed.initial_cash == D(100_000)


def test_dust_below_the_lot_step_is_not_a_difference(db: Database, binance: FakeBinance) -> None:
    binance.balances["BTC"] = D("0.000004")  # step is 0.00001
    report = reconcile(binance_broker(binance), OrderRepository(db), spec(), [], quote="USDT")
    assert report.matches and report.assets[0].venue == D("0.000004")


def test_fees_in_the_base_asset_are_deducted_from_the_books(
    db: Database, binance: FakeBinance
) -> None:
    repo = OrderRepository(db)
    record = earlier(db)
    bought(repo, record, "stom-s1-000001", "0.01", fee="0.00001", fee_currency="BTC")
    binance.balances["BTC"] = D("0.00999")
    report = reconcile(binance_broker(binance), repo, spec(), [record], quote="USDT")
    assert report.matches, report.differences


def test_open_orders_unknown_to_the_journal_are_reported(
    db: Database, binance: FakeBinance
) -> None:
    binance.balances["BTC"] = D(0)
    broker = binance_broker(binance)
    broker.submit(limit("stom-s77-000001"))  # ours by prefix, in no journal
    raw = make_exchange("binance", api_key=API_KEY, secret=SECRET, base_url=binance.base_url,
                        timeout_ms=400, enable_rate_limit=False)  # fmt: skip
    raw.create_order(BTC, "limit", "buy", 0.002, 28000.0, {"clientOrderId": "web_manual_1"})
    report = reconcile(broker, OrderRepository(db), spec(), [], quote="USDT")
    kinds = {o.client_order_id: o.kind for o in report.orders}
    assert kinds == {"stom-s77-000001": "unknown_own", "web_manual_1": "foreign"}
    assert not report.matches and len(report.differences) == 2
    assert any("not ours" in d for d in report.differences)
    assert decide(report, "halt", (BTC,), broker.ticker_price).halt


def test_journal_orders_the_venue_lacks_are_reported(db: Database, binance: FakeBinance) -> None:
    binance.balances["BTC"] = D(0)
    repo = OrderRepository(db)
    record = earlier(db)
    repo.record_intent("stom-s1-000005", BTC, "buy", "limit", D("0.001"), price=D(29000),
                       session_id=record.id, at=T0)  # fmt: skip
    repo.transition("stom-s1-000005", "submitted", at=T0, venue_order_id="424242")
    report = reconcile(binance_broker(binance), repo, spec(), [record], quote="USDT")
    (order,) = report.orders
    assert (order.kind, order.client_order_id, order.journal_status) == (
        "missing_at_venue", "stom-s1-000005", "submitted"
    )  # fmt: skip
    assert order.rule == "venue.missing_at_venue_order"


def test_adopt_takes_the_venue_holdings_at_the_venue_price(
    db: Database, binance: FakeBinance
) -> None:
    binance.balances["BTC"] = D("0.5")
    broker = binance_broker(binance)
    report = reconcile(broker, OrderRepository(db), spec(), [], quote="USDT")
    start = decide(report, "adopt", (BTC,), lambda symbol: D(30000))
    assert start.adopt == {BTC: (D("0.5"), D(30000))}
    assert start.initial_cash == D(100_000) + D("0.5") * 30000  # cash stays the free USDT
    with pytest.raises(Exception, match="no price"):
        decide(report, "adopt", (BTC,), lambda symbol: None)


def test_upbit_matching_and_differences(db: Database, upbit: FakeUpbit) -> None:
    ex = make_exchange("upbit", api_key=API_KEY, secret=SECRET, base_url=upbit.base_url,
                       timeout_ms=400, enable_rate_limit=False)  # fmt: skip
    broker = CcxtBroker(ex, "upbit", symbols=[KRW_BTC])
    broker.load_markets()
    repo = OrderRepository(db)
    record = earlier(db, "upbit", KRW_BTC)
    bought(repo, record, "stom-s2-000001", "0.25", symbol=KRW_BTC, fee_currency="KRW")
    upbit.balances["BTC"] = D("0.25")
    report = reconcile(broker, repo, spec("upbit", KRW_BTC), [record], quote="KRW")
    assert report.matches, report.differences
    assert report.quote == "KRW" and report.quote_free == D(10_000_000)
    # Now a foreign coin, an order of ours the journal lacks, a journal order the venue lacks.
    upbit.balances["BTC"] = D("0.75")
    broker.submit(limit("stom-s88-000001", "0.001", "90000000", symbol=KRW_BTC))
    repo.record_intent("stom-s2-000002", KRW_BTC, "sell", "limit", D("0.1"),
                       price=D(100_000_000), session_id=record.id, at=T0)  # fmt: skip
    repo.transition("stom-s2-000002", "submitted", at=T0)
    report = reconcile(broker, repo, spec("upbit", KRW_BTC), [record], quote="KRW")
    assert [a.difference for a in report.assets] == [D("0.5")]
    assert {o.client_order_id: o.kind for o in report.orders} == {
        "stom-s88-000001": "unknown_own",
        "stom-s2-000002": "missing_at_venue",
    }
    assert decide(report, "halt", (KRW_BTC,), lambda s: None).halt
