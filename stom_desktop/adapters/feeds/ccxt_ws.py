"""CcxtWebsocketFeed: live quotes, trades and order books over a venue's websocket (ccxt.pro).

Per subscribed symbol three streams run on the feed's own asyncio loop and daemon thread:
``watch_ticker`` -> ``QuoteEvent``, ``watch_trades`` -> ``TradeTick`` and
``watch_order_book`` -> ``OrderBookEvent`` (best ``book_depth`` levels a side), the same
types and shapes as the simulator's, so chart, order book and strategies need nothing
else. Events are stamped with our receive time (ms, UTC), as the REST feed does: the
engine's bars run on the local wall clock. ``poll`` only drains a thread-safe queue.

Faults: a stream whose watch call fails (the connection dropped, was refused, a book
went out of sync) logs it, counts it in ``errors`` and retries after an exponential
backoff with jitter (``backoff_initial_s`` doubling up to ``backoff_max_s``); ccxt opens
a new connection and resubscribes on the retry. The first data after a failure counts as
a reconnect (``reconnects``, one per stream). While a symbol's ticker stream has been
down for ``fallback_after_s`` (at once if it never worked), its quotes come from REST
``fetch_ticker`` every ``rest_interval_s`` instead; ``mode`` is then ``"rest"``, and it
returns to ``"websocket"`` with the first websocket ticker. Both switches are logged.
A ticker stream that is up but silent for ``stall_after_s`` (ccxt's receive loop can die
without closing the socket) makes every connection silent that long fail on purpose
(``_ws_stall``, counted in ``stalls``), so the ordinary retry path reconnects it.

Venues whose ticker stream has no best bid/ask (Upbit; Binance USDT-M futures, whose
``24hrTicker`` lacks ``b``/``a``) take them from the order book stream, which then always
runs (``order_book=False`` only stops the ``OrderBookEvent``s): a quote is the ticker's
last with the book's best bid/ask and sizes, and a change of the book's top sends a
quote too (with the last trade price), as a book ticker would. Until a book has
arrived, or while the book stream is down, bid = ask = last. The REST fallback there
reads the order book's top with the ticker. Trades are passed on once per id: Upbit
resends its latest trade as a ``SNAPSHOT`` on every (re)subscription.

ccxt quirks handled here (ccxt 4.5.90): Binance's ``watch_ticker`` subscribes to
``miniTicker``, which has no bid/ask, unless ``params={"name": "ticker"}``; ccxt keeps
its own per-URL dial backoff (0.2 s doubling to 30 s) that would stack on ours, so it is
cleared before each retry and ours (with jitter) is the only one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import ccxt

from stom_desktop.adapters.brokers.ccxt_feed import drain, quote_from_ticker
from stom_desktop.adapters.feeds._ws_stall import reset_silent_connections
from stom_desktop.core.enums import Side
from stom_desktop.core.events import MarketEvent, OrderBookEvent, QuoteEvent, TradeTick

log = logging.getLogger(__name__)

StreamKind = Literal["ticker", "trades", "book"]
FeedMode = Literal["websocket", "rest"]

#: Extra ``watch_ticker`` params per venue: Binance's default stream has no bid/ask.
_TICKER_PARAMS: dict[str, dict[str, str]] = {
    "binance": {"name": "ticker"},
    "binanceusdm": {"name": "ticker"},
}
#: Venues whose ticker stream has no best bid/ask: quotes take them from the book stream.
_TOP_FROM_BOOK = frozenset({"upbit", "binanceusdm"})
#: REST fallback book depth per venue (Binance weighs small depths least).
_REST_BOOK_LIMIT: dict[str, int] = {"binanceusdm": 5}
_SEEN_TRADES = 2000  # trade ids remembered per symbol to drop resent ones
_SIDES = {"buy": Side.BUY, "sell": Side.SELL}

#: Best bid, its size, best ask, its size.
_Top = tuple[float, float, float, float]


@dataclass
class _Stream:
    """Health of one (kind, symbol) websocket stream; touched only on the feed's loop."""

    kind: StreamKind
    symbol: str
    down_since: float  # monotonic time it last stopped delivering (its start at first)
    up: bool = False  # delivered since the last failure
    ever_up: bool = False
    failures: int = 0  # consecutive failures (sets the backoff)
    last_data: float = 0.0  # monotonic time of its latest delivery
    delay: float = 0.0  # the wait before the next attempt


