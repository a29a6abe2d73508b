"""Replay feeds: stored bars (as closed bars or as O-H/L-C ticks) and recorded tick days.

``ReplayFeed`` takes ``BarSeries`` (load them with ``BarRepository.load``; adapters do
not import persistence). Mode ``"bars"`` emits each stored bar as a closed ``BarEvent``
with exactly the stored values, due at the bar's close (open time + timeframe): the
engine then sees what the backtester saw. Mode ``"ticks"`` turns each bar into four
price points inside its interval — open at the bar's open time, then the extreme nearer
to the open (high on a tie), then the other one, then the close one millisecond before
the bar ends — as ``TradeTick``s (sizes summing exactly to the bar's volume) and/or
zero-spread ``QuoteEvent``s, so the engine's aggregator rebuilds the same OHLCV bar.

``RecordedTickFeed`` replays rows recorded by ``TickRecorder`` (``RecordingRepository
.load``) in their original order. Both run at a speed factor (1 = real time ... 100x)
or as fast as possible (``speed=None``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from stom_desktop.adapters.feeds._base import BufferedFeed, MonotonicFn, SleepFn
from stom_desktop.core.bars import BarSeries
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side, timeframe_seconds
from stom_desktop.core.errors import ConfigurationError, DataError
from stom_desktop.core.events import BarEvent, MarketEvent, QuoteEvent, TradeTick

ReplayMode = Literal["bars", "ticks"]
TicksAs = Literal["trades", "quotes", "both"]
_CHUNK = 4096  # bars (or recorded rows) turned into events per refill
_BAR = partial(tuple.__new__, BarEvent)
_QUOTE = partial(tuple.__new__, QuoteEvent)
_TRADE = partial(tuple.__new__, TradeTick)
_SIDE = {"buy": Side.BUY, "sell": Side.SELL}


class _SymbolFilter:
    """``subscribe`` on a replay narrows it to the named symbols (all by default)."""

    def __init__(self, available: Iterable[str]) -> None:
        self.available = frozenset(available)
        self.only: frozenset[str] | None = None

    def subscribe(self, symbols: Iterable[str], where: str) -> None:
        wanted = frozenset(symbols)
        missing = sorted(wanted - self.available)
        if missing:
            raise ConfigurationError(
                f"{where}: no data for {', '.join(missing)}",
                key="symbols",
                hint=f"available: {', '.join(sorted(self.available)) or 'none'}",
            )
        self.only = wanted if self.only is None else self.only | wanted


class ReplayFeed(BufferedFeed):
    """Replays stored bar series, merged across symbols in time order (see module doc).

    Ties (same due time) keep the order of ``series``. ``clock`` is moved to each
    batch's market time: for ``"bars"`` that is the close time of the last bar handed out.
    """

    def __init__(
        self,
        series: Sequence[BarSeries],
        *,
        mode: ReplayMode = "bars",
        ticks_as: TicksAs = "trades",
        speed: float | None = None,
        clock: SimulatedClock | None = None,
        sleep: SleepFn | None = None,
        monotonic: MonotonicFn | None = None,
        max_wait_s: float = 0.05,
    ) -> None:
        if mode not in ("bars", "ticks"):
            raise ConfigurationError(f"unknown replay mode {mode!r}", key="mode")
        if ticks_as not in ("trades", "quotes", "both"):
            raise ConfigurationError(f"unknown ticks_as {ticks_as!r}", key="ticks_as")
        super().__init__(
            speed=speed, clock=clock, sleep=sleep, monotonic=monotonic, max_wait_s=max_wait_s
        )
        for s in series:
            s.validate()
        self._series = list(series)
        self._mode: ReplayMode = mode
        self._ticks_as: TicksAs = ticks_as
        self._filter = _SymbolFilter(s.symbol for s in self._series)
        self._tf_ms = np.array(
            [timeframe_seconds(s.timeframe) * 1000 for s in self._series], dtype=np.int64
        )
        # One global merge order over every event source (a bar, or one of its 4 points):
        # ticks of a long bar interleave with those of shorter bars of other symbols.
        points = 1 if mode == "bars" else 4
        parts_due, parts_src, parts_bar, parts_pt = [], [], [], []
        for k, s in enumerate(self._series):
            n, tf = len(s), int(self._tf_ms[k])
            offsets = (tf,) if mode == "bars" else (0, tf // 3, 2 * tf // 3, tf - 1)
            for p, off in enumerate(offsets):
                parts_due.append(s.ts + off)
                parts_src.append(np.full(n, k, dtype=np.int64))
                parts_bar.append(np.arange(n, dtype=np.int64))
                parts_pt.append(np.full(n, p, dtype=np.int64))
        empty = np.empty(0, dtype=np.int64)
        due = np.concatenate(parts_due) if parts_due else empty
        order = np.argsort(due, kind="stable")  # ties: series order, then point order
        self._due_sorted = due[order]
        self._src = np.concatenate(parts_src)[order] if parts_src else empty
        self._bar = np.concatenate(parts_bar)[order] if parts_bar else empty
        self._pt = np.concatenate(parts_pt)[order] if parts_pt else empty
        self._points = points
        self._next = 0

    def subscribe(self, symbols: Sequence[str]) -> None:
        """Replay only these symbols (unknown ones raise ``ConfigurationError``)."""
        self._filter.subscribe(symbols, "replay feed")

    def _refill(self) -> bool:
        total = int(self._src.shape[0])
        while self._next < total and not self._events:
            lo, hi = self._next, min(total, self._next + _CHUNK)
            self._next = hi
            src, bar = self._src[lo:hi], self._bar[lo:hi]
            due = self._due_sorted[lo:hi]
            if self._filter.only is not None:
                keep = np.array([s.symbol in self._filter.only for s in self._series])
                mask = keep[src]
                src, bar, due = src[mask], bar[mask], due[mask]
                pt = self._pt[lo:hi][mask]
            else:
                pt = self._pt[lo:hi]
            if src.size:
                self._build(src, bar, pt, due)
        return bool(self._events) or self._next < total

    def _build(
        self,
        src: npt.NDArray[np.int64],
        bar: npt.NDArray[np.int64],
        pt: npt.NDArray[np.int64],
        due: npt.NDArray[np.int64],
    ) -> None:
        """Events for the sources ``(series, bar, point)`` of one chunk, in that order."""
        n = src.size
        cols = np.empty((6, n))  # open, high, low, close, volume (bars) / price, size (ticks)
        ts = np.empty(n, dtype=np.int64)
        for k in np.unique(src).tolist():
            rows = src == k
            s, b = self._series[k], bar[rows]
            ts[rows] = s.ts[b]
            if self._mode == "bars":
                for j, col in enumerate((s.open, s.high, s.low, s.close, s.volume)):
                    cols[j, rows] = col[b]
            else:
                cols[0, rows], cols[1, rows] = _points(s, b, pt[rows])
        syms = [self._series[k].symbol for k in src.tolist()]
        if self._mode == "bars":
            frames = [self._series[k].timeframe for k in src.tolist()]
            self._events = list(
                map(
                    _BAR,
                    zip(syms, frames, ts.tolist(), *cols[:5].tolist(), [True] * n, strict=True),
                )
            )
            self._due = due.tolist()
            return
        price, size = cols[0].tolist(), cols[1].tolist()
        due_l = due.tolist()
        if self._ticks_as == "trades":
            self._events = list(map(_TRADE, zip(syms, due_l, price, size, [None] * n, strict=True)))
            self._due = due_l
            return
        quotes: list[MarketEvent] = list(
            map(_QUOTE, zip(syms, due_l, price, price, price, size, size, strict=True))
        )
        if self._ticks_as == "quotes":
            self._events, self._due = quotes, due_l
            return
        trades = map(_TRADE, zip(syms, due_l, price, size, [None] * n, strict=True))
        self._events = [
            e for pair in zip(trades, quotes, strict=True) for e in pair
        ]  # trade, then quote
        self._due = [t for t in due_l for _ in (0, 1)]


def _points(
    s: BarSeries, b: npt.NDArray[np.int64], pt: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Price and size of point ``pt`` (0 open, 1 nearer extreme, 2 other, 3 close) of bars ``b``."""
    o, h, lo, c, v = s.open[b], s.high[b], s.low[b], s.close[b], s.volume[b]
    high_first = (h - o) <= (o - lo)  # the extreme nearer to the open comes first
    price = np.select(
        [pt == 0, pt == 1, pt == 2],
        [o, np.where(high_first, h, lo), np.where(high_first, lo, h)],
        c,
    )
    quarter = v / 4.0
    # Sterbenz: 3v/4 lies within [v/2, 2v], so v - 3v/4 is exact and the four sizes add
    # up (left to right, as an aggregator sums them) to exactly v.
    size = np.where(pt == 3, v - (quarter + quarter + quarter), quarter)
    return price, size


