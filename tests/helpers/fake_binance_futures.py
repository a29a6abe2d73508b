"""A fake Binance USDT-M futures REST venue (``/fapi``) for the real ccxt client.

Answers what ccxt's ``binanceusdm`` calls, in the documented JSON shapes:
``/fapi/v1/exchangeInfo`` (perpetuals with ``contractType``, ``marginAsset`` and the
futures filters, plus one quarterly contract), ``/fapi/v3/account`` (balance),
``/fapi/v1/leverageBracket`` and ``/fapi/v3/positionRisk`` (positions),
``/fapi/v1/order`` (POST/GET/DELETE), ``openOrders``, ``userTrades``, ``klines``,
``ticker/24hr``, ``positionSide/dual`` and ``symbolConfig`` (account settings).

The account is one-way (``positionSide=BOTH``), cross margin, 20x by default. Orders
check what the venue checks and fail with its codes: precision ``-1111``, minimum
notional ``-4164`` (waived for reduce-only), insufficient margin ``-2019``, reduce-only
that would not reduce ``-2022``, duplicate client id ``-4116``. Market orders fill at
``last_price`` at once; limit orders rest until :meth:`fill`. Fills move the position
(weighted entry price, realized P&L on reductions) and charge a 0.04 % taker fee in USDT.
Signatures are checked with the spot fake's HMAC check; faults are queued like there.
"""

from __future__ import annotations

import itertools
import time
from decimal import Decimal
from typing import Any

from fake_exchanges import FakeBinance, FakeVenue, _json, binance_bar, find_binance_order
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

#: symbol: (base, tickSize, stepSize, minQty, min notional, contractType)
FUTURES_SYMBOLS = {
    "BTCUSDT": ("BTC", "0.10", "0.001", "0.001", "100", "PERPETUAL"),
    "ETHUSDT": ("ETH", "0.01", "0.001", "0.001", "20", "PERPETUAL"),
    "BTCUSDT_260327": ("BTC", "0.10", "0.001", "0.001", "5", "CURRENT_QUARTER"),
}
OPEN = {"NEW", "PARTIALLY_FILLED"}
TAKER_FEE = Decimal("0.0004")
_ZERO = Decimal(0)


def _places(value: str) -> int:
    """Decimal places allowed by a filter value (``"0.10"`` -> 1, ``"0.001"`` -> 3)."""
    exp = Decimal(value).normalize().as_tuple().exponent
    return max(0, -int(exp))


def _decimals(text: str) -> int:
    exp = Decimal(text).normalize().as_tuple().exponent
    return max(0, -int(exp))


