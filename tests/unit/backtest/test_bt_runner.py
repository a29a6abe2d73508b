"""run_backtest end to end: signals -> simulator -> metrics -> trades table, and its errors."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stom_desktop.backtest import (
    BacktestConfig,
    run_backtest,
    simulate,
    simulate_arrays,
)
from stom_desktop.backtest.metrics import METRIC_INDEX
from stom_desktop.backtest.result import TRADE_COLUMNS
from stom_desktop.core.bars import BarSeries
from stom_desktop.core.enums import FillAt
from stom_desktop.core.errors import ConfigurationError, DataError, StrategyError
from stom_desktop.strategy.base import Signals, Strategy
from stom_desktop.strategy.indicators import Indicators
from stom_desktop.strategy.params import Param

DAY_MS = 86_400_000


def local_sma(x: np.ndarray, period: int) -> np.ndarray:
    """Tiny reference SMA (NaN warm-up), independent of the indicator library."""
    out = np.full(x.shape[0], np.nan)
    csum = np.cumsum(np.r_[0.0, x])
    out[period - 1 :] = (csum[period:] - csum[:-period]) / period
    return out


def local_cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a[i] > b[i] and a[i-1] <= b[i-1]; NaN compares False."""
    out = np.zeros(a.shape[0], dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        out[1:] = (a[1:] > b[1:]) & (a[:-1] <= b[:-1])
    return out


class LocalSmaCross(Strategy):
    name = "local_sma_cross"
    fast = Param(10, 2, 100)
    slow = Param(30, 3, 300)
    constraints = (("fast", "slow"),)

    def signals(self, bars: BarSeries, ta: Any) -> Signals:
        fast = local_sma(bars.close, self.p.fast)
        slow = local_sma(bars.close, self.p.slow)
        return Signals(
            entries=local_cross(fast, slow),
            exits=local_cross(slow, fast),
            short_entries=local_cross(slow, fast),
            short_exits=local_cross(fast, slow),
        )


class BothWays(LocalSmaCross):
    direction = "both"


class WithStops(LocalSmaCross):
    stop_loss = 0.02
    take_profit = 0.04


class Broken(Strategy):
    def signals(self, bars: BarSeries, ta: Any) -> Signals:
        values = bars.close.copy()
        return Signals(entries=values["boom"])  # line the error must point at


def random_bars(n: int = 1500, seed: int = 3) -> BarSeries:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, n)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(rng.normal(0, 0.003, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.01, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.01, n))
    ts = 1_500_000_000_000 + np.arange(n, dtype=np.int64) * DAY_MS
    return BarSeries.from_arrays("SIM", "1d", ts, open_, high, low, close, np.ones(n))


def test_result_matches_the_simulator_and_builds_the_trades_table_once() -> None:
    bars = random_bars()
    cfg = BacktestConfig(initial_capital=10_000.0, fee_pct=0.001)
    result = run_backtest(LocalSmaCross(), bars, cfg, indicators=Indicators(bars))
    sig = LocalSmaCross().signals(bars, None)
    z = np.zeros(len(bars), dtype=np.bool_)
    direct = simulate(bars.open, bars.high, bars.low, bars.close, sig.entries, sig.exits,
                      z, z, cfg.sim_options())  # fmt: skip
    trades = result.trades
    assert list(trades.columns) == list(TRADE_COLUMNS)
    assert len(trades) == direct.n_trades > 10
    np.testing.assert_array_equal(result.equity, direct.equity)
    assert result.equity_ts is bars.ts
    assert str(trades["entry_time"].dt.tz) == "UTC"
    first = trades.iloc[0]
    assert first["entry_time"] == pd.Timestamp(
        int(bars.ts[first["entry_idx"]]), unit="ms", tz="UTC"
    )
    assert (trades["bars_held"] == trades["exit_idx"] - trades["entry_idx"]).all()
    assert set(trades["direction"]) == {"long"}
    assert result.metrics.num_trades == int((~trades["is_open"]).sum())
    assert result.metrics.final_equity == result.equity[-1]
    assert result.strategy == "local_sma_cross"
    assert result.params == {"fast": 10, "slow": 30}


def test_direction_both_reverses_and_stops_come_from_the_strategy() -> None:
    bars = random_bars(seed=5)
    both = run_backtest(BothWays(), bars, BacktestConfig(initial_capital=1e4))
    assert set(both.trades["direction"]) == {"long", "short"}
    assert (both.trades["exit_reason"].iloc[:-1] == "reversal").all()
    stopped = run_backtest(WithStops(), bars, BacktestConfig(initial_capital=1e4))
    reasons = set(stopped.trades["exit_reason"])
    assert {"stop_loss", "take_profit"} <= reasons