class CcxtWebsocketFeed:
    """The ``Feed`` port over a ccxt.pro client's websocket streams (see the module doc).

    ``exchange`` is a ccxt.pro client that no event loop has used yet (e.g. from
    ``ccxt_client.pro_client_like``); the feed owns it and closes it in :meth:`close`.
    ``trades``/``order_book`` turn those streams off (a venue that quotes from the book
    keeps its book stream and only stops the ``OrderBookEvent``s). ``rng`` and
    ``monotonic`` are for tests. Counters (``quotes``, ``trades_seen``, ``books``,
    ``rest_quotes``, ``errors``, ``reconnects``) may be read from any thread.
    """

    def __init__(
        self,
        exchange: Any,
        *,
        trades: bool = True,
        order_book: bool = True,
        book_depth: int = 10,
        book_limit: int | None = None,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        fallback_after_s: float = 5.0,
        rest_interval_s: float = 2.0,
        stall_after_s: float = 60.0,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (
            ("book_depth", book_depth),
            ("backoff_initial_s", backoff_initial_s),
            ("rest_interval_s", rest_interval_s),
            ("stall_after_s", stall_after_s),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if backoff_max_s < backoff_initial_s:
            raise ValueError("backoff_max_s must be >= backoff_initial_s")
        if fallback_after_s < 0:
            raise ValueError(f"fallback_after_s must be >= 0, got {fallback_after_s!r}")
        self._ex = exchange
        self._top_from_book = str(exchange.id) in _TOP_FROM_BOOK
        self._emit_books = order_book
        self._kinds: tuple[StreamKind, ...] = (
            "ticker",
            *(("trades",) if trades else ()),
            *(("book",) if order_book or self._top_from_book else ()),
        )
        self._depth = book_depth
        self._book_limit = book_limit
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._fallback_after = fallback_after_s
        self._rest_interval = rest_interval_s
        self._stall_after = stall_after_s
        self._rng = rng if rng is not None else random.Random()
        self._now = monotonic
        self._ticker_params = _TICKER_PARAMS.get(str(exchange.id), {})
        self._symbols: list[str] = []
        self._queue: queue.SimpleQueue[MarketEvent] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None
        self._closed = False
        # Loop-only state.
        self._streams: dict[tuple[StreamKind, str], _Stream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._rest_symbols: set[str] = set()
        self._mode: FeedMode = "websocket"
        self._tops: dict[str, _Top] = {}  # latest book's best bid/ask (top-from-book venues)
        self._lasts: dict[str, float] = {}  # latest websocket ticker's last price
        self._seen_trades: dict[str, dict[str, None]] = {}
        #: Events delivered so far, per kind.
        self.quotes = 0
        self.trades_seen = 0
        self.books = 0
        #: Quotes that came from the REST fallback (included in ``quotes``).
        self.rest_quotes = 0
        #: Failed watch calls and REST fallback fetches (each logged).
        self.errors = 0
        #: Streams that delivered again after a failure.
        self.reconnects = 0
        #: Silent connections failed on purpose so they reconnect (see ``_ws_stall``).
        self.stalls = 0

    # -- Feed port ------------------------------------------------------------------------
    def subscribe(self, symbols: Sequence[str]) -> None:
        """Watch ``symbols`` too (the feed thread starts on the first call)."""
        if self._closed:
            raise RuntimeError("subscribe() on a closed feed")
        new = [s for s in dict.fromkeys(symbols) if s not in self._symbols]
        self._symbols.extend(new)
        if self._thread is None:
            self._loop = asyncio.new_event_loop()
            self._stop = asyncio.Event()
            self._thread = threading.Thread(target=self._run, name="stom-ccxt-ws", daemon=True)
            self._thread.start()
        elif new and self._loop is not None:
            self._loop.call_soon_threadsafe(self._start_streams, new)

    def poll(self, max_events: int = 1024) -> Sequence[MarketEvent]:
        """Events received since the last call (at most ``max_events``), oldest first."""
        return drain(self._queue, max_events)

    @property
    def finished(self) -> bool:
        """A live feed never finishes on its own."""
        return False

    def close(self) -> None:
        """Stop the streams, close the ccxt client and its connections, join the thread."""
        self._closed = True
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None or loop is None or stop is None:
            return
        if thread.is_alive():
            # RuntimeError: the loop already ended (it closes itself on the way out).
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
            thread.join(15.0)
            if thread.is_alive():
                log.error("websocket feed thread did not stop within 15 s")

    # -- status ---------------------------------------------------------------------------
    @property
    def mode(self) -> FeedMode:
        """``"rest"`` while any symbol's quotes come from the REST fallback."""
        return self._mode

    @property
    def symbols(self) -> list[str]:
        """Symbols subscribed so far."""
        return list(self._symbols)

    @property
    def running(self) -> bool:
        """True while the feed thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -- loop -----------------------------------------------------------------------------
    def _run(self) -> None:
        loop = self._loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except Exception:
            log.exception("websocket feed loop crashed")
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                asyncio.set_event_loop(None)
                loop.close()

    async def _main(self) -> None:
        assert self._stop is not None
        self._start_streams(list(self._symbols))
        self._spawn(self._fallback_loop())
        try:
            await self._stop.wait()
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                await self._ex.close()
            except Exception:
                log.exception("closing the ccxt.pro client failed")
            # ccxt spawns helper tasks (order book snapshots...): end them before the
            # loop closes, or asyncio warns "Task was destroyed but it is pending".
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        # The loops only end by cancellation; anything else is a bug worth a traceback.
        if not task.cancelled() and task.exception() is not None:
            log.error("websocket feed task ended", exc_info=task.exception())

    def _start_streams(self, symbols: list[str]) -> None:
        now = self._now()
        for symbol in symbols:
            for kind in self._kinds:
                if (kind, symbol) not in self._streams:
                    stream = _Stream(kind, symbol, down_since=now)
                    self._streams[(kind, symbol)] = stream
                    self._spawn(self._watch_loop(stream))

    async def _watch_loop(self, stream: _Stream) -> None:
        while True:
            if stream.failures:
                await asyncio.sleep(stream.delay)
                # ccxt's own dial backoff would add up to 30 s on top of ours.
                dial_backoff = getattr(self._ex, "ws_dial_backoff", None)
                if isinstance(dial_backoff, dict):
                    dial_backoff.clear()
            try:
                data = await self._watch_once(stream)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - logged and counted, then retried
                self._failed(stream, exc)
                continue
            self._delivered(stream)
            self._emit(stream, data, int(time.time() * 1000))

    async def _watch_once(self, stream: _Stream) -> Any:
        symbol = stream.symbol
        if stream.kind == "ticker":
            return await self._ex.watch_ticker(symbol, dict(self._ticker_params))
        if stream.kind == "trades":
            return await self._ex.watch_trades(symbol)
        return await self._ex.watch_order_book(symbol, self._book_limit)

    def _delay(self, failures: int) -> float:
        """Exponential backoff with jitter: half to all of ``initial * 2**(n-1)`` (capped)."""
        initial, cap = self._backoff
        base = min(cap, initial * 2 ** min(failures - 1, 30))
        return base * self._rng.uniform(0.5, 1.0)

    def _failed(self, stream: _Stream, exc: Exception) -> None:
        if stream.up:
            stream.down_since = self._now()
        stream.up = False
        stream.failures += 1
        if stream.kind == "book":
            self._tops.pop(stream.symbol, None)  # a top we no longer follow is not quoted
        stream.delay = self._delay(stream.failures)
        log.warning(
            "websocket %s %s failed (%s: %s); retry %d in %.2f s",
            stream.kind,
            stream.symbol,
            type(exc).__name__,
            exc,
            stream.failures,
            stream.delay,
            exc_info=not isinstance(exc, ccxt.BaseError),  # not a venue/network error: a bug
        )
        self.errors += 1  # after the log line: a reader never sees more
        if stream.kind == "ticker" and not stream.ever_up:
            self._fall_back([stream.symbol], "never connected")

    def _delivered(self, stream: _Stream) -> None:
        stream.last_data = self._now()
        if not stream.up:
            if stream.failures:
                log.info(
                    "websocket %s %s reconnected after %.1f s (%d failed attempts)",
                    stream.kind,
                    stream.symbol,
                    self._now() - stream.down_since,
                    stream.failures,
                )
                self.reconnects += 1  # after the log line: a reader never sees more
            stream.up = stream.ever_up = True
            stream.failures = 0
        if stream.kind == "ticker" and stream.symbol in self._rest_symbols:
            self._rest_symbols.discard(stream.symbol)
            log.warning("feed %s: websocket quotes are back, REST polling stopped", stream.symbol)
            if not self._rest_symbols:
                self._set_mode("websocket")

    def _emit(self, stream: _Stream, data: Any, now_ms: int) -> None:
        symbol = stream.symbol
        if stream.kind == "ticker":
            quote = quote_from_ticker(symbol, data, now_ms)
            if quote is None:
                return
            if self._top_from_book:
                self._lasts[symbol] = quote.last
                top = self._tops.get(symbol)
                if top is not None:
                    quote = _with_top(quote, top)
            self._queue.put(quote)
            self.quotes += 1
        elif stream.kind == "trades":
            for trade in data:
                price, amount = trade.get("price"), trade.get("amount")
                if price is None or amount is None or self._seen(symbol, trade.get("id")):
                    continue
                side = _SIDES.get(str(trade.get("side")))
                self._queue.put(TradeTick(symbol, now_ms, float(price), float(amount), side))
                self.trades_seen += 1
        else:
            if self._top_from_book:
                self._book_top(symbol, data, now_ms)
            if not self._emit_books:
                return
            bids, asks = data["bids"][: self._depth], data["asks"][: self._depth]
            self._queue.put(
                OrderBookEvent(
                    symbol,
                    now_ms,
                    tuple(float(level[0]) for level in bids),
                    tuple(float(level[1]) for level in bids),
                    tuple(float(level[0]) for level in asks),
                    tuple(float(level[1]) for level in asks),
                )
            )
            self.books += 1

    def _book_top(self, symbol: str, book: Any, now_ms: int) -> None:
        """Keep the book's top; a changed top is quoted with the last websocket price."""
        top = _top_of(book)
        if top == self._tops.get(symbol):
            return
        if top is None:
            self._tops.pop(symbol, None)
            return
        self._tops[symbol] = top
        last = self._lasts.get(symbol)
        # No last yet: the ticker's first quote will carry this top. In REST mode the
        # REST poll is the quote source: do not interleave a second one.
        if last is not None and symbol not in self._rest_symbols:
            self._queue.put(QuoteEvent(symbol, now_ms, top[0], top[2], last, top[1], top[3]))
            self.quotes += 1

    def _seen(self, symbol: str, trade_id: object) -> bool:
        """True if ``trade_id`` was passed on already (remembers the last few thousand)."""
        if trade_id is None:
            return False
        seen = self._seen_trades.setdefault(symbol, {})  # insertion-ordered: oldest first
        if str(trade_id) in seen:
            return True
        seen[str(trade_id)] = None
        if len(seen) > _SEEN_TRADES:
            del seen[next(iter(seen))]
        return False

    # -- REST fallback --------------------------------------------------------------------
    def _fall_back(self, symbols: list[str], why: str) -> None:
        new = [s for s in symbols if s not in self._rest_symbols]
        if not new:
            return
        self._rest_symbols.update(new)
        log.warning(
            "feed %s: websocket quotes down (%s); polling REST every %.1f s",
            ", ".join(new),
            why,
            self._rest_interval,
        )
        self._set_mode("rest")

    def _set_mode(self, mode: FeedMode) -> None:
        if mode != self._mode:
            self._mode = mode
            log.warning("feed mode: %s", mode)

    def _check_stalls(self, now: float) -> None:
        """A ticker stream that is up but silent for ``stall_after_s``: reset silent links."""
        silent = [
            stream
            for (kind, _), stream in self._streams.items()
            if kind == "ticker" and stream.up and now - stream.last_data >= self._stall_after
        ]
        if not silent:
            return
        for stream in silent:
            stream.last_data = now  # one reset per silent period, not one per tick
        wall_ms = int(time.time() * 1000)
        reset = reset_silent_connections(self._ex, int(self._stall_after * 1000), wall_ms)
        self.stalls += len(reset)

    async def _fallback_loop(self) -> None:
        tick = max(0.02, min(0.25, self._fallback_after / 4, self._rest_interval))
        while True:
            now = self._now()
            self._check_stalls(now)
            stale = [
                stream.symbol
                for (kind, _), stream in list(self._streams.items())
                if kind == "ticker"
                and not stream.up
                and now - stream.down_since >= self._fallback_after
            ]
            if stale:
                self._fall_back(stale, f"for {self._fallback_after:.1f} s or more")
            if not self._rest_symbols:
                await asyncio.sleep(tick)
                continue
            for symbol in sorted(self._rest_symbols):
                await self._fetch_rest(symbol)
            await asyncio.sleep(self._rest_interval)

    async def _fetch_rest(self, symbol: str) -> None:
        try:
            ticker = await self._ex.fetch_ticker(symbol)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - logged and counted; retried next interval
            self._rest_failed("ticker", symbol, exc)
            return
        top: _Top | None = None
        if self._top_from_book:
            try:
                limit = _REST_BOOK_LIMIT.get(str(self._ex.id))
                top = _top_of(await self._ex.fetch_order_book(symbol, limit))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - logged; the ticker alone still quotes
                self._rest_failed("order book", symbol, exc)
        if symbol not in self._rest_symbols:
            return  # the websocket came back while we waited
        quote = quote_from_ticker(symbol, ticker, int(time.time() * 1000))
        if quote is not None and top is not None:
            quote = _with_top(quote, top)
        if quote is not None:
            self._queue.put(quote)
            self.quotes += 1
            self.rest_quotes += 1

    def _rest_failed(self, what: str, symbol: str, exc: Exception) -> None:
        log.warning(
            "REST %s %s failed, retried next interval: %s",
            what,
            symbol,
            exc,
            exc_info=not isinstance(exc, ccxt.BaseError),  # a bug: keep the traceback
        )
        self.errors += 1


def _top_of(book: Any) -> _Top | None:
    """Best bid/ask and sizes of a ccxt order book, or None while a side is empty."""
    bids, asks = book.get("bids") or (), book.get("asks") or ()
    if not bids or not asks:
        return None
    return float(bids[0][0]), float(bids[0][1]), float(asks[0][0]), float(asks[0][1])


def _with_top(quote: QuoteEvent, top: _Top) -> QuoteEvent:
    return quote._replace(bid=top[0], bid_size=top[1], ask=top[2], ask_size=top[3])
