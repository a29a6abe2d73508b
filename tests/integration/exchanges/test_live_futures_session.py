"""A live USDT-M futures session end to end: TradingService -> CcxtBroker -> fake /fapi."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path

import pytest
from fake_binance_futures import FakeBinanceFutures
from fake_exchanges import API_KEY, SECRET
from keyrings.alt.file import PlaintextKeyring
from pytest_httpserver import HTTPServer

from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.adapters.secrets import KeyringSecretStore
from stom_desktop.bootstrap import build_app
from stom_desktop.config import LiveSettings
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.services.account_service import AccountService
from stom_desktop.services.trading_service import TradingService
from stom_desktop.services.trading_spec import MANUAL_STRATEGY, SessionSpec, account_exchange

SYM = "BTC/USDT:USDT"


@pytest.fixture
def futures(server: HTTPServer) -> FakeBinanceFutures:
    return FakeBinanceFutures(server)


def _service(tmp_path: Path, base_url: str) -> tuple[TradingService, object]:
    backend = PlaintextKeyring()
    backend.file_path = str(tmp_path / "k.cfg")  # type: ignore[misc]
    accounts = AccountService(KeyringSecretStore(backend=backend))
    # One Binance key pair trades spot and USDT-M futures: the account says "binance".
    accounts.set_account("acc", API_KEY, SECRET, exchange="binance", allow_insecure=True)
    app = build_app()
    live = LiveSettings(
        account="acc",
        exchange="binanceusdm",
        poll_interval_s=0.05,
        per_order_notional_cap=500,
        feed="rest",  # the fake speaks REST only
    )
    settings = app.settings.model_copy(update={"live": live})

    def factory(eid: str, key: str | None, sec: str | None):  # type: ignore[no-untyped-def]
        return make_exchange(
            eid, api_key=key, secret=sec, base_url=base_url, timeout_ms=400,
            enable_rate_limit=False,
        )  # fmt: skip

    service = TradingService(
        settings, app.database, app.strategies, app.paths, accounts=accounts,
        exchange_factory=factory,
    )  # fmt: skip
    return service, app


def _wait(cond: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


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
    tmp_path: Path, futures: FakeBinanceFutures, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="stom_desktop.services.trading_live")
    futures.leverage["BTCUSDT"] = 3
    service, app = _service(tmp_path, futures.base_url)
    sid = service.start_session(
        SessionSpec(name="fut", strategy=MANUAL_STRATEGY, symbols=(SYM,), mode="live")
    )
    try:
        assert "position mode one-way; BTC/USDT:USDT 3x cross" in caplog.text
        _wait(lambda: service.last_price(SYM) is not None)
        result = service.place_order(SYM, "sell", "0.010")  # open a short, market
        assert result.ok, result
        _wait(lambda: futures.position("BTCUSDT") == D("-0.01"))
        _wait(lambda: any(p.quantity == D("-0.01") for p in service.positions()))
        report = service.stop_session(sid, liquidate=True)
    finally:
        service.shutdown()
        app.close()  # type: ignore[attr-defined]
    assert futures.position("BTCUSDT") == 0
    posts = [p for m, path, p in futures.requests if m == "POST"]
    assert [(p["side"], p.get("reduceOnly")) for p in posts] == [("SELL", None), ("BUY", "true")]
    assert all(p["newClientOrderId"].startswith("stom") for p in posts)
    assert report.fills == 2 and report.open_positions == {}
    assert futures.leverage["BTCUSDT"] == 3  # read, never changed


def test_hedge_mode_account_refuses_the_live_start(
    tmp_path: Path, futures: FakeBinanceFutures
) -> None:
    futures.hedge_mode = True
    service, app = _service(tmp_path, futures.base_url)
    try:
        with pytest.raises(ConfigurationError, match="hedge mode"):
            service.start_session(
                SessionSpec(name="fut", strategy=MANUAL_STRATEGY, symbols=(SYM,), mode="live")
            )
    finally:
        service.shutdown()
        app.close()  # type: ignore[attr-defined]
    assert futures.count("POST", "/fapi/v1/order") == 0
