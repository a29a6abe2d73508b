"""Per-symbol growing numpy bar buffers that hand out ``BarSeries`` views (amortised O(1) append).

One :class:`BarBuffer` per (symbol, timeframe) keeps six preallocated columns (int64 ms
timestamps, float64 OHLCV) and doubles its capacity when full, so appending a closed bar is
O(1) amortised and history never lives in Python lists (NOTES.md: big lists make full GC
passes stall the GUI). :meth:`BarBuffer.series` returns views of the last ``window`` bars
without copying; a view stays valid (it keeps its own reference to the old arrays) even if
a later append reallocates.

``max_bars`` bounds memory for long unattended runs: once a buffer holds ``2 * max_bars``
bars it keeps only the newest ``max_bars`` (one copy per ``max_bars`` appends, still O(1)
amortised). ``None`` keeps everything.
"""

from __future__ import annotations

import numpy as np

from stom_desktop.core.bars import BarSeries, format_ts
from stom_desktop.core.errors import DataError
from stom_desktop.core.events import BarEvent

_COLUMNS = ("open", "high", "low", "close", "volume")


class BarBuffer:
    """Growing OHLCV columns of one symbol and timeframe, oldest first."""

    __slots__ = ("_cols", "_limit", "_n", "_ts", "max_bars", "symbol", "timeframe")

    def __init__(
        self, symbol: str, timeframe: str, *, capacity: int = 256, max_bars: int | None = None
    ) -> None:
        if max_bars is not None and max_bars < 1:
            raise ValueError(f"max_bars must be >= 1 or None, got {max_bars}")
        self.symbol = symbol
        self.timeframe = timeframe
        self.max_bars = max_bars
        # holding this many bars triggers dropping the oldest (-1: never)
        self._limit = -1 if max_bars is None else 2 * max_bars
        cap = max(int(capacity), 16)
        if max_bars is not None:
            cap = min(cap, 2 * max_bars)
        self._ts = np.empty(cap, dtype=np.int64)
        self._cols = np.empty((5, cap), dtype=np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def last_ts(self) -> int | None:
        """Open time of the newest bar (None when empty)."""
        return int(self._ts[self._n - 1]) if self._n else None

    def append(
        self, ts_ms: int, open_: float, high: float, low: float, close: float, volume: float
    ) -> None:
        """Add one closed bar; its time must be after the newest bar's (``DataError`` if not)."""
        n = self._n
        if n and ts_ms <= self._ts[n - 1]:
            raise DataError(
                f"bar at {format_ts(ts_ms)} is not after the last bar "
                f"{format_ts(int(self._ts[n - 1]))}",
                source=f"{self.symbol} {self.timeframe} history",
            )
        if n == self._ts.shape[0] or n == self._limit:
            n = self._make_room()
        self._ts[n] = ts_ms
        cols = self._cols
        cols[0, n] = open_
        cols[1, n] = high
        cols[2, n] = low
        cols[3, n] = close
        cols[4, n] = volume
        self._n = n + 1

    def append_event(self, bar: BarEvent) -> None:
        """Add a closed ``BarEvent``."""
        self.append(bar.ts_ms, bar.open, bar.high, bar.low, bar.close, bar.volume)

    def extend(self, bars: BarSeries) -> None:
        """Append a stored history (warm-up), oldest first; it must start after the newest bar."""
        if len(bars) == 0:
            return
        if self._n and int(bars.ts[0]) <= self._ts[self._n - 1]:
            raise DataError(
                f"warm-up bars start at {format_ts(int(bars.ts[0]))}, not after the last "
                f"bar {format_ts(int(self._ts[self._n - 1]))}",
                source=f"{self.symbol} {self.timeframe} history",
            )
        need = self._n + len(bars)
        if need > self._ts.shape[0]:
            self._grow(need)
        end = self._n + len(bars)
        self._ts[self._n : end] = bars.ts
        for row, name in enumerate(_COLUMNS):
            self._cols[row, self._n : end] = getattr(bars, name)
        self._n = end
        if self.max_bars is not None and self._n > 2 * self.max_bars:
            self._drop_oldest(self._n - self.max_bars)

    def series(self, window: int | None = None) -> BarSeries:
        """The newest ``window`` bars (all when None) as a ``BarSeries`` of views (no copy)."""
        n = self._n
        start = 0 if window is None or window >= n else n - window
        cols = self._cols
        return BarSeries(
            self.symbol,
            self.timeframe,
            self._ts[start:n],
            cols[0, start:n],
            cols[1, start:n],
            cols[2, start:n],
            cols[3, start:n],
            cols[4, start:n],
        )

    def _make_room(self) -> int:
        if self.max_bars is not None and self._n >= 2 * self.max_bars:
            self._drop_oldest(self._n - self.max_bars)
            if self._n < self._ts.shape[0]:
                return self._n
        capacity = 2 * self._ts.shape[0]
        if self._limit > 0:
            capacity = min(capacity, self._limit)
        self._grow(capacity)
        return self._n

    def _grow(self, capacity: int) -> None:
        # New arrays (not resize in place): views handed out earlier keep the old ones.
        ts = np.empty(capacity, dtype=np.int64)
        cols = np.empty((5, capacity), dtype=np.float64)
        ts[: self._n] = self._ts[: self._n]
        cols[:, : self._n] = self._cols[:, : self._n]
        self._ts, self._cols = ts, cols

    def _drop_oldest(self, count: int) -> None:
        keep = self._n - count
        ts = np.empty(self._ts.shape[0], dtype=np.int64)
        cols = np.empty_like(self._cols)
        ts[:keep] = self._ts[count : self._n]
        cols[:, :keep] = self._cols[:, count : self._n]
        self._ts, self._cols = ts, cols
        self._n = keep


class BarHistory:
    """All bar buffers of the engine, keyed by (symbol, timeframe)."""

    __slots__ = ("_buffers", "max_bars")

    def __init__(self, *, max_bars: int | None = None) -> None:
        self.max_bars = max_bars
        self._buffers: dict[tuple[str, str], BarBuffer] = {}

    def buffer(self, symbol: str, timeframe: str) -> BarBuffer:
        """The buffer of ``symbol``/``timeframe`` (created empty on first use)."""
        key = (symbol, timeframe)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = BarBuffer(symbol, timeframe, max_bars=self.max_bars)
        return buf

    def append(self, bar: BarEvent) -> BarBuffer:
        """Store a closed bar; returns its buffer. In-progress bars are refused."""
        if not bar.closed:
            raise ValueError(f"only closed bars go into history, got a forming {bar.symbol} bar")
        buf = self.buffer(bar.symbol, bar.timeframe)
        buf.append(bar.ts_ms, bar.open, bar.high, bar.low, bar.close, bar.volume)
        return buf

    def warm_up(self, bars: BarSeries) -> None:
        """Load stored bars (oldest first) before live bars arrive."""
        self.buffer(bars.symbol, bars.timeframe).extend(bars)

    def series(self, symbol: str, timeframe: str, window: int | None = None) -> BarSeries:
        """The newest ``window`` bars of ``symbol``/``timeframe`` as views."""
        return self.buffer(symbol, timeframe).series(window)

    def __contains__(self, key: object) -> bool:
        return key in self._buffers
