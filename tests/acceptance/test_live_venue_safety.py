"""Issue 7 safety on a live session against a local fake Binance, through TradingService.

* Reconciliation at start: a matching account starts with the venue's free USDT as cash;
  a difference halts the start by default (stored, published, nothing sent), ``report``
  starts beside it, ``adopt`` starts holding it (and the kill switch then sells it).
* Kill switch against the venue: cancels every open order of ours (also one this process
  never knew), leaves foreign orders alone, sells what the session bought sized by the
  venue's balance, verifies by reading the venue again; dust and shortfalls are reported.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from fake_exchanges import API_KEY, SECRET, FakeBinance
from live_venues import live_service, manual_spec, serve_binance_ticker, wait_for
from pytest_httpserver import HTTPServer

from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.bootstrap import App
from stom_desktop.core.errors import BrokerAuthError
from stom_desktop.core.events import ErrorEvent
from stom_desktop.persistence import OrderRepository, SessionRepository
from stom_desktop.persistence.repositories.risk_events import RiskEventRepository
from stom_desktop.services.trading_service import TradingService
from stom_desktop.services.venue_reconcile import VenueMismatchError

SYM = "BTC/USDT"


@pytest.fixture
def binance(server: HTTPServer) -> FakeBinance:
    venue = FakeBinance(server)
    venue.balances["BTC"] = D(0)  # the account holds no BTC: it matches an empty journal
    serve_binance_ticker(venue)
    return venue


def service_on(app: App, tmp_path: Path, base_url: str, **live: Any) -> TradingService:
    """A live service on the fake with this file's caps (50,000 / 100,000 USDT)."""
    return live_service(
        app, tmp_path, base_url, account="fake-binance",
        per_order_notional_cap=50_000.0, per_day_notional_cap=100_000.0, **live,
    )  # fmt: skip


def open_ids(venue: FakeBinance) -> set[str]:
    with venue.lock:
        return {o["clientOrderId"] for o in venue.orders.values() if o["status"] == "NEW"}


def test_matching_account_starts_with_the_venue_cash(
    app: App, tmp_path: Path, binance: FakeBinance
) -> None:
    service = service_on(app, tmp_path, binance.base_url)
    sid = service.start_session(manual_spec(SYM))
    try:
        status = service.sessions()[0]
        assert status.cash == D(100_000) and status.equity == D(100_000)
    finally:
        report = service.stop_session(sid)
        service.shutdown()
    assert report.initial_cash == D(100_000)  # the venue's free USDT, not the 10M default
    record = SessionRepository(app.database).get(sid)
    assert record is not None and record.config["venue_reconciliation"]["matches"] is True
    events = RiskEventRepository(app.database).list(session_id=sid)
    assert events[0].rule == "venue.reconcile"
    assert "venue matches the journal" in events[0].detail


def test_a_difference_halts_the_start_by_default(
    app: App, tmp_path: Path, binance: FakeBinance
) -> None:
    binance.balances["BTC"] = D("0.5")
    service = service_on(app, tmp_path, binance.base_url)
    seen: list[ErrorEvent] = []
    service.events.subscribe(ErrorEvent, seen.append)
    with pytest.raises(VenueMismatchError, match=r"BTC: venue 0\.5, journal 0") as info:
        service.start_session(manual_spec(SYM))
    assert "adopt" in str(info.value.hint)
    (record,) = SessionRepository(app.database).list()
    assert record.status == "error" and record.error is not None and "BTC" in record.error
    rules = [e.rule for e in RiskEventRepository(app.database).list(session_id=record.id)]
    assert rules == ["venue.reconcile", "venue.balance_mismatch"]
    assert seen and "DIFFERS" in seen[0].message  # the tray gets it too
    assert binance.count("POST", "/api/v3/order") == 0
    assert binance.balances["BTC"] == D("0.5")  # untouched


def test_report_policy_starts_beside_the_difference(
    app: App, tmp_path: Path, binance: FakeBinance
) -> None:
    binance.balances["BTC"] = D("0.5")
    service = service_on(app, tmp_path, binance.base_url, on_venue_mismatch="report")
    seen: list[ErrorEvent] = []
    service.events.subscribe(ErrorEvent, seen.append)
    sid = service.start_session(manual_spec(SYM))
    try:
        assert service.positions() == []  # the 0.5 BTC is not the session's
        assert seen and "report" in seen[0].message
        reports = service.kill_switch(True)
        assert len(reports) == 1 and reports[0].flat and reports[0].exits == ()
    finally:
        service.stop_session(sid)
        service.shutdown()
    assert binance.balances["BTC"] == D("0.5")  # never sold: it was not the session's


