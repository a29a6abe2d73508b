"""Resample OHLCV bars to a coarser timeframe (1s -> 1m -> 5m ... 1d), whole series or live.

Each output bar takes its bucket's first open, max high, min low, last close and summed
volume; a bucket without input bars makes no bar (as the engine's aggregator). Output
``ts`` is the bucket's start.

Bucket boundaries:

* **Intraday** timeframes (shorter than a day) are aligned to the UTC epoch: ``ts - ts %
  length``, exactly like ``engine.aggregator`` (so a 5m bar of a live session and a 5m bar
  resampled from stored 1m bars open at the same instant). For whole-hour time zones (KST,
  UTC, CET...) this is also aligned to the local clock; for half-hour zones (e.g. India,
  +05:30) a 1h bar starts at :30 local time.
* **Daily and longer** (``1d``, ``1w``...) start at local midnight of ``tz`` (the exchange's
  zone; UTC when not given), computed per calendar day so DST days of 23 or 25 hours are
  right. ``Nd`` counts N local days from 1970-01-01 local; ``1w`` weeks start on Monday.

Pure numpy, no Qt: the chart window, reports and scripts share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.enums import timeframe_seconds
from stom_desktop.core.errors import DataError

__all__ = ["LiveResampler", "bucket_start", "bucket_starts", "can_resample", "resample"]

IntArray = npt.NDArray[np.int64]
_DAY_S = 86_400
_EPOCH_DAY = date(1970, 1, 1)
_MONDAY_OFFSET_DAYS = 3  # 1970-01-01 was a Thursday: day 3 after Monday 1969-12-29


def can_resample(source: str, target: str) -> bool:
    """Whether bars of ``source`` timeframe can build ``target`` bars exactly.

    The target must be at least as long and a whole multiple of the source (1m -> 5m yes,
    1m -> 1s no, 2m -> 5m no). Daily and longer targets accept any intraday source that
    divides a day.
    """
    s, t = timeframe_seconds(source), timeframe_seconds(target)
    if t < s:
        return False
    if t >= _DAY_S:
        return _DAY_S % s == 0 if s < _DAY_S else t % s == 0
    return t % s == 0


def _zone(tz: str | ZoneInfo | None) -> ZoneInfo:
    if tz is None:
        return ZoneInfo("UTC")
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def _local_midnight_ms(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, time(0), tzinfo=zone).timestamp() * 1000)


def _day_boundaries(first_ms: int, last_ms: int, days: int, zone: ZoneInfo) -> IntArray:
    """Start (epoch ms) of every ``days``-long local-calendar bucket covering the range."""
    first = datetime.fromtimestamp(first_ms / 1000, tz=UTC).astimezone(zone).date()
    last = datetime.fromtimestamp(last_ms / 1000, tz=UTC).astimezone(zone).date()
    offset = _MONDAY_OFFSET_DAYS if days % 7 == 0 else 0
    # Align the first bucket to whole periods counted from 1970-01-01 (Mondays for weeks).
    n0 = ((first - _EPOCH_DAY).days + offset) // days
    start = _EPOCH_DAY + timedelta(days=n0 * days - offset)
    out: list[int] = []
    day = start
    while day <= last:
        out.append(_local_midnight_ms(day, zone))
        day += timedelta(days=days)
    return np.asarray(out, dtype=np.int64)


def bucket_starts(ts: npt.ArrayLike, timeframe: str, tz: str | ZoneInfo | None = None) -> IntArray:
    """The start (epoch ms) of the ``timeframe`` bucket holding each of ``ts`` (sorted ms)."""
    t = np.asarray(ts, dtype=np.int64)
    seconds = timeframe_seconds(timeframe)
    if t.size == 0:
        return t.copy()
    if seconds < _DAY_S:
        length = seconds * 1000
        return t - t % length
    if seconds % _DAY_S:
        raise DataError(f"timeframe {timeframe!r}: longer than a day but not whole days")
    bounds = _day_boundaries(int(t.min()), int(t.max()), seconds // _DAY_S, _zone(tz))
    idx = np.searchsorted(bounds, t, side="right") - 1
    return bounds[idx]


def bucket_start(ts_ms: int, timeframe: str, tz: str | ZoneInfo | None = None) -> int:
    """:func:`bucket_starts` for one timestamp (live updates)."""
    seconds = timeframe_seconds(timeframe)
    if seconds < _DAY_S:
        return ts_ms - ts_ms % (seconds * 1000)
    return int(bucket_starts(np.asarray([ts_ms], dtype=np.int64), timeframe, tz)[0])


def resample(series: BarSeries, timeframe: str, tz: str | ZoneInfo | None = None) -> BarSeries:
    """``series`` aggregated to ``timeframe`` (see the module docstring for boundaries).

    Returns ``series`` itself when the timeframe is unchanged. Raises ``DataError`` naming
    both timeframes when the target cannot be built from the source (finer, or not a
    multiple).
    """
    if timeframe == series.timeframe:
        return series
    if not can_resample(series.timeframe, timeframe):
        raise DataError(
            f"cannot build {timeframe} bars from {series.timeframe} bars of {series.symbol!r}",
            hint="choose a timeframe that is a whole multiple of the stored one",
        )
    keys = bucket_starts(series.ts, timeframe, tz)
    if keys.size == 0:
        return BarSeries(series.symbol, timeframe, keys, *(np.empty(0) for _ in range(5)))
    starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
    ends = np.concatenate((starts[1:], [keys.size])) - 1
    return BarSeries(
        series.symbol,
        timeframe,
        keys[starts],
        series.open[starts],
        np.maximum.reduceat(series.high, starts),
        np.minimum.reduceat(series.low, starts),
        series.close[ends],
        np.add.reduceat(series.volume, starts),
    )


@dataclass(slots=True)
class _Agg:
    open: float
    high: float
    low: float
    close: float
    volume: float

    def merged(self, other: _Agg) -> _Agg:
        return _Agg(
            self.open,
            max(self.high, other.high),
            min(self.low, other.low),
            other.close,
            self.volume + other.volume,
        )


class LiveResampler:
    """Folds a stream of finer bars (forming updates and closed bars) into ``timeframe`` bars.

    Feed every update of the finer timeframe in time order with :meth:`add`; it returns the
    current state of the coarser bar holding it as ``(ts, open, high, low, close,
    volume)``. A forming finer bar may be updated many times: only its latest state counts;
    when the next finer bar starts (or ``closed`` arrives) the previous one is folded in.
    """

    def __init__(self, timeframe: str, tz: str | ZoneInfo | None = None) -> None:
        self.timeframe = timeframe
        self._zone = _zone(tz)
        self._bucket: int | None = None
        self._done: _Agg | None = None  # finer bars of this bucket that are final
        self._forming_ts: int | None = None
        self._forming: _Agg | None = None

    def add(
        self,
        ts_ms: int,
        o: float,
        h: float,
        lo: float,
        c: float,
        v: float,
        closed: bool,
    ) -> tuple[int, float, float, float, float, float]:
        """Fold one finer bar update; returns the coarser bar it belongs to, as it is now."""
        bucket = bucket_start(ts_ms, self.timeframe, self._zone)
        bar = _Agg(o, h, lo, c, v)
        if bucket != self._bucket:
            self._bucket, self._done, self._forming_ts, self._forming = bucket, None, None, None
        elif self._forming is not None and ts_ms != self._forming_ts:
            # The previous finer bar ended without a closed update: it is final now.
            self._done = self._forming if self._done is None else self._done.merged(self._forming)
            self._forming = None
        if closed:
            self._done = bar if self._done is None else self._done.merged(bar)
            self._forming_ts, self._forming = None, None
        else:
            self._forming_ts, self._forming = ts_ms, bar
        total = self._done
        if self._forming is not None:
            total = self._forming if total is None else total.merged(self._forming)
        assert total is not None  # one of the two was just set
        return bucket, total.open, total.high, total.low, total.close, total.volume
