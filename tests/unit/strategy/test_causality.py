"""``check_causal`` catches look-ahead and passes causal strategies."""

from __future__ import annotations

import re

import numpy as np
import pytest
from strategy_factories import make_bars

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy import (
    Indicators,
    Param,
    Signals,
    Strategy,
    check_causal,
    crossed_above,
)
from stom_desktop.strategy.causality import sample_prefixes


class PeeksTomorrow(Strategy):
    """Buys when tomorrow's close is higher: the classic np.roll look-ahead bug."""

    name = "peeks_tomorrow"

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        tomorrow = np.roll(bars.close, -1)
        return Signals(entries=tomorrow > bars.close, exits=tomorrow < bars.close)


class NormalisesByTheFuture(Strategy):
    """Subtler: a threshold from the whole history's maximum."""

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        return Signals(entries=bars.close > 0.9 * bars.close.max())


class Causal(Strategy):
    """Crossover of two SMAs: causal."""

    fast = Param(5, 1, 50)
    slow = Param(20, 2, 100)

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        return Signals(entries=crossed_above(ta.sma(self.p.fast), ta.sma(self.p.slow)))


def test_np_roll_look_ahead_is_caught(bars: BarSeries) -> None:
    with pytest.raises(StrategyError) as info:
        check_causal(PeeksTomorrow(), bars)
    message = str(info.value)
    assert "strategy peeks_tomorrow looks ahead" in message
    assert "test_causality.py:" in message  # where the class is defined
    # The bar reported is the last bar of a sampled prefix (where np.roll wraps around).
    match = re.search(r"entries\[(\d+)\].* only the first (\d+) bars", message)
    assert match is not None
    index, length = int(match.group(1)), int(match.group(2))
    assert index == length - 1 and length in sample_prefixes(len(bars), 1, 8)


def test_whole_history_statistics_are_caught() -> None:
    # A rising market: the full history's max is far above early prices, a prefix's is not.
    bars = make_bars(400, seed=1)
    rising = BarSeries.from_arrays(
        "UP",
        "1m",
        bars.ts,
        bars.open * np.linspace(1, 3, 400),
        bars.high * np.linspace(1, 3, 400),
        bars.low * np.linspace(1, 3, 400),
        bars.close * np.linspace(1, 3, 400),
        bars.volume,
    )
    with pytest.raises(StrategyError, match="looks ahead: entries"):
        check_causal(NormalisesByTheFuture(), rising)


def test_causal_strategy_passes(bars: BarSeries) -> None:
    report = check_causal(Causal(), bars, samples=5)
    assert report.bars == len(bars) and len(report.prefixes) == 5
    assert report.prefixes[0] == 40 and report.prefixes[-1] == len(bars) - 1


def test_failure_on_a_short_prefix_is_explained(bars: BarSeries) -> None:
    class NeedsAll(Strategy):
        def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
            return Signals(entries=ta.sma(400) > 0)

    with pytest.raises(StrategyError, match=r"signals failed on the first 2 of 500 bars"):
        check_causal(NeedsAll(), bars)


def test_sample_prefixes() -> None:
    assert sample_prefixes(2, 1, 8) == []
    assert sample_prefixes(1000, 30, 4) == [60, 373, 686, 999]
    assert sample_prefixes(50, 100, 4) == [49]
