"""BarHistory/BarBuffer: amortised appends, zero-copy views, warm-up and bounded memory."""

from __future__ import annotations

import numpy as np
import pytest

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import DataError
from stom_desktop.core.events import BarEvent
from stom_desktop.core.synthetic import generate_bars
from stom_desktop.engine.history import BarBuffer, BarHistory


def _append_all(buf: BarBuffer, bars: BarSeries, start: int = 0, stop: int | None = None) -> None:
    for i in range(start, len(bars) if stop is None else stop):
        buf.append(
            int(bars.ts[i]),
            float(bars.open[i]),
            float(bars.high[i]),
            float(bars.low[i]),
            float(bars.close[i]),
            float(bars.volume[i]),
        )


def test_appends_grow_and_series_equals_the_input() -> None:
    bars = generate_bars("X", "1m", 1000, seed=1)
    buf = BarBuffer("X", "1m", capacity=16)
    _append_all(buf, bars)
    assert len(buf) == 1000
    series = buf.series()
    for column in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(series, column), getattr(bars, column))
    series.validate()
    assert buf.last_ts == int(bars.ts[-1])


def test_window_is_the_newest_bars_as_views() -> None:
    bars = generate_bars("X", "1m", 300, seed=2)
    buf = BarBuffer("X", "1m")
    _append_all(buf, bars)
    last = buf.series(50)
    assert len(last) == 50
    np.testing.assert_array_equal(last.close, bars.close[-50:])
    assert not last.close.flags.owndata, "a view, not a copy"
    assert len(buf.series(10_000)) == 300


def test_old_views_survive_reallocation() -> None:
    bars = generate_bars("X", "1m", 100, seed=3)
    buf = BarBuffer("X", "1m", capacity=16)
    _append_all(buf, bars, 0, 16)
    early = buf.series()
    snapshot = early.close.copy()
    _append_all(buf, bars, 16)  # forces several reallocations
    np.testing.assert_array_equal(early.close, snapshot)


def test_out_of_order_bar_is_refused_with_location() -> None:
    buf = BarBuffer("X", "1m")
    buf.append(60_000, 1, 1, 1, 1, 1)
    with pytest.raises(DataError, match="X 1m history"):
        buf.append(60_000, 1, 1, 1, 1, 1)
    assert len(buf) == 1


def test_warm_up_then_live_bars() -> None:
    bars = generate_bars("X", "1m", 200, seed=4)
    history = BarHistory()
    history.warm_up(bars.slice(0, 150))
    for i in range(150, 200):
        history.append(
            BarEvent("X", "1m", int(bars.ts[i]), float(bars.open[i]), float(bars.high[i]),
                     float(bars.low[i]), float(bars.close[i]), float(bars.volume[i]), True)
        )  # fmt: skip
    np.testing.assert_array_equal(history.series("X", "1m").close, bars.close)
    with pytest.raises(DataError, match="warm-up"):
        history.warm_up(bars.slice(0, 10))
    assert ("X", "1m") in history


def test_forming_bars_are_refused() -> None:
    with pytest.raises(ValueError, match="closed"):
        BarHistory().append(BarEvent("X", "1m", 0, 1, 1, 1, 1, 1, False))


def test_max_bars_bounds_memory_and_keeps_the_newest() -> None:
    bars = generate_bars("X", "1m", 5000, seed=5)
    buf = BarBuffer("X", "1m", capacity=16, max_bars=300)
    _append_all(buf, bars)
    assert 300 <= len(buf) <= 600
    assert buf._ts.shape[0] <= 600, "capacity is bounded too"
    np.testing.assert_array_equal(buf.series(300).close, bars.close[-300:])
    assert buf.series().ts[0] > bars.ts[0]
    with pytest.raises(ValueError):
        BarBuffer("X", "1m", max_bars=0)
