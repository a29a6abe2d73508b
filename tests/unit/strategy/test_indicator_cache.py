"""``Indicators`` memoises per (name, args), returns read-only arrays, validates periods."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from strategy_factories import make_bars

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy import Indicators
from stom_desktop.strategy import indicators as ind


def test_methods_match_the_pure_functions(bars: BarSeries) -> None:
    ta = Indicators(bars)
    assert ta.bars is bars and len(ta) == len(bars)
    np.testing.assert_array_equal(ta.sma(10), ind.sma(bars.close, 10))
    np.testing.assert_array_equal(ta.ema(10, "open"), ind.ema(bars.open, 10))
    np.testing.assert_array_equal(ta.rsi(), ind.rsi(bars.close, 14))
    np.testing.assert_array_equal(ta.atr(), ind.atr(bars.high, bars.low, bars.close, 14))
    np.testing.assert_array_equal(ta.bollinger()[1], ind.bollinger(bars.close, 20, 2.0)[1])
    np.testing.assert_array_equal(ta.donchian(20)[0], ind.donchian(bars.high, bars.low, 20)[0])
    np.testing.assert_array_equal(ta.macd()[2], ind.macd(bars.close)[2])
    np.testing.assert_array_equal(ta.highest(5), ind.highest(bars.high, 5))
    np.testing.assert_array_equal(ta.lowest(5, "close"), ind.lowest(bars.close, 5))
    np.testing.assert_array_equal(ta.vwap(), ind.vwap(bars.high, bars.low, bars.close, bars.volume))
    np.testing.assert_array_equal(
        ta.vwap(daily=True, utc_offset_hours=9),
        ind.vwap(bars.high, bars.low, bars.close, bars.volume, bars.ts, utc_offset_hours=9),
    )
    np.testing.assert_allclose(ta.source("hlc3"), (bars.high + bars.low + bars.close) / 3)


def test_grid_reuses_one_sma_per_window(bars: BarSeries) -> None:
    ta = Indicators(bars)
    fast_windows, slow_windows = range(5, 50, 5), range(20, 200, 20)
    pairs = [(f, s) for f, s in itertools.product(fast_windows, slow_windows) if f < s]
    for fast, slow in pairs:
        ta.sma(fast)
        ta.sma(slow)
    distinct = len(set(fast_windows) | set(slow_windows))
    info = ta.cache_info()
    assert info.size == distinct == info.misses
    assert info.hits == 2 * len(pairs) - distinct
    assert ta.sma(10) is ta.sma(10)
    assert ta.sma(10, "open") is not ta.sma(10)


def test_cached_arrays_are_read_only(bars: BarSeries) -> None:
    ta = Indicators(bars)
    with pytest.raises(ValueError, match="read-only"):
        ta.sma(10)[-1] = 0.0
    _, upper, _ = ta.bollinger()
    with pytest.raises(ValueError, match="read-only"):
        upper[:] = 1.0
    # The pure functions accept the read-only arrays (a separate numba specialisation).
    assert ind.ema(ta.rsi(), 5).flags.writeable


def test_custom_values_can_be_memoised(bars: BarSeries) -> None:
    ta = Indicators(bars)
    calls = []

    def compute() -> np.ndarray:
        calls.append(1)
        return bars.close - ta.sma(20)

    first = ta.cached(("distance", 20), compute)
    assert ta.cached(("distance", 20), compute) is first and len(calls) == 1
    ta.clear()
    ta.cached(("distance", 20), compute)
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ta: ta.sma(0), r"ta\.sma: period must be a whole number >= 1, got 0"),
        (lambda ta: ta.sma(501), r"ta\.sma: period 501 is longer than the 500 bars"),
        (lambda ta: ta.rsi(14.5), r"ta\.rsi: period must be a whole number >= 1, got 14\.5"),
        (lambda ta: ta.atr(-1), r"ta\.atr: period must be"),
        (lambda ta: ta.donchian(1000), r"ta\.donchian: period 1000 is longer"),
        (lambda ta: ta.macd(12, 600), r"ta\.macd: period 600 is longer"),
        (lambda ta: ta.sma(10, "typical"), r"unknown price source 'typical'"),
    ],
)
def test_bad_arguments_raise_strategy_error(bars: BarSeries, call: object, message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        call(Indicators(bars))  # type: ignore[operator]


def test_thread_pool_sharing_one_cache_gets_consistent_values() -> None:
    bars = make_bars(20_000, seed=1)
    ta = Indicators(bars)
    windows = [5, 10, 20, 50, 100, 200] * 20

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(ta.sma, windows))
    for window, result in zip(windows, results, strict=True):
        assert result is ta.sma(window)
        np.testing.assert_array_equal(result, ind.sma(bars.close, window))
    assert ta.cache_info().size == 6
