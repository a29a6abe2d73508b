"""Same data, same SMA(10,30) crossover, same trades and equity as backtesting.py and vectorbt.

All three engines get *identical* boolean signals (computed once here with one crossover
definition, ``fast[i] > slow[i] and fast[i-1] <= slow[i-1]``), so what is compared is the
fill, sizing, fee and accounting logic, not each library's own crossover helper
(backtesting.py's ``crossover`` uses ``<`` on the previous bar and vectorbt's
``ma_crossed_above`` treats runs of equal values differently).

Conventions matched, like with like:

- Fills: a signal on bar ``i`` fills at ``open[i+1]``. backtesting.py does this by default
  (market orders placed in ``next()`` fill at the next open); vectorbt needs the signals
  shifted one bar and ``price=open``.
- Sizing, backtesting.py: with ``size < 1`` it buys ``int(equity * size //
  (price + commission(size, price)/size))`` whole units, i.e. ``floor(equity * size /
  (price * (1 + commission)))`` — the fee is included in the sizing, as ours. We pass
  ``size = 1 - 1e-12`` (it refuses ``size == 1`` as "1 unit") and use the same
  ``size_fraction`` with integer sizing (``fractional=False``). For fractional units,
  ``backtesting.lib.FractionalBacktest(fractional_unit=1e-8)`` trades whole satoshis, so
  ours uses ``lot_size=1e-8`` for the exact comparison.
- Sizing, vectorbt: ``size=np.inf`` buys ``(cash - fixed_fees) / (price * (1 + fees))``
  units, continuous — our fractional all-in formula exactly.
- Fees: backtesting.py's ``commission`` is charged on entry and on exit notional like our
  ``fee_pct``. Its fixed commission (tuple form) is divided by the *fractional* order size
  in the sizing step (``commission(0.9999, price) / 0.9999``), i.e. it sizes as if the
  fixed fee were charged per unit; that is a different model, so fixed fees are compared
  against vectorbt (``fixed_fees``) only. Its ``spread`` is applied to the entry only,
  unlike our slippage; vectorbt's ``slippage`` worsens every fill like ours.
- The position open at the end: backtesting.py with ``finalize_trades=False`` (default)
  leaves it out of ``_trades`` but marks it to market in equity, so its trade list equals
  our closed trades and its final equity ours. With ``finalize_trades=True`` it closes the
  position by re-running its last bar, i.e. at the last bar's *open* with an exit fee —
  a different price than our mark at the last close (asserted below). vectorbt's
  ``trades.count()`` includes the open trade (status Open, exit price = last close, no
  exit fee), as ours does.
- backtesting.py's tqdm progress bar is disabled (it would only cost time).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

# The peers are in the test extra: a missing peer must fail the run, not skip it.
import numpy as np
import pandas as pd
import pytest
import vectorbt as vbt
from backtesting import Backtest
from backtesting import Strategy as BtStrategy
from backtesting.lib import FractionalBacktest
from backtesting.test import GOOG
from vectorbt._engine import is_rust_available

from stom_desktop.backtest import BacktestConfig, run_backtest
from stom_desktop.backtest.result import BacktestResult
from stom_desktop.core.bars import BarSeries
from stom_desktop.strategy.base import Signals, Strategy
from stom_desktop.strategy.params import Param

CASH = 10_000.0
FEE = 0.002
ALL_IN = 1 - 1e-12  # backtesting.py's "all of equity" (size=1 would mean one unit)
VBT_ENGINE = "rust" if is_rust_available() else "numba"


# -- one crossover definition for everyone (tiny local SMA, independent of our library) --
def local_sma(x: np.ndarray, period: int) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    csum = np.cumsum(np.r_[0.0, x])
    out[period - 1 :] = (csum[period:] - csum[:-period]) / period
    return out


def local_cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(a.shape[0], dtype=np.bool_)
    with np.errstate(invalid="ignore"):
        out[1:] = (a[1:] > b[1:]) & (a[:-1] <= b[:-1])
    return out


def sma_cross_signals(close: np.ndarray, fast: int = 10, slow: int = 30) -> tuple[np.ndarray, ...]:
    f, s = local_sma(close, fast), local_sma(close, slow)
    return local_cross(f, s), local_cross(s, f)


class ParitySmaCross(Strategy):
    """Long-only SMA crossover using the local helpers above."""

    name = "parity_sma_cross"
    fast = Param(10, 2, 100)
    slow = Param(30, 3, 300)

    def signals(self, bars: BarSeries, ta: object) -> Signals:
        entries, exits = sma_cross_signals(bars.close, self.p.fast, self.p.slow)
        return Signals(entries=entries, exits=exits)


# -- data ---------------------------------------------------------------------------------
def random_walk_ohlc(n: int = 4000, seed: int = 20240601) -> pd.DataFrame:
    """A realistic daily random walk: log-normal closes, gaps, intrabar ranges."""
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.018, n)))
    open_ = np.r_[50.0, close[:-1]] * np.exp(rng.normal(0.0, 0.004, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.006, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.006, n)))
    index = pd.date_range("2008-01-01", periods=n, freq="B")
    return pd.DataFrame(
        {"Open": open_, "High": high, "Low": low, "Close": close, "Volume": 1e6}, index=index
    )


DATASETS = {"random_walk": random_walk_ohlc(), "GOOG": GOOG}


def to_bars(df: pd.DataFrame) -> BarSeries:
    ts = (df.index.tz_localize("UTC").as_unit("ms").asi8).astype(np.int64)
    return BarSeries.from_arrays(
        "SIM", "1d", ts, df.Open, df.High, df.Low, df.Close, df.Volume.astype(float)
    )


@pytest.fixture(autouse=True)
def _no_tqdm(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """backtesting.py wraps its loop in tqdm when installed; a plain iterator is enough."""
    import backtesting.backtesting as btmod

    monkeypatch.setattr(btmod, "_tqdm", lambda seq, **_: seq)
    yield


# -- peers ----------------------------------------------------------------------------------
def run_backtesting_py(
    df: pd.DataFrame, *, commission: float, fractional: bool, finalize: bool = False
) -> pd.Series:
    entries, exits = sma_cross_signals(df.Close.to_numpy())

    class Precomputed(BtStrategy):
        def init(self) -> None:
            pass

        def next(self) -> None:
            i = len(self.data) - 1
            if exits[i] and self.position:
                self.position.close()
            if entries[i] and not self.position:
                self.buy(size=ALL_IN)

    kwargs = {"cash": CASH, "commission": commission, "finalize_trades": finalize}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "trades remain open", "prices larger than cash"
        if fractional:
            runner = FractionalBacktest(df, Precomputed, fractional_unit=1e-8, **kwargs)
        else:
            runner = Backtest(df, Precomputed, **kwargs)
        return runner.run()


def run_vectorbt(
    df: pd.DataFrame, *, fees: float, fixed_fees: float = 0.0, slippage: float = 0.0
) -> object:
    entries, exits = sma_cross_signals(df.Close.to_numpy())
    # next-open fills: the decision of bar i executes on bar i+1 at its open
    shifted_e = pd.Series(np.r_[False, entries[:-1]], index=df.index)
    shifted_x = pd.Series(np.r_[False, exits[:-1]], index=df.index)
    return vbt.Portfolio.from_signals(
        df.Close, shifted_e, shifted_x, price=df.Open, size=np.inf, fees=fees,
        fixed_fees=fixed_fees, slippage=slippage, init_cash=CASH, freq="1D",
        engine=VBT_ENGINE,
    )  # fmt: skip


def ours(df: pd.DataFrame, **config: float | bool | None) -> BacktestResult:
    cfg = BacktestConfig(initial_capital=CASH, **config)  # type: ignore[arg-type]
    return run_backtest(ParitySmaCross(), to_bars(df), cfg)


def assert_same_as_backtesting_py(mine: BacktestResult, stats: pd.Series) -> None:
    theirs = stats["_trades"]
    closed = mine.closed_trades
    assert len(closed) == len(theirs) > 10
    np.testing.assert_array_equal(closed["entry_idx"], theirs["EntryBar"])
    np.testing.assert_array_equal(closed["exit_idx"], theirs["ExitBar"])
    np.testing.assert_allclose(closed["entry_price"], theirs["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(closed["exit_price"], theirs["ExitPrice"], rtol=1e-12)
    np.testing.assert_allclose(closed["size"], theirs["Size"], rtol=1e-12)
    np.testing.assert_allclose(closed["pnl"], theirs["PnL"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(closed["return"], theirs["ReturnPct"], rtol=1e-9, atol=1e-12)
    equity = stats["_equity_curve"]["Equity"].to_numpy()
    assert mine.equity[-1] == pytest.approx(stats["Equity Final [$]"], rel=1e-12)
    # whole curve, from the first bar backtesting.py simulates
    np.testing.assert_allclose(mine.equity[1:], equity[1:], rtol=1e-12)


# -- backtesting.py -----------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("fee", [0.0, FEE])
def test_whole_units_match_backtesting_py(dataset: str, fee: float) -> None:
    """Default backtesting.py (whole shares) vs our integer sizing; no fees and with fees."""
    df = DATASETS[dataset]
    mine = ours(df, fee_pct=fee, fractional=False, size_fraction=ALL_IN)
    stats = run_backtesting_py(df, commission=fee, fractional=False)
    assert_same_as_backtesting_py(mine, stats)
    assert (mine.trades["size"] == np.floor(mine.trades["size"])).all()


@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize("fee", [0.0, FEE])
def test_fractional_units_match_fractional_backtest(dataset: str, fee: float) -> None:
    """``FractionalBacktest(fractional_unit=1e-8)`` trades whole satoshis: ``lot_size=1e-8``."""
    df = DATASETS[dataset]
    mine = ours(df, fee_pct=fee, lot_size=1e-8, size_fraction=ALL_IN)
    stats = run_backtesting_py(df, commission=fee, fractional=True)
    theirs = stats["_trades"]
    closed = mine.closed_trades
    # FractionalBacktest scales prices by 1e-8 and back, so prices/sizes agree to ~1 ulp
    # and a size may differ by one satoshi when the quotient lands on a lot boundary.
    assert len(closed) == len(theirs) > 10
    np.testing.assert_array_equal(closed["entry_idx"], theirs["EntryBar"])
    np.testing.assert_array_equal(closed["exit_idx"], theirs["ExitBar"])
    np.testing.assert_allclose(closed["entry_price"], theirs["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(closed["exit_price"], theirs["ExitPrice"], rtol=1e-12)
    np.testing.assert_allclose(closed["size"], theirs["Size"], rtol=0, atol=1.0001e-8)
    assert mine.equity[-1] == pytest.approx(stats["Equity Final [$]"], rel=1e-9)


def test_open_trade_at_end_and_finalize_trades() -> None:
    """Random walk ends in a position: how each convention reports it."""
    df = DATASETS["random_walk"]
    mine = ours(df, fee_pct=FEE, fractional=False, size_fraction=ALL_IN)
    last = mine.trades.iloc[-1]
    assert bool(last["is_open"]), "pick data that ends in a position for this test"
    assert mine.metrics.open_trades == 1
    assert mine.metrics.num_trades == len(mine.trades) - 1
    # finalize_trades=False: left out of the trades, marked to market in equity (no exit fee)
    kept_open = run_backtesting_py(df, commission=FEE, fractional=False)
    assert len(kept_open["_trades"]) == mine.metrics.num_trades
    assert kept_open["# Trades"] == mine.metrics.num_trades
    assert mine.equity[-1] == pytest.approx(kept_open["Equity Final [$]"], rel=1e-12)
    assert last["exit_price"] == df.Close.iloc[-1]
    # finalize_trades=True: closed by re-running the last bar -> at its OPEN, with a fee
    finalized = run_backtesting_py(df, commission=FEE, fractional=False, finalize=True)
    closed_last = finalized["_trades"].iloc[-1]
    assert len(finalized["_trades"]) == len(mine.trades)
    assert closed_last["EntryBar"] == last["entry_idx"]
    assert closed_last["ExitBar"] == len(df) - 1
    assert closed_last["ExitPrice"] == df.Open.iloc[-1]
    size, entry = last["size"], last["entry_price"]
    exit_fee = size * df.Open.iloc[-1] * FEE
    expected = mine.equity[-1] + size * (df.Open.iloc[-1] - df.Close.iloc[-1]) - exit_fee
    assert finalized["Equity Final [$]"] == pytest.approx(expected, rel=1e-12)
    assert closed_last["EntryPrice"] == entry


# -- vectorbt --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", list(DATASETS))
@pytest.mark.parametrize(
    ("fee", "fixed", "slippage_bps"),
    [(0.0, 0.0, 0.0), (FEE, 0.0, 0.0), (FEE, 1.5, 0.0), (FEE, 0.0, 5.0)],
)
def test_fractional_all_in_matches_vectorbt(
    dataset: str, fee: float, fixed: float, slippage_bps: float
) -> None:
    """vectorbt ``size=np.inf`` with fees/fixed fees/slippage vs our continuous all-in."""
    df = DATASETS[dataset]
    mine = ours(df, fee_pct=fee, fee_fixed=fixed, slippage_bps=slippage_bps)
    pf = run_vectorbt(df, fees=fee, fixed_fees=fixed, slippage=slippage_bps * 1e-4)
    theirs = pf.trades.records  # type: ignore[attr-defined]
    trades = mine.trades
    # trades.count() includes the open trade, like our trade list
    assert pf.trades.count() == len(trades) > 10  # type: ignore[attr-defined]
    np.testing.assert_array_equal(trades["entry_idx"], theirs["entry_idx"])
    np.testing.assert_array_equal(trades["exit_idx"], theirs["exit_idx"])
    np.testing.assert_allclose(trades["entry_price"], theirs["entry_price"], rtol=1e-12)
    np.testing.assert_allclose(trades["exit_price"], theirs["exit_price"], rtol=1e-12)
    np.testing.assert_allclose(trades["size"], theirs["size"], rtol=1e-10)
    np.testing.assert_allclose(trades["pnl"], theirs["pnl"], rtol=1e-8, atol=1e-8)
    np.testing.assert_array_equal(trades["is_open"], theirs["status"] == 0)
    value = pf.value().to_numpy()  # type: ignore[attr-defined]
    np.testing.assert_allclose(mine.equity, value, rtol=1e-10)
    assert mine.equity[-1] == pytest.approx(value[-1], rel=1e-10)