class RecordedTicks(Protocol):
    """Columns of a recording in ``seq`` order (what ``RecordingRepository.load`` returns).

    A row with both ``bid`` and ``ask`` is a quote, otherwise a trade (price in ``last``,
    size in ``volume``). NaN marks a missing number; ``side`` is None when unknown.
    """

    @property
    def symbol(self) -> Sequence[str]: ...
    @property
    def ts(self) -> npt.NDArray[np.int64]: ...
    @property
    def bid(self) -> npt.NDArray[np.float64]: ...
    @property
    def ask(self) -> npt.NDArray[np.float64]: ...
    @property
    def last(self) -> npt.NDArray[np.float64]: ...
    @property
    def volume(self) -> npt.NDArray[np.float64]: ...
    @property
    def bid_size(self) -> npt.NDArray[np.float64]: ...
    @property
    def ask_size(self) -> npt.NDArray[np.float64]: ...
    @property
    def side(self) -> Sequence[str | None]: ...


class RecordedTickFeed(BufferedFeed):
    """Replays a recording's quotes and trades in their recorded order.

    Out-of-order timestamps (two feeds recorded together) are replayed in recorded order;
    pacing then treats each event as due at the latest timestamp seen so far.
    """

    def __init__(
        self,
        ticks: RecordedTicks,
        *,
        speed: float | None = None,
        clock: SimulatedClock | None = None,
        sleep: SleepFn | None = None,
        monotonic: MonotonicFn | None = None,
        max_wait_s: float = 0.05,
    ) -> None:
        super().__init__(
            speed=speed, clock=clock, sleep=sleep, monotonic=monotonic, max_wait_s=max_wait_s
        )
        self._ticks = ticks
        n = int(ticks.ts.shape[0])
        columns = (ticks.symbol, ticks.bid, ticks.ask, ticks.last, ticks.volume, ticks.side)
        if any(len(col) != n for col in columns):
            raise DataError("recorded ticks: columns differ in length", source="recording")
        self._n = n
        self._filter = _SymbolFilter(ticks.symbol)
        self._due_all = np.maximum.accumulate(ticks.ts) if n else ticks.ts
        self._is_quote = ~(np.isnan(ticks.bid) | np.isnan(ticks.ask))
        self._next = 0

    def subscribe(self, symbols: Sequence[str]) -> None:
        """Replay only these symbols (unknown ones raise ``ConfigurationError``)."""
        self._filter.subscribe(symbols, "recorded tick feed")

    def _refill(self) -> bool:
        t = self._ticks
        only = self._filter.only
        while self._next < self._n and not self._events:
            lo, hi = self._next, min(self._n, self._next + _CHUNK)
            self._next = hi
            rows = zip(
                t.symbol[lo:hi],
                t.ts[lo:hi].tolist(),
                t.bid[lo:hi].tolist(),
                t.ask[lo:hi].tolist(),
                t.last[lo:hi].tolist(),
                t.volume[lo:hi].tolist(),
                t.bid_size[lo:hi].tolist(),
                t.ask_size[lo:hi].tolist(),
                t.side[lo:hi],
                self._is_quote[lo:hi].tolist(),
                self._due_all[lo:hi].tolist(),
                strict=True,
            )
            events, due = self._events, self._due
            for sym, ts, bid, ask, last, vol, bsz, asz, side, quote, when in rows:
                if only is not None and sym not in only:
                    continue
                if quote:
                    events.append(_QUOTE((sym, ts, bid, ask, last, bsz, asz)))
                else:
                    aggressor = None if side is None else _SIDE[side]
                    events.append(_TRADE((sym, ts, last, vol, aggressor)))
                due.append(when)
        return bool(self._events) or self._next < self._n
