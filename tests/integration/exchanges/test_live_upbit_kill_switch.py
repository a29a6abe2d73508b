"""The kill switch on a live Upbit KRW session, end to end (TradingService, real ccxt).

FakeUpbit moves balances with fills and locks what resting orders may spend, so the
kill switch is checked like on the venue: a resting sell of ours is cancelled (Upbit
confirms a cancel only on a later read) and unlocks its coins, an orphan of ours is
swept, a foreign order stays, and the position is sold by a market order sized from
the free balance. A remainder below Upbit's 5,000 KRW minimum is reported as dust and
never sent.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from fake_exchanges import API_KEY, SECRET
from fake_upbit import FakeUpbit
from live_venues import live_service, manual_spec, serve_upbit_ticker, wait_for
from pytest_httpserver import HTTPServer

from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.bootstrap import App
from stom_desktop.persistence import OrderRepository

SYM = "BTC/KRW"


@pytest.fixture
def venue(server: HTTPServer) -> FakeUpbit:
    fake = FakeUpbit(server)
    fake.balances["BTC"] = D(0)  # the account holds no BTC: it matches an empty journal
    serve_upbit_ticker(fake)
    return fake


def open_identifiers(fake: FakeUpbit) -> set[str]:
    with fake.lock:
        return {o["identifier"] for o in fake.orders.values() if o["state"] == "wait"}


def sells(fake: FakeUpbit) -> list[dict[str, str]]:
    return [p for m, path, p in fake.requests if m == "POST" and p.get("side") == "ask"]


def test_fake_upbit_balances_follow_fills_locks_and_cancels(venue: FakeUpbit) -> None:
    raw = make_exchange("upbit", api_key=API_KEY, secret=SECRET, base_url=venue.base_url,
                        timeout_ms=400, enable_rate_limit=False)  # fmt: skip
    raw.create_order(SYM, "limit", "buy", 0.002, 50_000_000, {"identifier": "t-1"})
    assert (venue.balances["KRW"], venue.locked["KRW"]) == (D(9_900_000), D(100_000))
    venue.fill("t-1", "0.001")
    assert (venue.balances["BTC"], venue.locked["KRW"]) == (D("0.001"), D(50_000))
    raw.cancel_order(venue.order_by_identifier("t-1")["uuid"])
    raw.fetch_order(venue.order_by_identifier("t-1")["uuid"])  # 1st read: still cancelling
    raw.fetch_order(venue.order_by_identifier("t-1")["uuid"])  # 2nd read: cancelled
    assert (venue.balances["KRW"], venue.locked["KRW"]) == (D(9_950_000), 0)
    raw.create_order(SYM, "market", "sell", 0.001, None, {"identifier": "t-2"})
    assert venue.balances == {"KRW": D(10_000_000), "BTC": D(0)}
    balance = raw.fetch_balance()
    assert balance["free"]["KRW"] == 10_000_000 and balance["used"]["KRW"] == 0


def test_kill_switch_cancels_ours_sells_by_market_and_ends_flat(
    app: App, tmp_path: Path, venue: FakeUpbit
) -> None:
    service = live_service(app, tmp_path, venue.base_url, "upbit")
    sid = service.start_session(manual_spec(SYM))
    try:
        assert service.sessions()[0].cash == D(10_000_000)  # the free KRW at the venue
        wait_for(lambda: service.last_price(SYM) is not None)
        assert service.place_order(SYM, "buy", "0.002").ok  # market: 100,000 KRW
        wait_for(lambda: any(p.quantity == D("0.002") for p in service.positions()))
        resting = service.place_order(SYM, "sell", "0.0005", "60000000")  # locks 0.0005
        assert resting.ok
        wait_for(lambda: venue.locked["BTC"] == D("0.0005"))
        raw = make_exchange("upbit", api_key=API_KEY, secret=SECRET, base_url=venue.base_url,
                            timeout_ms=400, enable_rate_limit=False)  # fmt: skip
        raw.create_order(SYM, "limit", "buy", 0.001, 40_000_000, {"identifier": "stom-s999-000001"})
        raw.create_order(SYM, "limit", "buy", 0.001, 39_000_000, {"identifier": "web_manual_1"})
        (report,) = service.kill_switch(True)
    finally:
        service.stop_session(sid)
        service.shutdown()
    assert report.flat, report.summary()
    assert report.swept == ("stom-s999-000001",)
    assert [(e.symbol, e.quantity, e.venue_free) for e in report.exits] == [
        (SYM, D("0.002"), D("0.002"))  # the cancelled sell gave its 0.0005 back first
    ]
    assert report.venue_holdings == {"BTC": D(0)}
    assert open_identifiers(venue) == {"web_manual_1"}
    assert venue.balances["BTC"] == 0 and venue.locked["BTC"] == 0
    (exit_post,) = [p for p in sells(venue) if p["ord_type"] == "market"]
    assert exit_post["volume"] == "0.002" and exit_post["identifier"].startswith(f"stom-s{sid}-")
    stored = {o.client_order_id: o for o in OrderRepository(app.database).orders(sid)}
    assert stored[str(resting.client_order_id)].status == "cancelled"
    (sold,) = [o for o in stored.values() if o.side == "sell" and o.order_type == "market"]
    assert (sold.quantity, sold.status) == (D("0.002"), "filled")


def test_kill_switch_reports_dust_below_the_5000_krw_minimum_and_sends_nothing(
    app: App, tmp_path: Path, venue: FakeUpbit
) -> None:
    service = live_service(app, tmp_path, venue.base_url, "upbit")
    sid = service.start_session(manual_spec(SYM))
    try:
        wait_for(lambda: service.last_price(SYM) is not None)
        assert service.place_order(SYM, "buy", "0.0002").ok  # 10,000 KRW at 50M
        wait_for(lambda: bool(service.positions()))
        venue.last_price["KRW-BTC"] = D(20_000_000)  # 0.0002 x 20M = 4,000 < 5,000 KRW
        wait_for(lambda: service.last_price(SYM) == D(20_000_000))
        (report,) = service.kill_switch(True)
    finally:
        service.stop_session(sid)
        service.shutdown()
    (plan,) = report.exits
    assert (plan.quantity, plan.dust, plan.shortfall) == (0, D("0.0002"), 0)
    assert plan.note is not None and "min_notional" in plan.note and "minimum 5000" in plan.note
    assert report.flat and report.dust == {SYM: D("0.0002")}
    assert "dust left: BTC/KRW 0.0002" in report.summary()
    assert sells(venue) == []  # no doomed order sent
    assert venue.balances["BTC"] == D("0.0002")  # still at the venue, reported
