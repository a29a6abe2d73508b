"""CcxtPollingFeed: live quotes from a venue's REST ticker, polled on a background thread.

The simple market-data path for live sessions (the websocket feed of issue 7 is not
built yet): every ``interval_s`` one ``fetch_ticker`` per symbol becomes a
``QuoteEvent`` (bid/ask/last; a missing bid or ask falls back to the last price). The
HTTP calls run on the feed's own thread with its own ccxt client, so the engine loop's
``poll`` only drains a queue and never waits on the network. A failed fetch is logged
and counted (``errors``) and retried at the next interval; it never ends the feed.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import TypeVar

import ccxt

from stom_desktop.core.events import QuoteEvent

log = logging.getLogger(__name__)


T = TypeVar("T")


def drain(source: queue.SimpleQueue[T], max_events: int) -> list[T]:
    """Up to ``max_events`` items already waiting in ``source``, oldest first (no waiting)."""
    events: list[T] = []
    while len(events) < max_events:
        try:
            events.append(source.get_nowait())
        except queue.Empty:
            break
    return events


class CcxtPollingFeed:
    """The ``Feed`` port over ``exchange.fetch_ticker`` (see the module docstring)."""

    def __init__(self, exchange: ccxt.Exchange, *, interval_s: float = 2.0) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s!r}")
        self._ex = exchange
        self._interval = interval_s
        self._symbols: list[str] = []
        self._queue: queue.SimpleQueue[QuoteEvent] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Failed ticker fetches so far (each logged).
        self.errors = 0
        #: Quotes delivered so far.
        self.quotes = 0

    def subscribe(self, symbols: Sequence[str]) -> None:
        """Start polling ``symbols`` (the thread starts on the first call)."""
        for symbol in symbols:
            if symbol not in self._symbols:
                self._symbols.append(symbol)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="stom-ccxt-feed", daemon=True)
            self._thread.start()

    def poll(self, max_events: int = 1024) -> Sequence[QuoteEvent]:
        """Quotes fetched since the last call (at most ``max_events``), oldest first."""
        return drain(self._queue, max_events)

    @property
    def finished(self) -> bool:
        """A live feed never finishes on its own."""
        return False

    def close(self) -> None:
        """Stop the polling thread (waits up to one interval)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._interval + 5.0)

    def fetch_once(self) -> int:
        """Fetch every symbol's ticker once and queue the quotes; returns how many."""
        count = 0
        for symbol in list(self._symbols):
            try:
                ticker = self._ex.fetch_ticker(symbol)
            except ccxt.BaseError as exc:
                self.errors += 1
                log.warning("ticker %s: fetch failed, retried next interval: %s", symbol, exc)
                continue
            event = quote_from_ticker(symbol, ticker, int(time.time() * 1000))
            if event is not None:
                self._queue.put(event)
                self.quotes += 1
                count += 1
        return count

    def _run(self) -> None:
        while not self._stop.is_set():
            self.fetch_once()
            self._stop.wait(self._interval)


def quote_from_ticker(symbol: str, ticker: dict[str, object], now_ms: int) -> QuoteEvent | None:
    """A ccxt unified ticker as a ``QuoteEvent`` (None when it carries no price at all).

    The event is stamped with ``now_ms`` (our receive time): venue timestamps may lag or
    be missing, and the engine's bars run on the local wall clock.
    """

    def num(key: str) -> float | None:
        value = ticker.get(key)
        return float(value) if isinstance(value, int | float | str) and value != "" else None

    last = num("last") or num("close")
    bid, ask = num("bid"), num("ask")
    if last is None:
        if bid is None or ask is None:
            return None
        last = (bid + ask) / 2
    return QuoteEvent(
        symbol,
        now_ms,
        bid if bid is not None else last,
        ask if ask is not None else last,
        last,
        num("bidVolume") or 0.0,
        num("askVolume") or 0.0,
    )
