"""Walk-forward analysis: optimise on a rolling in-sample window, test on the next one.

Windows (``in_sample='6m', out_of_sample='1m'``, or ``parse_window_spec("6m/1m")``):
lengths are ``<n>d`` days, ``<n>w`` weeks, ``<n>m`` calendar months, ``<n>y`` calendar
years, or ``<n>b`` a number of bars (both sides must then be bars). Out-of-sample (OOS)
boundaries are ``b_k = start + in_sample + k * out_of_sample`` (calendar arithmetic from
the first bar's time, day clamped to the month's end), so OOS windows are contiguous and
never overlap: OOS ``k`` is ``[b_k, b_k+1)``, its in-sample (IS) window is
``[b_k - in_sample, b_k)``. The last OOS window may be shorter (it ends with the data).

Evaluation, exactly:

1. Each parameter set's signals are computed **once over the whole series** (one shared
   memoised ``Indicators``). Strategies are causal, so the signals at bar ``i`` are the
   ones computed from bars ``0..i`` — what the live engine would have seen. Every window
   therefore has its indicators warmed up by *all* bars before it; no window starts with
   NaN indicators.
2. In-sample: every set is simulated on each IS window alone, starting flat with the
   configured capital; the best set by ``metric`` (ties: first in grid order) is chosen.
3. Out-of-sample: the chosen set is simulated on the OOS window alone, and the window
   is flat at both ends: a signal decided on the bar before the window is not taken, and
   a position still open is closed by an exit signal on the window's last decision bar
   (filled at the open of its last bar with next-open fills, at its last close with
   close fills; fees and slippage apply). So every OOS trade lies inside its window and
   only trades and equity inside the window count.
4. Stitching: OOS window ``k`` starts with the cash equal to window ``k-1``'s final
   equity (the first with the configured capital), so the stitched curve is continuous;
   the stitched metrics are computed over the concatenated curve and all OOS trades.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from stom_desktop.backtest.config import BacktestConfig
from stom_desktop.backtest.metrics import METRIC_INDEX, Metrics, compute_metrics
from stom_desktop.backtest.optimize import (
    LOWER_IS_BETTER,
    Cancel,
    Progress,
    check_metric,
    evaluate_grid,
    is_cancelled,
    rank_order,
    series_periods_per_year,
    simulate_range,
    strategy_signals,
)
from stom_desktop.backtest.param_grid import ParamGrid, ParamValue
from stom_desktop.backtest.result import trades_frame
from stom_desktop.backtest.simulator import COL_ENTRY_IDX, COL_EXIT_IDX
from stom_desktop.core.bars import BarSeries, format_ts
from stom_desktop.core.errors import ConfigurationError, DataError, StomError, StrategyError
from stom_desktop.strategy.base import Strategy
from stom_desktop.strategy.indicator_cache import Indicators

FloatArray = npt.NDArray[np.float64]

_LENGTH_RE = re.compile(r"^\s*(\d+)\s*([dwmyb])\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class WindowLength:
    """A window length: ``count`` of ``unit`` (d, w, m, y or b for bars)."""

    count: int
    unit: str

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    def add_to(self, ms: int, times: int = 1) -> int:
        """``ms`` (UTC epoch milliseconds) moved forward by ``times`` of this length."""
        n = self.count * times
        if self.unit in ("d", "w"):
            return ms + n * (7 if self.unit == "w" else 1) * 86_400_000
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
        months = n * (12 if self.unit == "y" else 1)
        year, month0 = divmod(moment.month - 1 + months, 12)
        year += moment.year
        day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
        moved = moment.replace(year=year, month=month0 + 1, day=day)
        return int((moved - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1))

    def subtract_from(self, ms: int) -> int:
        """``ms`` moved back by one length (calendar units clamp the day like ``add_to``)."""
        if self.unit in ("d", "w"):
            return self.add_to(ms, -1)
        return WindowLength(-self.count, self.unit).add_to(ms)


def parse_length(text: str, what: str = "window") -> WindowLength:
    """``"6m"`` -> ``WindowLength(6, "m")``; ``ConfigurationError`` naming ``text`` otherwise."""
    match = _LENGTH_RE.match(text)
    if match is None or int(match.group(1)) <= 0:
        raise ConfigurationError(
            f"{what} length {text!r} is not a positive count with a unit",
            key="walk_forward",
            hint="e.g. 6m/1m, 90d/30d, 2y/3m, 5000b/1000b (d, w, m=months, y, b=bars)",
        )
    return WindowLength(int(match.group(1)), match.group(2).lower())


def parse_window_spec(spec: str) -> tuple[WindowLength, WindowLength]:
    """``"6m/1m"`` -> (in-sample, out-of-sample) lengths; bars cannot mix with time units."""
    parts = spec.split("/")
    if len(parts) != 2:
        raise ConfigurationError(
            f"walk-forward spec {spec!r} must be IN/OUT, e.g. 6m/1m or 5000b/1000b",
            key="walk_forward",
        )
    is_len = parse_length(parts[0], "in-sample")
    oos_len = parse_length(parts[1], "out-of-sample")
    if (is_len.unit == "b") != (oos_len.unit == "b"):
        raise ConfigurationError(
            f"walk-forward spec {spec!r} mixes a bar count with a time length",
            key="walk_forward",
            hint="use bars on both sides (5000b/1000b) or time on both (6m/1m)",
        )
    return is_len, oos_len


@dataclass(frozen=True, slots=True)
class Window:
    """Bar index ranges ``[is_lo, is_hi)`` (in-sample) and ``[oos_lo, oos_hi)``."""

    is_lo: int
    is_hi: int
    oos_lo: int
    oos_hi: int


def make_windows(
    bars: BarSeries, in_sample: WindowLength, out_of_sample: WindowLength
) -> list[Window]:
    """The rolling windows over ``bars`` (see the module docstring); ``DataError`` when the
    data cannot hold one in-sample window followed by at least one out-of-sample bar."""
    n = len(bars)
    source = f"{bars.symbol} {bars.timeframe}"
    windows: list[Window] = []
    if in_sample.unit == "b":
        k = 0
        while (oos_lo := in_sample.count + k * out_of_sample.count) < n:
            oos_hi = min(oos_lo + out_of_sample.count, n)
            windows.append(Window(oos_lo - in_sample.count, oos_lo, oos_lo, oos_hi))
            k += 1
    elif n:
        ts = bars.ts
        first = int(ts[0])
        base = in_sample.add_to(first)
        k = 0
        while True:
            start_ms = out_of_sample.add_to(base, k) if k else base
            oos_lo = int(np.searchsorted(ts, start_ms, side="left"))
            if oos_lo >= n:
                break
            end_ms = out_of_sample.add_to(base, k + 1)
            oos_hi = int(np.searchsorted(ts, end_ms, side="left"))
            is_lo = int(np.searchsorted(ts, max(in_sample.subtract_from(start_ms), first)))
            if oos_hi > oos_lo > is_lo:
                windows.append(Window(is_lo, oos_lo, oos_lo, oos_hi))
            k += 1
    if not windows:
        span = (
            f"{n} bars"
            if not n
            else f"{n} bars from {format_ts(int(bars.ts[0]))} to {format_ts(int(bars.ts[-1]))}"
        )
        raise DataError(
            f"too little data for one walk-forward window of {in_sample} in-sample + "
            f"{out_of_sample} out-of-sample: {span}",
            source=source,
            hint="load more history or use shorter windows",
        )
    return windows


@dataclass(frozen=True)
class WalkForwardResult:
    """Per-window rows, the stitched out-of-sample equity/trades and their metrics.

    ``windows`` columns: ``window``, ``is_start``, ``is_end``, ``oos_start``, ``oos_end``
    (tz-aware UTC; ends are the last bar's time, inclusive), ``is_bars``, ``oos_bars``,
    the chosen parameters, ``is_<metric>``, ``oos_<metric>``, ``oos_return``,
    ``oos_trades`` and ``oos_final_equity``. ``equity``/``equity_ts`` is the stitched OOS
    curve; ``trades`` the OOS trades with indices into the full ``bars``.
    """

    strategy: str
    metric: str
    maximize: bool
    in_sample: str
    out_of_sample: str
    windows: pd.DataFrame
    equity_ts: npt.NDArray[np.int64]
    equity: FloatArray
    trades: pd.DataFrame
    metrics: Metrics
    segment_starts: tuple[int, ...]  # index into ``equity`` where each OOS window begins
    cancelled: bool
    elapsed: float


def walk_forward(
    strategy_cls: type[Strategy],
    bars: BarSeries,
    config: BacktestConfig,
    grid: ParamGrid,
    *,
    in_sample: str = "6m",
    out_of_sample: str = "1m",
    metric: str = "sharpe",
    maximize: bool | None = True,
    workers: int | None = None,
    progress: Progress | None = None,
    cancel: Cancel | None = None,
) -> WalkForwardResult:
    """Roll optimise-then-test windows over ``bars`` and stitch the out-of-sample results.

    ``in_sample``/``out_of_sample`` are lengths such as ``"6m"``/``"1m"`` or ``"5000b"``/
    ``"1000b"``. A cancel stops after the current phase and returns the windows finished
    so far (``cancelled=True``); if no window finished it raises ``StomError``. If every
    parameter set fails, ``StrategyError`` with the first message.
    """
    started = time.perf_counter()
    check_metric(metric)
    if maximize is None:
        maximize = metric not in LOWER_IS_BETTER
    is_len, oos_len = parse_window_spec(f"{in_sample}/{out_of_sample}")
    windows = make_windows(bars, is_len, oos_len)
    ta = Indicators(bars)
    evaluation = evaluate_grid(
        strategy_cls,
        bars,
        config,
        grid.combinations,
        [(w.is_lo, w.is_hi) for w in windows],
        workers=workers,
        progress=progress,
        cancel=cancel,
        ta=ta,
        progress_span=(0.0, 0.9),
    )
    usable = evaluation.done & np.array([e is None for e in evaluation.errors], dtype=np.bool_)
    if not usable.any():
        if evaluation.cancelled:
            raise StomError("walk-forward cancelled before any window finished")
        first = next(e for e in evaluation.errors if e is not None)
        raise StrategyError(
            f"all {len(grid)} parameter set(s) of {strategy_cls.strategy_name()} failed; "
            f"first error: {first}"
        )
    k_metric = METRIC_INDEX[metric]
    ppy = series_periods_per_year(bars, config)
    cash = float(config.initial_capital)
    rows: list[dict[str, Any]] = []
    curves: list[FloatArray] = []
    trade_blocks: list[FloatArray] = []
    starts: list[int] = []
    for w_index, window in enumerate(windows):
        if evaluation.cancelled or is_cancelled(cancel):
            break
        scores = np.where(usable, evaluation.metrics[:, w_index, k_metric], np.nan)
        best = int(rank_order(scores, maximize)[0])
        params = grid.combinations[best]
        strategy = strategy_cls(**params)
        arrays, options = strategy_signals(strategy, bars, ta, config)
        run = simulate_range(
            bars,
            arrays,
            options._replace(initial_cash=cash),
            window.oos_lo,
            window.oos_hi,
            ppy,
            keep=True,
            flat_at_end=True,
        )
        assert run.equity is not None and run.trades is not None  # keep=True
        starts.append(sum(len(c) for c in curves))
        curves.append(run.equity)
        block = run.trades.copy()
        block[:, COL_ENTRY_IDX] += window.oos_lo
        block[:, COL_EXIT_IDX] += window.oos_lo
        trade_blocks.append(block)
        rows.append(
            _window_row(w_index, window, bars, grid, params, metric, scores[best], run, cash)
        )
        cash = float(run.equity[-1])
        if progress is not None:
            progress(
                0.9 + 0.1 * (w_index + 1) / len(windows), f"window {w_index + 1}/{len(windows)}"
            )
    if not rows:
        raise StomError("walk-forward cancelled before any window finished")
    equity = np.concatenate(curves)
    lo, hi = windows[0].oos_lo, windows[len(rows) - 1].oos_hi
    equity_ts = bars.ts[lo:hi]
    all_trades = np.concatenate(trade_blocks)
    local = all_trades.copy()
    local[:, COL_ENTRY_IDX] -= lo
    local[:, COL_EXIT_IDX] -= lo
    metrics = compute_metrics(equity, equity_ts, local, float(config.initial_capital), ppy)
    return WalkForwardResult(
        strategy=strategy_cls.strategy_name(),
        metric=metric,
        maximize=maximize,
        in_sample=str(is_len),
        out_of_sample=str(oos_len),
        windows=pd.DataFrame(rows),
        equity_ts=equity_ts,
        equity=equity,
        trades=trades_frame(all_trades, bars.ts),
        metrics=metrics,
        segment_starts=tuple(starts),
        cancelled=len(rows) < len(windows),
        elapsed=time.perf_counter() - started,
    )


def _window_row(
    index: int,
    window: Window,
    bars: BarSeries,
    grid: ParamGrid,
    params: dict[str, ParamValue],
    metric: str,
    is_score: float,
    run: Any,
    start_cash: float,
) -> dict[str, Any]:
    ts = bars.ts

    def when(i: int) -> pd.Timestamp:
        return pd.Timestamp(int(ts[i]), unit="ms", tz="UTC")

    values = run.metrics
    row: dict[str, Any] = {
        "window": index,
        "is_start": when(window.is_lo),
        "is_end": when(window.is_hi - 1),
        "oos_start": when(window.oos_lo),
        "oos_end": when(window.oos_hi - 1),
        "is_bars": window.is_hi - window.is_lo,
        "oos_bars": window.oos_hi - window.oos_lo,
    }
    for name in grid.varying or grid.names:
        row[name] = params[name]
    row[f"is_{metric}"] = float(is_score)
    row[f"oos_{metric}"] = float(values[METRIC_INDEX[metric]])
    # Sharpe always: the GUI shows OOS return and Sharpe whatever the ranking metric.
    row.setdefault("oos_sharpe", float(values[METRIC_INDEX["sharpe"]]))
    row["oos_return"] = float(values[METRIC_INDEX["final_equity"]]) / start_cash - 1.0
    row["oos_trades"] = int(values[METRIC_INDEX["num_trades"]])
    row["oos_final_equity"] = float(values[METRIC_INDEX["final_equity"]])
    return row
