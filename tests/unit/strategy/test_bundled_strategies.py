"""The bundled strategies load, are causal, and trade as their rules say."""

from __future__ import annotations

import numpy as np
import pytest
from strategy_factories import make_bars

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy import (
    ExitRules,
    Indicators,
    bundled_dir,
    check_causal,
    load_strategy,
    run_signals,
)
from stom_desktop.strategy import indicators as ind

BUNDLED = sorted(p.stem for p in bundled_dir().glob("*.py") if not p.name.startswith("_"))


def test_the_three_examples_are_bundled() -> None:
    assert {"sma_cross", "rsi_reversion", "donchian_breakout"} <= set(BUNDLED)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_strategy_is_causal_and_trades(name: str) -> None:
    bars = make_bars(3000, seed=2)
    strategy = load_strategy(name)()
    check_causal(strategy, bars, samples=6)
    entries, exits, *_ = run_signals(strategy, bars, Indicators(bars))
    assert entries.sum() >= 3 and exits.sum() >= 3, name
    # No decisions while the indicators are still warming up.
    assert not entries[: strategy.warmup - 1].any()


def test_sma_cross_signals_and_params(bars: BarSeries) -> None:
    cls = load_strategy("sma_cross")
    strategy = cls(fast="5", slow="20", stop_loss="0.02")
    entries, exits, short_entries, _ = run_signals(strategy, bars, Indicators(bars))
    fast, slow = ind.sma(bars.close, 5), ind.sma(bars.close, 20)
    np.testing.assert_array_equal(entries, ind.crossed_above(fast, slow))
    np.testing.assert_array_equal(exits, ind.crossed_below(fast, slow))
    assert not short_entries.any() and cls.direction == "long"
    assert strategy.exit_rules() == ExitRules(stop_loss=0.02)
    assert cls().exit_rules() == ExitRules()  # stops are off by default
    with pytest.raises(StrategyError, match="constraint fast < slow"):
        cls(fast=30, slow=20)


def test_rsi_reversion_signals(bars: BarSeries) -> None:
    strategy = load_strategy("rsi_reversion")(period=7, oversold=35, exit_level=60)
    entries, exits, *_ = run_signals(strategy, bars, Indicators(bars))
    rsi = ind.rsi(bars.close, 7)
    np.testing.assert_array_equal(entries, ind.crossed_below(rsi, 35.0))
    np.testing.assert_array_equal(exits, rsi > 60.0)
    assert strategy.exit_rules().stop_loss == 0.05
    assert strategy.warmup == 8


def test_donchian_breakout_signals(bars: BarSeries) -> None:
    cls = load_strategy("donchian_breakout")
    strategy = cls(entry_period=20, exit_period=10, atr_mult=0, trailing_stop=0.1)
    entries, exits, *_ = run_signals(strategy, bars, Indicators(bars))
    upper, _, _ = ind.donchian(bars.high, bars.low, 20)
    _, exit_low, _ = ind.donchian(bars.high, bars.low, 10)
    np.testing.assert_array_equal(entries, bars.close > upper)
    np.testing.assert_array_equal(exits, bars.close < exit_low)
    assert strategy.exit_rules() == ExitRules(trailing_stop=0.1)

    # The chandelier exit only adds exits.
    chandelier = cls(entry_period=20, exit_period=10, atr_mult=1.0)
    _, more_exits, *_ = run_signals(chandelier, bars, Indicators(bars))
    assert (more_exits >= exits).all() and more_exits.sum() > exits.sum()


def test_donchian_short_side_when_direction_allows(bars: BarSeries) -> None:
    cls = load_strategy("donchian_breakout")
    both = type("DonchianBoth", (cls,), {"direction": "both"})
    _, _, short_entries, short_exits = run_signals(both(), bars, Indicators(bars))
    _, lower, _ = ind.donchian(bars.high, bars.low, 20)
    np.testing.assert_array_equal(short_entries, bars.close < lower)
    assert short_entries.any() and short_exits.any()
