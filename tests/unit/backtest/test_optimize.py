"""Tests for grid optimisation: parity with separate backtests, ranking, errors, cancel."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from stom_desktop.backtest.config import BacktestConfig
from stom_desktop.backtest.metrics import METRIC_NAMES
from stom_desktop.backtest.optimize import evaluate_grid, optimize_grid, rank_order
from stom_desktop.backtest.param_grid import build_grid
from stom_desktop.backtest.runner import run_backtest
from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import ConfigurationError, StrategyError
from stom_desktop.strategy.base import Signals, Strategy
from stom_desktop.strategy.indicator_cache import Indicators
from stom_desktop.strategy.indicators import crossed_above, crossed_below
from stom_desktop.strategy.params import Param


def gbm_bars(n: int, seed: int = 7, step_ms: int = 60_000) -> BarSeries:
    """Deterministic random-walk OHLC bars (a local helper so the test stands alone)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = np.abs(rng.normal(0.0, 0.001, n))
    high = np.maximum(open_, close) * (1.0 + spread)
    low = np.minimum(open_, close) * (1.0 - spread)
    ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * step_ms
    return BarSeries.from_arrays("SIM", "1m", ts, open_, high, low, close, np.ones(n))


class SmaCross(Strategy):
    fast = Param(10, 2, 200, 1)
    slow = Param(30, 5, 500, 5)
    constraints = (("fast", "slow"),)

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        fast, slow = ta.sma(self.p.fast), ta.sma(self.p.slow)
        return Signals(entries=crossed_above(fast, slow), exits=crossed_below(fast, slow))


class Fragile(SmaCross):
    """Crashes for some parameter sets, like user code with a bug in one branch."""

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        if self.p.fast == 6:
            raise ValueError("boom at fast=6")
        return super().signals(bars, ta)


class AlwaysBroken(SmaCross):
    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        raise RuntimeError("nothing works")


BARS = gbm_bars(3000)
GRID = build_grid(SmaCross, ["fast=3:15:3", "slow=10:40:10"])


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("fee", [0.0, 0.001])
def test_matches_separate_backtests(workers: int, fee: float) -> None:
    config = BacktestConfig(initial_capital=10_000.0, fee_pct=fee)
    result = optimize_grid(SmaCross, BARS, config, GRID, metric="sharpe", workers=workers)
    assert result.n_evaluated == len(GRID) == len(result.table)
    assert not result.cancelled and result.n_failed == 0
    # brute-force reference: one full run_backtest per combination
    reference = {}
    for combo in GRID:
        metrics = run_backtest(SmaCross(**combo), BARS, config).metrics.as_dict()
        reference[(combo["fast"], combo["slow"])] = metrics
    for row in result.table.itertuples(index=False):
        expected = reference[(row.fast, row.slow)]
        for name in METRIC_NAMES:
            got, want = getattr(row, name), expected[name]
            assert got == pytest.approx(want, rel=1e-12, nan_ok=True), (row.fast, row.slow, name)
    best_key = max(reference, key=lambda k: reference[k]["sharpe"])
    assert (result.best_params["fast"], result.best_params["slow"]) == best_key  # type: ignore[index]
    assert result.best_metrics is not None
    assert result.best_metrics["sharpe"] == pytest.approx(reference[best_key]["sharpe"])
    # the table is sorted best first
    sharpe = result.table["sharpe"].to_numpy(dtype=float)
    assert np.all(np.diff(sharpe[~np.isnan(sharpe)]) <= 0)
    assert result.table["num_trades"].sum() > 0  # the data actually produces trades


def test_threads_and_single_worker_give_identical_tables() -> None:
    config = BacktestConfig(initial_capital=10_000.0, fee_pct=0.0005)
    one = optimize_grid(SmaCross, BARS, config, GRID, workers=1)
    two = optimize_grid(SmaCross, BARS, config, GRID, workers=2)
    assert one.table.equals(two.table)


def test_minimise_a_metric() -> None:
    config = BacktestConfig()
    result = optimize_grid(SmaCross, BARS, config, GRID, metric="max_drawdown", maximize=None)
    assert result.maximize is False
    dd = result.table["max_drawdown"].to_numpy(dtype=float)
    assert dd[0] == np.nanmin(dd)


def test_indicators_are_shared_across_the_grid() -> None:
    bars = gbm_bars(1000)
    grid = build_grid(SmaCross, ["fast=5:50:5", "slow=20:200:20"])
    ta = Indicators(bars)
    evaluation = evaluate_grid(
        SmaCross, bars, BacktestConfig(), grid.combinations, ta=ta, workers=2
    )
    assert len(grid) == 90 and evaluation.done.all()
    # 10 fast + 10 slow windows, 20 shared by both axes... the distinct set is 18 windows
    distinct = {c["fast"] for c in grid} | {c["slow"] for c in grid}
    assert len(distinct) == 18
    assert ta.cache_info().size == 18


def test_progress_reaches_one_and_is_monotonic() -> None:
    seen: list[tuple[float, str]] = []
    optimize_grid(
        SmaCross, BARS, BacktestConfig(), GRID, workers=2,
        progress=lambda f, text: seen.append((f, text)),
    )  # fmt: skip
    fractions = [f for f, _ in seen]
    assert len(seen) == len(GRID)
    assert fractions == sorted(fractions)
    assert fractions[-1] == pytest.approx(1.0)
    assert "fast=" in seen[0][1] and f"/{len(GRID)}" in seen[0][1]