def test_rerun_is_identical_and_json_is_strict() -> None:
    bars = random_bars(seed=9)
    cfg = BacktestConfig(initial_capital=5e4, fee_pct=0.0015, slippage_bps=2, fractional=False)
    a = run_backtest(LocalSmaCross(fast=5, slow=20), bars, cfg)
    b = run_backtest(LocalSmaCross(fast=5, slow=20), bars, cfg)
    pd.testing.assert_frame_equal(a.trades, b.trades)
    np.testing.assert_array_equal(a.equity, b.equity)
    assert a.metrics == b.metrics
    data = json.loads(json.dumps(a.to_json_dict(), allow_nan=False))
    assert data["metrics"]["num_trades"] == a.metrics.num_trades
    assert len(data["trades"]) == len(a.trades)
    assert data["trades"][0]["entry_time"].endswith("+00:00")
    assert data["config"]["fill_at"] == "next_open"
    assert data["params"] == {"fast": 5, "slow": 20}
    assert (a.trades["size"] == np.floor(a.trades["size"])).all()  # whole units


def test_simulate_arrays_gives_the_same_metrics_without_a_report() -> None:
    bars = random_bars(seed=11)
    cfg = BacktestConfig(initial_capital=1e4, fee_pct=0.001)
    result = run_backtest(LocalSmaCross(), bars, cfg)
    sig = LocalSmaCross().signals(bars, None)
    z = np.zeros(len(bars), dtype=np.bool_)
    values, final = simulate_arrays(bars.open, bars.high, bars.low, bars.close, bars.ts,
                                    sig.entries, sig.exits, z, z, cfg.sim_options())  # fmt: skip
    assert final == result.equity[-1]
    assert values[METRIC_INDEX["sharpe"]] == result.metrics.sharpe
    assert values[METRIC_INDEX["num_trades"]] == result.metrics.num_trades


def test_fill_at_close_config_changes_fills() -> None:
    bars = random_bars(seed=2)
    nxt = run_backtest(LocalSmaCross(), bars, BacktestConfig(initial_capital=1e4))
    cls = run_backtest(LocalSmaCross(), bars, BacktestConfig(initial_capital=1e4, fill_at="close"))
    assert cls.config.fill_at is FillAt.CLOSE
    np.testing.assert_array_equal(cls.trades["entry_idx"] + 1, nxt.trades["entry_idx"])
    np.testing.assert_array_equal(cls.trades["entry_price"], bars.close[cls.trades["entry_idx"]])


def test_progress_reports_stages_in_order() -> None:
    seen: list[tuple[str, float]] = []
    run_backtest(LocalSmaCross(), random_bars(300), progress=lambda s, f: seen.append((s, f)))
    assert [s for s, _ in seen] == ["signals", "simulate", "metrics", "report", "done"]
    assert [f for _, f in seen] == sorted(f for _, f in seen)


def test_crash_in_strategy_code_names_its_file_and_line() -> None:
    with pytest.raises(StrategyError) as info:
        run_backtest(Broken(), random_bars(100))
    err = info.value
    assert err.path is not None and err.path.endswith("test_bt_runner.py")
    assert err.line is not None
    import inspect

    src, start = inspect.getsourcelines(Broken.signals)
    offending = start + next(k for k, s in enumerate(src) if "boom" in s)
    assert err.line == offending
    assert "IndexError" in str(err) or "boom" in str(err)


def test_empty_bars_are_refused() -> None:
    empty = BarSeries.from_arrays("X", "1d", [], [], [], [], [], [])
    with pytest.raises(DataError, match="no bars"):
        run_backtest(LocalSmaCross(), empty)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("initial_capital", 0.0),
        ("fee_pct", 0.2),
        ("fee_pct", -0.001),
        ("fee_fixed", -1.0),
        ("slippage_bps", 5000.0),
        ("size_fraction", 0.0),
        ("size_fraction", 1.5),
        ("min_size", -1.0),
        ("min_notional", float("nan")),
        ("lot_size", 0.0),
        ("periods_per_year", -5.0),
        ("fill_at", "tomorrow"),
        ("fractional", "yes"),
        ("fee_pct", "0.1%"),
    ],
)
def test_config_validation_names_the_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        BacktestConfig(**{field: value})
    assert info.value.key == field
    assert field in str(info.value)


def test_config_maps_to_simulator_options() -> None:
    cfg = BacktestConfig(fractional=False, fee_pct=0.001, fill_at=FillAt.CLOSE)
    opts = cfg.sim_options(WithStops().exit_rules(), "both")
    assert opts.size_step == 1.0 and opts.fill_at_close
    assert (opts.stop_loss, opts.take_profit) == (0.02, 0.04)
    assert np.isnan(opts.trailing_stop)
    assert opts.allow_long and opts.allow_short
    assert BacktestConfig(lot_size=1e-8).size_step == 1e-8
    assert BacktestConfig().sim_options().size_step == 0.0
