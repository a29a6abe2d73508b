"""Grid optimisation: evaluate every parameter set of a grid on all cores, rank by a metric.

How it is fast:

- One :class:`~stom_desktop.strategy.indicator_cache.Indicators` per bar series is shared by
  every parameter set, so indicators are memoised across the grid (the 90-pair SMA grid
  computes 18 SMAs, not 180).
- Each parameter set is one task on a ``ThreadPoolExecutor``: the strategy's vectorised
  signals (numpy releases the GIL on large arrays), then the compiled simulator and the
  compiled metrics pass, both ``nogil``. No trades DataFrame or result object is built
  per set: only the metrics array.
- Why threads and not a numba ``prange``: signals come from user Python code, so a
  ``prange`` over parameter sets first needs every set's signals materialised (4 bool
  arrays per set: 360 MB for 90 sets on 1M bars) and still runs the Python part
  serially. Measured on 2 cores (90-pair grid, 1M bars), that variant
  (``runner.simulate_metrics_into`` in a ``prange``) took the same wall time as this
  thread pool within noise, with 360 MB more memory; threads also give per-set progress,
  cancel and error isolation. ``benchmarks/bench_grid.py`` compares against a fused
  ``prange`` loop (the practical limit, no metrics).

Windows: :func:`evaluate_grid` can evaluate each parameter set on several bar ranges
(walk-forward in-sample windows). Signals are computed once over the whole series and
each range is simulated separately, starting flat with the configured capital; strategies
are causal, so a range's signals equal those computed on the history up to it (its
indicators are warmed up by all earlier bars).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from stom_desktop.backtest.config import BacktestConfig
from stom_desktop.backtest.metrics import (
    METRIC_INDEX,
    METRIC_NAMES,
    MS_PER_YEAR,
    N_METRICS,
    metrics_into,
)
from stom_desktop.backtest.param_grid import ParamGrid, ParamValue
from stom_desktop.backtest.simulator import (
    N_TRADE_COLS,
    SimOptions,
    simulate_into,
    trade_capacity,
)
from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import ConfigurationError, StrategyError
from stom_desktop.strategy.base import Strategy
from stom_desktop.strategy.indicator_cache import Indicators
from stom_desktop.strategy.safe_call import run_signals, safe_call, strategy_file

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Progress = Callable[[float, str], None]
Cancel = Callable[[], bool] | threading.Event

#: Metrics a lower value of is better; ``maximize=None`` picks the direction from this.
LOWER_IS_BETTER = frozenset({"volatility", "max_drawdown", "max_drawdown_bars", "max_drawdown_ms"})
#: Columns shown first (and by the CLI); the table holds every metric.
KEY_METRICS = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "win_rate",
    "profit_factor",
    "num_trades",
    "final_equity",
)
_INT_METRICS = ("max_drawdown_bars", "max_drawdown_ms", "num_trades", "open_trades")


@dataclass(frozen=True, slots=True)
class RangeRun:
    """One parameter set simulated on bars ``[lo, hi)``: metrics and, if kept, the curve."""

    metrics: FloatArray  # N_METRICS values, METRIC_NAMES order
    equity: FloatArray | None = None
    trades: FloatArray | None = None  # (n, N_TRADE_COLS); bar indices relative to lo


@dataclass(frozen=True)
class GridEvaluation:
    """Raw output of :func:`evaluate_grid`: ``metrics[p, r]`` for set ``p`` on range ``r``.

    Rows of sets that failed (``errors[p]`` is the message) or were never run because of a
    cancel (``done[p]`` False) are NaN.
    """

    metrics: npt.NDArray[np.float64]  # (n_sets, n_ranges, N_METRICS)
    errors: list[str | None]
    done: npt.NDArray[np.bool_]
    cancelled: bool
    elapsed: float
    workers: int


def is_cancelled(cancel: Cancel | None) -> bool:
    """True when ``cancel`` (an Event or a no-argument callable) asks to stop."""
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def resolve_workers(workers: int | None) -> int:
    """``None`` = every core; otherwise a positive count."""
    if workers is None:
        return max(1, os.cpu_count() or 1)
    if workers < 1:
        raise ConfigurationError(f"must be >= 1, got {workers}", key="workers")
    return int(workers)


def check_metric(metric: str) -> None:
    """Raise ``ConfigurationError`` naming the choices when ``metric`` is unknown."""
    if metric not in METRIC_INDEX:
        raise ConfigurationError(
            f"unknown metric {metric!r}; choose one of {', '.join(METRIC_NAMES)}", key="metric"
        )


def strategy_signals(
    strategy: Strategy, bars: BarSeries, ta: Indicators, config: BacktestConfig
) -> tuple[tuple[BoolArray, ...], SimOptions]:
    """The four full-length signal arrays of ``strategy`` on ``bars`` and its simulator
    options under ``config`` (exit rules and allowed sides included). User code runs
    through :mod:`~stom_desktop.strategy.safe_call`, so any crash is a ``StrategyError``."""
    arrays = run_signals(strategy, bars, ta)
    rules = safe_call(
        strategy.exit_rules,
        where=f"{strategy.strategy_name()}.exit_rules",
        user_file=strategy_file(type(strategy)),
    )
    return arrays, config.sim_options(rules, strategy.direction)


def simulate_range(
    bars: BarSeries,
    arrays: Sequence[BoolArray],
    options: SimOptions,
    lo: int,
    hi: int,
    periods_per_year: float,
    *,
    keep: bool = False,
    flat_at_end: bool = False,
) -> RangeRun:
    """Simulate bars ``[lo, hi)`` with the given full-length signals, flat at ``lo``.

    A signal decided on bar ``lo - 1`` is not taken (the range starts flat). By default a
    position open at ``hi - 1`` is marked to market there, as at the end of any backtest;
    ``flat_at_end`` instead adds an exit signal on the range's last decision bar (``hi - 2``
    for next-open fills, ``hi - 1`` for close fills) so the position is really closed,
    with fees and slippage, inside the range. ``periods_per_year`` is passed so every
    range annualises the same way.
    """
    entries, exits, short_entries, short_exits = (a[lo:hi] for a in arrays)
    if flat_at_end:
        last = hi - lo - (1 if options.fill_at_close else 2)
        exits, short_exits = exits.copy(), short_exits.copy()  # never touch the strategy's
        if last >= 0:
            exits[last] = True
            short_exits[last] = True
    # fresh buffers per call: glibc reuses the freed blocks, so there are no page faults
    # to save by pooling them (measured: 0.17 ms to fill 1M floats either way)
    equity = np.empty(hi - lo, dtype=np.float64)
    trades = np.empty((trade_capacity(entries, short_entries, options), N_TRADE_COLS))
    count = simulate_into(
        bars.open[lo:hi], bars.high[lo:hi], bars.low[lo:hi], bars.close[lo:hi],
        entries, exits, short_entries, short_exits,
        *options, equity, trades,
    )  # fmt: skip
    out = np.empty(N_METRICS, dtype=np.float64)
    metrics_into(out, equity, bars.ts[lo:hi], trades, count, options.initial_cash, periods_per_year)
    if keep:
        return RangeRun(out, equity, trades[:count].copy())
    return RangeRun(out)


def series_periods_per_year(bars: BarSeries, config: BacktestConfig) -> float:
    """The annualisation factor for every run on ``bars`` (config override or inferred)."""
    if config.periods_per_year is not None:
        return float(config.periods_per_year)
    n = len(bars)
    if n < 2:
        return 0.0  # metrics_into then infers (NaN for a single bar)
    # the same operations as metrics_into, so a full-series run matches run_backtest bit for bit
    years = (int(bars.ts[-1]) - int(bars.ts[0])) / MS_PER_YEAR
    return (n - 1) / years if years > 0 else 0.0


def evaluate_grid(
    strategy_cls: type[Strategy],
    bars: BarSeries,
    config: BacktestConfig,
    combinations: Sequence[Mapping[str, ParamValue]],
    ranges: Sequence[tuple[int, int]] | None = None,
    *,
    workers: int | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
    ta: Indicators | None = None,
    progress_span: tuple[float, float] = (0.0, 1.0),
) -> GridEvaluation:
    """Metrics of every parameter set on every bar range (default: all bars), in parallel.

    A :class:`StrategyError` in one set is recorded in ``errors`` and the others go on.
    ``progress(fraction, text)`` is called from the calling thread after each set;
    ``progress_span`` maps the fraction into a sub-range for callers with several phases.
    ``cancel`` is checked before each set starts; pending sets are then dropped and the
    call returns with ``cancelled=True`` once the running ones finish.
    """
    started = time.perf_counter()
    n_workers = resolve_workers(workers)
    spans = [(0, len(bars))] if ranges is None else list(ranges)
    shared_ta = ta if ta is not None else Indicators(bars)
    ppy = series_periods_per_year(bars, config)
    n_sets = len(combinations)
    metrics = np.full((n_sets, len(spans), N_METRICS), np.nan)
    errors: list[str | None] = [None] * n_sets
    done = np.zeros(n_sets, dtype=np.bool_)
    lo_frac, hi_frac = progress_span

    def task(p: int) -> bool:
        if is_cancelled(cancel):
            return False
        try:
            strategy = strategy_cls(**combinations[p])
            arrays, options = strategy_signals(strategy, bars, shared_ta, config)
        except StrategyError as exc:
            errors[p] = str(exc)
            return True
        for r, (lo, hi) in enumerate(spans):
            metrics[p, r] = simulate_range(bars, arrays, options, lo, hi, ppy).metrics
        return True

    def report(count: int, p: int) -> None:
        if progress is not None:
            fraction = lo_frac + (hi_frac - lo_frac) * count / max(n_sets, 1)
            params = ", ".join(f"{k}={v}" for k, v in combinations[p].items())
            progress(fraction, f"{count}/{n_sets} {params}")

    finished = 0
    cancelled = False
    if n_workers == 1 or n_sets <= 1:
        for p in range(n_sets):
            if not task(p):
                cancelled = True
                break
            done[p] = True
            finished += 1
            report(finished, p)
    else:
        with ThreadPoolExecutor(max_workers=n_workers, thread_name_prefix="stom-opt") as pool:
            pending: dict[Future[bool], int] = {pool.submit(task, p): p for p in range(n_sets)}
            try:
                while pending:
                    ready, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in ready:
                        p = pending.pop(future)
                        if future.result():  # re-raises anything but StrategyError: a bug
                            done[p] = True
                            finished += 1
                            report(finished, p)
                        else:
                            cancelled = True
                    if cancelled or is_cancelled(cancel):
                        cancelled = True
                        for future in pending:
                            future.cancel()
                        # running tasks finish their set; their results still count
                        for future, p in list(pending.items()):
                            if not future.cancelled() and future.result():
                                done[p] = True
                                finished += 1
                        pending.clear()
            finally:
                # on an unexpected error, do not make the caller wait for the whole grid
                for future in pending:
                    future.cancel()
    return GridEvaluation(
        metrics, errors, done, cancelled, time.perf_counter() - started, n_workers
    )


@dataclass(frozen=True)
class OptimizationResult:
    """All evaluated parameter sets, ranked.

    ``table`` has one row per evaluated set: the varying parameters, every metric of
    :data:`~stom_desktop.backtest.metrics.METRIC_NAMES` and ``error`` (None when it ran),
    sorted best first by ``metric`` (NaN last, ties in grid order). ``best_params`` is the
    full parameter dict of the top row (None when nothing ran, e.g. cancelled at once).
    """

    strategy: str
    metric: str
    maximize: bool
    table: pd.DataFrame
    best_params: dict[str, ParamValue] | None
    best_metrics: dict[str, float] | None
    grid_size: int
    n_evaluated: int
    n_failed: int
    cancelled: bool
    elapsed: float
    workers: int
    param_columns: tuple[str, ...] = field(default=())

    def top(self, n: int = 10) -> pd.DataFrame:
        """The best ``n`` rows with the parameter columns and the key metrics."""
        cols = [*self.param_columns, *KEY_METRICS]
        return self.table.loc[:, cols].head(n)

    def records(self) -> list[dict[str, Any]]:
        """Every row as plain JSON-able values (numpy scalars unwrapped, NaN/inf and NA
        as None), best first: what a service stores or ``--output json`` prints."""
        out = []
        for row in self.table.to_dict(orient="records"):
            out.append({str(key): _plain(value) for key, value in row.items()})
        return out


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def rank_order(values: FloatArray, maximize: bool) -> npt.NDArray[np.intp]:
    """Indices best first: NaN last, ties keep their original (grid) order."""
    keyed = np.where(np.isnan(values), np.inf, -values if maximize else values)
    return np.argsort(keyed, kind="stable")


def optimize_grid(
    strategy_cls: type[Strategy],
    bars: BarSeries,
    config: BacktestConfig,
    grid: ParamGrid,
    *,
    metric: str = "sharpe",
    maximize: bool | None = True,
    workers: int | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> OptimizationResult:
    """Run every parameter set of ``grid`` over ``bars`` and rank them by ``metric``.

    ``maximize=None`` picks the direction from the metric (drawdown and volatility are
    minimised). Errors in individual sets land in the ``error`` column; if every set fails,
    a :class:`StrategyError` with the first message is raised. A ``cancel`` stops early and
    returns the sets finished so far with ``cancelled=True``.
    """
    check_metric(metric)
    if maximize is None:
        maximize = metric not in LOWER_IS_BETTER
    if len(bars) == 0:
        raise StrategyError(f"no bars to optimise {strategy_cls.strategy_name()} on")
    combos = grid.combinations
    evaluation = evaluate_grid(
        strategy_cls, bars, config, combos, workers=workers, progress=progress, cancel=cancel
    )
    failed = [e for e in evaluation.errors if e is not None]
    if failed and len(failed) == int(evaluation.done.sum()):
        raise StrategyError(
            f"all {len(failed)} parameter set(s) of {strategy_cls.strategy_name()} failed; "
            f"first error: {failed[0]}"
        )
    table = results_table(grid, evaluation.metrics[:, 0, :], evaluation.errors, evaluation.done)
    order = rank_order(table[metric].to_numpy(dtype=np.float64), maximize)
    table = table.iloc[order].reset_index(drop=True)
    best_params: dict[str, ParamValue] | None = None
    best_metrics: dict[str, float] | None = None
    ok = table[table["error"].isna()]
    if len(ok):
        row = int(ok.index[0])
        best_params = dict(combos[int(table.at[row, "set"])])
        best_metrics = {name: float(table.at[row, name]) for name in METRIC_NAMES}
    return OptimizationResult(
        strategy=strategy_cls.strategy_name(),
        metric=metric,
        maximize=maximize,
        table=table,
        best_params=best_params,
        best_metrics=best_metrics,
        grid_size=len(grid),
        n_evaluated=int(evaluation.done.sum()),
        n_failed=len(failed),
        cancelled=evaluation.cancelled,
        elapsed=evaluation.elapsed,
        workers=evaluation.workers,
        param_columns=grid.varying or grid.names,
    )


def results_table(
    grid: ParamGrid,
    metrics: FloatArray,
    errors: Sequence[str | None],
    done: npt.NDArray[np.bool_],
) -> pd.DataFrame:
    """One row per evaluated set: ``set`` (grid index), parameters, metrics, ``error``."""
    index = [int(i) for i in np.flatnonzero(done)]
    columns: dict[str, Any] = {"set": np.array(index, dtype=np.int64)}
    for name in grid.varying or grid.names:
        columns[name] = [grid.combinations[i][name] for i in index]
    for k, name in enumerate(METRIC_NAMES):
        values = metrics[index, k]
        if name in _INT_METRICS:
            columns[name] = pd.array(
                [None if np.isnan(v) else int(v) for v in values], dtype="Int64"
            )
        else:
            columns[name] = values
    columns["error"] = pd.array([errors[i] for i in index], dtype=object)
    return pd.DataFrame(columns)
