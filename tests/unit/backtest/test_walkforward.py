"""Tests for walk-forward analysis: window specs, rolling windows, OOS runs and stitching."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime

import numpy as np
import pytest

from stom_desktop.backtest.config import BacktestConfig
from stom_desktop.backtest.param_grid import build_grid
from stom_desktop.backtest.runner import run_backtest
from stom_desktop.backtest.walkforward import (
    WindowLength,
    make_windows,
    parse_window_spec,
    walk_forward,
)
from stom_desktop.core.bars import BarSeries, to_ms
from stom_desktop.core.errors import ConfigurationError, DataError, StomError
from stom_desktop.strategy.base import Signals, Strategy
from stom_desktop.strategy.indicator_cache import Indicators
from stom_desktop.strategy.indicators import crossed_above, crossed_below
from stom_desktop.strategy.params import Param

HOUR = 3_600_000


def gbm_bars(n: int, seed: int = 11, step_ms: int = HOUR) -> BarSeries:
    """Deterministic random-walk OHLC bars starting 2024-01-31 00:00 UTC."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.004, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = np.abs(rng.normal(0.0, 0.002, n))
    high = np.maximum(open_, close) * (1.0 + spread)
    low = np.minimum(open_, close) * (1.0 - spread)
    start = to_ms(datetime(2024, 1, 31, tzinfo=UTC))
    ts = start + np.arange(n, dtype=np.int64) * step_ms
    return BarSeries.from_arrays("SIM", "1h", ts, open_, high, low, close, np.ones(n))


class SmaCross(Strategy):
    fast = Param(10, 2, 200, 1)
    slow = Param(30, 5, 500, 5)
    constraints = (("fast", "slow"),)

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        fast, slow = ta.sma(self.p.fast), ta.sma(self.p.slow)
        return Signals(entries=crossed_above(fast, slow), exits=crossed_below(fast, slow))


def windowed(lo: int, hi: int, flat_at_end: bool) -> type[SmaCross]:
    """SmaCross that ignores every signal before bar ``lo`` (and, optionally, exits on the
    last decision bar before ``hi``): with ``run_backtest`` on bars ``[0, hi)`` this is an
    independent reference for a window simulated alone with warmed-up indicators."""

    class Windowed(SmaCross):
        def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
            base = super().signals(bars, ta)
            entries = np.array(base.entries)
            exits = np.array(base.exits)
            entries[:lo] = False
            exits[:lo] = False
            if flat_at_end:
                exits[hi - 2] = True
            return Signals(entries=entries, exits=exits)

    return Windowed


BARS = gbm_bars(6000)  # ~8.2 months of hourly bars
GRID = build_grid(SmaCross, ["fast=4:16:4", "slow=20:60:20"])


