"""Fake Binance spot REST venue and the shared ``FakeVenue`` base, for the real ccxt client.

Upbit lives in ``fake_upbit``; both run on pytest-httpserver.

Each fake keeps orders, trades and balances in memory and answers the endpoints ccxt
calls, in the venues' documented JSON shapes: Binance ``/api/v3/exchangeInfo``,
``account``, ``order`` (POST/GET/DELETE), ``openOrders``, ``myTrades``, ``klines``;
Upbit ``/v1/market/all``, ``accounts``, ``orders``, ``order`` (GET/DELETE),
``orders/open``. Private calls check the API key (Binance ``X-MBX-APIKEY``, Upbit JWT
``access_key``) and the signature, and answer like the venue when they are wrong.

Faults are queued per ``(method, path)`` with :meth:`FakeVenue.inject`: an error status
and body, a delay longer than the client timeout, and ``process=True`` to apply the
request *before* stalling (the venue accepted an order, the answer never arrived).
:meth:`Fault.arrival` is the opposite: the request is held *before* the venue sees it
(network delay on the way in), then handled as usual, so a sender killed meanwhile
still gets its order placed later. Binance checks each signed request's ``timestamp``
and ``recvWindow`` against its own clock when it handles it and answers ``-1021`` when
the request is too old, as the real venue does.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from stom_desktop.core.fills import Fill
from stom_desktop.core.orders import OrderSnapshot

API_KEY = "fake-api-key-0123456789abcdef"
SECRET = "fake-secret-fedcba9876543210-do-not-leak"


class RecordingListener:
    """An ``ExecutionListener`` that keeps what the broker reported, in order."""

    def __init__(self) -> None:
        self.updates: list[OrderSnapshot] = []
        self.fills: list[Fill] = []

    def on_order_update(self, order: OrderSnapshot) -> None:
        self.updates.append(order)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)


@dataclass
class Fault:
    """One injected misbehaviour for the next matching request."""

    status: int = 500
    body: Any = None
    delay_s: float = 0.0
    process: bool = False  # apply the request first, then stall/answer with the fault
    headers: dict[str, str] = field(default_factory=dict)
    # With ``process``: after the delay send the venue's real answer, not status/body
    # (a slow venue: the order is taken, the client waits for the answer).
    answer: bool = False
    # Held this long *before* the venue sees the request (network delay on arrival).
    arrival_delay_s: float = 0.0

    @classmethod
    def arrival(cls, delay_s: float) -> Fault:
        """The request reaches the venue ``delay_s`` late, then gets the real answer."""
        return cls(process=True, answer=True, arrival_delay_s=delay_s)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


class FakeVenue:
    """Shared plumbing: fault queue, request log, handler registration."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.lock = threading.RLock()
        self.faults: dict[tuple[str, str], list[Fault]] = defaultdict(list)
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.api_key = API_KEY
        self.secret = SECRET
        #: Added to every answer, e.g. ``{"X-MBX-USED-WEIGHT-1M": "5000"}``.
        self.response_headers: dict[str, str] = {}
        #: The venue's clock minus ours (ms): tests of clock skew set it.
        self.clock_offset_ms = 0
        #: Requests held by an ``arrival`` fault right now, and ever.
        self.held = 0
        self.held_total = 0

    def venue_time_ms(self) -> int:
        """The venue's clock (ms since the epoch)."""
        return int(time.time() * 1000) + self.clock_offset_ms

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` of the local server."""
        return f"http://{self.server.host}:{self.server.port}"

    def inject(self, method: str, path: str, *faults: Fault) -> None:
        """Queue faults for the next requests to ``method path`` (used once each)."""
        with self.lock:
            self.faults[(method.upper(), path)].extend(faults)

    def count(self, method: str, path: str) -> int:
        """How many requests reached ``method path`` (faulted ones included)."""
        with self.lock:
            return sum(1 for m, p, _ in self.requests if m == method.upper() and p == path)

    def _route(
        self, method: str, path: str, fn: Callable[[Request, dict[str, str]], Response]
    ) -> None:
        def handler(request: Request) -> Response:
            params = dict(parse_qsl(request.query_string.decode()))
            body = request.get_data(as_text=True)
            if body:
                if request.content_type and "json" in request.content_type:
                    params.update({k: str(v) for k, v in json.loads(body).items()})
                else:
                    params.update(dict(parse_qsl(body)))
            with self.lock:
                queue = self.faults.get((method, path))
                fault = queue.pop(0) if queue else None
                if fault is not None and fault.arrival_delay_s:
                    self.held += 1
                    self.held_total += 1
            if fault is not None and fault.arrival_delay_s:
                time.sleep(fault.arrival_delay_s)  # still on the wire: the venue saw nothing
                with self.lock:
                    self.held -= 1
            with self.lock:
                self.requests.append((method, path, params))
            if fault is None:
                return fn(request, params)
            real = fn(request, params) if fault.process else None
            if fault.delay_s:
                time.sleep(fault.delay_s)
            if fault.answer and real is not None:
                return real
            return _json(fault.body, fault.status, fault.headers)

        def stamped(request: Request) -> Response:
            response = handler(request)
            response.headers.update(self.response_headers)
            return response

        self.server.expect_request(path, method=method).respond_with_handler(stamped)


# -- Binance ----------------------------------------------------------------------------
BINANCE_SYMBOLS = {
    # symbol: (base, quote, tickSize, stepSize, minNotional)
    "BTCUSDT": ("BTC", "USDT", "0.01", "0.00001", "5"),
    "ETHUSDT": ("ETH", "USDT", "0.01", "0.0001", "5"),
}
BINANCE_STATUS_OPEN = {"NEW", "PARTIALLY_FILLED"}
BINANCE_ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"]


def find_binance_order(
    orders: dict[int, dict[str, Any]], by_client: dict[str, int], params: dict[str, str]
) -> dict[str, Any] | None:
    """The order a Binance request names by ``orderId`` or ``origClientOrderId`` (spot and
    futures look orders up the same way)."""
    if "orderId" in params:
        return orders.get(int(params["orderId"]))
    oid = by_client.get(params.get("origClientOrderId", ""))
    return None if oid is None else orders[oid]


def binance_bar(ts: int) -> list[Any]:
    """A deterministic valid kline for open time ``ts`` (ms)."""
    base = 30000 + (ts // 60_000) % 1000
    o, c = base, base + 1
    return [ts, f"{o}.0", f"{c + 2}.0", f"{o - 1}.0", f"{c}.0", "1.5", ts + 59_999, "0", 10]


class FakeBinance(FakeVenue):
    """Binance spot REST (``/api/v3``): orders match only when the test says so.

    Stops (``STOP_LOSS``/``STOP_LOSS_LIMIT``) trigger from :meth:`set_last_price`.
    """

    def __init__(self, server: HTTPServer) -> None:
        super().__init__(server)
        self.orders: dict[int, dict[str, Any]] = {}
        self.by_client: dict[str, int] = {}
        self.trades: list[dict[str, Any]] = []
        self.balances = {"USDT": Decimal(100_000), "BTC": Decimal(2), "ETH": Decimal(10)}
        self.rate_limits: list[dict[str, Any]] = [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": 6000},
        ]  # fmt: skip
        self.last_price = {"BTCUSDT": Decimal("30000.00"), "ETHUSDT": Decimal("2000.00")}
        self.kline_end_ms: int = 1_704_067_200_000 + 1500 * 60_000  # "now" for klines
        self._ids = itertools.count(1000)
        self._trade_ids = itertools.count(5000)
        r = self._route
        r("GET", "/api/v3/exchangeInfo", self._exchange_info)
        r("GET", "/api/v3/account", self._signed(self._account))
        r("POST", "/api/v3/order", self._signed(self._create))
        r("GET", "/api/v3/order", self._signed(self._get))
        r("DELETE", "/api/v3/order", self._signed(self._cancel))
        r("GET", "/api/v3/openOrders", self._signed(self._open))
        r("GET", "/api/v3/myTrades", self._signed(self._my_trades))
        r("GET", "/api/v3/klines", self._klines)

    # -- test controls -------------------------------------------------------------
    def order_by_client(self, client_id: str) -> dict[str, Any] | None:
        """The stored order with ``clientOrderId``, if any."""
        with self.lock:
            oid = self.by_client.get(client_id)
            return None if oid is None else self.orders[oid]

    def fill(self, client_id: str, qty: str | None = None, price: str | None = None) -> None:
        """Execute (part of) a resting order, as a trade at its limit price."""
        with self.lock:
            order = self.orders[self.by_client[client_id]]
            if not order["isWorking"]:
                raise ValueError(f"fake: stop order {client_id} has not triggered yet")
            left = Decimal(order["origQty"]) - Decimal(order["executedQty"])
            self._trade(order, Decimal(qty) if qty else left, Decimal(price or order["price"]))

    def set_last_price(self, symbol: str, price: str) -> list[str]:
        """Trade ``symbol`` at ``price``; returns the client ids of the stops it triggers.

        Sell stops trigger at or below ``stopPrice``, buy stops at or above. Triggered
        (``isWorking``, still ``NEW``): ``STOP_LOSS`` fills at ``price`` at once,
        ``STOP_LOSS_LIMIT`` rests at its limit price until :meth:`fill`.
        """
        with self.lock:
            last = self.last_price[symbol] = Decimal(price)
            triggered = []
            for order in self.orders.values():
                if order["symbol"] != symbol or order["isWorking"]:
                    continue
                if order["status"] not in BINANCE_STATUS_OPEN:
                    continue
                stop = Decimal(order["stopPrice"])
                if (last <= stop) if order["side"] == "SELL" else (last >= stop):
                    now = int(time.time() * 1000)
                    order.update(isWorking=True, workingTime=now, updateTime=now)
                    triggered.append(order["clientOrderId"])
                    if order["type"] == "STOP_LOSS":
                        self._trade(order, Decimal(order["origQty"]), last)
            return triggered

    # -- handlers --------------------------------------------------------------------
    def _signed(
        self, fn: Callable[[dict[str, str]], Response]
    ) -> Callable[[Request, dict[str, str]], Response]:
        def wrapped(request: Request, params: dict[str, str]) -> Response:
            if request.headers.get("X-MBX-APIKEY") != self.api_key:
                return _json(
                    {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, 401
                )
            raw = request.query_string.decode() or request.get_data(as_text=True)
            payload, _, signature = raw.rpartition("&signature=")
            expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(signature, expected):
                return _json(
                    {"code": -1022, "msg": "Signature for this request is not valid."}, 400
                )
            # Checked when the venue handles the request (after any arrival delay).
            now, sent = self.venue_time_ms(), int(params.get("timestamp", "0"))
            if sent - now > 1000:
                return _json(
                    {"code": -1021, "msg": "Timestamp for this request was 1000ms ahead of "
                     "the server's time."}, 400,
                )  # fmt: skip
            if now - sent > int(params.get("recvWindow", "5000")):
                return _json(
                    {"code": -1021, "msg": "Timestamp for this request is outside of the "
                     "recvWindow."}, 400,
                )  # fmt: skip
            return fn(params)

        return wrapped

    def _exchange_info(self, request: Request, params: dict[str, str]) -> Response:
        symbols = []
        for sym, (base, quote, tick, step, notional) in BINANCE_SYMBOLS.items():
            symbols.append(
                {
                    "symbol": sym,
                    "status": "TRADING",
                    "baseAsset": base,
                    "baseAssetPrecision": 8,
                    "quoteAsset": quote,
                    "quotePrecision": 8,
                    "quoteAssetPrecision": 8,
                    "orderTypes": BINANCE_ORDER_TYPES,
                    "isSpotTradingAllowed": True,
                    "isMarginTradingAllowed": False,
                    "permissions": ["SPOT"],
                    "permissionSets": [["SPOT"]],
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": tick,
                            "maxPrice": "1000000",
                            "tickSize": tick,
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": step,
                            "maxQty": "9000",
                            "stepSize": step,
                        },
                        {
                            "filterType": "NOTIONAL",
                            "minNotional": notional,
                            "applyMinToMarket": True,
                            "maxNotional": "9000000",
                            "applyMaxToMarket": False,
                            "avgPriceMins": 5,
                        },
                    ],
                }
            )
        return _json(
            {
                "timezone": "UTC",
                "serverTime": int(time.time() * 1000),
                "rateLimits": self.rate_limits,
                "exchangeFilters": [],
                "symbols": symbols,
            }
        )

    def _account(self, params: dict[str, str]) -> Response:
        with self.lock:
            balances = [
                {"asset": a, "free": str(v), "locked": "0"} for a, v in self.balances.items()
            ]
        return _json(
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
            }
        )

    def _create(self, params: dict[str, str]) -> Response:
        with self.lock:
            sym, side, kind = params["symbol"], params["side"], params["type"]
            cid = params.get("newClientOrderId") or f"x-{uuid.uuid4().hex[:16]}"
            if cid in self.by_client:
                return _json({"code": -2010, "msg": "Duplicate order sent."}, 400)
            if "quoteOrderQty" in params:
                return _json({"code": -1102, "msg": "fake: quoteOrderQty not supported"}, 400)
            if kind not in BINANCE_ORDER_TYPES:
                return _json({"code": -1116, "msg": "Invalid orderType."}, 400)
            is_stop, stop = kind.startswith("STOP"), Decimal(params.get("stopPrice", "0"))
            if is_stop and stop <= 0:
                return _json({"code": -1102, "msg": "Mandatory parameter 'stopPrice'."}, 400)
            # A stop at or through the market would trigger at once: Binance refuses it.
            if is_stop and (
                stop >= self.last_price[sym] if side == "SELL" else stop <= self.last_price[sym]
            ):
                return _json({"code": -2010, "msg": "Stop price would trigger immediately."}, 400)
            qty = Decimal(params["quantity"])
            price = Decimal(params["price"]) if "price" in params else self.last_price[sym]
            base, quote = BINANCE_SYMBOLS[sym][:2]
            if side == "BUY" and qty * price > self.balances[quote]:
                return _json(
                    {
                        "code": -2010,
                        "msg": "Account has insufficient balance for requested action.",
                    },
                    400,
                )
            if side == "SELL" and qty > self.balances[base]:
                return _json(
                    {
                        "code": -2010,
                        "msg": "Account has insufficient balance for requested action.",
                    },
                    400,
                )
            now = int(time.time() * 1000)
            oid = next(self._ids)
            order = {
                "symbol": sym,
                "orderId": oid,
                "orderListId": -1,
                "clientOrderId": cid,
                "price": str(price) if "price" in params else "0.00000000",
                "origQty": str(qty),
                "executedQty": "0",
                "cummulativeQuoteQty": "0",
                "status": "NEW",
                "timeInForce": params.get("timeInForce", "GTC"),
                "type": kind,
                "side": side,
                "stopPrice": str(stop) if is_stop else "0.00000000",
                "time": now,
                "updateTime": now,
                # An untriggered stop is not working yet (Binance: workingTime -1).
                "isWorking": not is_stop,
                "workingTime": -1 if is_stop else now,
                "transactTime": now,
            }
            self.orders[oid] = order
            self.by_client[cid] = oid
            fills = []
            if kind == "MARKET":
                fills.append(self._trade(order, qty, self.last_price[sym]))
            out = dict(order)
            out["fills"] = [
                {
                    "price": t["price"],
                    "qty": t["qty"],
                    "commission": t["commission"],
                    "commissionAsset": t["commissionAsset"],
                    "tradeId": t["id"],
                }
                for t in fills
            ]
            return _json(out)

    def _trade(self, order: dict[str, Any], qty: Decimal, price: Decimal) -> dict[str, Any]:
        executed = Decimal(order["executedQty"]) + qty
        order["executedQty"] = str(executed)
        order["cummulativeQuoteQty"] = str(Decimal(order["cummulativeQuoteQty"]) + qty * price)
        order["status"] = "FILLED" if executed == Decimal(order["origQty"]) else "PARTIALLY_FILLED"
        order["updateTime"] = int(time.time() * 1000)
        base, quote = BINANCE_SYMBOLS[order["symbol"]][:2]
        sign = 1 if order["side"] == "BUY" else -1
        self.balances[base] += sign * qty
        self.balances[quote] -= sign * qty * price
        trade = {
            "symbol": order["symbol"],
            "id": next(self._trade_ids),
            "orderId": order["orderId"],
            "orderListId": -1,
            "price": str(price),
            "qty": str(qty),
            "quoteQty": str(qty * price),
            "commission": str((qty * price * Decimal("0.001")).normalize()),
            "commissionAsset": quote,
            "time": order["updateTime"],
            "isBuyer": order["side"] == "BUY",
            "isMaker": False,
            "isBestMatch": True,
        }
        self.trades.append(trade)
        return trade

    def _find(self, params: dict[str, str]) -> dict[str, Any] | None:
        return find_binance_order(self.orders, self.by_client, params)

    def _get(self, params: dict[str, str]) -> Response:
        with self.lock:
            order = self._find(params)
            if order is None:
                return _json({"code": -2013, "msg": "Order does not exist."}, 400)
            return _json(order)

    def _cancel(self, params: dict[str, str]) -> Response:
        with self.lock:
            order = self._find(params)
            if order is None or order["status"] not in BINANCE_STATUS_OPEN:
                return _json({"code": -2011, "msg": "Unknown order sent."}, 400)
            order["status"] = "CANCELED"
            order["updateTime"] = int(time.time() * 1000)
            return _json(order)

    def _open(self, params: dict[str, str]) -> Response:
        with self.lock:
            rows = [
                o
                for o in self.orders.values()
                if o["status"] in BINANCE_STATUS_OPEN
                and params.get("symbol", o["symbol"]) == o["symbol"]
            ]
            return _json(rows)

    def _my_trades(self, params: dict[str, str]) -> Response:
        with self.lock:
            rows = [
                t
                for t in self.trades
                if t["symbol"] == params["symbol"]
                and ("orderId" not in params or t["orderId"] == int(params["orderId"]))
            ]
            return _json(rows)

    def _klines(self, request: Request, params: dict[str, str]) -> Response:
        step = {"1m": 60_000, "1h": 3_600_000}[params["interval"]]
        start = int(params.get("startTime", 0))
        start = -(-start // step) * step
        limit = int(params.get("limit", 500))
        end = min(int(params.get("endTime", self.kline_end_ms)), self.kline_end_ms)
        rows = []
        ts = start
        while ts < end and len(rows) < limit:
            rows.append(binance_bar(ts))
            ts += step
        return _json(rows)
