"""Issue 7 "done means" (in process): a live session on a local fake Binance, end to end.

Keys for the fake venue sit in a file-backed keyring (keyrings.alt in tmp_path); the
TradingService builds a CcxtBroker from them, a REST ticker feed, and trades through the
real ccxt client. Faults are injected on order submission (429, 5xx after the venue took
the order, 5xx before it, a timeout after it took the order) and survived; at the end
the venue's order list equals the database's orders (client ids, quantities, statuses).
"""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from fake_exchanges import API_KEY, SECRET, FakeBinance, Fault
from live_venues import file_accounts, live_service, serve_binance_ticker, wait_for
from pytest_httpserver import HTTPServer

from stom_desktop.bootstrap import App
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.engine import PlaceResult
from stom_desktop.persistence import OrderRepository
from stom_desktop.services.account_service import AccountService
from stom_desktop.services.trading_service import TradingService
from stom_desktop.services.trading_spec import MANUAL_STRATEGY, SessionSpec

SYM = "BTC/USDT"
ORDER = "/api/v3/order"
#: Venue status -> journal status of the same order.
STATUS = {"NEW": "submitted", "FILLED": "filled", "CANCELED": "cancelled"}


@pytest.fixture
def binance(server: HTTPServer) -> FakeBinance:
    venue = FakeBinance(server)
    venue.balances["BTC"] = D(0)  # matches the empty journal (else the start halts)
    serve_binance_ticker(venue, sizes=True)
    return venue


@pytest.fixture
def accounts(tmp_path: Path) -> AccountService:
    service = file_accounts(tmp_path / "keyring.cfg")
    service.set_account("fake-binance", API_KEY, SECRET, exchange="binance", allow_insecure=True)
    return service


def service_on(app: App, accounts: AccountService, base_url: str) -> TradingService:
    """A live service on the fake with ``accounts`` and small caps (500 / 2,000 USDT)."""
    return live_service(
        app, accounts, base_url, account="fake-binance",
        per_order_notional_cap=500.0, per_day_notional_cap=2_000.0,
        feed="websocket",  # the default; on the fake (no websocket) it polls REST
    )  # fmt: skip


def spec() -> SessionSpec:
    return SessionSpec(
        name="live-fake", strategy=MANUAL_STRATEGY, symbols=(SYM,), mode="live", speed=1
    )


def test_live_session_survives_faults_and_matches_the_venue(
    app: App, accounts: AccountService, binance: FakeBinance
) -> None:
    service = service_on(app, accounts, binance.base_url)
    sid = service.start_session(spec())
    try:
        wait_for(lambda: service.last_price(SYM) is not None)  # the REST feed delivers
        plain = service.place_order(SYM, "buy", "0.001")  # market, fills at once
        resting = service.place_order(SYM, "buy", "0.002", "29000.00")  # limit, rests
        assert plain.ok and resting.ok, (plain, resting)

        repo = OrderRepository(app.database)

        def faulted(fault: Fault, side: str, qty: str, price: str | None) -> PlaceResult:
            """Place one order whose first submit meets ``fault``; wait until it is settled."""
            binance.inject("POST", ORDER, fault)
            result = service.place_order(SYM, side, qty, price)
            assert result.ok and result.reason and "pending" in result.reason, result
            cid = str(result.client_order_id)
            wait_for(lambda: (row := repo.by_client_id(cid)) is not None and row.status != "new")
            return result

        limited = faulted(
            Fault(429, {"code": -1003, "msg": "Too many."}, headers={"Retry-After": "0.2"}),
            "buy", "0.001", "29100.00",
        )  # fmt: skip
        took_500 = faulted(
            Fault(500, {"code": -1000, "msg": "unknown"}, process=True), "buy", "0.001", "29200.00"
        )
        lost_503 = faulted(
            Fault(503, {"code": -1001, "msg": "disconnected"}), "sell", "0.001", "31000.00"
        )
        timed_out = faulted(Fault(200, {}, delay_s=1.0, process=True), "buy", "0.001", None)
        capped = service.place_order(SYM, "buy", "0.1", "29000.00")  # 2,900 USDT > 500 cap
        assert not capped.ok and capped.rule == "live.per_order_notional_cap"

        wait_for(lambda: all(o.status != "new" for o in repo.orders(sid)))
    finally:
        report = service.stop_session(sid)  # cancels what still rests at the venue
        service.shutdown()
    assert report.error is None

    stored = {o.client_order_id: o for o in repo.orders(sid)}
    sent = {cid: o for cid, o in stored.items() if o.status != "rejected"}
    with binance.lock:
        venue = {o["clientOrderId"]: o for o in binance.orders.values()}
    assert set(venue) == set(sent), "every sent order is at the venue exactly once"
    assert capped.client_order_id not in venue and stored[str(capped.client_order_id)].status == (
        "rejected"
    )
    for cid, row in venue.items():
        order = sent[cid]
        assert (order.quantity, order.status) == (D(row["origQty"]), STATUS[row["status"]]), cid
        assert order.venue_order_id == str(row["orderId"])
    # What each fault left: none doubled (one venue order per id), none lost.
    statuses = {str(r.client_order_id): venue[str(r.client_order_id)]["status"]
                for r in (plain, resting, limited, took_500, lost_503, timed_out)}  # fmt: skip
    assert statuses[str(plain.client_order_id)] == "FILLED"
    assert statuses[str(timed_out.client_order_id)] == "FILLED"
    assert statuses[str(resting.client_order_id)] == "CANCELED"  # cancelled at stop
    assert statuses[str(lost_503.client_order_id)] == "CANCELED"  # resent once, then cancelled
    assert statuses[str(took_500.client_order_id)] == "CANCELED"  # adopted, not resent
    # 6 orders reached the venue; only the 429'd and the 503'd were resent (once, same id);
    # the 500 and the timeout had reached the venue and were adopted, the capped never sent.
    assert len(venue) == 6 and binance.count("POST", ORDER) == 6 + 2


def test_live_session_without_keys_points_to_settings_accounts(
    app: App, tmp_path: Path, binance: FakeBinance
) -> None:
    empty = file_accounts(tmp_path / "empty.cfg")
    service = service_on(app, empty, binance.base_url)
    with pytest.raises(ConfigurationError, match="fake-binance") as info:
        service.start_session(spec())
    assert info.value.hint is not None and "Settings -> Accounts" in info.value.hint
    assert binance.count("POST", ORDER) == 0


def test_the_day_cap_counts_what_the_account_sent_before_a_restart(
    app: App, accounts: AccountService, binance: FakeBinance
) -> None:
    # 500 per order / 2,000 per day: four resting 435-USDT buys, stop, start again the
    # same day: a fifth is over the day's cap although the new process sent nothing yet.
    service = service_on(app, accounts, binance.base_url)
    first = service.start_session(spec())
    try:
        wait_for(lambda: service.last_price(SYM) is not None)
        for _ in range(4):
            placed = service.place_order(SYM, "buy", "0.015", "29000.00")
            assert placed.ok, placed
    finally:
        service.stop_session(first)  # cancels them: sent, so still counted
        service.shutdown()

    again = service_on(app, accounts, binance.base_url)
    second = again.start_session(spec())
    try:
        wait_for(lambda: again.last_price(SYM) is not None)
        over = again.place_order(SYM, "buy", "0.015", "29000.00")
        assert not over.ok and over.rule == "live.per_day_notional_cap", over
        small = again.place_order(SYM, "buy", "0.008", "29000.00")  # 232: 1,972 <= 2,000
        assert small.ok, small
    finally:
        again.stop_session(second)
        again.shutdown()
