"""A TradingService on a fake venue (Binance spot, USDT-M futures or Upbit) for live tests.

:func:`live_service` stores a fake key pair in a file keyring under ``tmp_path`` (see
:func:`file_accounts`) and points the service's ccxt clients at the local fake (short
timeout, no rate limiter).
:func:`serve_binance_ticker` / :func:`serve_upbit_ticker` add the public ticker
endpoints the REST quote feed and ``ticker_price`` read (the spot fakes do not serve
them). ``wait_for`` polls a condition (never a timing assertion: it only bounds a hang).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import ccxt
from fake_exchanges import API_KEY, SECRET, FakeBinance
from fake_upbit import FakeUpbit
from keyrings.alt.file import PlaintextKeyring
from werkzeug import Request, Response

from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.adapters.secrets import KeyringSecretStore
from stom_desktop.bootstrap import App
from stom_desktop.config import LiveSettings
from stom_desktop.services.account_service import AccountService
from stom_desktop.services.trading_service import TradingService
from stom_desktop.services.trading_spec import MANUAL_STRATEGY, SessionSpec

#: The account family the keys belong to (USDT-M futures trade with Binance keys).
_ACCOUNT_EXCHANGE = {"binance": "binance", "binanceusdm": "binance", "upbit": "upbit"}


def file_accounts(path: Path) -> AccountService:
    """An ``AccountService`` on a plaintext keyring file at ``path`` (not the default keyring)."""
    backend = PlaintextKeyring()
    backend.file_path = str(path)  # type: ignore[misc]
    return AccountService(KeyringSecretStore(backend=backend))


def live_service(
    app: App,
    keys: Path | AccountService,
    base_url: str,
    exchange: str = "binance",
    *,
    account: str = "fake",
    secret: str = SECRET,
    recover_interrupted: bool = True,
    **live: Any,
) -> TradingService:
    """A ``TradingService`` whose live sessions trade ``exchange`` at the fake on ``base_url``.

    ``keys`` is a folder (``tmp_path``): ``API_KEY`` and ``secret`` are stored there as
    ``account`` in a new keyring file; or an ``AccountService``, used as it is. ``live``
    overrides the live settings.
    """
    if isinstance(keys, AccountService):
        accounts = keys
    else:
        accounts = file_accounts(keys / "keyring.cfg")
        accounts.set_account(
            account, API_KEY, secret, exchange=_ACCOUNT_EXCHANGE[exchange], allow_insecure=True
        )
    options: dict[str, Any] = {
        "account": account,
        "exchange": exchange,
        "per_order_notional_cap": 50_000_000.0,
        "per_day_notional_cap": 100_000_000.0,
        "poll_interval_s": 0.05,
        "feed": "rest",  # the fakes speak REST only
    }
    options.update(live)
    settings = app.settings.model_copy(update={"live": LiveSettings(**options)})

    def factory(eid: str, key: str | None, secret: str | None) -> ccxt.Exchange:
        return make_exchange(eid, api_key=key, secret=secret, base_url=base_url,
                             timeout_ms=400, enable_rate_limit=False)  # fmt: skip

    return TradingService(
        settings, app.database, app.strategies, app.paths, accounts=accounts,
        exchange_factory=factory, recover_interrupted=recover_interrupted,
    )  # fmt: skip


def manual_spec(symbol: str, **kw: Any) -> SessionSpec:
    """A live manual-order session on one symbol (exchange/account from the settings)."""
    return SessionSpec(name="live", strategy=MANUAL_STRATEGY, symbols=(symbol,), mode="live", **kw)


def binance_ticker(symbol: str, last: Decimal, *, sizes: bool = False) -> Response:
    """A ``/api/v3/ticker/24hr`` answer: bid/ask one tick around ``last`` (``sizes``: with
    1-unit bid/ask quantities and the day's volume, as the real endpoint sends)."""
    body: dict[str, Any] = {
        "symbol": symbol,
        "lastPrice": str(last),
        "bidPrice": str(last - 1),
        "askPrice": str(last + 1),
        "closeTime": int(time.time() * 1000),
    }
    if sizes:
        body.update(bidQty="1", askQty="1", volume="10", quoteVolume="300000", openTime=0)
    return Response(json.dumps(body), content_type="application/json")


def serve_binance_ticker(venue: FakeBinance, *, sizes: bool = False) -> None:
    """``/api/v3/ticker/24hr`` from the fake's ``last_price`` (see :func:`binance_ticker`)."""

    def ticker(request: Request) -> Response:
        symbol = request.args.get("symbol", "BTCUSDT")
        return binance_ticker(symbol, venue.last_price[symbol], sizes=sizes)

    venue.server.expect_request("/api/v3/ticker/24hr").respond_with_handler(ticker)


def serve_upbit_ticker(venue: FakeUpbit) -> None:
    """``/v1/ticker`` from the fake's ``last_price`` (Upbit answers a list)."""

    def ticker(request: Request) -> Response:
        now = int(time.time() * 1000)
        rows = []
        for market in request.args.get("markets", "KRW-BTC").split(","):
            last = float(venue.last_price[market])
            rows.append({
                "market": market, "trade_price": last, "opening_price": last,
                "high_price": last, "low_price": last, "prev_closing_price": last,
                "change": "EVEN", "acc_trade_volume_24h": 10.0,
                "acc_trade_price_24h": 10.0 * last, "timestamp": now, "trade_timestamp": now,
            })  # fmt: skip
        return Response(json.dumps(rows), content_type="application/json")

    venue.server.expect_request("/v1/ticker").respond_with_handler(ticker)


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds (a hang guard)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def dec(value: object) -> Decimal:
    """``Decimal`` of a venue's text number."""
    return Decimal(str(value))
