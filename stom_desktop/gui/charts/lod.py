"""Level of detail for OHLCV bars: history + growable live tail, and a power-of-two pyramid.

Level 0 is the bars themselves; bucket ``j`` of level ``L`` covers bars
``[j * 2**L, (j + 1) * 2**L)`` and keeps the first open, the highest high, the lowest low,
the last close and the largest volume of those bars (the largest, not the sum: drawing every
bar of a bucket on one pixel column shows the tallest, so the picture and the auto-range do
not jump with the zoom level).

Measured choices (1M bars, this machine):

* Per-paint reduction (``np.maximum.reduceat`` over the visible bars) costs ~10 ms per frame
  fully zoomed out; the pyramid hands paint a few thousand ready buckets instead. Buckets sit
  on a fixed grid in bar space, so panning moves them without re-bucketing (no shimmer).
* Levels are built lazily, the first time a zoom needs them, from the closest finer level
  that exists (one contiguous reshape-reduction: ~3 ms for level 10 straight from 1M bars).
  Building every level up front cost ~30 ms, which alone broke the 20 ms first-render budget.
* History is kept as read-only views of the caller's arrays (a ``BarSeries`` holds them
  anyway): copying 1M bars into fresh memory costs 10-80 ms of page faults here. Live bars
  go to a separate tail block whose capacity doubles; the last history bar is moved to the
  tail so ``update_last`` never writes into the caller's arrays.
* Appending or updating the last bar recomputes one bucket per built level.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from stom_desktop.core.errors import DataError

__all__ = ["CLOSE", "HIGH", "LOW", "OPEN", "VOLUME", "Buckets", "OhlcvPyramid", "level_for"]

OPEN, HIGH, LOW, CLOSE, VOLUME = range(5)
_ROWS = 5
_MIN_TAIL = 1024
_CHUNK = 1 << 16  # bars per pass when reducing level 0 (bounds temporary copies)
_SOURCE = "chart bars"

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def level_for(bars_per_pixel: float, min_bucket_px: float = 1.0) -> int:
    """The finest level whose buckets are at least ``min_bucket_px`` pixels wide."""
    need = bars_per_pixel * min_bucket_px
    if not need > 1.0:  # also catches NaN
        return 0
    return int(np.ceil(np.log2(need) - 1e-12))


@dataclass(frozen=True, slots=True)
class Buckets:
    """Buckets ``first..stop`` of one level: ``data`` rows are open, high, low, close, volume."""

    level: int
    first: int
    stop: int
    data: FloatArray

    @property
    def size(self) -> int:
        """Bars per bucket (``2**level``)."""
        return 1 << self.level

    def __len__(self) -> int:
        return self.stop - self.first

    def centers(self) -> FloatArray:
        """x of each bucket's centre in bar-index units."""
        k = self.size
        return np.arange(self.first, self.stop, dtype=np.float64) * k + (k - 1) / 2.0


def _reduce_block(src: list[FloatArray], f: int, out: FloatArray, j0: int) -> int:
    """Aggregate rows ``src`` (5 arrays of equal length) by ``f`` into ``out[:, j0:]``."""
    m = src[0].shape[0]
    full = m // f
    end = j0 + full
    if full:
        span = full * f
        out[OPEN, j0:end] = src[OPEN][0:span:f]
        out[CLOSE, j0:end] = src[CLOSE][f - 1 : span : f]
        out[HIGH, j0:end] = src[HIGH][:span].reshape(full, f).max(axis=1)
        out[LOW, j0:end] = src[LOW][:span].reshape(full, f).min(axis=1)
        out[VOLUME, j0:end] = src[VOLUME][:span].reshape(full, f).max(axis=1)
    if m % f:  # a partial last bucket
        s = full * f
        out[OPEN, end] = src[OPEN][s]
        out[CLOSE, end] = src[CLOSE][m - 1]
        out[HIGH, end] = src[HIGH][s:].max()
        out[LOW, end] = src[LOW][s:].min()
        out[VOLUME, end] = src[VOLUME][s:].max()
        end += 1
    return end


