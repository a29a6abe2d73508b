"""Live-session pieces on the fake Binance: caps, ticker quotes, auth failures, dry run."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest
from fake_exchanges import SECRET, FakeBinance
from live_venues import live_service, serve_binance_ticker, wait_for

from stom_desktop.adapters.brokers.ccxt_caps import NotionalCaps
from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.adapters.brokers.ccxt_feed import quote_from_ticker
from stom_desktop.bootstrap import App
from stom_desktop.cli.trade_cmd import intended_line
from stom_desktop.config import LiveSettings
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import ConfigurationError, OrderRejected
from stom_desktop.core.orders import Order, OrderType
from stom_desktop.engine.strategy_runner import IntendedOrderEvent
from stom_desktop.services.trading_service import TradingService
from stom_desktop.services.trading_spec import MANUAL_STRATEGY, SessionSpec

SYM = "BTC/USDT"
T0 = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture
def venue(binance: FakeBinance) -> FakeBinance:
    """The fake Binance plus a ``ticker/24hr`` endpoint at its last price."""
    serve_binance_ticker(binance)
    return binance


def order(cid: str, qty: str, px: str | None = "100") -> Order:
    kind = OrderType.MARKET if px is None else OrderType.LIMIT
    price = None if px is None else D(px)
    return Order(cid, SYM, Side.BUY, D(qty), created_at=T0, order_type=kind, price=price)


def test_caps_reject_with_the_rule_and_count_each_id_once() -> None:
    now = [T0]
    caps = NotionalCaps(D(500), D(1000), price_source=lambda s: D(200), now=lambda: now[0])
    with pytest.raises(OrderRejected) as big:
        caps.check(order("a", "6"))  # 600 > 500
    assert big.value.rule == "live.per_order_notional_cap"
    caps.check(order("b", "4"))  # 400
    caps.check(order("b", "4"))  # a resubmit of the same id is not counted again
    caps.check(order("c", "2", None))  # market: 2 * 200 = 400, total 800
    with pytest.raises(OrderRejected) as day:
        caps.check(order("d", "3"))  # 800 + 300 > 1000
    assert day.value.rule == "live.per_day_notional_cap" and caps.sent_today == D(800)
    now[0] = datetime(2026, 1, 6, tzinfo=UTC)  # a new UTC day starts from zero
    caps.check(order("d", "3"))
    assert caps.sent_today == D(300)
    blind = NotionalCaps(D(500), D(1000))
    with pytest.raises(OrderRejected, match="reference price") as none:
        blind.check(order("e", "1", None))
    assert none.value.rule == "live.no_reference_price"


def test_quote_from_ticker_falls_back_to_last_and_skips_empty_tickers() -> None:
    q = quote_from_ticker(SYM, {"last": 10.0, "bid": 9.5, "ask": None, "bidVolume": 2}, 5)
    assert q is not None and (q.bid, q.ask, q.last, q.bid_size, q.ts_ms) == (9.5, 10.0, 10.0, 2, 5)
    assert quote_from_ticker(SYM, {"bid": None, "ask": None}, 5) is None


def test_live_settings_refuse_a_day_cap_below_the_order_cap() -> None:
    with pytest.raises(ValueError, match="per_day_notional_cap"):
        LiveSettings(per_order_notional_cap=100, per_day_notional_cap=50)


def test_base_url_env_var_points_clients_at_a_local_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOM_EXCHANGE_BASE_URL", "http://127.0.0.1:9")
    ex = make_exchange("binance")
    assert ex.urls["api"]["public"].startswith("http://127.0.0.1:9/api/v3")


def _service(app: App, tmp_path: Path, base_url: str, secret: str) -> TradingService:
    # The settings' defaults otherwise: the websocket feed, 1,000 / 10,000 USDT caps.
    return live_service(
        app, tmp_path, base_url, account="acc", secret=secret, feed="websocket",
        per_order_notional_cap=1_000.0, per_day_notional_cap=10_000.0,
    )  # fmt: skip


def test_refused_credentials_reject_the_order_and_halt_the_session(
    app: App, tmp_path: Path, venue: FakeBinance
) -> None:
    binance = venue
    binance.balances["BTC"] = D(0)  # matches the empty journal (else the start halts)
    service = _service(app, tmp_path, binance.base_url, SECRET)
    sid = service.start_session(
        SessionSpec(name="x", strategy=MANUAL_STRATEGY, symbols=(SYM,), mode="live")
    )
    try:
        wait_for(lambda: service.last_price(SYM) is not None)
        # The key's secret was rotated mid-session: signatures fail (-1022). (A -2015 after
        # a successful login is a temporary ban to ccxt: DDoSProtection, cooled down.)
        binance.secret = "rotated-secret"
        first = service.place_order(SYM, "buy", "0.001", "29000.00")
        assert not first.ok and first.rule == "venue.auth"
        assert "refused the credentials" in str(first.reason)
        second = service.place_order(SYM, "buy", "0.001", "29000.00")
        assert not second.ok and second.rule is not None and "kill" in second.rule
    finally:
        service.stop_session(sid)
        service.shutdown()
    assert binance.orders == {}


def test_dry_run_on_the_venue_shows_what_would_be_sent_and_sends_nothing(
    app: App, tmp_path: Path, venue: FakeBinance
) -> None:
    binance = venue
    service = _service(app, tmp_path, binance.base_url, "unused")
    seen: list[IntendedOrderEvent] = []
    service.events.subscribe(IntendedOrderEvent, seen.append)
    sid = service.start_session(
        SessionSpec(name="d", strategy=MANUAL_STRATEGY, symbols=(SYM,), mode="dry_run",
                    exchange="binance")
    )  # fmt: skip
    try:
        wait_for(lambda: service.last_price(SYM) is not None)
        result = service.place_order(SYM, "buy", "0.002", "29000.00")
        assert result.ok
        wait_for(lambda: bool(seen))
    finally:
        service.stop_session(sid)
        service.shutdown()
    line = intended_line(seen[0])
    assert line == (
        f"DRY RUN would send: BTC/USDT buy limit qty=0.002 price=29000.00 "
        f"client_id={seen[0].client_order_id}"
    )
    assert binance.count("POST", "/api/v3/order") == 0 and binance.orders == {}


def test_live_spec_needs_a_known_exchange() -> None:
    with pytest.raises(ConfigurationError, match="unknown exchange"):
        SessionSpec(name="x", strategy="manual", symbols=(SYM,), mode="live", exchange="ftx")