class FakeBinanceFutures(FakeVenue):
    """Binance USDT-M futures (one-way mode): see the module docstring."""

    _signed = FakeBinance._signed  # same HMAC-SHA256 query signing as spot

    def __init__(self, server: HTTPServer) -> None:
        super().__init__(server)
        self.orders: dict[int, dict[str, Any]] = {}
        self.by_client: dict[str, int] = {}
        self.trades: list[dict[str, Any]] = []
        self.wallet = Decimal(10_000)  # USDT
        #: symbol -> (signed amount, entry price)
        self.positions: dict[str, tuple[Decimal, Decimal]] = {}
        self.leverage = {sym: 20 for sym in FUTURES_SYMBOLS}
        self.margin_type = {sym: "CROSSED" for sym in FUTURES_SYMBOLS}
        self.hedge_mode = False
        self.last_price = {
            "BTCUSDT": Decimal("30000.00"),
            "ETHUSDT": Decimal("2000.00"),
            "BTCUSDT_260327": Decimal("30500.00"),
        }
        self.kline_end_ms: int = 1_704_067_200_000 + 1500 * 60_000
        self._ids = itertools.count(8_000_000)
        self._trade_ids = itertools.count(700_000)
        r = self._route
        r("GET", "/fapi/v1/exchangeInfo", self._exchange_info)
        r("GET", "/fapi/v1/klines", self._klines)
        r("GET", "/fapi/v1/ticker/24hr", self._ticker)
        r("GET", "/fapi/v3/account", self._signed(self._account))
        r("GET", "/fapi/v1/leverageBracket", self._signed(self._brackets))
        r("GET", "/fapi/v3/positionRisk", self._signed(self._position_risk))
        r("GET", "/fapi/v1/positionSide/dual", self._signed(self._dual))
        r("GET", "/fapi/v1/symbolConfig", self._signed(self._symbol_config))
        r("POST", "/fapi/v1/order", self._signed(self._create))
        r("GET", "/fapi/v1/order", self._signed(self._get))
        r("DELETE", "/fapi/v1/order", self._signed(self._cancel))
        r("GET", "/fapi/v1/openOrders", self._signed(self._open))
        r("GET", "/fapi/v1/userTrades", self._signed(self._user_trades))

    # -- test controls -------------------------------------------------------------
    def order_by_client(self, client_id: str) -> dict[str, Any] | None:
        """The stored order with ``clientOrderId``, if any."""
        with self.lock:
            oid = self.by_client.get(client_id)
            return None if oid is None else self.orders[oid]

    def fill(self, client_id: str, qty: str | None = None, price: str | None = None) -> None:
        """Execute (part of) a resting order, at its limit price unless ``price`` is given."""
        with self.lock:
            order = self.orders[self.by_client[client_id]]
            left = Decimal(order["origQty"]) - Decimal(order["executedQty"])
            self._trade(order, Decimal(qty) if qty else left, Decimal(price or order["price"]))

    def set_position(self, symbol: str, amount: str, entry: str) -> None:
        """Put a position on the book directly (opened outside the test's orders)."""
        with self.lock:
            self.positions[symbol] = (Decimal(amount), Decimal(entry))

    def position(self, symbol: str) -> Decimal:
        """The signed position amount of ``symbol`` (0 when flat)."""
        with self.lock:
            return self.positions.get(symbol, (_ZERO, _ZERO))[0]

    # -- margin bookkeeping ----------------------------------------------------------
    def _used_margin(self) -> Decimal:
        used = _ZERO
        for sym, (amt, entry) in self.positions.items():
            used += abs(amt) * entry / self.leverage[sym]
        for o in self.orders.values():
            if o["status"] in OPEN and not o["reduceOnly"]:
                left = Decimal(o["origQty"]) - Decimal(o["executedQty"])
                used += left * Decimal(o["price"]) / self.leverage[o["symbol"]]
        return used

    def _available(self) -> Decimal:
        return self.wallet - self._used_margin()

    # -- handlers --------------------------------------------------------------------
    def _exchange_info(self, request: Request, params: dict[str, str]) -> Response:
        symbols = []
        for sym, (base, tick, step, min_qty, notional, contract) in FUTURES_SYMBOLS.items():
            symbols.append(
                {
                    "symbol": sym,
                    "pair": sym.split("_")[0],
                    "contractType": contract,
                    "deliveryDate": 4133404800000 if contract == "PERPETUAL" else 1774598400000,
                    "onboardDate": 1569398400000,
                    "status": "TRADING",
                    "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000",
                    "baseAsset": base,
                    "quoteAsset": "USDT",
                    "marginAsset": "USDT",
                    "pricePrecision": _places(tick),
                    "quantityPrecision": _places(step),
                    "baseAssetPrecision": 8,
                    "quotePrecision": 8,
                    "underlyingType": "COIN",
                    "underlyingSubType": ["PoW"],
                    "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500",
                    "marketTakeBound": "0.05",
                    "maxMoveOrderLimit": 10000,
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": "0.10",
                            "maxPrice": "4529764",
                            "tickSize": tick,
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": min_qty,
                            "maxQty": "1000",
                            "stepSize": step,
                        },
                        {
                            "filterType": "MARKET_LOT_SIZE",
                            "minQty": min_qty,
                            "maxQty": "120",
                            "stepSize": step,
                        },
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
                        {"filterType": "MIN_NOTIONAL", "notional": notional},
                        {
                            "filterType": "PERCENT_PRICE",
                            "multiplierUp": "1.0500",
                            "multiplierDown": "0.9500",
                            "multiplierDecimal": "4",
                        },
                    ],
                    "orderTypes": [
                        "LIMIT",
                        "MARKET",
                        "STOP",
                        "STOP_MARKET",
                        "TAKE_PROFIT",
                        "TAKE_PROFIT_MARKET",
                        "TRAILING_STOP_MARKET",
                    ],
                    "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
                    "permissionSets": ["GRID", "COPY"],
                }
            )
        return _json(
            {
                "timezone": "UTC",
                "serverTime": int(time.time() * 1000),
                "futuresType": "U_MARGINED",
                "rateLimits": [],
                "exchangeFilters": [],
                "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-1"}],
                "symbols": symbols,
            }
        )

    def _account(self, params: dict[str, str]) -> Response:
        with self.lock:
            used = self._used_margin()
            unrealized = sum(
                (amt * (self.last_price[s] - entry) for s, (amt, entry) in self.positions.items()),
                _ZERO,
            )
            now = int(time.time() * 1000)
            asset = {
                "asset": "USDT",
                "walletBalance": str(self.wallet),
                "unrealizedProfit": str(unrealized),
                "marginBalance": str(self.wallet + unrealized),
                "maintMargin": "0",
                "initialMargin": str(used),
                "positionInitialMargin": str(used),
                "openOrderInitialMargin": "0",
                "crossWalletBalance": str(self.wallet),
                "crossUnPnl": str(unrealized),
                "availableBalance": str(self.wallet - used),
                "maxWithdrawAmount": str(self.wallet - used),
                "updateTime": now,
            }
            return _json(
                {
                    "totalInitialMargin": str(used),
                    "totalMaintMargin": "0",
                    "totalWalletBalance": str(self.wallet),
                    "totalUnrealizedProfit": str(unrealized),
                    "totalMarginBalance": str(self.wallet + unrealized),
                    "totalPositionInitialMargin": str(used),
                    "totalOpenOrderInitialMargin": "0",
                    "totalCrossWalletBalance": str(self.wallet),
                    "totalCrossUnPnl": str(unrealized),
                    "availableBalance": str(self.wallet - used),
                    "maxWithdrawAmount": str(self.wallet - used),
                    "assets": [asset],
                    "positions": [],
                }
            )

    def _brackets(self, params: dict[str, str]) -> Response:
        return _json(
            [
                {
                    "symbol": sym,
                    "brackets": [
                        {
                            "bracket": 1,
                            "initialLeverage": 125,
                            "notionalCap": 50000,
                            "notionalFloor": 0,
                            "maintMarginRatio": 0.004,
                            "cum": 0.0,
                        }
                    ],
                }
                for sym in FUTURES_SYMBOLS
            ]
        )

    def _position_risk(self, params: dict[str, str]) -> Response:
        with self.lock:
            rows = []
            for sym, (amt, entry) in self.positions.items():
                if amt == 0 or params.get("symbol", sym) != sym:
                    continue
                mark = self.last_price[sym]
                rows.append(
                    {
                        "symbol": sym,
                        "positionSide": "BOTH",
                        "positionAmt": str(amt),
                        "entryPrice": str(entry),
                        "breakEvenPrice": str(entry),
                        "markPrice": str(mark),
                        "unRealizedProfit": str(amt * (mark - entry)),
                        "liquidationPrice": "0",
                        "isolatedMargin": "0",
                        "notional": str(amt * mark),
                        "marginAsset": "USDT",
                        "isolatedWallet": "0",
                        "initialMargin": str(abs(amt) * mark / self.leverage[sym]),
                        "maintMargin": str(abs(amt) * mark * Decimal("0.004")),
                        "positionInitialMargin": str(abs(amt) * mark / self.leverage[sym]),
                        "openOrderInitialMargin": "0",
                        "adl": 1,
                        "bidNotional": "0",
                        "askNotional": "0",
                        "updateTime": int(time.time() * 1000),
                    }
                )
            return _json(rows)

    def _dual(self, params: dict[str, str]) -> Response:
        return _json({"dualSidePosition": self.hedge_mode})

    def _symbol_config(self, params: dict[str, str]) -> Response:
        with self.lock:
            return _json(
                [
                    {
                        "symbol": sym,
                        "marginType": self.margin_type[sym],
                        "isAutoAddMargin": "false",
                        "leverage": self.leverage[sym],
                        "maxNotionalValue": "1000000",
                    }
                    for sym in FUTURES_SYMBOLS
                    if params.get("symbol", sym) == sym
                ]
            )

    def _reject(self, code: int, msg: str) -> Response:
        return _json({"code": code, "msg": msg}, 400)

    def _create(self, params: dict[str, str]) -> Response:
        with self.lock:
            sym, side, kind = params["symbol"], params["side"], params["type"]
            cid = params.get("newClientOrderId") or f"x-{next(self._ids)}"
            if cid in self.by_client:
                return self._reject(-4116, "ClientOrderId is duplicated.")
            if self.hedge_mode and params.get("positionSide", "BOTH") == "BOTH":
                return self._reject(-4061, "Order's position side does not match user's setting.")
            _, tick, step, _, min_notional, _ = FUTURES_SYMBOLS[sym]
            qty = Decimal(params["quantity"])
            if _decimals(params["quantity"]) > _places(step) or (
                "price" in params and _decimals(params["price"]) > _places(tick)
            ):
                return self._reject(-1111, "Precision is over the maximum defined for this asset.")
            price = Decimal(params["price"]) if kind == "LIMIT" else self.last_price[sym]
            reduce_only = params.get("reduceOnly", "false") == "true"
            amt = self.position(sym)
            signed = qty if side == "BUY" else -qty
            if reduce_only and (amt == 0 or (amt > 0) == (signed > 0) or qty > abs(amt)):
                return self._reject(-2022, "ReduceOnly Order is rejected.")
            if not reduce_only and qty * price < Decimal(min_notional):
                return self._reject(
                    -4164,
                    f"Order's notional must be no smaller than {min_notional} "
                    "(unless you choose reduce only).",
                )
            if not reduce_only and qty * price / self.leverage[sym] > self._available():
                return self._reject(-2019, "Margin is insufficient.")
            now = int(time.time() * 1000)
            oid = next(self._ids)
            order = {
                "orderId": oid,
                "symbol": sym,
                "status": "NEW",
                "clientOrderId": cid,
                "price": str(price) if kind == "LIMIT" else "0",
                "avgPrice": "0.00",
                "origQty": str(qty),
                "executedQty": "0",
                "cumQty": "0",
                "cumQuote": "0",
                "timeInForce": params.get("timeInForce", "GTC"),
                "type": kind,
                "reduceOnly": reduce_only,
                "closePosition": False,
                "side": side,
                "positionSide": "BOTH",
                "stopPrice": "0",
                "workingType": "CONTRACT_PRICE",
                "priceProtect": False,
                "origType": kind,
                "priceMatch": "NONE",
                "selfTradePreventionMode": "EXPIRE_MAKER",
                "goodTillDate": 0,
                "time": now,
                "updateTime": now,
            }
            self.orders[oid] = order
            self.by_client[cid] = oid
            if kind == "MARKET":
                self._trade(order, qty, self.last_price[sym])
            return _json(order)

    def _trade(self, order: dict[str, Any], qty: Decimal, price: Decimal) -> dict[str, Any]:
        sym = order["symbol"]
        executed = Decimal(order["executedQty"]) + qty
        quote = Decimal(order["cumQuote"]) + qty * price
        order["executedQty"] = order["cumQty"] = str(executed)
        order["cumQuote"] = str(quote)
        order["avgPrice"] = str(quote / executed)
        order["status"] = "FILLED" if executed == Decimal(order["origQty"]) else "PARTIALLY_FILLED"
        order["updateTime"] = int(time.time() * 1000)
        signed = qty if order["side"] == "BUY" else -qty
        amt, entry = self.positions.get(sym, (_ZERO, _ZERO))
        realized = _ZERO
        if amt == 0 or (amt > 0) == (signed > 0):  # opening or adding: weighted entry
            new_amt = amt + signed
            entry = (abs(amt) * entry + qty * price) / abs(new_amt)
        else:  # reducing (and maybe flipping)
            closed = min(qty, abs(amt))
            realized = closed * (price - entry) * (1 if amt > 0 else -1)
            new_amt = amt + signed
            if new_amt != 0 and (new_amt > 0) != (amt > 0):
                entry = price
        self.positions[sym] = (new_amt, entry if new_amt != 0 else _ZERO)
        fee = (qty * price * TAKER_FEE).normalize()
        self.wallet += realized - fee
        trade = {
            "symbol": sym,
            "id": next(self._trade_ids),
            "orderId": order["orderId"],
            "side": order["side"],
            "price": str(price),
            "qty": str(qty),
            "realizedPnl": str(realized),
            "quoteQty": str(qty * price),
            "commission": str(fee),
            "commissionAsset": "USDT",
            "time": order["updateTime"],
            "positionSide": "BOTH",
            "buyer": order["side"] == "BUY",
            "maker": order["type"] == "LIMIT",
        }
        self.trades.append(trade)
        return trade

    def _find(self, params: dict[str, str]) -> dict[str, Any] | None:
        return find_binance_order(self.orders, self.by_client, params)

    def _get(self, params: dict[str, str]) -> Response:
        with self.lock:
            order = self._find(params)
            if order is None:
                return self._reject(-2013, "Order does not exist.")
            return _json(order)

    def _cancel(self, params: dict[str, str]) -> Response:
        with self.lock:
            order = self._find(params)
            if order is None or order["status"] not in OPEN:
                return self._reject(-2011, "Unknown order sent.")
            order["status"] = "CANCELED"
            order["updateTime"] = int(time.time() * 1000)
            return _json(order)

    def _open(self, params: dict[str, str]) -> Response:
        with self.lock:
            return _json(
                [
                    o
                    for o in self.orders.values()
                    if o["status"] in OPEN and params.get("symbol", o["symbol"]) == o["symbol"]
                ]
            )

    def _user_trades(self, params: dict[str, str]) -> Response:
        with self.lock:
            return _json(
                [
                    t
                    for t in self.trades
                    if t["symbol"] == params["symbol"]
                    and ("orderId" not in params or t["orderId"] == int(params["orderId"]))
                ]
            )

    def _klines(self, request: Request, params: dict[str, str]) -> Response:
        step = {"1m": 60_000, "1h": 3_600_000}[params["interval"]]
        start = -(-int(params.get("startTime", 0)) // step) * step
        limit = int(params.get("limit", 500))
        end = min(int(params.get("endTime", self.kline_end_ms)), self.kline_end_ms)
        rows = []
        ts = start
        while ts < end and len(rows) < limit:
            rows.append(binance_bar(ts)[:11])
            ts += step
        return _json(rows)

    def _ticker(self, request: Request, params: dict[str, str]) -> Response:
        sym = params["symbol"]
        last = self.last_price[sym]
        return _json(
            {
                "symbol": sym,
                "priceChange": "0",
                "priceChangePercent": "0",
                "weightedAvgPrice": str(last),
                "lastPrice": str(last),
                "lastQty": "0.001",
                "openPrice": str(last),
                "highPrice": str(last),
                "lowPrice": str(last),
                "volume": "100",
                "quoteVolume": str(last * 100),
                "openTime": int(time.time() * 1000) - 86_400_000,
                "closeTime": int(time.time() * 1000),
                "firstId": 1,
                "lastId": 2,
                "count": 2,
            }
        )
