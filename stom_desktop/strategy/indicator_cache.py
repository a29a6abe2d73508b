"""``Indicators``: memoised indicators over one ``BarSeries`` (the ``ta`` in ``signals``).

An optimiser builds one ``Indicators`` per bar series and runs every parameter set through
it, so a grid of 90 (fast, slow) pairs computes each distinct SMA window once. Results are
keyed by ``(indicator, arguments)`` and returned **read-only**: a strategy that writes into
one would otherwise corrupt it for every later parameter set.

Thread safety: the memo is a plain dict filled with ``setdefault``. Under the GIL each dict
operation is atomic, so threads sharing one ``Indicators`` always get a consistent value;
two threads asking for the same new key at the same moment may both compute it (harmless
duplicate work) and the first stored result wins. No lock is taken, so a slow indicator
never blocks threads asking for other keys. The hit/miss counters are plain statistics and
may under-count slightly when threads race on them.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy import indicators as ind

FloatArray = ind.FloatArray
T = TypeVar("T")

#: Price series a ``source=`` argument may name; the last three are derived.
SOURCES = ("open", "high", "low", "close", "volume", "hl2", "hlc3", "ohlc4")


@dataclass(frozen=True, slots=True)
class CacheInfo:
    """How often the memo answered (``hits``) versus computed (``misses``), and its size."""

    hits: int
    misses: int
    size: int


def _freeze(value: T) -> T:
    """Mark an array (or each array of a tuple) read-only, so cached values cannot change."""
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, tuple):
        for item in value:
            _freeze(item)
    return value


class Indicators:
    """Memoised indicators of one bar series. Strategies receive it as ``ta``.

    Every method returns float64 arrays as long as the bars (NaN during warm-up; see
    :mod:`stom_desktop.strategy.indicators` for each definition). A period below 1 or
    longer than the history raises ``StrategyError`` naming the indicator and the value.
    """

    __slots__ = ("_hits", "_memo", "_misses", "bars")

    def __init__(self, bars: BarSeries) -> None:
        self.bars = bars
        self._memo: dict[Hashable, Any] = {}
        self._hits = 0
        self._misses = 0

    def __len__(self) -> int:
        return len(self.bars)

    def __repr__(self) -> str:
        info = self.cache_info()
        return (
            f"Indicators({self.bars.symbol} {self.bars.timeframe}, {len(self)} bars, "
            f"{info.size} cached)"
        )

    # -- memo ------------------------------------------------------------------------
    def cached(self, key: Hashable, compute: Callable[[], T]) -> T:
        """Return the value stored under ``key``, computing and storing it on first use.

        Public so a strategy or the optimiser can memoise its own derived series, e.g.
        ``ta.cached(("zscore", 50), lambda: ...)``. Stored arrays become read-only.
        """
        found = self._memo.get(key, _MISSING)
        if found is not _MISSING:
            self._hits += 1
            return found
        self._misses += 1
        return self._memo.setdefault(key, _freeze(compute()))

    def cache_info(self) -> CacheInfo:
        """Hit/miss counts and the number of stored results."""
        return CacheInfo(hits=self._hits, misses=self._misses, size=len(self._memo))

    def clear(self) -> None:
        """Forget every stored result (memory is released once no strategy holds them)."""
        self._memo.clear()

    # -- inputs ----------------------------------------------------------------------
    def _period(self, indicator: str, period: Any) -> int:
        p = ind.check_period(f"ta.{indicator}", period)
        if p > len(self.bars):
            raise StrategyError(
                f"ta.{indicator}: period {p} is longer than the {len(self.bars)} bars of "
                f"{self.bars.symbol} {self.bars.timeframe} available",
                hint="load more history or choose a shorter period",
            )
        return p

    def source(self, name: str = "close") -> FloatArray:
        """A price column (``open``, ``high``, ``low``, ``close``, ``volume``) or a derived
        one: ``hl2`` = (h+l)/2, ``hlc3`` = (h+l+c)/3, ``ohlc4`` = (o+h+l+c)/4."""
        bars = self.bars
        if name in {"open", "high", "low", "close", "volume"}:
            column: FloatArray = getattr(bars, name)
            return column
        if name == "hl2":
            return self.cached(("source", name), lambda: (bars.high + bars.low) / 2.0)
        if name == "hlc3":
            return self.cached(("source", name), lambda: (bars.high + bars.low + bars.close) / 3.0)
        if name == "ohlc4":
            return self.cached(
                ("source", name),
                lambda: (bars.open + bars.high + bars.low + bars.close) / 4.0,
            )
        raise StrategyError(f"unknown price source {name!r}; choose one of {', '.join(SOURCES)}")

    # -- indicators ------------------------------------------------------------------
    def sma(self, period: int, source: str = "close") -> FloatArray:
        """Simple moving average of ``source`` over ``period`` bars."""
        p = self._period("sma", period)
        x = self.source(source)
        return self.cached(("sma", p, source), lambda: ind.sma(x, p))

    def ema(self, period: int, source: str = "close") -> FloatArray:
        """Exponential moving average (SMA-seeded) of ``source``."""
        p = self._period("ema", period)
        x = self.source(source)
        return self.cached(("ema", p, source), lambda: ind.ema(x, p))

    def rsi(self, period: int = 14, source: str = "close") -> FloatArray:
        """Wilder's RSI of ``source`` (0..100)."""
        p = self._period("rsi", period)
        x = self.source(source)
        return self.cached(("rsi", p, source), lambda: ind.rsi(x, p))

    def bollinger(
        self, period: int = 20, k: float = 2.0, source: str = "close"
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Bollinger bands ``(mid, upper, lower)``, population standard deviation."""
        p = self._period("bollinger", period)
        x = self.source(source)
        width = float(k)
        return self.cached(("bollinger", p, width, source), lambda: ind.bollinger(x, p, width))

    def true_range(self) -> FloatArray:
        """True range of each bar (NaN at bar 0)."""
        b = self.bars
        return self.cached(("true_range",), lambda: ind.true_range(b.high, b.low, b.close))

    def atr(self, period: int = 14) -> FloatArray:
        """Average true range (Wilder)."""
        p = self._period("atr", period)
        b = self.bars
        return self.cached(("atr", p), lambda: ind.atr(b.high, b.low, b.close, p))

    def highest(self, period: int, source: str = "high") -> FloatArray:
        """Rolling maximum of ``source`` over the last ``period`` bars, current included."""
        p = self._period("highest", period)
        x = self.source(source)
        return self.cached(("highest", p, source), lambda: ind.highest(x, p))

    def lowest(self, period: int, source: str = "low") -> FloatArray:
        """Rolling minimum of ``source`` over the last ``period`` bars, current included."""
        p = self._period("lowest", period)
        x = self.source(source)
        return self.cached(("lowest", p, source), lambda: ind.lowest(x, p))

    def donchian(self, period: int = 20) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Donchian ``(upper, lower, mid)`` of the *previous* ``period`` bars."""
        p = self._period("donchian", period)
        b = self.bars
        return self.cached(("donchian", p), lambda: ind.donchian(b.high, b.low, p))

    def macd(
        self, fast: int = 12, slow: int = 26, signal: int = 9, source: str = "close"
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """MACD ``(line, signal, histogram)``."""
        f, s = self._period("macd", fast), self._period("macd", slow)
        sig = self._period("macd", signal)
        x = self.source(source)
        return self.cached(("macd", f, s, sig, source), lambda: ind.macd(x, f, s, sig))

    def vwap(self, daily: bool = False, utc_offset_hours: float = 0.0) -> FloatArray:
        """VWAP of the typical price, over all bars or restarting each local day."""
        b = self.bars
        offset = float(utc_offset_hours)
        if daily:
            return self.cached(
                ("vwap", True, offset),
                lambda: ind.vwap(b.high, b.low, b.close, b.volume, b.ts, utc_offset_hours=offset),
            )
        return self.cached(("vwap", False), lambda: ind.vwap(b.high, b.low, b.close, b.volume))


_MISSING: Any = object()
