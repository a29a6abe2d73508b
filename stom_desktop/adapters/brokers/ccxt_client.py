"""Build a configured ccxt client for Binance spot, Binance USDT-M or Upbit (REST only).

Binance USDT-M futures use ccxt's own ``binanceusdm`` class (exchange id ``binanceusdm``):
it loads only the ``/fapi/v1/exchangeInfo`` linear markets, sends every call without a
market (balance, open orders, positions) to ``/fapi``, and keeps a futures session apart
from a spot one in the journal and in recovery. Its symbols are ``BTC/USDT:USDT``.

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


#: ``recvWindow`` sent with every signed Binance request (ms); see ``ccxt_arrival``.
BINANCE_RECV_WINDOW_MS = 5000

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


def _use_futures_error_codes(ex: ccxt.Exchange) -> None:
    """Make USDT-M error codes (``-2019`` margin, ``-4164`` notional...) map on any host.

    ccxt picks its futures error table by the request URL (``https://fapi.binance.com``
    only), so on a testnet or local host those codes arrived as plain ``ExchangeError``.
    A ``binanceusdm`` client only talks to ``/fapi``: folding the linear table over the
    common one gives the same classes as on the real host, wherever it points.
    """
    linear = ex.exceptions.get("linear", {}).get("exact", {})
    ex.exceptions = {**ex.exceptions, "exact": {**ex.exceptions["exact"], **linear}}


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
        # Calls without a market (balance, open orders, positions) go to /api or /fapi.
        ex.options["defaultType"] = "spot" if exchange_id == "binance" else "swap"
        # Binance refuses a request arriving later than recvWindow after its timestamp;
        # restart recovery waits that long (+ margin) for a dead process's last request
        # (ccxt_arrival). Binance's own default, 5 s, keeps that wait short (ccxt: 10 s).
        ex.options["recvWindow"] = BINANCE_RECV_WINDOW_MS
    if exchange_id == "binanceusdm":
        _use_futures_error_codes(ex)
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


# -- websocket (ccxt.pro) clients --------------------------------------------------------
#: Testing hook like ``STOM_EXCHANGE_BASE_URL``, for the websocket host (e.g.
#: ``ws://127.0.0.1:8124``). Without it, a client whose REST host was rewritten talks
#: websocket to that same host (``http`` -> ``ws``).
WS_URL_ENV = "STOM_EXCHANGE_WS_URL"


def _rewrite_ws(value: Any, ws_base: str) -> Any:
    """Every websocket URL in ``value`` (a str or nested dict) moved to ``ws_base``.

    The venue's first host label is kept as the first path segment, so Binance's
    ``wss://stream.binance.com:9443/ws`` becomes ``<ws_base>/stream/ws``: ccxt tells spot
    from futures connections by ``/stream`` in the URL, and ``fstream``/``dstream`` stay
    apart. A templated host (Upbit's ``{hostname}``) adds no segment.
    """
    if isinstance(value, dict):
        return {k: _rewrite_ws(v, ws_base) for k, v in value.items()}
    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    label = (parts.hostname or "").split(".")[0]
    prefix = "" if not label or label.startswith("{") else "/" + label
    return ws_base.rstrip("/") + prefix + parts.path


def _ws_base_for(template: ccxt.Exchange) -> str | None:
    """The websocket host implied by ``template``'s REST host when that was rewritten."""
    defaults = template.describe()["urls"]["api"]
    for key, url in template.urls["api"].items():
        default = defaults.get(key)
        if isinstance(url, str) and isinstance(default, str):
            now, was = urlsplit(url), urlsplit(default)
            if (now.scheme, now.netloc) == (was.scheme, was.netloc):
                return None
            scheme = "wss" if now.scheme == "https" else "ws"
            return f"{scheme}://{now.netloc}"
    return None


def pro_client_like(template: ccxt.Exchange, *, ws_url: str | None = None) -> Any:
    """A ccxt.pro (asyncio + websocket) client configured exactly like ``template``.

    ``template`` is a REST client from :func:`make_exchange` (or a test factory): its
    options, REST URLs, error table, timeout and rate limiting are copied, so the
    websocket feed loads the same markets from the same host. No credentials are copied
    (public market data only). The websocket host is ``ws_url`` (``ws://host:port``),
    else ``STOM_EXCHANGE_WS_URL``, else the template's rewritten REST host, else the
    venue's own. The client is not bound to an event loop until first used: create it
    anywhere, use it on one loop only, and ``await client.close()`` there.
    """
    import copy

    import ccxt.pro

    cls = getattr(ccxt.pro, template.id, None)
    if cls is None:
        raise ConfigurationError(f"ccxt.pro has no websocket client for {template.id!r}")
    pro = cls({"enableRateLimit": template.enableRateLimit, "timeout": template.timeout})
    pro.options.update(copy.deepcopy(template.options))
    pro.exceptions = copy.deepcopy(template.exceptions)
    ws = pro.urls["api"].get("ws")
    pro.urls["api"] = {**copy.deepcopy(template.urls["api"]), "ws": ws}
    base = ws_url or os.environ.get(WS_URL_ENV) or _ws_base_for(template)
    if base is not None and ws is not None:
        pro.urls["api"]["ws"] = _rewrite_ws(ws, base)
    return pro


def make_pro_exchange(
    exchange_id: str,
    *,
    base_url: str | None = None,
    ws_url: str | None = None,
    timeout_ms: int = 10_000,
    enable_rate_limit: bool = True,
) -> Any:
    """A public-data ccxt.pro client for ``exchange_id`` (see :func:`pro_client_like`)."""
    template = make_exchange(
        exchange_id, base_url=base_url, timeout_ms=timeout_ms, enable_rate_limit=enable_rate_limit
    )
    return pro_client_like(template, ws_url=ws_url)
