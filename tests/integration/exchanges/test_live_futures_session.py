"""A live USDT-M futures session end to end: TradingService -> CcxtBroker -> fake /fapi."""

from __future__ import annotations

import logging
from decimal import Decimal as D
from pathlib import Path

import pytest
from fake_binance_futures import FakeBinanceFutures
from live_venues import live_service, wait_for

from stom_desktop.bootstrap import App
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.services.trading_service import TradingService
from stom_desktop.services.trading_spec import MANUAL_STRATEGY, SessionSpec, account_exchange

SYM = "BTC/USDT:USDT"


def _service(app: App, tmp_path: Path, base_url: str) -> TradingService:
    # One Binance key pair trades spot and USDT-M futures: the account says "binance".
    return live_service(
        app, tmp_path, base_url, "binanceusdm", account="acc",
        per_order_notional_cap=500.0, per_day_notional_cap=10_000.0,
    )  # fmt: skip


def test_spec_checks_futures_symbols_and_account_family() -> None:
    spec = SessionSpec(name="f", strategy="manual", symbols=(SYM,), exchange="binanceusdm")
    assert spec.feed == "venue"
    with pytest.raises(ConfigurationError, match="BASE/USDT:USDT") as spot_symbol:
        SessionSpec(name="f", strategy="manual", symbols=("BTC/USDT",), exchange="binanceusdm")
    assert spot_symbol.value.key == "symbols"
    with pytest.raises(ConfigurationError, match="binanceusdm"):
        SessionSpec(name="f", strategy="manual", symbols=(SYM,), exchange="binance")
    assert account_exchange("binanceusdm") == "binance"
    assert account_exchange("upbit") == "upbit"


def test_live_futures_session_trades_logs_settings_and_flattens(
    app: App, tmp_path: Path, futures: FakeBinanceFutures, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stom_desktop.services.trading_live")
    futures.leverage["BTCUSDT"] = 3
    service = _service(app, tmp_path, futures.base_url)
    sid = service.start_session(
        SessionSpec(name="fut", strategy=MANUAL_STRATEGY, symbols=(SYM,), mode="live")
    )
    try:
        assert "position mode one-way; BTC/USDT:USDT 3x cross" in caplog.text
        wait_for(lambda: service.last_price(SYM) is not None)
        result = service.place_order(SYM, "sell", "0.010")  # open a short, market
        assert result.ok, result
        wait_for(lambda: futures.position("BTCUSDT") == D("-0.01"))
        wait_for(lambda: any(p.quantity == D("-0.01") for p in service.positions()))
        report = service.stop_session(sid, liquidate=True)
    finally:
        service.shutdown()
    assert futures.position("BTCUSDT") == 0
    posts = [p for m, path, p in futures.requests if m == "POST"]
    assert [(p["side"], p.get("reduceOnly")) for p in posts] == [("SELL", None), ("BUY", "true")]
    assert all(p["newClientOrderId"].startswith("stom") for p in posts)
    assert report.fills == 2 and report.open_positions == {}
    assert futures.leverage["BTCUSDT"] == 3  # read, never changed


def test_hedge_mode_account_refuses_the_live_start(
    app: App, tmp_path: Path, futures: FakeBinanceFutures
) -> None:
    futures.hedge_mode = True
    service = _service(app, tmp_path, futures.base_url)
    try:
        with pytest.raises(ConfigurationError, match="hedge mode"):
            service.start_session(
                SessionSpec(name="fut", strategy=MANUAL_STRATEGY, symbols=(SYM,), mode="live")
            )
    finally:
        service.shutdown()
    assert futures.count("POST", "/fapi/v1/order") == 0
