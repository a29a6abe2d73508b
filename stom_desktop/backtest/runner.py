"""Run a strategy over bars: vectorised signals -> compiled simulator -> metrics -> result.

There is no Python loop per bar: the strategy computes whole signal arrays once, the fill
simulator and the metrics are compiled, and the trades table is built once at the end.
:func:`simulate_arrays` and :func:`simulate_metrics_into` are the lower-level entry points
for optimisers (no DataFrame; the latter is compiled, GIL-free and allocation-free so a
``prange`` or thread pool can call it per parameter set with per-worker buffers).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from numba import njit

from stom_desktop.backtest.config import BacktestConfig
from stom_desktop.backtest.metrics import N_METRICS, Metrics, metrics_into
from stom_desktop.backtest.result import BacktestResult, trades_frame
from stom_desktop.backtest.simulator import (
    N_TRADE_COLS,
    SimOptions,
    simulate_into,
    trade_capacity,
)
from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import DataError
from stom_desktop.strategy.base import Strategy
from stom_desktop.strategy.indicators import Indicators
from stom_desktop.strategy.safe_call import SignalArrays, run_signals, safe_call, strategy_file

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: ``progress(stage, fraction_done)``; stages: signals, simulate, metrics, report, done.
ProgressCallback = Callable[[str, float], None]


def run_backtest(
    strategy: Strategy,
    bars: BarSeries,
    config: BacktestConfig | None = None,
    *,
    indicators: Indicators | None = None,
    progress: ProgressCallback | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` on ``bars`` and return the full, immutable result.

    ``indicators`` lets a caller share one memoised ``Indicators(bars)`` across runs (an
    optimiser does); by default a fresh one is made. Errors in the strategy's code become
    :class:`StrategyError` naming its source location; empty bars raise ``DataError``.
    """
    cfg = config if config is not None else BacktestConfig()
    started = time.perf_counter()
    n = len(bars)
    if n == 0:
        raise DataError("no bars to backtest", source=f"{bars.symbol} {bars.timeframe}")
    _report(progress, "signals", 0.0)
    ta = indicators if indicators is not None else Indicators(bars)
    entries, exits, short_entries, short_exits = compute_signals(strategy, bars, ta)
    del ta  # a private Indicators memo is garbage now: free it before the equity curve
    rules = safe_call(
        strategy.exit_rules,
        where=f"{strategy.strategy_name()}.exit_rules",
        user_file=strategy_file(type(strategy)),
    )
    options = cfg.sim_options(rules, strategy.direction)

    _report(progress, "simulate", 0.25)
    equity = np.empty(n, dtype=np.float64)
    trades_buf = np.empty((trade_capacity(entries, short_entries, options), N_TRADE_COLS))
    count = simulate_into(
        bars.open, bars.high, bars.low, bars.close,
        entries, exits, short_entries, short_exits,
        *options, equity, trades_buf,
    )  # fmt: skip
    trades = trades_buf[:count]

    _report(progress, "metrics", 0.6)
    values = np.empty(N_METRICS, dtype=np.float64)
    metrics_into(
        values, equity, bars.ts, trades, count, options.initial_cash, cfg.periods_per_year or 0.0
    )

    _report(progress, "report", 0.8)
    result = BacktestResult(
        strategy=strategy.strategy_name(),
        params=strategy.p.as_dict(),
        symbol=bars.symbol,
        timeframe=bars.timeframe,
        config=cfg,
        metrics=Metrics.from_array(values),
        trades=trades_frame(trades, bars.ts),
        equity_ts=bars.ts,
        equity=equity,
        elapsed_s=time.perf_counter() - started,
    )
    _report(progress, "done", 1.0)
    return result


def compute_signals(strategy: Strategy, bars: BarSeries, ta: Indicators) -> SignalArrays:
    """The strategy's four validated bool arrays; crashes in its code become StrategyError.

    Sides the strategy does not trade come back all-False (``safe_call.run_signals``).
    """
    return run_signals(strategy, bars, ta)


def simulate_arrays(
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    ts: IntArray,
    entries: BoolArray,
    exits: BoolArray,
    short_entries: BoolArray,
    short_exits: BoolArray,
    options: SimOptions,
    periods_per_year: float = 0.0,
) -> tuple[FloatArray, float]:
    """Signals in, ``(metrics array in METRIC_NAMES order, final equity)`` out.

    For optimisers that need a score per parameter set, not a report: no DataFrame, no
    Python objects per trade.
    """
    n = close.shape[0]
    if n == 0:
        raise DataError("no bars to backtest")
    equity = np.empty(n, dtype=np.float64)
    trades = np.empty((trade_capacity(entries, short_entries, options), N_TRADE_COLS))
    out = np.empty(N_METRICS, dtype=np.float64)
    simulate_metrics_into(
        open_, high, low, close, ts, entries, exits, short_entries, short_exits,
        *options, periods_per_year, equity, trades, out,
    )  # fmt: skip
    return out, float(equity[n - 1])


@njit(cache=True, nogil=True)
def simulate_metrics_into(
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    ts: IntArray,
    entries: BoolArray,
    exits: BoolArray,
    short_entries: BoolArray,
    short_exits: BoolArray,
    fill_at_close: bool,
    fee_pct: float,
    fee_fixed: float,
    slippage_bps: float,
    size_step: float,
    size_fraction: float,
    min_size: float,
    min_notional: float,
    stop_loss: float,
    take_profit: float,
    trailing_stop: float,
    allow_long: bool,
    allow_short: bool,
    initial_cash: float,
    periods_per_year: float,
    equity_buf: FloatArray,
    trades_buf: FloatArray,
    out: FloatArray,
) -> int:
    """Simulator + metrics in compiled code, writing only into the given buffers.

    Meant for a ``prange`` over parameter sets: give each worker its own ``equity_buf``
    (one float per bar) and ``trades_buf`` (``(capacity, N_TRADE_COLS)``), and one metrics
    row ``out`` per parameter set. Returns the trade count.
    """
    count = simulate_into(
        open_, high, low, close, entries, exits, short_entries, short_exits,
        fill_at_close, fee_pct, fee_fixed, slippage_bps, size_step, size_fraction,
        min_size, min_notional, stop_loss, take_profit, trailing_stop,
        allow_long, allow_short, initial_cash, equity_buf, trades_buf,
    )  # fmt: skip
    metrics_into(out, equity_buf, ts, trades_buf, count, initial_cash, periods_per_year)
    return count


def _report(progress: ProgressCallback | None, stage: str, fraction: float) -> None:
    if progress is not None:
        progress(stage, fraction)
