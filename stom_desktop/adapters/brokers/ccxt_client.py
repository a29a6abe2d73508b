"""Build a configured ccxt client for Binance spot, Binance USDT-M or Upbit (REST only).

The quirks measured against ccxt 4.5.90 (NOTES.md) live here: the options that make
``load_markets`` need only the ``exchangeInfo`` endpoints, ``fetch_open_orders`` without
a symbol, and rewriting ``urls['api']`` to another host (a local fake venue in tests, a
testnet) while keeping every path.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any
from urllib.parse import urlsplit

import ccxt

from stom_desktop.core.errors import ConfigurationError

#: Exchange ids this adapter supports, mapped to the ccxt class name.
SUPPORTED_EXCHANGES = {"binance": "binance", "binanceusdm": "binanceusdm", "upbit": "upbit"}


_AUTH_HEADER = re.compile(r"('Authorization': ')[^']*(')")


class SecretLogFilter(logging.Filter):
    """Redacts registered API keys/secrets and ``Authorization`` headers from log records.

    ccxt logs every request's headers at DEBUG (Binance ``X-MBX-APIKEY``, Upbit's bearer
    JWT); this filter sits on ccxt's loggers so no handler ever sees them.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def register(self, *secrets: str | None) -> None:
        """Add values to redact (empty/None ignored)."""
        with self._lock:
            self._secrets.update(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with every secret replaced by ``***``."""
        text = record.getMessage()
        clean = _AUTH_HEADER.sub(r"\1***\2", text)
        with self._lock:
            for secret in self._secrets:
                clean = clean.replace(secret, "***")
        if clean != text:
            record.msg, record.args = clean, None
        return True


SECRET_FILTER = SecretLogFilter()
for _name in ("ccxt", "ccxt.base.exchange"):
    logging.getLogger(_name).addFilter(SECRET_FILTER)


#: Testing hook, read here and nowhere else: when set (e.g. ``http://127.0.0.1:8123``),
#: every client made by :func:`make_exchange` without an explicit ``base_url`` talks to
#: that host instead of the real venue. Used to run ``stom trade --mode live`` against a
#: local fake exchange; never set it for real trading.
BASE_URL_ENV = "STOM_EXCHANGE_BASE_URL"


def _rewrite_host(url: str, base_url: str) -> str:
    """``url`` with scheme and host of ``base_url``; the path is kept."""
    parts = urlsplit(url)
    return base_url.rstrip("/") + parts.path


def make_exchange(
    exchange_id: str,
    *,
    api_key: str | None = None,
    secret: str | None = None,
    base_url: str | None = None,
    timeout_ms: int = 10_000,
    enable_rate_limit: bool = True,
) -> ccxt.Exchange:
    """A ccxt client for ``exchange_id`` with our options set.

    ``base_url`` (e.g. ``http://127.0.0.1:8123``) replaces the venue's host on every REST
    URL; Upbit takes the bare base (ccxt adds ``/v1``). Without one, the
    ``STOM_EXCHANGE_BASE_URL`` environment variable (a testing hook) is used when set.
    Credentials may be omitted for public data only.
    """
    cls_name = SUPPORTED_EXCHANGES.get(exchange_id)
    if cls_name is None:
        raise ConfigurationError(
            f"unsupported exchange {exchange_id!r} (supported: {', '.join(SUPPORTED_EXCHANGES)})",
            key="exchange",
        )
    config: dict[str, Any] = {"enableRateLimit": enable_rate_limit, "timeout": timeout_ms}
    if api_key is not None and secret is not None:
        config["apiKey"] = api_key
        config["secret"] = secret
        SECRET_FILTER.register(api_key, secret)
    ex: ccxt.Exchange = getattr(ccxt, cls_name)(config)
    if exchange_id in ("binance", "binanceusdm"):
        ex.options["fetchCurrencies"] = False
        ex.options["fetchMargins"] = False
        types = ["spot"] if exchange_id == "binance" else ["linear"]
        ex.options["fetchMarkets"] = {"types": types}
        ex.options["warnOnFetchOpenOrdersWithoutSymbol"] = False
        # Our own client order id always goes out; never the ccxt-invented x-... one.
        ex.options["defaultType"] = "spot" if exchange_id == "binance" else "future"
    if base_url is None:
        base_url = os.environ.get(BASE_URL_ENV) or None
    if base_url is not None:
        api = ex.urls["api"]
        if exchange_id == "upbit":
            ex.urls["api"] = {k: base_url.rstrip("/") for k in api}
        else:
            ex.urls["api"] = {
                k: _rewrite_host(v, base_url) if isinstance(v, str) else v for k, v in api.items()
            }
    return ex
