"""Bulk bar storage: exact float64 round trips, all-or-nothing writes, replace, listing."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from stom_desktop.core.bars import BarSeries, format_ts
from stom_desktop.core.errors import ConfigurationError, DataError
from stom_desktop.persistence import BarRepository, Database, SeriesInfo

COLUMNS = ("ts", "open", "high", "low", "close", "volume")
MakeSeries = Callable[..., BarSeries]


def assert_same(actual: BarSeries, expected: BarSeries) -> None:
    assert (actual.symbol, actual.timeframe) == (expected.symbol, expected.timeframe)
    for name in COLUMNS:
        got, want = getattr(actual, name), getattr(expected, name)
        assert got.dtype == want.dtype, name
        # Bit-for-bit: float64 values must survive storage exactly, not approximately.
        assert np.array_equal(got, want), name


def test_100k_bars_round_trip_exactly(db: Database, make_series: MakeSeries) -> None:
    repo = BarRepository(db)
    series = make_series(100_000)
    assert repo.write(series) == 100_000
    loaded = repo.load("BTC/USDT", "1m")
    assert_same(loaded, series)
    assert loaded.ts.flags.c_contiguous and loaded.close.flags.c_contiguous
    # Extreme but valid values survive too.
    odd = BarSeries.from_arrays(
        "ODD",
        "1d",
        [0, 1, 2],
        [0.0, 5e-324, 1e300],
        [0.0, 5e-324, 1e308],
        [0.0, 5e-324, 1e-300],
        [0.0, 5e-324, 1e300],
        [0.0, 0.1 + 0.2, 1.7976931348623157e308],
    )
    repo.write(odd)
    assert_same(repo.load("ODD", "1d"), odd)


def test_load_range_is_half_open(db: Database, make_series: MakeSeries) -> None:
    repo = BarRepository(db)
    series = make_series(1_000)
    repo.write(series)
    start, end = int(series.ts[100]), int(series.ts[200])
    assert_same(repo.load("BTC/USDT", "1m", start, end), series.slice(100, 200))
    assert_same(repo.load("BTC/USDT", "1m", start_ms=start), series.slice(100, 1_000))
    assert_same(repo.load("BTC/USDT", "1m", end_ms=end), series.slice(0, 200))
    empty = repo.load("NOPE", "1m")
    assert len(empty) == 0 and empty.ts.dtype == np.int64 and empty.close.dtype == np.float64


def test_clashing_write_changes_nothing(db: Database, make_series: MakeSeries) -> None:
    repo = BarRepository(db)
    stored = make_series(1_000, seed=1)
    repo.write(stored)
    # Starts before the stored range and runs into it halfway: 500 new bars, then clashes.
    incoming = make_series(1_000, start_ms=int(stored.ts[0]) - 500 * 60_000, seed=2)
    with pytest.raises(DataError) as caught:
        repo.write(incoming)
    message = str(caught.value)
    assert "BTC/USDT 1m" in message
    assert format_ts(int(stored.ts[0])) in message
    assert "500 of 1000" in message
    assert_same(repo.load("BTC/USDT", "1m"), stored)
    assert repo.list_series() == [
        SeriesInfo("BTC/USDT", "1m", 1_000, int(stored.ts[0]), int(stored.ts[-1]))
    ]


def test_interleaved_timestamps_without_clash_are_accepted(
    db: Database, make_series: MakeSeries
) -> None:
    repo = BarRepository(db)
    even = make_series(100, step_ms=120_000)
    odd = make_series(100, start_ms=int(even.ts[0]) + 60_000, step_ms=120_000, seed=3)
    repo.write(even)
    repo.write(odd)
    loaded = repo.load("BTC/USDT", "1m")
    assert len(loaded) == 200
    assert np.array_equal(loaded.ts, np.sort(np.r_[even.ts, odd.ts]))


def test_replace_overwrites_exactly_the_new_range(db: Database, make_series: MakeSeries) -> None:
    repo = BarRepository(db)
    old = make_series(1_000, seed=1)
    repo.write(old)
    # New data for bars 300..699 at a coarser spacing: the old bars in between go too.
    new = make_series(200, start_ms=int(old.ts[300]), step_ms=120_000, seed=9)
    assert repo.write(new, replace=True) == 200
    loaded = repo.load("BTC/USDT", "1m")
    last_new = int(new.ts[-1])
    keep_before = old.slice(0, 300)
    keep_after = old.between(last_new + 1, None)
    assert len(loaded) == 300 + 200 + len(keep_after)
    assert_same(loaded.slice(0, 300), keep_before)
    assert_same(loaded.slice(300, 500), new)
    assert_same(loaded.slice(500, len(loaded)), keep_after)


def test_other_series_are_independent(db: Database, make_series: MakeSeries) -> None:
    repo = BarRepository(db)
    a = make_series(50, symbol="AAA")
    b = make_series(50, symbol="BBB")
    a5 = make_series(10, symbol="AAA", timeframe="5m", step_ms=300_000)
    for s in (a, b, a5):
        repo.write(s)
    assert repo.list_series() == [
        SeriesInfo("AAA", "1m", 50, int(a.ts[0]), int(a.ts[-1])),
        SeriesInfo("AAA", "5m", 10, int(a5.ts[0]), int(a5.ts[-1])),
        SeriesInfo("BBB", "1m", 50, int(b.ts[0]), int(b.ts[-1])),
    ]
    assert repo.delete("AAA", "1m") == 50
    assert repo.delete("AAA", "1m") == 0
    assert [(i.symbol, i.timeframe) for i in repo.list_series()] == [("AAA", "5m"), ("BBB", "1m")]
    assert_same(repo.load("BBB", "1m"), b)


def test_invalid_series_is_refused_before_writing(db: Database, make_series: MakeSeries) -> None:
    repo = BarRepository(db)
    good = make_series(10)
    unsorted = BarSeries(
        good.symbol,
        good.timeframe,
        good.ts[::-1].copy(),
        good.open,
        good.high,
        good.low,
        good.close,
        good.volume,
    )
    with pytest.raises(DataError, match="non-increasing"):
        repo.write(unsorted)
    bad_timeframe = BarSeries(
        "X", "1 minute", good.ts, good.open, good.high, good.low, good.close, good.volume
    )
    with pytest.raises(ConfigurationError, match="timeframe"):
        repo.write(bad_timeframe)
    assert repo.list_series() == []
    empty = good.slice(0, 0)
    assert repo.write(empty) == 0
