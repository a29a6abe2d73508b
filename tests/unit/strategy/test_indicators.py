"""Indicators against straightforward pandas/numpy references, warm-up lengths, causality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from strategy_factories import make_bars

from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy import indicators as ind

RNG = np.random.default_rng(42)
N = 600
PRICE = 100.0 * np.exp(np.cumsum(RNG.normal(0.0, 0.01, N)))
BARS = make_bars(N, seed=3)


def seeded_ewm(x: np.ndarray, period: int, alpha: float) -> np.ndarray:
    """Reference: seed with the mean of the first ``period`` values, then pandas ewm."""
    s = pd.Series(x).dropna()
    first = s.index[0]
    out = np.full(len(x), np.nan)
    seed = s.iloc[:period].mean()
    tail = pd.concat([pd.Series([seed]), s.iloc[period:]], ignore_index=True)
    smoothed = tail.ewm(alpha=alpha, adjust=False).mean().to_numpy()
    out[first + period - 1 :] = smoothed
    return out


def first_valid(x: np.ndarray) -> int:
    return int(np.flatnonzero(~np.isnan(x))[0])


@pytest.mark.parametrize("period", [1, 2, 5, 20, 200])
def test_sma_matches_pandas_rolling_mean(period: int) -> None:
    got = ind.sma(PRICE, period)
    want = pd.Series(PRICE).rolling(period).mean().to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[: period - 1]).all() and not np.isnan(got[period - 1 :]).any()


def test_sma_is_exact_on_flat_windows_and_long_histories() -> None:
    # 50k values: crosses several re-sync blocks; a flat stretch must give the exact value,
    # otherwise fast and slow averages of a flat market would "cross" by rounding noise.
    x = 1000.0 + np.cumsum(RNG.normal(0.0, 1.0, 50_000))
    x[20_000:20_500] = x[20_000]
    got = ind.sma(x, 30)
    want = pd.Series(x).rolling(30).mean().to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    assert (got[20_029:20_500] == x[20_000]).all()
    assert (ind.sma(x, 10)[20_029:20_500] == got[20_029:20_500]).all()


def test_sma_with_nan_input_is_nan_only_while_window_holds_a_nan() -> None:
    x = PRICE.copy()
    x[:7] = np.nan  # e.g. the warm-up of another indicator
    x[300] = np.nan
    got = ind.sma(x, 10)
    want = pd.Series(x).rolling(10).mean().to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[300:310]).all() and not np.isnan(got[310])


@pytest.mark.parametrize("period", [1, 3, 12, 26])
def test_ema_is_sma_seeded_pandas_ewm(period: int) -> None:
    got = ind.ema(PRICE, period)
    want = seeded_ewm(PRICE, period, 2.0 / (period + 1))
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    assert first_valid(got) == period - 1
    assert got[period - 1] == pytest.approx(PRICE[:period].mean(), rel=1e-14)


def test_ema_skips_leading_nans_of_another_indicator() -> None:
    inner = ind.sma(PRICE, 10)
    got = ind.ema(inner, 5)
    assert first_valid(got) == 9 + 4
    np.testing.assert_allclose(got, seeded_ewm(inner, 5, 2.0 / 6), rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("period", [2, 14, 30])
def test_rsi_matches_wilder_reference(period: int) -> None:
    delta = pd.Series(PRICE).diff()
    gains = delta.clip(lower=0.0).to_numpy()
    losses = (-delta.clip(upper=0.0)).to_numpy()
    avg_gain = seeded_ewm(gains, period, 1.0 / period)
    avg_loss = seeded_ewm(losses, period, 1.0 / period)
    want = 100.0 - 100.0 / (1.0 + avg_gain / avg_loss)
    got = ind.rsi(PRICE, period)
    np.testing.assert_allclose(got, want, rtol=1e-10, equal_nan=True)
    assert first_valid(got) == period
    assert ((got[period:] >= 0) & (got[period:] <= 100)).all()


def test_rsi_of_another_indicator_skips_its_warm_up() -> None:
    inner = ind.sma(PRICE, 10)  # NaN for the first 9 bars
    got = ind.rsi(inner, 14)
    assert first_valid(got) == 9 + 14
    np.testing.assert_allclose(got[9:], ind.rsi(inner[9:], 14), rtol=1e-12, equal_nan=True)


def test_rsi_edge_cases_rising_and_flat() -> None:
    assert (ind.rsi(np.arange(1.0, 40.0), 14)[14:] == 100.0).all()
    assert (ind.rsi(np.full(40, 5.0), 14)[14:] == 50.0).all()
    assert (ind.rsi(np.arange(40.0, 1.0, -1.0), 14)[14:] == 0.0).all()


@pytest.mark.parametrize(("period", "k"), [(2, 1.0), (20, 2.0), (50, 2.5)])
def test_bollinger_uses_population_std(period: int, k: float) -> None:
    mid, upper, lower = ind.bollinger(PRICE, period, k)
    # Exact two-pass reference per window (pandas' online std loses ~1e-7 on short windows).
    std = np.full(N, np.nan)
    std[period - 1 :] = np.lib.stride_tricks.sliding_window_view(PRICE, period).std(axis=1)
    s = pd.Series(PRICE).rolling(period)
    np.testing.assert_allclose(mid, s.mean().to_numpy(), rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(std, s.std(ddof=0).to_numpy(), rtol=1e-6, equal_nan=True)
    np.testing.assert_allclose(upper - mid, k * std, rtol=1e-7, equal_nan=True)
    np.testing.assert_allclose(mid - lower, k * std, rtol=1e-7, equal_nan=True)
    assert first_valid(upper) == period - 1


def test_bollinger_width_is_zero_on_flat_prices() -> None:
    x = np.r_[PRICE[:50], np.full(60, PRICE[49])]
    mid, upper, lower = ind.bollinger(x, 20, 2.0)
    assert (upper[69:] == mid[69:]).all() and (lower[69:] == mid[69:]).all()


@pytest.mark.parametrize("period", [1, 14, 30])
def test_atr_matches_wilder_true_range_reference(period: int) -> None:
    h, lo, c = BARS.high, BARS.low, BARS.close
    prev = pd.Series(c).shift(1)
    tr = pd.concat(
        [pd.Series(h - lo), (pd.Series(h) - prev).abs(), (pd.Series(lo) - prev).abs()], axis=1
    ).max(axis=1, skipna=False)
    np.testing.assert_allclose(ind.true_range(h, lo, c), tr.to_numpy(), equal_nan=True)
    want = seeded_ewm(tr.to_numpy(), period, 1.0 / period)
    got = ind.atr(h, lo, c, period)
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    assert first_valid(got) == period


@pytest.mark.parametrize("period", [1, 5, 20])
def test_highest_lowest_and_donchian_of_previous_bars(period: int) -> None:
    h, lo = pd.Series(BARS.high), pd.Series(BARS.low)
    np.testing.assert_array_equal(
        ind.highest(BARS.high, period), h.rolling(period).max().to_numpy()
    )
    np.testing.assert_array_equal(ind.lowest(BARS.low, period), lo.rolling(period).min().to_numpy())
    upper, lower, mid = ind.donchian(BARS.high, BARS.low, period)
    np.testing.assert_array_equal(upper, h.rolling(period).max().shift(1).to_numpy())
    np.testing.assert_array_equal(lower, lo.rolling(period).min().shift(1).to_numpy())
    np.testing.assert_allclose(mid, (upper + lower) / 2, equal_nan=True)
    assert first_valid(upper) == period
    # Excluding the current bar is what makes a breakout possible at all.
    assert (BARS.close[period:] > upper[period:]).any()


def test_rolling_extremes_with_nan_input() -> None:
    x = PRICE.copy()
    x[100] = np.nan
    want = pd.Series(x).rolling(5).max().to_numpy()
    np.testing.assert_array_equal(ind.highest(x, 5), want)


def test_macd_components() -> None:
    line, signal, hist = ind.macd(PRICE, 12, 26, 9)
    np.testing.assert_allclose(line, ind.ema(PRICE, 12) - ind.ema(PRICE, 26), equal_nan=True)
    np.testing.assert_allclose(signal, seeded_ewm(line, 9, 0.2), rtol=1e-10, equal_nan=True)
    np.testing.assert_allclose(hist, line - signal, equal_nan=True)
    assert first_valid(line) == 25 and first_valid(signal) == 25 + 8
    with pytest.raises(StrategyError, match="fast period 26 must be shorter than slow period 12"):
        ind.macd(PRICE, 26, 12)


def test_vwap_cumulative_and_daily_reset() -> None:
    n = 3 * 24 * 60  # three days of minutes
    bars = make_bars(n, seed=5)
    typical = (bars.high + bars.low + bars.close) / 3.0
    pv = typical * bars.volume
    cumulative = ind.vwap(bars.high, bars.low, bars.close, bars.volume)
    np.testing.assert_allclose(cumulative, np.cumsum(pv) / np.cumsum(bars.volume), rtol=1e-12)

    offset = 9.0  # Korea: the local day starts at 15:00 UTC
    daily = ind.vwap(bars.high, bars.low, bars.close, bars.volume, bars.ts, utc_offset_hours=offset)
    day = pd.Series((bars.ts + 9 * 3_600_000) // 86_400_000)
    frame = pd.DataFrame({"pv": pv, "v": bars.volume, "day": day})
    grouped = frame.groupby("day")
    want = (grouped["pv"].cumsum() / grouped["v"].cumsum()).to_numpy()
    np.testing.assert_allclose(daily, want, rtol=1e-12)
    # 2024-01-01 00:00 UTC + 15 h is local midnight: the bar there restarts at its own price.
    assert daily[15 * 60] == pytest.approx(typical[15 * 60])
    assert daily[15 * 60 - 1] != pytest.approx(typical[15 * 60 - 1])


def test_vwap_is_nan_until_volume_trades() -> None:
    out = ind.vwap([2.0, 2.0, 3.0], [1.0, 1.0, 1.0], [1.5, 1.5, 2.0], [0.0, 0.0, 5.0])
    assert np.isnan(out[:2]).all() and out[2] == pytest.approx(2.0)


def test_crossed_above_and_below_definition() -> None:
    a = np.array([np.nan, 1.0, 2.0, 2.0, 3.0, 1.0, 2.0, 2.0, 1.0])
    b = np.array([1.5, 1.5, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    # a > b and a[i-1] <= b[i-1]: touching (2 == 2) then rising counts once.
    assert ind.crossed_above(a, b).tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0]
    assert ind.crossed_below(a, b).tolist() == [0, 0, 0, 0, 0, 1, 0, 0, 1]
    # A level works like a constant array; NaN on either side never crosses.
    assert ind.crossed_above(np.array([1.0, 3.0, np.nan, 3.0]), 2.0).tolist() == [0, 1, 0, 0]
    assert ind.crossed_above(np.array([]), 1.0).tolist() == []


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True, None])
def test_bad_periods_are_rejected_with_the_indicator_name(bad: object) -> None:
    with pytest.raises(StrategyError, match=r"sma: period must be a whole number >= 1"):
        ind.sma(PRICE, bad)  # type: ignore[arg-type]
    with pytest.raises(StrategyError, match=r"rsi: period"):
        ind.rsi(PRICE, bad)  # type: ignore[arg-type]


def test_period_longer_than_data_gives_all_nan() -> None:
    assert np.isnan(ind.sma(PRICE[:5], 10)).all()
    assert np.isnan(ind.atr(BARS.high[:5], BARS.low[:5], BARS.close[:5], 10)).all()


def test_outputs_are_float64_and_as_long_as_input() -> None:
    ints = np.arange(1, 101)  # int input is converted, not rejected
    for out in (ind.sma(ints, 5), ind.ema(ints, 5), ind.rsi(ints, 5), ind.highest(ints, 5)):
        assert out.dtype == np.float64 and out.shape == (100,)


CAUSAL_CASES = {
    "sma": lambda b: ind.sma(b.close, 20),
    "ema": lambda b: ind.ema(b.close, 20),
    "rsi": lambda b: ind.rsi(b.close, 14),
    "bollinger": lambda b: np.stack(ind.bollinger(b.close, 20, 2.0)),
    "atr": lambda b: ind.atr(b.high, b.low, b.close, 14),
    "donchian": lambda b: np.stack(ind.donchian(b.high, b.low, 20)),
    "macd": lambda b: np.stack(ind.macd(b.close, 12, 26, 9)),
    "vwap": lambda b: ind.vwap(b.high, b.low, b.close, b.volume, b.ts, utc_offset_hours=9),
}


@pytest.mark.parametrize("name", sorted(CAUSAL_CASES))
def test_indicators_are_causal(name: str) -> None:
    compute = CAUSAL_CASES[name]
    bars = make_bars(20_000, seed=11)  # long enough to cross the running-sum re-sync blocks
    full = compute(bars)
    for length in (40, 977, 8_200, 16_385, 19_999):
        prefix = compute(bars.slice(0, length))
        np.testing.assert_array_equal(prefix, full[..., :length], err_msg=f"prefix {length}")