def test_adopt_policy_starts_holding_the_venue_coins_and_the_kill_switch_sells_them(
    app: App, tmp_path: Path, binance: FakeBinance
) -> None:
    binance.balances["BTC"] = D("0.5")
    # The spec's own choice wins over the setting (halt).
    service = service_on(app, tmp_path, binance.base_url)
    sid = service.start_session(manual_spec(SYM, venue_mismatch="adopt"))
    try:
        (position,) = service.positions()
        assert (position.symbol, position.quantity, position.avg_price) == (SYM, D("0.5"), D(30000))
        assert service.sessions()[0].cash == D(100_000)
        wait_for(lambda: service.last_price(SYM) is not None)
        (report,) = service.kill_switch(True)
    finally:
        service.stop_session(sid)
        service.shutdown()
    assert report.flat, report.summary()
    assert binance.balances["BTC"] == D(0)
    rules = [e.rule for e in RiskEventRepository(app.database).list(session_id=sid)]
    assert "venue.adopted_position" in rules and "risk.kill_switch_venue" in rules


def test_kill_switch_cancels_ours_at_the_venue_flattens_and_verifies(
    app: App, tmp_path: Path, binance: FakeBinance
) -> None:
    service = service_on(app, tmp_path, binance.base_url)
    sid = service.start_session(manual_spec(SYM))
    try:
        wait_for(lambda: service.last_price(SYM) is not None)
        bought = service.place_order(SYM, "buy", "0.003")  # market: fills at the venue
        resting = service.place_order(SYM, "buy", "0.002", "29000.00")
        assert bought.ok and resting.ok
        wait_for(lambda: bool(service.positions()))
        # An order of ours this process never knew (an earlier run's orphan) and someone
        # else's order, both resting at the venue.
        raw = make_exchange("binance", api_key=API_KEY, secret=SECRET,
                            base_url=binance.base_url, timeout_ms=400)  # fmt: skip
        raw.create_order(SYM, "limit", "buy", 0.001, 28000.0, {"clientOrderId": "stom-s999-000001"})
        raw.create_order(SYM, "limit", "buy", 0.001, 27000.0, {"clientOrderId": "web_manual_7"})
        assert binance.balances["BTC"] == D("0.003")
        (report,) = service.kill_switch(True)
        refused = service.place_order(SYM, "buy", "0.001", "29000.00")
    finally:
        service.stop_session(sid)
        service.shutdown()
    assert report.flat, report.summary()
    assert set(report.swept) >= {"stom-s999-000001"}
    assert [(e.symbol, e.quantity) for e in report.exits] == [(SYM, D("0.003"))]
    assert report.open_ours == () and report.positions == {}
    assert report.venue_holdings == {"BTC": D(0)}
    assert open_ids(binance) == {"web_manual_7"}  # only the foreign order still rests
    assert binance.balances["BTC"] == D(0)
    assert not refused.ok and refused.rule == "risk.kill_switch"
    stored = {o.client_order_id: o for o in OrderRepository(app.database).orders(sid)}
    assert stored[str(resting.client_order_id)].status == "cancelled"
    (sell,) = [o for o in stored.values() if o.side == "sell"]
    assert (sell.quantity, sell.status, sell.order_type) == (D("0.003"), "filled", "market")
    rules = [e.rule for e in RiskEventRepository(app.database).list(session_id=sid)]
    assert "risk.kill_switch" in rules and "risk.kill_switch_venue" in rules


def test_kill_switch_reports_dust_and_a_shortfall_instead_of_failing(
    app: App, tmp_path: Path, binance: FakeBinance
) -> None:
    service = service_on(app, tmp_path, binance.base_url)
    sid = service.start_session(manual_spec(SYM))
    try:
        wait_for(lambda: service.last_price(SYM) is not None)
        assert service.place_order(SYM, "buy", "0.0003").ok  # 9 USDT at 30,000
        wait_for(lambda: bool(service.positions()))
        binance.balances["BTC"] = D("0.0002")  # 0.0001 sold by hand at the venue
        binance.last_price["BTCUSDT"] = D("20000.00")  # 0.0002 x 20,000 = 4 < 5 USDT minimum
        wait_for(lambda: service.last_price(SYM) == D("20000.00"))
        (report,) = service.kill_switch(True)
    finally:
        service.stop_session(sid)
        service.shutdown()
    (exit_plan,) = report.exits
    assert exit_plan.quantity == 0 and exit_plan.shortfall == D("0.0001")
    assert exit_plan.dust == D("0.0002")
    assert report.flat  # nothing sellable is left: dust and a shortfall are reported
    assert report.dust == {SYM: D("0.0002")} and report.shortfall == {SYM: D("0.0001")}
    assert "dust left" in report.summary() and "not at the venue" in report.summary()
    assert binance.count("POST", "/api/v3/order") == 1  # only the buy: no doomed sell sent


def test_refused_keys_stop_the_start_with_a_pointer_to_settings(
    app: App, tmp_path: Path, binance: FakeBinance
) -> None:
    binance.secret = "the-venue-knows-another-secret"
    service = service_on(app, tmp_path, binance.base_url)
    with pytest.raises(BrokerAuthError, match="refused the credentials") as info:
        service.start_session(manual_spec(SYM))
    assert info.value.hint is not None and "Settings -> Accounts" in info.value.hint
    assert binance.count("POST", "/api/v3/order") == 0
    assert SECRET not in str(info.value)
