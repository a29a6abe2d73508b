"""Fake Upbit KRW REST venue (``/v1``) for the real ccxt client (pytest-httpserver).

Answers ``market/all``, ``accounts``, ``orders`` (POST), ``order`` (GET/DELETE),
``orders/open``, ``ticker`` and ``orderbook`` in Upbit's JSON shapes, checks the JWT
(``access_key``, HS256 signature, query hash) and shares the fault machinery of
``fake_exchanges.FakeVenue``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from fake_exchanges import FakeVenue, _json
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


def _kst(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


class FakeUpbit(FakeVenue):
    """Upbit KRW REST (``/v1``): a cancel answers ``wait`` and completes on a later read.

    Balances move like the venue's: a resting limit order locks what it may spend (a
    bid its KRW, an ask its coins: ``balances`` is the free part, ``locked`` the rest);
    a fill moves coins and KRW, a completed cancel unlocks the remainder. Market orders
    (``ord_type`` ``price``: a buy for a KRW total, ``market``: a sell of a volume) fill
    at once at ``last_price``. Orders below 5,000 KRW are refused like the venue does.
    No fees are charged.
    """

    def __init__(self, server: HTTPServer) -> None:
        super().__init__(server)
        self.orders: dict[str, dict[str, Any]] = {}
        self.by_identifier: dict[str, str] = {}
        self.used_identifiers: set[str] = set()
        self.balances = {"KRW": Decimal(10_000_000), "BTC": Decimal(1)}
        self.locked: dict[str, Decimal] = defaultdict(Decimal)
        self.last_price = {"KRW-BTC": Decimal(50_000_000), "KRW-XRP": Decimal(800)}
        self.cancel_reads = 1  # reads of a cancelling order before it shows ``cancel``
        self._pending_cancel: dict[str, int] = {}
        r = self._route
        r(
            "GET",
            "/v1/market/all",
            lambda req, p: _json(
                [
                    {"market": "KRW-BTC", "korean_name": "비트코인", "english_name": "Bitcoin"},
                    {"market": "KRW-XRP", "korean_name": "리플", "english_name": "Ripple"},
                ]
            ),
        )
        r("GET", "/v1/accounts", self._auth(self._accounts))
        r("POST", "/v1/orders", self._auth(self._create))
        r("GET", "/v1/order", self._auth(self._get))
        r("DELETE", "/v1/order", self._auth(self._cancel))
        r("GET", "/v1/orders/open", self._auth(self._open))

    def order_by_identifier(self, identifier: str) -> dict[str, Any] | None:
        """The stored order with ``identifier``, if any."""
        with self.lock:
            u = self.by_identifier.get(identifier)
            return None if u is None else self.orders[u]

    def fill(self, identifier: str, volume: str | None = None) -> None:
        """Execute (part of) a resting order at its price."""
        with self.lock:
            order = self.orders[self.by_identifier[identifier]]
            vol = Decimal(volume) if volume else Decimal(order["remaining_volume"])
            self._execute(order, vol, Decimal(order["price"]))

    def _execute(self, order: dict[str, Any], vol: Decimal, price: Decimal) -> None:
        """Book a trade of ``vol`` at ``price``: the order, its trades and the balances."""
        base = order["market"].split("-")[1]
        if order["side"] == "bid":
            if order["ord_type"] == "limit":  # its KRW was locked at its own price
                self.locked["KRW"] -= vol * Decimal(order["price"])
            else:
                self.balances["KRW"] -= vol * price
            self.balances[base] = self.balances.get(base, Decimal(0)) + vol
        else:
            if order["ord_type"] == "limit":
                self.locked[base] -= vol
            else:
                self.balances[base] -= vol
            self.balances["KRW"] += vol * price
        order["remaining_volume"] = str(Decimal(order["remaining_volume"]) - vol)
        order["executed_volume"] = str(Decimal(order["executed_volume"]) + vol)
        order["trades_count"] += 1
        if Decimal(order["remaining_volume"]) == 0:
            order["state"] = "done"
        order["trades"].append(
            {
                "market": order["market"],
                "uuid": str(uuid.uuid4()),
                "price": str(price),
                "volume": str(vol),
                "funds": str(price * vol),
                "side": order["side"],
                "created_at": _kst(int(time.time() * 1000)),
                "trend": "up",
            }
        )

    def _auth(
        self, fn: Callable[[dict[str, str]], Response]
    ) -> Callable[[Request, dict[str, str]], Response]:
        def wrapped(request: Request, params: dict[str, str]) -> Response:
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            try:
                head, body, sig = token.split(".")
                claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            except ValueError:
                return _json(
                    {
                        "error": {
                            "name": "jwt_verification",
                            "message": "Jwt 토큰 검증에 실패했습니다.",
                        }
                    },
                    401,
                )
            if claims.get("access_key") != self.api_key:
                return _json(
                    {"error": {"name": "invalid_access_key", "message": "잘못된 엑세스 키입니다."}},
                    401,
                )
            expected = (
                base64.urlsafe_b64encode(
                    hmac.new(
                        self.secret.encode(), f"{head}.{body}".encode(), hashlib.sha256
                    ).digest()
                )
                .decode()
                .rstrip("=")
            )
            if not hmac.compare_digest(sig, expected):
                return _json(
                    {
                        "error": {
                            "name": "jwt_verification",
                            "message": "Jwt 토큰 검증에 실패했습니다.",
                        }
                    },
                    401,
                )
            return fn(params)

        return wrapped

    def _accounts(self, params: dict[str, str]) -> Response:
        with self.lock:
            return _json(
                [
                    {
                        "currency": c,
                        "balance": str(v),
                        "locked": str(self.locked.get(c, Decimal(0))),
                        "avg_buy_price": "0",
                        "avg_buy_price_modified": False,
                        "unit_currency": "KRW",
                    }
                    for c, v in self.balances.items()
                ]
            )

    def _create(self, params: dict[str, str]) -> Response:
        with self.lock:
            ident = params.get("identifier") or str(uuid.uuid4())
            if ident in self.used_identifiers:
                return _json(
                    {
                        "error": {
                            "name": "duplicate_identifier",
                            "message": "identifier already used",
                        }
                    },
                    400,
                )
            kind, side = params["ord_type"], params["side"]
            base = params["market"].split("-")[1]
            last = self.last_price.get(params["market"], Decimal(0))
            volume = Decimal(params.get("volume", "0"))
            price = Decimal(params.get("price", "0"))
            if kind == "price":  # a market buy spends ``price`` KRW at the last price
                volume = (price / last).quantize(Decimal("1e-8"), rounding=ROUND_DOWN)
            total = price if kind == "price" else volume * (last if kind == "market" else price)
            if total < 5000:
                return _json(
                    {
                        "error": {
                            "name": "under_min_total_bid"
                            if params["side"] == "bid"
                            else "under_min_total_ask",
                            "message": "최소주문금액 이상으로 주문해주세요",
                        }
                    },
                    400,
                )
            if side == "bid" and total > self.balances["KRW"]:
                return _json(
                    {
                        "error": {
                            "name": "insufficient_funds_bid",
                            "message": "주문가능한 금액(KRW)이 부족합니다.",
                        }
                    },
                    400,
                )
            if side == "ask" and volume > self.balances.get(base, Decimal(0)):
                return _json(
                    {
                        "error": {
                            "name": "insufficient_funds_ask",
                            "message": f"주문가능한 금액({base})이 부족합니다.",
                        }
                    },
                    400,
                )
            self.used_identifiers.add(ident)
            u = str(uuid.uuid4())
            order = {
                "uuid": u,
                "side": params["side"],
                "ord_type": params["ord_type"],
                "price": None if kind == "market" else str(price),
                "state": "wait",
                "market": params["market"],
                "created_at": _kst(int(time.time() * 1000)),
                "volume": str(volume),
                "remaining_volume": str(volume),
                "reserved_fee": "0",
                "remaining_fee": "0",
                "paid_fee": "0",
                "locked": "0",
                "executed_volume": "0",
                "trades_count": 0,
                "identifier": ident,
                "trades": [],
            }
            self.orders[u] = order
            self.by_identifier[ident] = u
            if kind == "limit":  # what the order may spend is locked until it ends
                asset, amount = ("KRW", total) if side == "bid" else (base, volume)
                self.balances[asset] -= amount
                self.locked[asset] += amount
            else:
                self._execute(order, volume, last)
            return _json({k: v for k, v in order.items() if k != "trades"}, 201)

    def _find(self, params: dict[str, str]) -> dict[str, Any] | None:
        u = params.get("uuid") or self.by_identifier.get(params.get("identifier", ""))
        return None if u is None else self.orders.get(u)

    def _get(self, params: dict[str, str]) -> Response:
        with self.lock:
            order = self._find(params)
            if order is None:
                return _json(
                    {"error": {"name": "order_not_found", "message": "주문을 찾지 못했습니다."}},
                    404,
                )
            u = order["uuid"]
            if u in self._pending_cancel:
                self._pending_cancel[u] -= 1
                if self._pending_cancel[u] < 0:
                    order["state"] = "cancel"
                    del self._pending_cancel[u]
                    self._unlock(order)
            return _json(order)

    def _unlock(self, order: dict[str, Any]) -> None:
        """A cancelled limit order gives back what it still held locked."""
        left = Decimal(order["remaining_volume"])
        if order["side"] == "bid":
            asset, amount = "KRW", left * Decimal(order["price"])
        else:
            asset, amount = order["market"].split("-")[1], left
        self.locked[asset] -= amount
        self.balances[asset] = self.balances.get(asset, Decimal(0)) + amount

    def _cancel(self, params: dict[str, str]) -> Response:
        with self.lock:
            order = self._find(params)
            if order is None or order["state"] != "wait":
                return _json(
                    {"error": {"name": "order_not_found", "message": "주문을 찾지 못했습니다."}},
                    404,
                )
            self._pending_cancel[order["uuid"]] = self.cancel_reads
            return _json({k: v for k, v in order.items() if k != "trades"})

    def _open(self, params: dict[str, str]) -> Response:
        with self.lock:
            return _json(
                [
                    {k: v for k, v in o.items() if k != "trades"}
                    for o in self.orders.values()
                    if o["state"] == "wait" and params.get("market", o["market"]) == o["market"]
                ]
            )
