"""Deterministic synthetic OHLCV markets: geometric Brownian motion with regime changes.

``generate_bars(symbol, timeframe, n_bars, seed)`` returns the same arrays, bit for bit, on
every run and every machine with the same NumPy release:

* random numbers come from ``numpy.random.Generator(PCG64(seed))``;
* everything else uses only IEEE-754 operations that are correctly rounded everywhere
  (``+ - * /``, ``sqrt``, ``rint``, ``ldexp``, a sequential ``cumsum``). In particular the
  exponential is :func:`det_exp` below, not ``np.exp``: NumPy's vectorised ``exp`` has
  CPU-specific (AVX-512) code paths that may differ in the last bit between machines.

The market is continuous (crypto-like, 24/7): bar ``i`` opens at ``start_ms + i * timeframe``
for every timeframe including ``1d``; there are no sessions, weekends or holidays.

Model, per bar ``t`` in regime ``g`` (regimes last ``regime_bars`` bars on average, uniform
between a quarter and 1.75 times that):

* volatility ``annual_vol * m_g`` with a level ``m_g`` (log-normal around 1) per regime;
* log return open->close ``r_t = (drift - s_g**2 / 2) dt + k_g s_g sqrt(dt) + s_g sqrt(dt) z_t``,
  where ``k_g ~ N(0, trend)`` gives each regime an up, down or flat trend, so trend-following
  and mean-reversion strategies both find trades;
* open = previous close times a small gap ``1 + 0.1 s_g sqrt(dt) (u - 1/2)``, u uniform;
* high/low extend beyond max/min(open, close) by a factor ``1 + s_g sqrt(dt) u``; volume is
  log-normal around ``base_volume``, larger on larger moves and in volatile regimes.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from stom_desktop.core.bars import BarSeries, FloatArray
from stom_desktop.core.enums import timeframe_seconds
from stom_desktop.core.errors import ConfigurationError

__all__ = ["DEFAULT_START_MS", "det_exp", "generate_bars"]

DEFAULT_START_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
_YEAR_SECONDS = 365 * 86_400  # a continuous market trades every second of the year

# exp(x) = 2**k * exp(r), r = x - k ln2 in [-ln2/2, ln2/2]; ln2 split in two (fdlibm) so that
# k * _LN2_HI is exact. Degree-13 Taylor polynomial: truncation error < 2e-17 relative.
_INV_LN2 = 1.44269504088896338700e00
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_EXP_COEFFS = tuple(1.0 / math.factorial(i) for i in range(13, -1, -1))  # highest degree first
_CHUNK = 1 << 15  # elements per pass: keeps the Horner loop in cache
_MAX_EXP_ARG = 700.0  # exp(709.8) overflows float64


def det_exp(x: npt.ArrayLike) -> FloatArray:
    """``exp(x)`` element-wise from correctly rounded operations only: identical everywhere.

    Accurate to about 1 ulp (it is not meant to replace ``np.exp``, only to make synthetic
    data reproducible across CPUs). ``|x|`` must be below 700.
    """
    values = np.ascontiguousarray(x, dtype=np.float64)
    flat = values.reshape(-1)
    if flat.size and not np.all(np.abs(flat) < _MAX_EXP_ARG):
        raise ValueError(f"det_exp: argument outside +/-{_MAX_EXP_ARG}")
    out = np.empty_like(flat)
    for lo in range(0, flat.size, _CHUNK):
        chunk = flat[lo : lo + _CHUNK]
        k = np.rint(chunk * _INV_LN2)
        r = chunk - k * _LN2_HI
        r -= k * _LN2_LO
        poly = np.full_like(r, _EXP_COEFFS[0])
        for coeff in _EXP_COEFFS[1:]:
            poly *= r
            poly += coeff
        out[lo : lo + _CHUNK] = np.ldexp(poly, k.astype(np.int32))
    return out.reshape(values.shape)


def generate_bars(
    symbol: str,
    timeframe: str,
    n_bars: int,
    seed: int,
    *,
    start_ms: int = DEFAULT_START_MS,
    start_price: float = 100.0,
    annual_vol: float = 0.5,
    drift: float = 0.0,
    regime_bars: int = 2_000,
    trend: float = 0.03,
    base_volume: float = 1_000.0,
) -> BarSeries:
    """A deterministic synthetic market of ``n_bars`` bars (see the module docstring).

    ``annual_vol`` and ``drift`` are annualised (365-day year); ``trend`` is the standard
    deviation of a regime's drift per bar in units of that bar's volatility (0 = plain GBM).
    The first bar opens at exactly ``start_price``. Invalid arguments raise
    ``ConfigurationError`` naming the parameter. 5M bars take a fraction of a second.
    """
    tf_seconds = timeframe_seconds(timeframe)
    _check(symbol, n_bars, seed, start_price, annual_vol, regime_bars, trend, base_volume)
    rng = np.random.Generator(np.random.PCG64(seed))
    n = int(n_bars)
    dt = tf_seconds / _YEAR_SECONDS
    sqrt_dt = math.sqrt(dt)  # sqrt is correctly rounded in IEEE-754: identical everywhere

    # Regimes: lengths uniform in [L/4, 7L/4]; enough of them to cover n bars.
    shortest = max(1, regime_bars // 4)
    longest = max(shortest, regime_bars * 7 // 4)
    n_regimes = n // shortest + 1
    lengths = rng.integers(shortest, longest + 1, size=n_regimes)
    starts = np.cumsum(lengths)
    marks = np.zeros(n, dtype=np.int64)
    marks[starts[starts < n]] = 1
    regime = np.cumsum(marks)  # regime number of every bar, O(n)
    vol_level = det_exp(0.35 * rng.standard_normal(n_regimes))
    trend_k = trend * rng.standard_normal(n_regimes)
    sigma_regime = annual_vol * vol_level * sqrt_dt  # per bar, for each regime
    mu_regime = (drift - 0.5 * (annual_vol * vol_level) ** 2) * dt + trend_k * sigma_regime
    sigma_bar = sigma_regime[regime]

    shocks = rng.standard_normal((2, n))  # body, volume noise
    uniforms = rng.random((3, n))  # gap, upper wick, lower wick (uniform: cheaper to draw)
    body = mu_regime[regime] + sigma_bar * shocks[0]  # log return open -> close
    # Open = previous close x gap; close = open x exp(body). As one running product (exact
    # IEEE multiplications in order) this needs a single exp per bar.
    gap = 1.0 + 0.1 * sigma_bar * (uniforms[0] - 0.5)
    if n:
        gap[0] = 1.0  # the first bar opens at exactly start_price
    np.maximum(gap, 0.5, out=gap)  # only an absurd annual_vol could push it towards 0
    step = gap * det_exp(np.clip(body, -_MAX_EXP_ARG / 2, _MAX_EXP_ARG / 2))
    close = start_price * np.cumprod(step)
    open_ = np.empty(n)
    if n:
        open_[0] = start_price
        open_[1:] = close[:-1] * gap[1:]
    if not (np.all(np.isfinite(close)) and np.all(close > 0) and np.all(open_ > 0)):
        raise ConfigurationError(
            "drift/annual_vol drive prices outside the float range over this many bars",
            key="annual_vol",
        )
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    # Wicks as multipliers 1+w and 1/(1+w), w >= 0: never inside the body, never negative.
    high = top * (1.0 + sigma_bar * uniforms[1])
    low = bottom / (1.0 + sigma_bar * uniforms[2])
    np.maximum(high, top, out=high)  # rounding cannot break these; make it explicit
    np.minimum(low, bottom, out=low)

    move = np.abs(shocks[0])  # bigger moves trade more
    volume = base_volume * vol_level[regime] * (0.5 + move)
    volume *= det_exp(0.5 * shocks[1])  # log-normal noise

    ts = start_ms + np.arange(n, dtype=np.int64) * (tf_seconds * 1000)
    return BarSeries.from_arrays(
        symbol, timeframe, ts, open_, high, low, close, volume, source=f"synthetic {symbol}"
    )


def _check(
    symbol: str,
    n_bars: int,
    seed: int,
    start_price: float,
    annual_vol: float,
    regime_bars: int,
    trend: float,
    base_volume: float,
) -> None:
    """Refuse arguments that cannot make a valid market, naming the parameter."""
    checks: tuple[tuple[str, bool, str], ...] = (
        ("symbol", bool(symbol.strip()), "must not be empty"),
        ("n_bars", isinstance(n_bars, int) and n_bars >= 0, "must be an integer >= 0"),
        ("seed", isinstance(seed, int) and seed >= 0, "must be an integer >= 0"),
        ("start_price", math.isfinite(start_price) and start_price > 0, "must be > 0"),
        ("annual_vol", math.isfinite(annual_vol) and annual_vol >= 0, "must be >= 0"),
        ("regime_bars", isinstance(regime_bars, int) and regime_bars >= 1, "must be >= 1"),
        ("trend", math.isfinite(trend) and trend >= 0, "must be >= 0"),
        ("base_volume", math.isfinite(base_volume) and base_volume >= 0, "must be >= 0"),
    )
    for key, ok, rule in checks:
        if not ok:
            raise ConfigurationError(f"{rule}", key=key)
