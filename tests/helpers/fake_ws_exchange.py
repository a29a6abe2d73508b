"""Fake Binance market-data venues for ccxt.pro: local websocket servers plus REST.

:class:`FakeWsServer` is the shared plumbing: an ``aiohttp`` websocket server on
127.0.0.1 (random port, its own thread and event loop) that accepts any path, keeps each
connection's subscribed stream names, and has the fault controls ``drop_all`` (close
every connection, as a venue restart does) and ``refuse``/``accept`` (answer new
handshakes with 503 while "down"). Each venue subclass speaks its protocol in
``_on_message``; Upbit's is in ``fake_ws_upbit``.

:class:`FakeBinanceStream` speaks Binance spot's raw stream protocol as ccxt.pro uses
it: a client sends ``{"method": "SUBSCRIBE", "params": ["btcusdt@ticker", ...], "id": n}``,
the server answers ``{"result": null, "id": n}`` and then pushes bare events
(``24hrTicker``, ``trade``, ``depthUpdate``) to the connections subscribed to their
stream. ccxt's spot URL must contain ``/stream`` (``pro_ws_url``), or ``watch_ticker``
hangs. The REST side adds ``/api/v3/depth`` (the snapshot ccxt fetches before it applies
``depthUpdate`` diffs; same update ids as the stream) and ``/api/v3/ticker/24hr`` (the
feed's REST fallback) to a :class:`fake_exchanges.FakeBinance`, whose ``exchangeInfo``
answers ``load_markets``.

:class:`FakeBinanceFuturesStream` is the USDT-M futures flavour for ``binanceusdm``:
its ``24hrTicker`` has no best bid/ask (as on the real ``fstream``), ``depthUpdate``
carries ``pu`` (the previous final update id ccxt checks on linear books), and the REST
side adds ``/fapi/v1/depth`` to a ``FakeBinanceFutures`` whose own
``/fapi/v1/ticker/24hr`` follows the pushed last price.

Test controls: ``push_ticker``/``push_trade``/``push_depth`` (state is kept, so REST
answers match what was pushed), ``wait_subscribed`` and the fault controls above.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from aiohttp import WSMessage, WSMsgType, web
from fake_exchanges import FakeVenue, _json
from werkzeug import Request, Response

Level = tuple[float, float]


def _num(value: float) -> str:
    return f"{value:.8f}"


class _Book:
    """One symbol's book and last update id (the nonce shared by REST and the stream)."""

    def __init__(self) -> None:
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.update_id = 100

    def apply(self, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for price, size in levels:
                if size == 0:
                    side.pop(price, None)
                else:
                    side[price] = size

    def levels(self, limit: int) -> tuple[list[Level], list[Level]]:
        """The best ``limit`` bids (highest first) and asks (lowest first)."""
        bids = sorted(self.bids.items(), reverse=True)[:limit]
        return bids, sorted(self.asks.items())[:limit]

    def snapshot(self, limit: int) -> dict[str, Any]:
        bids, asks = self.levels(limit)
        return {
            "lastUpdateId": self.update_id,
            "bids": [[_num(p), _num(q)] for p, q in bids],
            "asks": [[_num(p), _num(q)] for p, q in asks],
        }


class FakeWsServer:
    """A local websocket server with per-connection subscriptions and fault controls.

    Start with :meth:`start` (or use as a context manager); ``ws_base`` is
    ``ws://127.0.0.1:<port>``. All control methods are thread-safe and block until the
    server loop has done the work. Subclasses implement :meth:`_on_message`.
    """

    thread_name = "fake-ws"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        #: Every subscribed stream name, in arrival order (all connections).
        self.subscribed: list[str] = []
        #: Websocket handshakes accepted / refused so far.
        self.connections_accepted = 0
        self.connections_refused = 0
        #: The URL path of every accepted connection, in order.
        self.paths: list[str] = []
        self._refusing: str | None = None  # path prefix refused ("" = every path)
        self._subs: dict[web.WebSocketResponse, set[str]] = {}
        self._ws_paths: dict[web.WebSocketResponse, str] = {}
        self._changed = threading.Condition(self.lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def ws_base(self) -> str:
        """``ws://127.0.0.1:<port>`` of the websocket server."""
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> Any:
        """Start the server thread; returns ``self`` once it listens."""
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(ready,), name=self.thread_name, daemon=True
        )
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake websocket server did not start")
        return self

    def stop(self) -> None:
        """Close every connection, stop the server and join its thread."""
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls -------------------------------------------------------------------
    def wait_subscribed(self, *streams: str, timeout: float = 10.0) -> None:
        """Block until some open connection is subscribed to each of ``streams``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not all(any(s in subs for subs in self._subs.values()) for s in streams):
                left = deadline - time.monotonic()
                if left <= 0:
                    have = sorted({s for subs in self._subs.values() for s in subs})
                    raise AssertionError(f"not subscribed to {streams} in time; open: {have}")
                self._changed.wait(left)

    def open_connections(self) -> int:
        """How many websocket connections are open now."""
        with self.lock:
            return len(self._subs)

    def drop_all(self, path_prefix: str = "") -> int:
        """Close every open connection on a path starting with ``path_prefix`` (code 1001,
        "going away"); returns how many."""
        assert self._loop is not None
        coro = self._close_all(path_prefix)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    def refuse(self, path_prefix: str = "") -> None:
        """Drop the connections on paths starting with ``path_prefix`` and answer new
        handshakes there with HTTP 503 until ``accept``."""
        with self.lock:
            self._refusing = path_prefix
        self.drop_all(path_prefix)

    def accept(self) -> None:
        """Accept websocket handshakes again."""
        with self.lock:
            self._refusing = None

    # -- for subclasses --------------------------------------------------------------------
    async def _on_message(self, ws: web.WebSocketResponse, msg: WSMessage) -> None:
        """Handle one client frame (subscribe, unsubscribe...)."""
        raise NotImplementedError

    def _set_subs(self, ws: web.WebSocketResponse, streams: Iterable[str], *, add: bool) -> None:
        """Subscribe ``ws`` to ``streams`` (``add``) or replace its subscriptions with them."""
        streams = list(streams)
        with self._changed:
            if ws not in self._subs:
                return  # closed meanwhile
            if not add:
                self._subs[ws].clear()
            self._subs[ws].update(streams)
            self.subscribed.extend(streams)
            self._changed.notify_all()

    def _unsubscribe(self, ws: web.WebSocketResponse, streams: Iterable[str]) -> None:
        with self._changed:
            self._subs.get(ws, set()).difference_update(streams)

    def _send(self, stream: str, payload: str | bytes) -> None:
        """Send ``payload`` (text, or bytes as a binary frame) to ``stream``'s subscribers."""
        assert self._loop is not None

        async def send() -> None:
            with self.lock:
                targets = [ws for ws, subs in self._subs.items() if stream in subs]
            for ws in targets:
                await self._send_to(ws, payload)

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(10)

    @staticmethod
    async def _send_to(ws: web.WebSocketResponse, payload: str | bytes) -> None:
        if ws.closed:
            return
        if isinstance(payload, bytes):
            await ws.send_bytes(payload)
        else:
            await ws.send_str(payload)

    # -- server --------------------------------------------------------------------------
    def _serve(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handler)
        self._runner = web.AppRunner(app, handle_signals=False)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        await self._close_all()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handler(self, request: web.Request) -> web.StreamResponse:
        with self.lock:
            refusing = self._refusing is not None and request.path.startswith(self._refusing)
            if refusing:
                self.connections_refused += 1
        if refusing:
            return web.Response(status=503, text="service unavailable")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        with self._changed:
            self.connections_accepted += 1
            self.paths.append(request.path)
            self._subs[ws] = set()
            self._ws_paths[ws] = request.path
            self._changed.notify_all()
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._on_message(ws, msg)
        finally:
            with self._changed:
                self._subs.pop(ws, None)
                self._ws_paths.pop(ws, None)
                self._changed.notify_all()
        return ws

    async def _close_all(self, path_prefix: str = "") -> int:
        with self.lock:
            sockets = [ws for ws in self._subs if self._ws_paths[ws].startswith(path_prefix)]
        for ws in sockets:
            await ws.close(code=1001, message=b"going away")
        # Return once every handler has forgotten its socket, so a following
        # wait_subscribed sees only new connections.
        for _ in range(500):
            with self.lock:
                if not any(ws in self._subs for ws in sockets):
                    break
            await asyncio.sleep(0.01)
        return len(sockets)


class FakeBinanceStream(FakeWsServer):
    """Binance spot streams on a local websocket server, with REST depth/ticker on ``rest``."""

    thread_name = "fake-binance-ws"
    #: Where the REST depth snapshot lives (the futures flavour overrides it).
    _rest_prefix = "/api/v3"

    def __init__(self, rest: FakeVenue) -> None:
        super().__init__()
        self.rest = rest
        self.books: dict[str, _Book] = {}
        self.tickers: dict[str, dict[str, float]] = {}
        self._trade_ids = 5000
        rest._route("GET", f"{self._rest_prefix}/depth", self._rest_depth)
        self._route_rest_ticker()

    def _route_rest_ticker(self) -> None:
        self.rest._route("GET", "/api/v3/ticker/24hr", self._rest_ticker)

    @property
    def pro_ws_url(self) -> str:
        """The spot stream URL to give ccxt.pro (``urls['api']['ws']['spot']``)."""
        return f"{self.ws_base}/stream/ws"

    # -- test controls -------------------------------------------------------------------
    def push_ticker(
        self,
        market_id: str,
        *,
        bid: float,
        ask: float,
        last: float,
        bid_size: float = 1.0,
        ask_size: float = 1.0,
        send: bool = True,
    ) -> None:
        """Set the 24h ticker of ``market_id`` (e.g. ``BTCUSDT``); ``send`` pushes it."""
        ticker = {"bid": bid, "ask": ask, "last": last, "bid_size": bid_size}
        ticker["ask_size"] = ask_size
        with self.lock:
            self.tickers[market_id] = ticker
        self._ticker_set(market_id, ticker)
        if send:
            event = self._ticker_event(market_id, ticker)
            self._send(f"{market_id.lower()}@ticker", json.dumps(event))

    def _ticker_set(self, market_id: str, ticker: dict[str, float]) -> None:
        """Hook: the futures flavour mirrors the last price into its REST fake."""

    def push_trade(self, market_id: str, *, price: float, size: float, buyer_maker: bool) -> None:
        """Push one trade (``buyer_maker`` True means the seller was the aggressor)."""
        now = int(time.time() * 1000)
        with self.lock:
            self._trade_ids += 1
            trade_id = self._trade_ids
        event = {"e": "trade", "E": now, "s": market_id, "t": trade_id, "p": _num(price)}
        event.update({"q": _num(size), "T": now, "m": buyer_maker, "M": True})
        self._send(f"{market_id.lower()}@trade", json.dumps(event))

    def set_book(self, market_id: str, bids: Iterable[Level], asks: Iterable[Level]) -> None:
        """Replace the book (what the next REST snapshot returns); nothing is pushed."""
        with self.lock:
            book = self.books.setdefault(market_id, _Book())
            book.bids, book.asks = {}, {}
            book.apply(bids, asks)

    def push_depth(
        self, market_id: str, bids: Iterable[Level] = (), asks: Iterable[Level] = ()
    ) -> None:
        """Apply a diff (size 0 removes a level) and push it as one ``depthUpdate``."""
        bids, asks = list(bids), list(asks)
        with self.lock:
            book = self.books.setdefault(market_id, _Book())
            book.apply(bids, asks)
            book.update_id += 1
            uid = book.update_id
        now = int(time.time() * 1000)
        event: dict[str, Any] = {"e": "depthUpdate", "E": now, "s": market_id}
        event.update(self._depth_ids(uid, now))
        event["b"] = [[_num(p), _num(q)] for p, q in bids]
        event["a"] = [[_num(p), _num(q)] for p, q in asks]
        self._send(f"{market_id.lower()}@depth@100ms", json.dumps(event))

    @staticmethod
    def _depth_ids(uid: int, now: int) -> dict[str, int]:
        return {"U": uid, "u": uid}

    # -- protocol --------------------------------------------------------------------------
    async def _on_message(self, ws: web.WebSocketResponse, msg: WSMessage) -> None:
        if msg.type != WSMsgType.TEXT:
            return
        data = json.loads(msg.data)
        if data.get("method") == "SUBSCRIBE":
            # Answer first: ccxt starts the depth snapshot on this reply, and a
            # stream event must not reach it before the subscription is known.
            await ws.send_str(json.dumps({"result": None, "id": data.get("id")}))
            self._set_subs(ws, data.get("params", []), add=True)
        elif data.get("method") == "UNSUBSCRIBE":
            self._unsubscribe(ws, data.get("params", []))
            await ws.send_str(json.dumps({"result": None, "id": data.get("id")}))

    @staticmethod
    def _ticker_event(market_id: str, t: dict[str, float]) -> dict[str, Any]:
        now = int(time.time() * 1000)
        event: dict[str, Any] = {"e": "24hrTicker", "E": now, "s": market_id}
        event.update({"p": "0", "P": "0", "w": _num(t["last"]), "c": _num(t["last"])})
        event.update({"Q": "0.1", "b": _num(t["bid"]), "B": _num(t["bid_size"])})
        event.update({"a": _num(t["ask"]), "A": _num(t["ask_size"]), "o": _num(t["last"])})
        event.update({"h": _num(t["last"]), "l": _num(t["last"]), "v": "10", "q": "1000"})
        event.update({"O": now - 86_400_000, "C": now, "F": 1, "L": 2, "n": 2})
        return event

    # -- REST ------------------------------------------------------------------------------
    def _rest_depth(self, request: Request, params: dict[str, str]) -> Response:
        market_id = params.get("symbol", "")
        with self.lock:
            book = self.books.setdefault(market_id, _Book())
            body = book.snapshot(int(params.get("limit", "100")))
        return _json(body)

    def _rest_ticker(self, request: Request, params: dict[str, str]) -> Response:
        market_id = params.get("symbol", "")
        with self.lock:
            t = self.tickers.get(market_id)
        if t is None:
            return _json({"code": -1121, "msg": "Invalid symbol."}, 400)
        now = int(time.time() * 1000)
        body = {
            "symbol": market_id,
            "lastPrice": _num(t["last"]),
            "bidPrice": _num(t["bid"]),
            "bidQty": _num(t["bid_size"]),
            "askPrice": _num(t["ask"]),
            "askQty": _num(t["ask_size"]),
            "openPrice": _num(t["last"]),
            "highPrice": _num(t["last"]),
            "lowPrice": _num(t["last"]),
            "volume": "10",
            "quoteVolume": "1000",
            "openTime": now - 86_400_000,
            "closeTime": now,
            "count": 2,
        }
        return _json(body)


class FakeBinanceFuturesStream(FakeBinanceStream):
    """Binance USDT-M futures streams (``fstream``) for ``binanceusdm``; REST on ``rest``.

    ``rest`` is a ``fake_binance_futures.FakeBinanceFutures``: its ``/fapi/v1/ticker/24hr``
    (the feed's REST fallback) answers the ``last_price`` that ``push_ticker`` sets, with
    no bid/ask, like the real endpoint. ccxt connects to ``/fstream/market/ws/<n>`` for
    tickers and ``/fstream/public/ws/<n>`` for trades and depth (see ``paths``).
    """

    thread_name = "fake-binance-fws"
    _rest_prefix = "/fapi/v1"

    def _route_rest_ticker(self) -> None:
        """The futures fake serves ``/fapi/v1/ticker/24hr`` itself."""

    def _ticker_set(self, market_id: str, ticker: dict[str, float]) -> None:
        with self.rest.lock:
            self.rest.last_price[market_id] = Decimal(str(ticker["last"]))  # type: ignore[attr-defined]

    @staticmethod
    def _depth_ids(uid: int, now: int) -> dict[str, int]:
        # ``pu``: the previous event's final id; ccxt applies a linear diff when it
        # equals the book's nonce.
        return {"T": now, "U": uid, "u": uid, "pu": uid - 1}

    @staticmethod
    def _ticker_event(market_id: str, t: dict[str, float]) -> dict[str, Any]:
        # The futures 24hrTicker has no b/B/a/A: best bid/ask are only in the book streams.
        event = FakeBinanceStream._ticker_event(market_id, t)
        for key in ("b", "B", "a", "A"):
            del event[key]
        return event

    def _rest_depth(self, request: Request, params: dict[str, str]) -> Response:
        response = super()._rest_depth(request, params)
        body = json.loads(response.get_data(as_text=True))
        now = int(time.time() * 1000)
        return _json({"lastUpdateId": body["lastUpdateId"], "E": now, "T": now, **body})
