"""Issue 7 safety on a live USDT-M futures session (fake ``/fapi``, real ccxt, TradingService).

* Reconciliation at start compares signed positions per symbol: a matching account
  starts on the venue's available USDT; a position opened outside the app halts the
  start and names the symbol and both quantities.
* The kill switch closes a long and a short with reduce-only market orders, cancels
  every open order of ours (not a foreign one) and verifies at the venue: flat.
* ``adopt`` takes over an outside position; the journal then matches the venue at the
  next start, and the kill switch closes it reduce-only.
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from fake_binance_futures import FakeBinanceFutures
from fake_exchanges import API_KEY, SECRET
from live_venues import live_service, manual_spec, wait_for

from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.bootstrap import App
from stom_desktop.persistence import OrderRepository, SessionRepository
from stom_desktop.services.venue_reconcile import VenueMismatchError

SYM = "BTC/USDT:USDT"


def open_ids(venue: FakeBinanceFutures) -> set[str]:
    with venue.lock:
        return {o["clientOrderId"] for o in venue.orders.values() if o["status"] == "NEW"}


def posts(venue: FakeBinanceFutures) -> list[dict[str, str]]:
    return [p for m, path, p in venue.requests if m == "POST" and path == "/fapi/v1/order"]


def test_matching_futures_account_starts_on_the_available_usdt(
    app: App, tmp_path: Path, futures: FakeBinanceFutures
) -> None:
    service = live_service(app, tmp_path, futures.base_url, "binanceusdm")
    sid = service.start_session(manual_spec(SYM))
    try:
        assert service.sessions()[0].cash == D(10_000)
    finally:
        report = service.stop_session(sid)
        service.shutdown()
    assert report.initial_cash == D(10_000)
    record = SessionRepository(app.database).get(sid)
    assert record is not None
    stored = record.config["venue_reconciliation"]
    assert stored["matches"] is True and stored["quote"] == "USDT"
    assert [(a["asset"], a["venue"], a["book"]) for a in stored["assets"]] == [(SYM, "0", "0")]
    assert report.venue_reconciliation is not None
    assert "the venue matched the journal; free USDT 10000" in report.venue_reconciliation


def test_a_position_an_earlier_session_left_open_matches_at_the_next_start(
    app: App, tmp_path: Path, futures: FakeBinanceFutures
) -> None:
    service = live_service(app, tmp_path, futures.base_url, "binanceusdm")
    first = service.start_session(manual_spec(SYM))
    try:
        wait_for(lambda: service.last_price(SYM) is not None)
        assert service.place_order(SYM, "sell", "0.010").ok
        wait_for(lambda: any(p.quantity == D("-0.010") for p in service.positions()))
    finally:
        service.stop_session(first)  # stops short 0.01 (journaled fills)
    second = service.start_session(manual_spec(SYM))
    service.stop_session(second)
    service.shutdown()
    record = SessionRepository(app.database).get(second)
    assert record is not None
    stored = record.config["venue_reconciliation"]
    assert stored["matches"] is True and stored["sessions"] == [first]
    ((asset, venue, book),) = [(a["asset"], D(a["venue"]), D(a["book"])) for a in stored["assets"]]
    assert (asset, venue, book) == (SYM, D("-0.01"), D("-0.01"))


def test_a_position_opened_outside_the_app_halts_the_start(
    app: App, tmp_path: Path, futures: FakeBinanceFutures
) -> None:
    futures.set_position("BTCUSDT", "-0.020", "30000")  # a short opened by hand
    service = live_service(app, tmp_path, futures.base_url, "binanceusdm")
    with pytest.raises(VenueMismatchError) as info:
        service.start_session(manual_spec(SYM))
    service.shutdown()
    message = str(info.value)
    assert "BTC/USDT:USDT: venue -0.02" in message and "journal 0" in message
    assert "DIFFERS by -0.02" in message
    assert posts(futures) == []  # nothing sent
    assert futures.position("BTCUSDT") == D("-0.020")  # untouched


@pytest.mark.parametrize(("entry", "exit_side"), [("buy", "SELL"), ("sell", "BUY")])
def test_kill_switch_closes_the_position_reduce_only_and_ends_flat(
    app: App, tmp_path: Path, futures: FakeBinanceFutures, entry: str, exit_side: str
) -> None:
    service = live_service(app, tmp_path, futures.base_url, "binanceusdm")
    sid = service.start_session(manual_spec(SYM))
    try:
        wait_for(lambda: service.last_price(SYM) is not None)
        assert service.place_order(SYM, entry, "0.010").ok  # market: fills at once
        resting_px = "29000.0" if entry == "buy" else "31000.0"
        resting = service.place_order(SYM, entry, "0.005", resting_px)  # ours, resting
        assert resting.ok
        signed = D("0.010") if entry == "buy" else D("-0.010")
        wait_for(lambda: any(p.quantity == signed for p in service.positions()))
        # An order of ours this process never knew (an earlier run's orphan) and someone
        # else's order on the same account, both resting at the venue.
        raw = make_exchange("binanceusdm", api_key=API_KEY, secret=SECRET,
                            base_url=futures.base_url, timeout_ms=400)  # fmt: skip
        raw.create_order(SYM, "limit", "buy", 0.004, 28000.0, {"clientOrderId": "stom-s999-000001"})
        raw.create_order(SYM, "limit", "buy", 0.004, 28000.0, {"clientOrderId": "web_manual_9"})
        (report,) = service.kill_switch(True)
    finally:
        service.stop_session(sid)
        service.shutdown()
    assert report.flat, report.summary()
    assert futures.position("BTCUSDT") == 0
    assert open_ids(futures) == {"web_manual_9"}
    assert report.open_ours == () and report.positions == {}
    assert report.venue_holdings == {}  # no position left on the session symbol
    assert report.swept == ("stom-s999-000001",)  # known orders were cancelled before the sweep
    exit_post = posts(futures)[-1]
    assert (exit_post["side"], exit_post["type"], exit_post["quantity"]) == (
        exit_side, "MARKET", "0.01"
    )  # fmt: skip
    assert exit_post["reduceOnly"] == "true"
    assert exit_post["newClientOrderId"].startswith(f"stom-s{sid}-")
    stored = {o.client_order_id: o for o in OrderRepository(app.database).orders(sid)}
    assert stored[str(resting.client_order_id)].status == "cancelled"
    assert [o.status for o in stored.values()].count("filled") == 2  # entry + exit


def test_adopted_futures_position_is_journaled_and_closed_reduce_only(
    app: App, tmp_path: Path, futures: FakeBinanceFutures
) -> None:
    futures.set_position("BTCUSDT", "-0.020", "29000")
    service = live_service(app, tmp_path, futures.base_url, "binanceusdm")
    first = service.start_session(manual_spec(SYM, venue_mismatch="adopt"))
    try:
        (position,) = service.positions()
        assert (position.quantity, position.avg_price) == (D("-0.020"), D(30000))
        assert service.sessions()[0].cash == D(10_000) - D("0.020") * 29000 / 20
    finally:
        service.stop_session(first)
    # The next session on the account (default policy: halt) finds the journal matching.
    second = service.start_session(manual_spec(SYM))
    try:
        # The adopted short stays with the first session: this one starts flat.
        assert [p for p in service.positions() if p.session_id == second] == []
        record = SessionRepository(app.database).get(second)
        assert record is not None and record.config["venue_reconciliation"]["matches"] is True
    finally:
        service.stop_session(second)
    # A third session adopts it again and the kill switch closes it reduce-only.
    third = service.start_session(manual_spec(SYM, venue_mismatch="adopt"))
    try:
        wait_for(lambda: service.last_price(SYM) is not None)
        (report,) = service.kill_switch(True)
    finally:
        service.stop_session(third)
        service.shutdown()
    assert report.flat, report.summary()
    assert futures.position("BTCUSDT") == 0
    exit_post = posts(futures)[-1]
    assert (exit_post["side"], exit_post["quantity"], exit_post["reduceOnly"]) == (
        "BUY", "0.02", "true"
    )  # fmt: skip
