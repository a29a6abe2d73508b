"""Metrics from the one compiled pass against straightforward numpy/pandas references."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from stom_desktop.backtest.metrics import METRIC_NAMES, Metrics, compute_metrics
from stom_desktop.backtest.simulator import (
    COL_ENTRY_IDX,
    COL_EXIT_IDX,
    COL_PNL,
    COL_REASON,
    COL_RETURN,
    N_TRADE_COLS,
    OPEN_AT_END,
    SIGNAL,
    SimOptions,
    simulate,
)

DAY_MS = 86_400_000
INITIAL = 10_000.0


def reference(equity: np.ndarray, ts: np.ndarray, trades: np.ndarray) -> dict[str, float]:
    """The same definitions written the obvious (slow, pandas) way."""
    eq = pd.Series(equity)
    rets = pd.concat([pd.Series([equity[0] / INITIAL - 1.0]), eq.pct_change().iloc[1:]])
    rets = rets.reset_index(drop=True)
    years = (ts[-1] - ts[0]) / (365.25 * DAY_MS)
    ppy = (len(eq) - 1) / years
    std = rets.std(ddof=1)
    downside = math.sqrt((np.minimum(rets, 0.0) ** 2).mean())
    peak = np.maximum.accumulate(np.r_[INITIAL, equity])[1:]
    dd = 1.0 - equity / peak
    cagr = (equity[-1] / INITIAL) ** (1.0 / years) - 1.0
    closed = trades[trades[:, COL_REASON] != OPEN_AT_END]
    pnl = closed[:, COL_PNL]
    ret = closed[:, COL_RETURN]
    in_market = np.zeros(len(eq), dtype=bool)
    for row in trades:
        in_market[int(row[COL_ENTRY_IDX]) : int(row[COL_EXIT_IDX]) + 1] = True
    return {
        "total_return": equity[-1] / INITIAL - 1.0,
        "cagr": cagr,
        "volatility": std * math.sqrt(ppy),
        "sharpe": rets.mean() / std * math.sqrt(ppy),
        "sortino": rets.mean() / downside * math.sqrt(ppy),
        "max_drawdown": dd.max(),
        "calmar": cagr / dd.max(),
        "win_rate": (pnl > 0).mean(),
        "profit_factor": pnl[pnl > 0].sum() / -pnl[pnl <= 0].sum(),
        "expectancy": pnl.mean(),
        "avg_trade_return": ret.mean(),
        "best_trade_return": ret.max(),
        "worst_trade_return": ret.min(),
        "exposure": in_market.mean(),
        "num_trades": len(closed),
        "open_trades": len(trades) - len(closed),
        "sqn": math.sqrt(len(pnl)) * pnl.mean() / pd.Series(pnl).std(ddof=1),
        "final_equity": equity[-1],
        "years": years,
        "periods_per_year": ppy,
    }


def reference_drawdown_duration(equity: np.ndarray) -> int:
    """Longest run of bars from a peak (initial capital at bar 0) until equity regains it."""
    peak, peak_idx, under, best = INITIAL, 0, False, 0
    for i, e in enumerate(equity):
        if e >= peak:
            if under:
                best = max(best, i - peak_idx)
            peak, peak_idx, under = e, i, False
        else:
            under = True
    if under:
        best = max(best, len(equity) - 1 - peak_idx)
    return best


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_metrics_match_pandas_reference_on_a_simulated_run(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000
    c = 100 * np.exp(np.cumsum(rng.normal(0.0002, 0.01, n)))
    o = np.r_[c[0], c[:-1]]
    h, low = np.maximum(o, c) * 1.003, np.minimum(o, c) * 0.997
    entries = rng.random(n) < 0.03
    exits = rng.random(n) < 0.03
    z = np.zeros(n, dtype=np.bool_)
    out = simulate(o, h, low, c, entries, exits, z, z,
                   SimOptions(fee_pct=0.001, initial_cash=INITIAL, stop_loss=0.03))  # fmt: skip
    ts = 1_600_000_000_000 + np.arange(n, dtype=np.int64) * DAY_MS
    m = compute_metrics(out.equity, ts, out.trades, INITIAL)
    ref = reference(out.equity, ts, out.trades)
    assert m.num_trades > 20
    for name, expected in ref.items():
        assert getattr(m, name) == pytest.approx(expected, rel=1e-9, abs=1e-12), name
    assert m.max_drawdown_bars == reference_drawdown_duration(out.equity)
    assert m.max_drawdown_ms == m.max_drawdown_bars * DAY_MS


def test_drawdown_duration_by_hand_and_irregular_time() -> None:
    equity = np.array([100.0, 90.0, 95.0, 101.0, 99.0, 98.0, 97.0])
    ts = np.array([0, 1, 2, 10, 11, 12, 13], dtype=np.int64) * DAY_MS
    m = compute_metrics(equity, ts, np.empty((0, N_TRADE_COLS)), 100.0)
    # stretch 1: peak at bar 0, recovered at bar 3 -> 3 bars, 10 days
    # stretch 2: peak at bar 3, still under at the end (bar 6) -> 3 bars, 3 days
    assert m.max_drawdown_bars == 3
    assert m.max_drawdown_ms == 10 * DAY_MS
    assert m.max_drawdown == pytest.approx(0.10)
    assert m.num_trades == 0
    assert math.isnan(m.win_rate) and math.isnan(m.sqn) and math.isnan(m.profit_factor)
    assert m.exposure == 0.0


def test_trade_statistics_by_hand() -> None:
    trades = np.zeros((4, N_TRADE_COLS))
    # (entry, exit, pnl, return, reason); bars 2..4 and 4..6 share bar 4 (a reversal)
    rows = [
        (0, 1, 100.0, 0.10, SIGNAL),
        (2, 4, -50.0, -0.05, SIGNAL),
        (4, 6, 30.0, 0.03, SIGNAL),
        (8, 9, 999.0, 0.5, OPEN_AT_END),
    ]
    for k, (a, b, pnl, ret, reason) in enumerate(rows):
        trades[k, [COL_ENTRY_IDX, COL_EXIT_IDX, COL_PNL, COL_RETURN, COL_REASON]] = (
            a, b, pnl, ret, reason,
        )  # fmt: skip
    equity = np.linspace(1000.0, 1100.0, 10)
    ts = np.arange(10, dtype=np.int64) * DAY_MS
    m = compute_metrics(equity, ts, trades, 1000.0)
    assert m.num_trades == 3 and m.open_trades == 1
    assert m.win_rate == pytest.approx(2 / 3)
    assert m.profit_factor == pytest.approx(130.0 / 50.0)
    assert m.expectancy == pytest.approx(80.0 / 3)
    assert m.avg_trade_return == pytest.approx(0.08 / 3)
    assert (m.best_trade_return, m.worst_trade_return) == (0.10, -0.05)
    assert m.exposure == pytest.approx(9 / 10)  # bars 0-6 and 8-9 (bar 7 flat)
    pnl = np.array([100.0, -50.0, 30.0])
    assert m.sqn == pytest.approx(math.sqrt(3) * pnl.mean() / pnl.std(ddof=1))
    assert m.max_drawdown == 0.0 and m.max_drawdown_bars == 0


def test_wins_only_profit_factor_is_infinite_and_periods_override() -> None:
    trades = np.zeros((1, N_TRADE_COLS))
    trades[0, [COL_ENTRY_IDX, COL_EXIT_IDX, COL_PNL, COL_RETURN]] = (0, 1, 5.0, 0.05)
    equity = np.array([100.0, 105.0, 104.0])
    ts = np.arange(3, dtype=np.int64) * DAY_MS
    m = compute_metrics(equity, ts, trades, 100.0, periods_per_year=252.0)
    assert m.profit_factor == math.inf
    assert m.periods_per_year == 252.0
    rets = np.array([0.0, 0.05, 104.0 / 105.0 - 1.0])
    assert m.sharpe == pytest.approx(rets.mean() / rets.std(ddof=1) * math.sqrt(252.0))


def test_metrics_dataclass_round_trip() -> None:
    values = np.arange(len(METRIC_NAMES), dtype=np.float64)
    m = Metrics.from_array(values)
    d = m.as_dict()
    assert list(d) == list(METRIC_NAMES)
    assert isinstance(d["num_trades"], int) and d["num_trades"] == METRIC_NAMES.index("num_trades")
    with pytest.raises(AttributeError):
        m.sharpe = 1.0  # type: ignore[misc]