@pytest.mark.parametrize("workers", [1, 2])
def test_cancel_event_stops_early(workers: int) -> None:
    stop = threading.Event()
    grid = build_grid(SmaCross, ["fast=2:40:1", "slow=50:200:50"])  # 156 sets

    def progress(fraction: float, text: str) -> None:
        stop.set()  # ask to stop after the first finished set

    result = optimize_grid(
        SmaCross, BARS, BacktestConfig(), grid, workers=workers, progress=progress, cancel=stop
    )
    assert result.cancelled
    assert 1 <= result.n_evaluated <= 1 + workers * 2 < len(grid)
    assert len(result.table) == result.n_evaluated
    assert result.best_params is not None


def test_cancel_before_start_returns_empty_result() -> None:
    result = optimize_grid(SmaCross, BARS, BacktestConfig(), GRID, workers=2, cancel=lambda: True)
    assert result.cancelled and result.n_evaluated == 0
    assert result.best_params is None and result.table.empty


def test_one_failing_set_is_recorded_not_fatal() -> None:
    grid = build_grid(Fragile, ["fast=3:9:3", "slow=20"])
    result = optimize_grid(Fragile, BARS, BacktestConfig(), grid, workers=2)
    assert result.n_failed == 1 and result.n_evaluated == 3
    failed = result.table[result.table["error"].notna()]
    assert list(failed["fast"]) == [6]
    assert "boom at fast=6" in failed["error"].iloc[0]
    assert np.isnan(failed["sharpe"].iloc[0])
    assert result.table["error"].iloc[-1] is not None  # failed rows sort last
    assert result.best_params is not None and result.best_params["fast"] != 6


def test_all_failing_raises() -> None:
    grid = build_grid(AlwaysBroken, ["fast=3:9:3"])
    with pytest.raises(StrategyError, match=r"all 3 parameter set\(s\).*nothing works"):
        optimize_grid(AlwaysBroken, BARS, BacktestConfig(), grid, workers=2)


def test_unknown_metric_and_bad_workers() -> None:
    with pytest.raises(ConfigurationError, match="unknown metric 'sharp'"):
        optimize_grid(SmaCross, BARS, BacktestConfig(), GRID, metric="sharp")
    with pytest.raises(ConfigurationError, match="workers"):
        optimize_grid(SmaCross, BARS, BacktestConfig(), GRID, workers=0)


def test_rank_order_nan_last_and_stable_ties() -> None:
    values = np.array([1.0, np.nan, 3.0, 3.0, -1.0])
    assert list(rank_order(values, True)) == [2, 3, 0, 4, 1]
    assert list(rank_order(values, False)) == [4, 0, 2, 3, 1]


def test_top_shows_params_and_key_metrics() -> None:
    result = optimize_grid(SmaCross, BARS, BacktestConfig(), GRID, workers=1)
    top = result.top(3)
    assert len(top) == 3
    assert list(top.columns[:2]) == ["fast", "slow"]
    assert "sharpe" in top.columns and "num_trades" in top.columns


def test_records_are_json_ready() -> None:
    import json

    grid = build_grid(Fragile, ["fast=3:9:3", "slow=20"])
    result = optimize_grid(Fragile, BARS, BacktestConfig(), grid, workers=1)
    records = result.records()
    assert len(records) == 3
    text = json.dumps(records, allow_nan=False)  # no NaN, numpy or NA values left
    assert "boom at fast=6" in text
    assert records[0]["fast"] == result.best_params["fast"]  # type: ignore[index]
    assert records[-1]["sharpe"] is None and records[-1]["num_trades"] is None


def test_bundled_sma_cross_with_stop_loss_grid_matches_run_backtest() -> None:
    from stom_desktop.strategy.loader import load_strategy

    bundled = load_strategy("sma_cross")
    grid = build_grid(bundled, ["fast=4:12:4", "slow=20:40:20", "stop_loss=0,0.005"])
    assert len(grid) == 12 and grid.varying == ("fast", "slow", "stop_loss")
    config = BacktestConfig(initial_capital=5_000.0, fee_pct=0.0005)
    result = optimize_grid(bundled, BARS, config, grid, metric="total_return", workers=2)
    for row in result.table.itertuples(index=False):
        ref = run_backtest(
            bundled(fast=row.fast, slow=row.slow, stop_loss=row.stop_loss), BARS, config
        ).metrics
        assert row.final_equity == pytest.approx(ref.final_equity, rel=1e-12)
        assert row.num_trades == ref.num_trades
    with_stop = result.table[result.table["stop_loss"] == 0.005]
    without = result.table[result.table["stop_loss"] == 0.0]
    # the stop changes the outcome, i.e. exit rules really reach the simulator
    assert not np.allclose(
        with_stop.sort_values(["fast", "slow"])["final_equity"].to_numpy(dtype=float),
        without.sort_values(["fast", "slow"])["final_equity"].to_numpy(dtype=float),
    )


def test_an_internal_bug_propagates_instead_of_becoming_a_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import stom_desktop.backtest.optimize as optimize_module

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulator bug")

    monkeypatch.setattr(optimize_module, "simulate_range", broken)
    with pytest.raises(RuntimeError, match="simulator bug"):
        optimize_grid(SmaCross, BARS, BacktestConfig(), GRID, workers=2)
