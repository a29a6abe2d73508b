"""Quotes and trade ticks -> OHLCV bars (1s, 1m, 5m, ...): in-progress updates and closed bars.

Buckets are aligned to the UTC epoch plus ``offset_ms`` (``ts - (ts - offset) % length``),
so a ``1m`` bar opening at 09:01:00 holds ticks with ``09:01:00 <= ts < 09:02:00`` and has
``ts_ms`` 09:01:00 (the bar's open time, as ``BarSeries.ts``). A bucket without ticks makes
no bar. Prices come from ``QuoteEvent.last`` (or the mid, ``price_source="mid"``) and
``TradeTick.price``; volume only from trade ticks, so a feed sending both a quote and a
trade for one execution does not count it twice. Non-positive or NaN prices are ignored.

Closing: a tick at or past the end of its symbol's forming bar closes that bar itself
(the sink gets it) before the tick starts the next bar, so each symbol's bar closes on
the symbol's own first tick past the boundary. :meth:`BarAggregator.close_due` is the
sweep for symbols that went quiet: it closes every bar that ended at or before the time
given (the engine calls it once market time is its ``quiet_close_ms`` past
:attr:`BarAggregator.next_close_ms`, one integer comparison per event). A tick older than
the forming bar's start (late, out of order) is dropped and counted in :attr:`late_ticks`.

The hot path (one quote) does a dict lookup and a few float compares per timeframe on plain
slotted objects and allocates nothing; a ``BarEvent`` is built only when a bar closes, and
for in-progress updates at most once per ``partial_every_ms`` of market time per bar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from stom_desktop.core.enums import timeframe_seconds
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.events import BarEvent, QuoteEvent, TradeTick

BarSink = Callable[[BarEvent], None]
PriceSource = Literal["last", "mid"]
_NEVER = 2**62  # "no bar is forming": larger than any real ms timestamp


class _Forming:
    """The bar being built for one (symbol, timeframe)."""

    __slots__ = (
        "active",
        "close",
        "end",
        "high",
        "length",
        "low",
        "next_emit",
        "open",
        "start",
        "symbol",
        "timeframe",
        "volume",
    )

    def __init__(self, symbol: str, timeframe: str, length: int) -> None:
        self.symbol = symbol
        self.timeframe = timeframe
        self.length = length
        self.active = False
        # inactive: start == end, so no timestamp falls inside (the hot path tests only that)
        self.start = self.end = 0
        self.open = self.high = self.low = self.close = self.volume = 0.0
        self.next_emit = _NEVER  # market time of the next in-progress update

    def event(self, closed: bool) -> BarEvent:
        return BarEvent(
            self.symbol,
            self.timeframe,
            self.start,
            self.open,
            self.high,
            self.low,
            self.close,
            self.volume,
            closed,
        )


class BarAggregator:
    """Builds bars of every configured timeframe for every symbol it sees.

    ``sink(bar)`` receives each closed ``BarEvent`` (``closed=True``) and, when
    ``partial_every_ms`` is set, in-progress updates of the forming bar (``closed=False``)
    at most that often per bar in market time (None: no in-progress updates; the forming
    bar is still available from :meth:`forming`).
    """

    def __init__(
        self,
        timeframes: Iterable[str],
        sink: BarSink,
        *,
        partial_every_ms: int | None = None,
        price_source: PriceSource = "last",
        offset_ms: int = 0,
    ) -> None:
        frames = list(dict.fromkeys(timeframes))
        if not frames:
            raise ConfigurationError("the bar aggregator needs at least one timeframe")
        self._lengths = [(tf, timeframe_seconds(tf) * 1000) for tf in frames]
        if partial_every_ms is not None and partial_every_ms < 0:
            raise ConfigurationError("must be >= 0 or None", key="partial_every_ms")
        if price_source not in ("last", "mid"):
            raise ConfigurationError(
                f"unknown price source {price_source!r}; use last or mid", key="price_source"
            )
        self._sink = sink
        self._partial_ms = partial_every_ms
        # without partial updates next_emit stays _NEVER, so the check never fires
        self._partial_step = _NEVER if partial_every_ms is None else partial_every_ms
        self._use_mid = price_source == "mid"
        self._offset = offset_ms
        self._symbols: dict[str, tuple[_Forming, ...]] = {}
        self._all: list[_Forming] = []
        self._noted: dict[str, float] = {}  # prices from bar feeds (note_price)
        #: Earliest end of any forming bar (ms; may lag behind bars that closed on their own
        #: tick until the next :meth:`close_due`, which recomputes it).
        self.next_close_ms = _NEVER
        #: Ticks dropped because they were older than their forming bar.
        self.late_ticks = 0

    @property
    def timeframes(self) -> list[str]:
        """The timeframes built, in configuration order."""
        return [tf for tf, _ in self._lengths]

    # -- input ---------------------------------------------------------------------------
    # The two ``on_*`` methods are the quote path: they unpack the event tuple (one
    # operation instead of a property call per field) and handle "same bucket" inline.
    def on_quote(self, quote: QuoteEvent) -> None:
        """Fold a quote's last price (or mid) into the symbol's bars (no volume)."""
        symbol, ts_ms, bid, ask, price, _, _ = quote
        if self._use_mid:
            price = (bid + ask) * 0.5
        bars = self._symbols.get(symbol)
        if bars is None or not price > 0.0:  # ``not >`` also rejects NaN
            self.update(symbol, ts_ms, price, 0.0)
            return
        for bar in bars:
            if bar.start <= ts_ms < bar.end:  # an inactive bar has end == start
                if price > bar.high:
                    bar.high = price
                elif price < bar.low:
                    bar.low = price
                bar.close = price
                if ts_ms >= bar.next_emit:
                    self._emit_partial(bar, ts_ms)
            else:
                self._roll(bar, ts_ms, price, 0.0)

    def on_trade(self, trade: TradeTick) -> None:
        """Fold a trade (price and size) into the symbol's bars."""
        symbol, ts_ms, price, size, _ = trade
        bars = self._symbols.get(symbol)
        if bars is None or not price > 0.0:
            self.update(symbol, ts_ms, price, size)
            return
        for bar in bars:
            if bar.start <= ts_ms < bar.end:
                if price > bar.high:
                    bar.high = price
                elif price < bar.low:
                    bar.low = price
                bar.close = price
                bar.volume += size
                if ts_ms >= bar.next_emit:
                    self._emit_partial(bar, ts_ms)
            else:
                self._roll(bar, ts_ms, price, size)

    def update(self, symbol: str, ts_ms: int, price: float, size: float) -> None:
        """Fold one price (and traded size) at ``ts_ms`` into every timeframe of ``symbol``."""
        if not price > 0.0:  # also rejects NaN
            return
        bars = self._symbols.get(symbol)
        if bars is None:
            bars = self._add_symbol(symbol)
        for bar in bars:
            if bar.start <= ts_ms < bar.end:
                if price > bar.high:
                    bar.high = price
                elif price < bar.low:
                    bar.low = price
                bar.close = price
                bar.volume += size
                if ts_ms >= bar.next_emit:
                    self._emit_partial(bar, ts_ms)
            else:
                self._roll(bar, ts_ms, price, size)

    def _emit_partial(self, bar: _Forming, ts_ms: int) -> None:
        bar.next_emit = ts_ms + self._partial_step
        self._sink(bar.event(False))

    def _roll(self, bar: _Forming, ts_ms: int, price: float, size: float) -> None:
        """``ts_ms`` is outside the forming bar: late tick, or close it and start anew."""
        if bar.active:
            if ts_ms < bar.start:
                self.late_ticks += 1
                return
            # the symbol's first tick past the boundary closes its bar (no sweep yet)
            bar.active = False
            self._sink(bar.event(True))
            bar.end = bar.start
        self._start(bar, ts_ms, price, size)

    def _start(self, bar: _Forming, ts_ms: int, price: float, size: float) -> None:
        start = ts_ms - (ts_ms - self._offset) % bar.length
        bar.start = start
        bar.end = start + bar.length
        bar.open = bar.high = bar.low = bar.close = price
        bar.volume = size
        bar.active = True
        self.next_close_ms = min(self.next_close_ms, bar.end)
        if self._partial_ms is not None:
            self._emit_partial(bar, ts_ms)

    def _add_symbol(self, symbol: str) -> tuple[_Forming, ...]:
        bars = tuple(_Forming(symbol, tf, length) for tf, length in self._lengths)
        self._symbols[symbol] = bars
        self._all.extend(bars)
        return bars

    # -- closing -------------------------------------------------------------------------
    def close_due(self, now_ms: int) -> int:
        """Close (emit) every forming bar that ended at or before ``now_ms``; returns how many."""
        if now_ms < self.next_close_ms:
            return 0
        closed = 0
        earliest = _NEVER
        sink = self._sink
        for bar in self._all:
            if not bar.active:
                continue
            if bar.end <= now_ms:
                bar.active = False
                sink(bar.event(True))
                bar.end = bar.start  # inactive: matches no timestamp
                bar.next_emit = _NEVER
                closed += 1
            elif bar.end < earliest:
                earliest = bar.end
        self.next_close_ms = earliest
        return closed

    def flush(self) -> int:
        """Close every forming bar now (end of a replay); returns how many were closed."""
        return self.close_due(_NEVER)

    def note_price(self, symbol: str, price: float) -> None:
        """Record a price seen outside the tick stream (a bar feed's close)."""
        if price > 0.0:
            self._noted[symbol] = price

    # -- queries -------------------------------------------------------------------------
    def last_price(self, symbol: str) -> float | None:
        """Last price folded in for ``symbol`` (None if it never ticked)."""
        # A bar's ``close`` is the last price folded in, also after the bar closed.
        bars = self._symbols.get(symbol)
        if bars is not None and bars[0].start != 0:
            return bars[0].close
        return self._noted.get(symbol)

    def forming(self, symbol: str, timeframe: str) -> BarEvent | None:
        """Snapshot of the forming bar (``closed=False``), None if none is forming."""
        for bar in self._symbols.get(symbol, ()):
            if bar.timeframe == timeframe and bar.active:
                return bar.event(False)
        return None

    def symbols(self) -> Sequence[str]:
        """Symbols seen so far, in first-seen order."""
        return list(self._symbols)
