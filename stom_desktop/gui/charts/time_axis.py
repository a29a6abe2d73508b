"""A bottom axis for bar-index x coordinates: ticks on round times in the exchange's time zone."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyqtgraph as pg

from stom_desktop.core.errors import ConfigurationError
from stom_desktop.gui.charts.lod import OhlcvPyramid

__all__ = ["TimeAxisItem", "format_local", "zone"]

_DAY = 86_400
# Candidate tick steps in seconds; 30 and 365 days mean calendar months/years.
_STEPS = (1, 5, 15, 30, 60, 300, 900, 1800, 3600, 7200, 14_400, 21_600, 43_200,
          _DAY, 2 * _DAY, 7 * _DAY, 30 * _DAY, 91 * _DAY, 365 * _DAY)  # fmt: skip
_MIN_TICK_PX = 90.0  # labels closer than this overlap
_MAX_CANDIDATES = 400


def zone(name: str) -> ZoneInfo:
    """``ZoneInfo(name)``, or a ``ConfigurationError`` naming the bad zone."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"unknown time zone {name!r}", key="chart.tz", hint="use an IANA name like Asia/Seoul"
        ) from exc


def format_local(ms: int, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """A UTC millisecond timestamp as local text in ``tz``."""
    return datetime.fromtimestamp(ms / 1000.0, tz).strftime(fmt)


def _boundaries(t0_ms: int, t1_ms: int, step: int, tz: ZoneInfo) -> list[int]:
    """Round local times (multiples of ``step``) between two instants, as UTC ms."""
    start = datetime.fromtimestamp(t0_ms / 1000.0, tz)
    end = datetime.fromtimestamp(t1_ms / 1000.0, tz)
    if step >= 365 * _DAY:
        cur = start.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        out = []
        while cur <= end and len(out) < _MAX_CANDIDATES:
            out.append(cur)
            cur = cur.replace(year=cur.year + 1)
    elif step >= 30 * _DAY:
        months = step // (30 * _DAY)
        cur = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        cur = cur.replace(month=1 + (cur.month - 1) // months * months)
        out = []
        while cur <= end and len(out) < _MAX_CANDIDATES:
            out.append(cur)
            m = cur.month - 1 + months
            cur = cur.replace(year=cur.year + m // 12, month=m % 12 + 1)
    elif step >= _DAY:
        cur = start.replace(hour=0, minute=0, second=0, microsecond=0)
        if step == 7 * _DAY:  # weeks start on Monday
            cur -= timedelta(days=cur.weekday())
        out = []
        while cur <= end and len(out) < _MAX_CANDIDATES:
            out.append(cur)
            # Wall-clock arithmetic on an aware datetime keeps midnight across DST changes.
            cur = cur + timedelta(days=step // _DAY)
    else:
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        since = (start - midnight).total_seconds()
        cur = midnight + timedelta(seconds=math.floor(since / step) * step)
        out = []
        while cur <= end and len(out) < _MAX_CANDIDATES:
            out.append(cur)
            cur = cur + timedelta(seconds=step)
    return [int(d.timestamp() * 1000) for d in out]


def _label_format(step: int) -> str:
    if step < 60:
        return "%H:%M:%S"
    if step < _DAY:
        return "%H:%M"
    if step < 30 * _DAY:
        return "%m-%d"
    if step < 365 * _DAY:
        return "%Y-%m"
    return "%Y"


class TimeAxisItem(pg.AxisItem):
    """Axis whose values are bar indices of ``store``; labels are the bars' times in ``tz``.

    Ticks go on round local times (every 5 minutes, hour, day, month...) chosen so labels are
    at least ~90 px apart; a round time that falls in a gap (night, weekend) moves to the
    first bar after it and is labelled with that bar's real time. Intraday, the first tick
    of a new day carries the date.
    """

    def __init__(self, store: OhlcvPyramid, tz: ZoneInfo, orientation: str = "bottom") -> None:
        super().__init__(orientation)
        self.store = store
        self.tz = tz
        self._labels: dict[float, str] = {}

    def tick_times(self, min_val: float, max_val: float, size: float) -> list[tuple[int, str]]:
        """``(bar index, label)`` of the ticks for a view of ``size`` pixels."""
        n = len(self.store)
        if n == 0 or size <= 0 or max_val <= min_val:
            return []
        i0 = min(n - 1, max(0, math.ceil(min_val)))
        i1 = min(n - 1, max(0, math.floor(max_val)))
        if i1 < i0:
            return []
        t0, t1 = (int(t) for t in self.store.ts_at([i0, i1]))
        px_per_bar = size / (max_val - min_val)
        want = max(1.0, size / _MIN_TICK_PX)
        # Bars may have gaps: scale the time span to the visible bars, not the whole view.
        span_s = max((t1 - t0) / 1000.0, 1.0)
        step = next((s for s in _STEPS if span_s / s <= want), _STEPS[-1])
        idx = np.unique(self.store.search_ts(_boundaries(t0, t1, step, self.tz)))
        idx = idx[(idx >= i0) & (idx <= i1)]
        ts = self.store.ts_at(idx)
        fmt = _label_format(step)
        out: list[tuple[int, str]] = []
        last_x = -math.inf
        last_day = ""
        for i, t in zip(idx.tolist(), ts.tolist(), strict=True):
            if (i - last_x) * px_per_bar < _MIN_TICK_PX:
                continue
            moment = datetime.fromtimestamp(t / 1000.0, self.tz)
            day = moment.strftime("%Y-%m-%d")
            text = moment.strftime(fmt)
            if step < _DAY and last_day and day != last_day:
                # A new day: its first tick shows the date (the readout has the full time).
                text = (
                    moment.strftime("%m-%d")
                    if text.startswith("00:00")
                    else moment.strftime("%m-%d ") + text
                )
            last_day = day
            last_x = i
            out.append((i, text))
        return out

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        """pyqtgraph hook: one level of major ticks on round local times."""
        ticks = self.tick_times(minVal, maxVal, size)
        self._labels = {float(i): text for i, text in ticks}
        spacing = (maxVal - minVal) / max(len(ticks), 1)
        return [(spacing, [float(i) for i, _ in ticks])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        """pyqtgraph hook: the labels computed by :meth:`tickValues`."""
        return [self._labels.get(float(v), "") for v in values]
