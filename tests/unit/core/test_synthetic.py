"""The synthetic market: deterministic, valid OHLCV, trending and ranging regimes."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.synthetic import DEFAULT_START_MS, det_exp, generate_bars

FIELDS = ("ts", "open", "high", "low", "close", "volume")


def digest(bars: BarSeries) -> str:
    h = hashlib.sha256()
    for name in FIELDS:
        h.update(getattr(bars, name).tobytes())
    return h.hexdigest()


def test_same_seed_gives_identical_arrays() -> None:
    a = generate_bars("SIM", "1m", 50_000, seed=7)
    b = generate_bars("SIM", "1m", 50_000, seed=7)
    for name in FIELDS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_different_seeds_differ() -> None:
    a = generate_bars("SIM", "1m", 1_000, seed=1)
    b = generate_bars("SIM", "1m", 1_000, seed=2)
    assert not np.array_equal(a.close, b.close)
    assert np.array_equal(a.ts, b.ts)


def test_golden_digest_is_bit_for_bit_stable() -> None:
    """Pinned output: changes only if NumPy changes its PCG64/normal streams (or we do)."""
    bars = generate_bars("SIM", "1m", 1_000, seed=42)
    assert bars.close[999] == 95.04782249269225
    assert bars.volume[0] == 980.8702546542568
    assert digest(bars) == "0f65ebacb79446eecaa77dfc6be0a26846d6ca0fac63540a4064bc2193c82228"


def test_first_open_is_the_start_price_at_any_length() -> None:
    # A longer series is not an extension of a shorter one (draws are laid out per length).
    short = generate_bars("SIM", "1m", 100, seed=3)
    long = generate_bars("SIM", "1m", 200, seed=3)
    assert short.open[0] == long.open[0] == 100.0


@pytest.mark.parametrize("timeframe", ["1s", "1m", "15m", "1h", "1d", "1w"])
def test_valid_ohlc_and_spacing(timeframe: str) -> None:
    bars = generate_bars("SIM", timeframe, 20_000, seed=11, start_price=50.0, annual_vol=0.8)
    bars.validate()
    step = {"1s": 1, "1m": 60, "15m": 900, "1h": 3600, "1d": 86400, "1w": 604800}[timeframe]
    assert bars.ts[0] == DEFAULT_START_MS
    assert np.all(np.diff(bars.ts) == step * 1000)
    assert bars.open[0] == 50.0
    assert np.all(bars.high >= np.maximum(bars.open, bars.close))
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))
    assert np.all(bars.low > 0) and np.all(bars.volume > 0)
    assert np.all(bars.high > bars.low)
    # Open is the previous close plus a small gap, not an unrelated number.
    gaps = bars.open[1:] / bars.close[:-1] - 1
    assert np.max(np.abs(gaps)) < 0.05
    assert np.count_nonzero(gaps) > 0.9 * gaps.size


def test_dtypes_and_contiguity() -> None:
    bars = generate_bars("SIM", "1m", 10, seed=0)
    assert bars.ts.dtype == np.int64 and bars.close.dtype == np.float64
    assert all(getattr(bars, n).flags["C_CONTIGUOUS"] for n in FIELDS)
    assert (bars.symbol, bars.timeframe, len(bars)) == ("SIM", "1m", 10)


def test_volatility_matches_the_requested_level_on_average() -> None:
    bars = generate_bars("SIM", "1h", 200_000, seed=5, annual_vol=0.4, trend=0.0)
    log_returns = np.diff(np.log(bars.close))
    annualised = log_returns.std() * np.sqrt(365 * 24)
    # Regimes scale the volatility by a log-normal level around 1 (mean ~1.06).
    assert 0.3 < annualised < 0.6


def test_regimes_make_an_sma_crossover_trade() -> None:
    bars = generate_bars("SIM", "1m", 20_000, seed=9)
    close = bars.close

    def sma(n: int) -> np.ndarray:
        c = np.cumsum(np.insert(close, 0, 0.0))
        return (c[n:] - c[:-n]) / n

    fast, slow = sma(10)[20:], sma(30)
    above = fast > slow
    crossings = np.count_nonzero(above[1:] != above[:-1])
    assert crossings > 100
    # Trending regimes: some 2,000-bar windows move far more than others.
    moves = np.abs(np.log(close[2000::2000] / close[:-2000:2000]))
    assert moves.max() > 3 * np.median(moves)


def test_zero_bars_is_an_empty_series() -> None:
    bars = generate_bars("SIM", "1d", 0, seed=1)
    assert len(bars) == 0 and bars.ts.dtype == np.int64


def test_custom_start_and_volume() -> None:
    bars = generate_bars("SIM", "1d", 500, seed=1, start_ms=0, base_volume=10.0)
    assert bars.ts[0] == 0 and bars.ts[1] == 86_400_000
    assert 2.0 < float(np.median(bars.volume)) < 50.0


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"n_bars": -1}, "n_bars"),
        ({"seed": -5}, "seed"),
        ({"start_price": 0.0}, "start_price"),
        ({"annual_vol": -0.1}, "annual_vol"),
        ({"regime_bars": 0}, "regime_bars"),
        ({"base_volume": float("nan")}, "base_volume"),
        ({"timeframe": "1 minute"}, "timeframe"),
        ({"symbol": ""}, "symbol"),
        ({"annual_vol": 1e6, "n_bars": 10_000}, "annual_vol"),
    ],
)
def test_invalid_arguments_name_the_parameter(kwargs: dict[str, object], key: str) -> None:
    args: dict[str, object] = {"symbol": "SIM", "timeframe": "1m", "n_bars": 100, "seed": 1}
    args.update(kwargs)
    with pytest.raises(ConfigurationError) as info:
        generate_bars(**args)  # type: ignore[arg-type]
    assert info.value.key == key


def test_det_exp_matches_numpy_within_one_ulp() -> None:
    x = np.linspace(-699, 699, 200_001)
    ours, ref = det_exp(x), np.exp(x)
    ulps = np.abs(ours.view(np.int64) - ref.view(np.int64))
    assert ulps.max() <= 1
    assert det_exp(np.zeros(3)).tolist() == [1.0, 1.0, 1.0]
    assert det_exp(np.array([[0.0, 1.0]])).shape == (1, 2)
    with pytest.raises(ValueError, match="outside"):
        det_exp([800.0])
