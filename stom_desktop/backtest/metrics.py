"""All performance metrics in one compiled pass over the equity curve and the trade rows.

Conventions (documented once, here):

- Returns are per-bar simple returns of equity; the first is ``equity[0]/initial - 1``.
  A bar following non-positive equity has return 0 (the account is dead).
- ``years`` is the elapsed time ``(ts[-1] - ts[0]) / 365.25 days``. ``periods_per_year``
  is inferred from the timestamps as bar intervals per elapsed year,
  ``(n_bars - 1) / years``: about 252 for daily stock data, 365 for daily crypto,
  525,960 for 24/7 1-minute bars and ~98k for 1-minute bars of a 6.5-hour session. Pass
  ``periods_per_year > 0`` to override it.
- ``volatility`` = ``std(r, ddof=1) * sqrt(ppy)``; ``sharpe`` = ``mean(r)/std(r, ddof=1) *
  sqrt(ppy)`` (risk-free rate 0, as vectorbt's per-bar Sharpe); ``sortino`` uses the
  downside deviation ``sqrt(mean(min(r, 0)^2))``; ``cagr`` = ``(final/initial)^(1/years)
  - 1``; ``calmar`` = ``cagr / max_drawdown``.
- ``max_drawdown`` is a positive fraction (0.25 = fell 25% below a peak); the running peak
  starts at the initial capital (at bar 0). Its duration is the longest peak-to-recovery
  stretch (peak-to-end when not recovered), in bars and, maximised separately, in
  milliseconds of ``ts`` (they differ only on irregular bars).
- Trade statistics (win rate, profit factor, expectancy = mean P&L per trade in account
  currency, average/best/worst trade return, SQN = ``sqrt(n) * mean(pnl) / std(pnl,
  ddof=1)``) use closed trades only; a position open at the end is counted in
  ``open_trades`` and in exposure, as backtesting.py does with ``finalize_trades=False``.
- ``exposure`` is the fraction of bars from any trade's entry bar to its exit bar
  inclusive (backtesting.py's ``Exposure Time``), counting a shared reversal bar once.
- Undefined values (no trades, zero variance, zero elapsed time) are NaN; a profit factor
  with wins and no losses is ``inf``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from stom_desktop.backtest.simulator import (
    COL_ENTRY_IDX,
    COL_EXIT_IDX,
    COL_PNL,
    COL_REASON,
    COL_RETURN,
    OPEN_AT_END,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MS_PER_YEAR = 365.25 * 86_400_000.0

#: Order of the values in the array :func:`metrics_into` fills (and of ``Metrics`` fields).
METRIC_NAMES = (
    "total_return",
    "cagr",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_bars",
    "max_drawdown_ms",
    "win_rate",
    "profit_factor",
    "expectancy",
    "avg_trade_return",
    "best_trade_return",
    "worst_trade_return",
    "exposure",
    "num_trades",
    "open_trades",
    "sqn",
    "final_equity",
    "years",
    "periods_per_year",
)
N_METRICS = len(METRIC_NAMES)
METRIC_INDEX = {name: k for k, name in enumerate(METRIC_NAMES)}


@njit(cache=True, nogil=True)
def metrics_into(
    out: FloatArray,
    equity: FloatArray,
    ts: IntArray,
    trades: FloatArray,
    n_trades: int,
    initial_cash: float,
    periods_per_year: float,
) -> None:
    """Fill ``out`` (length :data:`N_METRICS`) from one pass over equity and one over trades."""
    n = equity.shape[0]
    out[:] = np.nan
    if n == 0:
        return
    # -- equity pass: returns moments, downside, drawdown ------------------------------
    # Plain sums of r and r^2: per-bar returns are tiny and centred near 0, so the
    # textbook formula loses nothing measurable, and it keeps the loop free of a
    # loop-carried division (Welford's update costs 2-3x here).
    s1 = 0.0
    s2 = 0.0
    down2 = 0.0
    prev = initial_cash
    peak = initial_cash
    trough = initial_cash  # lowest equity since the current peak
    peak_idx = 0
    under = False
    max_dd = 0.0
    dd_bars = 0
    dd_ms = 0
    for i in range(n):
        e = equity[i]
        r = e / prev - 1.0 if prev > 0.0 else 0.0
        prev = e
        s1 += r
        s2 += r * r
        neg = min(r, 0.0)
        down2 += neg * neg
        if e >= peak:
            if under:  # recovered: the stretch peak_idx..i was a drawdown
                dd_bars = max(dd_bars, i - peak_idx)
                dd_ms = max(dd_ms, ts[i] - ts[peak_idx])
                under = False
            peak = e
            trough = e
            peak_idx = i
        else:
            under = True
            if e < trough:  # only a new low can deepen the drawdown: divide rarely
                trough = e
                if peak > 0.0:
                    max_dd = max(max_dd, 1.0 - e / peak)
    if under:  # a drawdown still running at the end lasts until the last bar
        dd_bars = max(dd_bars, n - 1 - peak_idx)
        dd_ms = max(dd_ms, ts[n - 1] - ts[peak_idx])

    final = equity[n - 1]
    years = (ts[n - 1] - ts[0]) / MS_PER_YEAR
    ppy = periods_per_year
    if not ppy > 0.0:
        ppy = (n - 1) / years if years > 0.0 else np.nan
    out[0] = final / initial_cash - 1.0
    if years > 0.0:
        out[1] = (final / initial_cash) ** (1.0 / years) - 1.0 if final > 0.0 else -1.0
    if n > 1:
        std = math.sqrt(max(s2 - s1 * s1 / n, 0.0) / (n - 1))
        avg = s1 / n
        out[2] = std * math.sqrt(ppy)
        if std > 0.0:
            out[3] = avg / std * math.sqrt(ppy)
        downside = math.sqrt(down2 / n)
        if downside > 0.0:
            out[4] = avg / downside * math.sqrt(ppy)
    if max_dd > 0.0:
        out[5] = out[1] / max_dd
    out[6] = max_dd
    out[7] = dd_bars
    out[8] = dd_ms

    # -- trade pass ----------------------------------------------------------------------
    closed = 0
    wins = 0
    gross_win = 0.0
    gross_loss = 0.0
    pnl_sum = 0.0
    pnl_mean = 0.0
    pnl_m2 = 0.0
    ret_sum = 0.0
    best = -np.inf
    worst = np.inf
    open_count = 0
    in_market = 0
    last_marked = -1
    for k in range(n_trades):
        a = int(trades[k, COL_ENTRY_IDX])
        b = int(trades[k, COL_EXIT_IDX])
        start = a if a > last_marked else last_marked + 1
        if b >= start:
            in_market += b - start + 1
        last_marked = max(last_marked, b)
        if trades[k, COL_REASON] == OPEN_AT_END:
            open_count += 1
            continue
        pnl = trades[k, COL_PNL]
        ret = trades[k, COL_RETURN]
        closed += 1
        pnl_sum += pnl
        delta = pnl - pnl_mean
        pnl_mean += delta / closed
        pnl_m2 += delta * (pnl - pnl_mean)
        ret_sum += ret
        if pnl > 0.0:
            wins += 1
            gross_win += pnl
        else:
            gross_loss -= pnl
        best = max(best, ret)
        worst = min(worst, ret)
    if closed > 0:
        out[9] = wins / closed
        if gross_loss > 0.0:
            out[10] = gross_win / gross_loss
        elif gross_win > 0.0:
            out[10] = np.inf
        out[11] = pnl_sum / closed
        out[12] = ret_sum / closed
        out[13] = best
        out[14] = worst
        if closed > 1:
            pnl_std = math.sqrt(pnl_m2 / (closed - 1))
            if pnl_std > 0.0:
                out[18] = math.sqrt(closed) * pnl_mean / pnl_std
    out[15] = in_market / n
    out[16] = closed
    out[17] = open_count
    out[19] = final
    out[20] = years
    out[21] = ppy


@dataclass(frozen=True, slots=True)
class Metrics:
    """Performance of one backtest; fractions, not percent (see the module docstring)."""

    total_return: float
    cagr: float
    volatility: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: float
    max_drawdown_bars: int
    max_drawdown_ms: int
    win_rate: float
    profit_factor: float
    expectancy: float
    avg_trade_return: float
    best_trade_return: float
    worst_trade_return: float
    exposure: float
    num_trades: int
    open_trades: int
    sqn: float
    final_equity: float
    years: float
    periods_per_year: float

    @classmethod
    def from_array(cls, values: FloatArray) -> Metrics:
        """Build from the array :func:`metrics_into` filled."""
        kwargs: dict[str, Any] = {}
        for name, value in zip(METRIC_NAMES, values.tolist(), strict=True):
            if name in _INT_FIELDS:
                kwargs[name] = 0 if math.isnan(value) else int(value)
            else:
                kwargs[name] = float(value)
        return cls(**kwargs)

    def as_dict(self) -> dict[str, float | int]:
        """Field name to value, in :data:`METRIC_NAMES` order."""
        return asdict(self)


_INT_FIELDS = frozenset({"max_drawdown_bars", "max_drawdown_ms", "num_trades", "open_trades"})


def compute_metrics_array(
    equity: FloatArray,
    ts: IntArray,
    trades: FloatArray,
    initial_cash: float,
    periods_per_year: float = 0.0,
) -> FloatArray:
    """Metrics as a float array in :data:`METRIC_NAMES` order (no Python objects)."""
    if equity.shape[0] != ts.shape[0]:
        raise ValueError(f"equity has {equity.shape[0]} bars but ts has {ts.shape[0]}")
    out = np.empty(N_METRICS, dtype=np.float64)
    metrics_into(out, equity, ts, trades, trades.shape[0], initial_cash, periods_per_year)
    return out


def compute_metrics(
    equity: FloatArray,
    ts: IntArray,
    trades: FloatArray,
    initial_cash: float,
    periods_per_year: float = 0.0,
) -> Metrics:
    """All metrics of one run; ``periods_per_year <= 0`` infers it from ``ts``."""
    return Metrics.from_array(
        compute_metrics_array(equity, ts, trades, initial_cash, periods_per_year)
    )