class OhlcvPyramid:
    """OHLCV bars (history views + a growable live tail) with lazily built aggregation levels.

    Bar ``i`` is drawn at ``x = i``; ``ts`` are int64 ms UTC, strictly increasing.
    """

    def __init__(self) -> None:
        self._base: list[FloatArray] = [np.empty(0) for _ in range(_ROWS)]
        self._base_ts: IntArray = np.empty(0, dtype=np.int64)
        self._nb = 0  # bars in history
        self._tail = np.empty((_ROWS, _MIN_TAIL))
        self._tail_ts = np.empty(_MIN_TAIL, dtype=np.int64)
        self._nt = 0  # bars in the tail
        self._levels: dict[int, FloatArray] = {}  # built levels >= 1
        # Extremes of every bar but the last (O(1) exact global bounds).
        self._prefix = (np.inf, -np.inf, 0.0)  # low, high, volume

    # -- reading -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._nb + self._nt

    @property
    def built_levels(self) -> list[int]:
        """Aggregation levels built so far (level 0 is always there)."""
        return [0, *sorted(self._levels)]

    def count(self, level: int) -> int:
        """Number of buckets in ``level``."""
        k = 1 << level
        return (len(self) + k - 1) // k

    def bar(self, i: int) -> tuple[int, float, float, float, float, float]:
        """``(ts, open, high, low, close, volume)`` of bar ``i`` (negative counts from the end)."""
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"bar {i} outside 0..{n - 1}")
        if i < self._nb:
            o, h, lo, c, v = (float(col[i]) for col in self._base)
            return int(self._base_ts[i]), o, h, lo, c, v

        t = i - self._nb
        o, h, lo, c, v = (float(x) for x in self._tail[:, t])
        return int(self._tail_ts[t]), o, h, lo, c, v

    def ts_at(self, idx: npt.ArrayLike) -> IntArray:
        """Open times of bars ``idx`` (clipped to the data), vectorised."""
        i = np.clip(np.asarray(idx, dtype=np.int64), 0, max(len(self) - 1, 0))
        out = np.empty(i.shape, dtype=np.int64)
        in_base = i < self._nb
        out[in_base] = self._base_ts[i[in_base]]
        out[~in_base] = self._tail_ts[i[~in_base] - self._nb]
        return out

    def search_ts(self, ts: npt.ArrayLike, side: str = "left") -> IntArray:
        """``np.searchsorted`` over all bar times (history and tail)."""
        t = np.asarray(ts, dtype=np.int64)
        pos = np.searchsorted(self._base_ts, t, side=side)  # type: ignore[call-overload]
        after = pos >= self._nb
        if np.any(after):
            tail = self._tail_ts[: self._nt]
            pos[after] = self._nb + np.searchsorted(tail, t[after], side=side)  # type: ignore[call-overload]
        return np.asarray(pos, dtype=np.int64)

    def column(self, row: int) -> FloatArray:
        """A copy of one whole column (``OPEN``, ``HIGH``...): for tests and exports."""
        return np.concatenate([np.empty(0), *self._parts(row, 0, len(self))])

    def buckets(self, level: int, first_bar: int, stop_bar: int) -> Buckets:
        """Buckets of ``level`` overlapping bars ``[first_bar, stop_bar)`` (built on demand)."""
        level = max(0, level)
        k = 1 << level
        first = max(0, first_bar) // k
        stop = max(first, min(self.count(level), (max(0, stop_bar) + k - 1) // k))
        if level == 0:
            data = np.empty((_ROWS, stop - first))
            for row in range(_ROWS):
                parts = self._parts(row, first, stop)
                if len(parts) == 1:
                    data[row] = parts[0]
                elif parts:
                    np.concatenate(parts, out=data[row])
            return Buckets(0, first, stop, data)
        return Buckets(level, first, stop, self._level(level)[:, first:stop])

    def price_range(self) -> tuple[float, float] | None:
        """Lowest low and highest high of all bars, or None when empty (O(1))."""
        if len(self) == 0:
            return None
        _, _, h, lo, _, _ = self.bar(-1)
        return min(self._prefix[0], lo), max(self._prefix[1], h)

    def max_volume(self) -> float:
        """Largest volume of all bars (0 when empty; O(1))."""
        return max(self._prefix[2], self.bar(-1)[5]) if len(self) else 0.0

    def extreme(self, row: int, first_bar: int, stop_bar: int) -> float | None:
        """Exact lowest ``LOW`` or highest ``HIGH``/``VOLUME`` over bars ``[first_bar, stop_bar)``.

        None when the range is empty. Whole buckets of the coarsest built level that fits do
        the middle and the bars the ragged ends, so zoomed out this reads thousands of values,
        not millions. (Buckets keep only these extremes, so other rows are refused.)
        """
        if row not in (LOW, HIGH, VOLUME):
            raise ValueError(f"no extreme kept for row {row}: use LOW, HIGH or VOLUME")
        a, b = max(0, first_bar), min(len(self), stop_bar)
        if b <= a:
            return None
        usable = [lv for lv in self._levels if (1 << lv) * 8 <= b - a]
        parts: list[FloatArray] = []
        if usable:
            level = max(usable)
            k = 1 << level
            ja, jb = (a + k - 1) // k, b // k
            parts.append(self._levels[level][row, ja:jb])
            parts += self._parts(row, a, ja * k) + self._parts(row, jb * k, b)
        else:
            parts = self._parts(row, a, b)
        if row == LOW:
            return min(float(p.min()) for p in parts if p.size)
        return max(float(p.max()) for p in parts if p.size)

    # -- writing -------------------------------------------------------------------------
    def set_bars(
        self,
        ts: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> None:
        """Replace all bars. float64/int64 contiguous inputs are not copied (keep them
        unchanged afterwards: a ``BarSeries`` is); they must be sorted by time."""
        t = np.ascontiguousarray(ts, dtype=np.int64)
        n = int(t.shape[0])
        cols = [np.ascontiguousarray(x, dtype=np.float64) for x in (open, high, low, close, volume)]
        for name, col in zip(("open", "high", "low", "close", "volume"), cols, strict=True):
            if col.shape != (n,):
                raise DataError(
                    f"column '{name}' has shape {col.shape}, expected ({n},)", source=_SOURCE
                )
        nb = max(n - 1, 0)  # the last bar goes to the tail: it is the one that updates
        self._base = [_readonly(c[:nb]) for c in cols]
        self._base_ts = _readonly(t[:nb])
        self._nb = nb
        self._nt = 0
        self._levels = {}
        if nb:
            self._prefix = (
                float(self._base[LOW].min()),
                float(self._base[HIGH].max()),
                float(self._base[VOLUME].max()),
            )
        else:
            self._prefix = (np.inf, -np.inf, 0.0)
        if n:
            self._tail_ts[0] = t[-1]
            self._tail[:, 0] = [c[-1] for c in cols]
            self._nt = 1

    def append(self, ts: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        """Add one bar at the end: O(built levels); capacity doubles when the tail is full."""
        n = len(self)
        if n and ts <= self.bar(-1)[0]:
            raise DataError(
                f"bar time {ts} is not after the last bar's {self.bar(-1)[0]}",
                source=_SOURCE,
                hint="use update_last for the bar that is still forming",
            )
        if n:
            _, _, ph, plo, _, pv = self.bar(-1)
            self._prefix = (
                min(self._prefix[0], plo),
                max(self._prefix[1], ph),
                max(self._prefix[2], pv),
            )
        if self._nt == self._tail.shape[1]:
            self._grow_tail(2 * self._tail.shape[1])
        self._tail_ts[self._nt] = ts
        self._tail[:, self._nt] = (o, h, lo, c, v)
        self._nt += 1
        self._refresh_last()

    def update_last(self, o: float, h: float, lo: float, c: float, v: float) -> None:
        """Overwrite the last (forming) bar in place: O(built levels)."""
        if self._nt == 0:
            raise DataError("no bar to update", source=_SOURCE, hint="append a bar first")
        self._tail[:, self._nt - 1] = (o, h, lo, c, v)
        self._refresh_last()

    # -- internals -----------------------------------------------------------------------
    def _parts(self, row: int, a: int, b: int) -> list[FloatArray]:
        """Bars ``[a, b)`` of one column as at most two views (history, tail)."""
        out: list[FloatArray] = []
        if a < min(b, self._nb):
            out.append(self._base[row][a : min(b, self._nb)])
        if b > self._nb and b > a:
            out.append(self._tail[row, max(a, self._nb) - self._nb : b - self._nb])
        return out

    def _rows0(self, a: int, b: int) -> list[FloatArray]:
        """Bars ``[a, b)`` of all five columns, each one array (a copy only if it straddles)."""
        rows = []
        for row in range(_ROWS):
            parts = self._parts(row, a, b)
            rows.append(parts[0] if len(parts) == 1 else np.concatenate(parts))
        return rows

    def _capacity(self, level: int) -> int:
        k = 1 << level
        return (self._nb + self._tail.shape[1] + k - 1) // k

    def _level(self, level: int) -> FloatArray:
        """Level ``level`` (>= 1), built now from the closest finer level if missing."""
        found = self._levels.get(level)
        if found is not None:
            return found
        out = np.empty((_ROWS, self._capacity(level)))
        src = max((lv for lv in self._levels if lv < level), default=0)
        f = 1 << (level - src)
        if src == 0:
            n, chunk = len(self), max(_CHUNK, f)
            j = 0
            for a in range(0, n, chunk):
                j = _reduce_block(self._rows0(a, min(n, a + chunk)), f, out, j)
        else:
            below = self._levels[src]
            m = self.count(src)
            _reduce_block([below[r, :m] for r in range(_ROWS)], f, out, 0)
        self._levels[level] = out
        return out

    def _grow_tail(self, cap: int) -> None:
        tail = np.empty((_ROWS, cap))
        tail[:, : self._nt] = self._tail[:, : self._nt]
        tail_ts = np.empty(cap, dtype=np.int64)
        tail_ts[: self._nt] = self._tail_ts[: self._nt]
        self._tail, self._tail_ts = tail, tail_ts
        for level, old in self._levels.items():
            new = np.empty((_ROWS, self._capacity(level)))
            m = self.count(level)
            new[:, :m] = old[:, :m]
            self._levels[level] = new

    def _refresh_last(self) -> None:
        """Recompute the bucket holding the last bar in every built level, finest first."""
        last = len(self) - 1
        src = 0
        for level in sorted(self._levels):
            f = 1 << (level - src)
            j = last >> level
            if src == 0:
                a, b = j * f, last + 1
                rows = self._rows0(a, b)
            else:
                m = self.count(src)
                below = self._levels[src]
                rows = [below[r, j * f : m] for r in range(_ROWS)]
            out = self._levels[level]
            out[OPEN, j] = rows[OPEN][0]
            out[CLOSE, j] = rows[CLOSE][-1]
            out[HIGH, j] = rows[HIGH].max()
            out[LOW, j] = rows[LOW].min()
            out[VOLUME, j] = rows[VOLUME].max()
            src = level


def _readonly(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
    """A read-only view: the caller's array stays writable, ours cannot write through it."""
    view = a.view()
    view.flags.writeable = False
    return view