# -- specs --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("6m/1m", (WindowLength(6, "m"), WindowLength(1, "m"))),
        ("90d/30d", (WindowLength(90, "d"), WindowLength(30, "d"))),
        ("8w/2W", (WindowLength(8, "w"), WindowLength(2, "w"))),
        ("2y/3m", (WindowLength(2, "y"), WindowLength(3, "m"))),
        ("5000b/1000b", (WindowLength(5000, "b"), WindowLength(1000, "b"))),
    ],
)
def test_parse_window_spec(spec: str, expected: tuple[WindowLength, WindowLength]) -> None:
    assert parse_window_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("6m", "must be IN/OUT"),
        ("6m/1m/1m", "must be IN/OUT"),
        ("6x/1m", "'6x' is not a positive count"),
        ("0m/1m", "'0m' is not a positive count"),
        ("m/1m", "'m' is not a positive count"),
        ("5000b/1m", "mixes a bar count"),
    ],
)
def test_bad_window_specs(spec: str, fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        parse_window_spec(spec)


def test_calendar_months_clamp_the_day() -> None:
    jan31 = to_ms(datetime(2024, 1, 31, 9, 30, tzinfo=UTC))
    assert WindowLength(1, "m").add_to(jan31) == to_ms(datetime(2024, 2, 29, 9, 30, tzinfo=UTC))
    assert WindowLength(1, "m").add_to(jan31, 3) == to_ms(datetime(2024, 4, 30, 9, 30, tzinfo=UTC))
    assert WindowLength(1, "y").add_to(jan31) == to_ms(datetime(2025, 1, 31, 9, 30, tzinfo=UTC))
    assert WindowLength(2, "w").add_to(jan31) == to_ms(datetime(2024, 2, 14, 9, 30, tzinfo=UTC))
    assert WindowLength(6, "m").subtract_from(jan31) == to_ms(
        datetime(2023, 7, 31, 9, 30, tzinfo=UTC)
    )


# -- windows --------------------------------------------------------------------------------
def test_bar_count_windows() -> None:
    windows = make_windows(gbm_bars(3500), WindowLength(1000, "b"), WindowLength(1000, "b"))
    assert [(w.is_lo, w.is_hi, w.oos_lo, w.oos_hi) for w in windows] == [
        (0, 1000, 1000, 2000),
        (1000, 2000, 2000, 3000),
        (2000, 3000, 3000, 3500),  # the last OOS window ends with the data
    ]


def test_calendar_windows_are_contiguous_and_do_not_overlap() -> None:
    windows = make_windows(BARS, WindowLength(3, "m"), WindowLength(1, "m"))
    ts = BARS.ts
    assert len(windows) == 6  # Apr 30 .. Oct 5: five full months and a partial one
    for w in windows:
        assert 0 <= w.is_lo < w.is_hi == w.oos_lo < w.oos_hi <= len(BARS)
    for prev, nxt in itertools.pairwise(windows):
        assert nxt.oos_lo == prev.oos_hi  # contiguous, non-overlapping OOS
    assert windows[-1].oos_hi == len(BARS)
    starts = [datetime.fromtimestamp(ts[w.oos_lo] / 1000, tz=UTC) for w in windows]
    # 2024-01-31 + 3 months = 2024-04-30 (clamped), then one calendar month each
    assert [(d.month, d.day) for d in starts] == [
        (4, 30),
        (5, 30),
        (6, 30),
        (7, 30),
        (8, 30),
        (9, 30),
    ]
    first_is = datetime.fromtimestamp(ts[windows[1].is_lo] / 1000, tz=UTC)
    assert (first_is.month, first_is.day) == (2, 29)  # May 30 - 3 months, clamped


def test_too_short_data_is_a_clear_error() -> None:
    short = gbm_bars(24 * 40)  # 40 days
    with pytest.raises(DataError, match=r"too little data.*6m in-sample \+ 1m out-of-sample"):
        make_windows(short, WindowLength(6, "m"), WindowLength(1, "m"))
    with pytest.raises(DataError, match="too little data"):
        make_windows(gbm_bars(5000), WindowLength(5000, "b"), WindowLength(1000, "b"))
    with pytest.raises(DataError, match="SIM 1h"):
        walk_forward(SmaCross, short, BacktestConfig(), GRID, in_sample="6m", out_of_sample="1m")


# -- walk-forward runs ---------------------------------------------------------------------------
def test_walk_forward_against_brute_force_reference() -> None:
    config = BacktestConfig(initial_capital=10_000.0, fee_pct=0.001)
    result = walk_forward(
        SmaCross, BARS, config, GRID, in_sample="3m", out_of_sample="1m",
        metric="total_return", workers=2,
    )  # fmt: skip
    windows = make_windows(BARS, WindowLength(3, "m"), WindowLength(1, "m"))
    assert len(result.windows) == len(windows)
    cash = 10_000.0
    for w, row in zip(windows, result.windows.itertuples(index=False), strict=True):
        # in-sample: every set alone on the window (warmed up) -> the best total return
        returns = {}
        for combo in GRID:
            ref = run_backtest(
                windowed(w.is_lo, w.is_hi, False)(**combo), BARS.slice(0, w.is_hi), config
            )
            returns[(combo["fast"], combo["slow"])] = ref.metrics.total_return
        best = max(returns, key=lambda k: returns[k])
        assert (row.fast, row.slow) == best
        assert row.is_total_return == pytest.approx(returns[best], rel=1e-12, abs=1e-15)
        # out-of-sample: the chosen set alone on the OOS window, flat at both ends
        ref = run_backtest(
            windowed(w.oos_lo, w.oos_hi, True)(fast=row.fast, slow=row.slow),
            BARS.slice(0, w.oos_hi),
            BacktestConfig(initial_capital=cash, fee_pct=0.001),
        )
        assert row.oos_final_equity == pytest.approx(ref.metrics.final_equity, rel=1e-12)
        assert row.oos_trades == ref.metrics.num_trades
        assert not ref.trades["is_open"].any()
        cash = row.oos_final_equity
    assert result.metrics.final_equity == pytest.approx(cash, rel=1e-12)
    assert result.metrics.total_return == pytest.approx(cash / 10_000.0 - 1.0, rel=1e-12)


def test_stitched_equity_is_continuous_and_trades_stay_in_their_window() -> None:
    result = walk_forward(
        SmaCross, BARS, BacktestConfig(initial_capital=1000.0, fee_pct=0.0005), GRID,
        in_sample="3m", out_of_sample="1m", workers=1,
    )  # fmt: skip
    windows = make_windows(BARS, WindowLength(3, "m"), WindowLength(1, "m"))
    eq = result.equity
    assert eq.shape == result.equity_ts.shape
    assert result.equity_ts[0] == BARS.ts[windows[0].oos_lo]
    assert np.all(np.diff(result.equity_ts) > 0)
    # with next-open fills nothing trades on a window's first bar: the curve carries over
    assert eq[0] == 1000.0
    for k, start in enumerate(result.segment_starts[1:], start=1):
        assert eq[start] == eq[start - 1]
        assert result.windows["oos_final_equity"].iloc[k - 1] == eq[start - 1]
    assert result.metrics.final_equity == eq[-1]
    trades = result.trades
    assert len(trades) == int(result.windows["oos_trades"].sum()) > 0
    assert not trades["is_open"].any()
    for w in windows:
        inside = (trades["entry_idx"] >= w.oos_lo) & (trades["entry_idx"] < w.oos_hi)
        assert (trades.loc[inside, "exit_idx"] < w.oos_hi).all()
        # a window's first bar cannot hold a fill (the signal before the window is dropped)
        assert not (trades["entry_idx"] == w.oos_lo).any()


def test_progress_and_cancel() -> None:
    seen: list[float] = []
    result = walk_forward(
        SmaCross, BARS, BacktestConfig(), GRID, in_sample="3m", out_of_sample="1m",
        workers=2, progress=lambda f, _text: seen.append(f),
    )  # fmt: skip
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    assert not result.cancelled

    stop = threading.Event()

    def after_first_window(fraction: float, text: str) -> None:
        if text.startswith("window"):
            stop.set()

    partial = walk_forward(
        SmaCross, BARS, BacktestConfig(), GRID, in_sample="3m", out_of_sample="1m",
        workers=2, progress=after_first_window, cancel=stop,
    )  # fmt: skip
    assert partial.cancelled and len(partial.windows) == 1
    assert partial.equity.shape[0] == partial.windows["oos_bars"].iloc[0]

    with pytest.raises(StomError, match="cancelled"):
        walk_forward(
            SmaCross, BARS, BacktestConfig(), GRID, in_sample="3m", out_of_sample="1m",
            cancel=lambda: True,
        )  # fmt: skip
