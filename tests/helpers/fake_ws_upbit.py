"""A fake Upbit quotation websocket (``/websocket/v1``) plus REST ticker/orderbook.

Upbit's protocol as ccxt.pro's ``upbit`` uses it: one connection per client for every
public channel. The client sends a JSON array, ``[{"ticket": ...}, {"type": "ticker",
"codes": ["KRW-BTC"]}, {"type": "trade", ...}, ...]``; each such request *replaces* the
connection's subscriptions (ccxt resends the whole list whenever it adds a channel).
For every channel in a request the server first sends the current state with
``stream_type: "SNAPSHOT"`` (the ticker, the 15-level book, the latest trade), then
``"REALTIME"`` events as they happen; a channel with no state yet gets its first event
as the SNAPSHOT (ccxt's ``upbit`` fails on an orderbook REALTIME before any SNAPSHOT).
Frames are binary UTF-8 JSON, as the real venue sends them. The ticker carries no best
bid/ask: those are only in ``orderbook`` events, each a full snapshot of the top levels
(no diffs), bids and asks paired per unit.

A request that is not a ticket plus known channel types and codes gets Upbit's error
frame (``{"error": {"name": "INVALID_PARAM", ...}}``) and is recorded in ``errors``.

REST: ``/v1/ticker`` and ``/v1/orderbook`` (the feed's REST fallback) are added to a
:class:`fake_exchanges.FakeUpbit`, whose ``/v1/market/all`` answers ``load_markets``,
and answer the same state as the stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMessage, WSMsgType, web
from fake_exchanges import _json
from fake_upbit import FakeUpbit
from fake_ws_exchange import FakeWsServer, Level
from werkzeug import Request, Response

CHANNELS = ("ticker", "trade", "orderbook")
#: The markets ``FakeUpbit``'s ``/v1/market/all`` lists.
KNOWN_CODES = frozenset({"KRW-BTC", "KRW-XRP"})


class FakeUpbitStream(FakeWsServer):
    """Upbit's public websocket on a local server, with REST ticker/orderbook on ``rest``.

    Stream names in ``subscribed``/``wait_subscribed`` are ``"<type>:<code>"``, e.g.
    ``"orderbook:KRW-BTC"``. ``pro_ws_url`` is what ccxt's ``urls['api']['ws']`` becomes.
    """

    thread_name = "fake-upbit-ws"

    def __init__(self, rest: FakeUpbit) -> None:
        super().__init__()
        self.rest = rest
        self.tickers: dict[str, dict[str, Any]] = {}
        self.books: dict[str, tuple[list[Level], list[Level]]] = {}
        self.last_trades: dict[str, dict[str, Any]] = {}
        #: Requests answered with an error frame (the raw request text).
        self.errors: list[str] = []
        #: Stream names a SNAPSHOT was sent for, in order (all connections).
        self.snapshots: list[str] = []
        self._seq = 1_700_000_000_000_000
        self._snapshotted: dict[web.WebSocketResponse, set[str]] = {}
        rest._route("GET", "/v1/ticker", self._rest_ticker)
        rest._route("GET", "/v1/orderbook", self._rest_orderbook)

    @property
    def pro_ws_url(self) -> str:
        """The websocket URL to give ccxt.pro."""
        return f"{self.ws_base}/websocket/v1"

    # -- test controls -------------------------------------------------------------------
    def push_ticker(
        self, code: str, *, last: float, volume: float = 1.0, send: bool = True
    ) -> None:
        """Set the ticker of ``code`` (e.g. ``KRW-BTC``) after a trade at ``last``."""
        now = int(time.time() * 1000)
        ticker = {"type": "ticker", "code": code, "opening_price": last, "high_price": last}
        ticker.update({"low_price": last, "trade_price": last, "prev_closing_price": last})
        ticker.update({"change": "EVEN", "change_price": 0, "signed_change_price": 0})
        ticker.update({"change_rate": 0, "signed_change_rate": 0, "trade_volume": volume})
        ticker.update({"acc_trade_volume": 10.0, "acc_trade_volume_24h": 12.0})
        ticker.update({"acc_trade_price": 10.0 * last, "acc_trade_price_24h": 12.0 * last})
        ticker.update(_trade_time(now))
        ticker.update({"trade_timestamp": now, "ask_bid": "BID", "acc_ask_volume": 5.0})
        ticker.update({"acc_bid_volume": 5.0, "market_state": "ACTIVE"})
        ticker.update({"is_trading_suspended": False, "market_warning": "NONE"})
        ticker.update({"timestamp": now})
        with self.lock:
            self.tickers[code] = ticker
        if send:
            self._push("ticker", code, ticker)

    def push_trade(self, code: str, *, price: float, size: float, ask_bid: str) -> None:
        """Push one trade; ``ask_bid`` ``"ASK"`` means a seller hit the bid, ``"BID"`` a buyer."""
        now = int(time.time() * 1000)
        with self.lock:
            self._seq += 1
            trade = {"type": "trade", "code": code, "timestamp": now, "trade_timestamp": now}
            trade.update(_trade_time(now))
            trade.update({"trade_price": price, "trade_volume": size, "ask_bid": ask_bid})
            trade.update({"prev_closing_price": price, "change": "EVEN", "change_price": 0})
            trade["sequential_id"] = self._seq
            self.last_trades[code] = trade
        self._push("trade", code, trade)

    def push_book(
        self, code: str, bids: Iterable[Level], asks: Iterable[Level], *, send: bool = True
    ) -> None:
        """Set the top of the book (best first, at most 15 a side); ``send`` pushes it."""
        with self.lock:
            self.books[code] = (list(bids)[:15], list(asks)[:15])
        if send:
            self._push("orderbook", code, self._book_event(code))

    # -- protocol --------------------------------------------------------------------------
    def _push(self, channel: str, code: str, event: dict[str, Any]) -> None:
        stream = f"{channel}:{code}"
        assert self._loop is not None

        async def send() -> None:
            with self.lock:
                targets = [ws for ws, subs in self._subs.items() if stream in subs]
            for ws in targets:
                await self._send_state(ws, stream, event)

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(10)

    async def _send_state(
        self,
        ws: web.WebSocketResponse,
        stream: str,
        event: dict[str, Any],
        *,
        snapshot: bool = False,
    ) -> None:
        """Send ``event``: as the SNAPSHOT if asked or if ``ws`` had none for ``stream`` yet."""
        with self.lock:
            for gone in [w for w in self._snapshotted if w not in self._subs]:
                del self._snapshotted[gone]
            sent = self._snapshotted.setdefault(ws, set())
            if stream not in sent:
                snapshot = True
            if snapshot:
                sent.add(stream)
                self.snapshots.append(stream)
        kind = "SNAPSHOT" if snapshot else "REALTIME"
        await self._send_to(ws, _frame({**event, "stream_type": kind}))

    async def _on_message(self, ws: web.WebSocketResponse, msg: WSMessage) -> None:
        text = msg.data if msg.type == WSMsgType.TEXT else bytes(msg.data).decode()
        streams = self._parse_request(text)
        if streams is None:
            with self.lock:
                self.errors.append(text)
            error = {"name": "INVALID_PARAM", "message": "잘못된 요청입니다."}
            await self._send_to(ws, _frame({"error": error}))
            return
        self._set_subs(ws, streams, add=False)
        for stream in streams:
            channel, code = stream.split(":", 1)
            with self.lock:
                if channel == "ticker":
                    event = self.tickers.get(code)
                elif channel == "trade":
                    event = self.last_trades.get(code)
                else:
                    event = self._book_event(code) if code in self.books else None
            if event is not None:
                await self._send_state(ws, stream, event, snapshot=True)

    def _parse_request(self, text: str) -> list[str] | None:
        """``"<type>:<code>"`` for each channel requested, or None for a bad request."""
        try:
            request = json.loads(text)
        except ValueError:
            return None
        if not isinstance(request, list) or not request or "ticket" not in request[0]:
            return None
        streams: list[str] = []
        for item in request[1:]:
            if "format" in item and "type" not in item:
                continue
            codes = item.get("codes")
            if item.get("type") not in CHANNELS or not codes or not set(codes) <= KNOWN_CODES:
                return None
            streams.extend(f"{item['type']}:{code}" for code in codes)
        return streams

    def _book_event(self, code: str) -> dict[str, Any]:
        bids, asks = self.books.get(code, ([], []))
        units: list[dict[str, float]] = []
        for i in range(max(len(bids), len(asks))):
            unit: dict[str, float] = {}
            if i < len(asks):
                unit.update({"ask_price": asks[i][0], "ask_size": asks[i][1]})
            if i < len(bids):
                unit.update({"bid_price": bids[i][0], "bid_size": bids[i][1]})
            units.append(unit)
        return {
            "type": "orderbook",
            "code": code,
            "timestamp": int(time.time() * 1000),
            "total_ask_size": sum(size for _, size in asks),
            "total_bid_size": sum(size for _, size in bids),
            "orderbook_units": units,
            "level": 0,
        }

    # -- REST ------------------------------------------------------------------------------
    def _rest_ticker(self, request: Request, params: dict[str, str]) -> Response:
        rows = []
        with self.lock:
            for code in params.get("markets", "").split(","):
                ticker = self.tickers.get(code)
                if ticker is None:
                    return _not_found()
                row = {k: v for k, v in ticker.items() if k not in ("type", "code")}
                rows.append({"market": code, **row})
        return _json(rows)

    def _rest_orderbook(self, request: Request, params: dict[str, str]) -> Response:
        rows = []
        with self.lock:
            for code in params.get("markets", "").split(","):
                if code not in self.books:
                    return _not_found()
                event = self._book_event(code)
                del event["type"], event["code"]
                rows.append({"market": code, **event})
        return _json(rows)


def _frame(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def _trade_time(ms: int) -> dict[str, str]:
    """Upbit's ``trade_date``/``trade_time`` fields (UTC, ``yyyyMMdd`` / ``HHmmss``)."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return {"trade_date": moment.strftime("%Y%m%d"), "trade_time": moment.strftime("%H%M%S")}


def _not_found() -> Response:
    error = {"name": "not_found_market", "message": "Code not found"}
    return _json({"error": error}, 404)
