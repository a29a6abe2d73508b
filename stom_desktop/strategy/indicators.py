"""Technical indicators as pure, causal functions of float64 arrays.

Conventions shared by every function here:

- Inputs are converted to contiguous float64; outputs are new float64 arrays of the same
  length. Bars where a value is not defined yet (warm-up) are NaN.
- Causal: element ``i`` depends only on inputs ``0..i``, so computing on a prefix gives the
  same values as on the full history (the live engine relies on this).
- NaN inputs (e.g. the warm-up of another indicator) are tolerated: rolling windows are NaN
  while they contain a NaN; smoothers skip leading NaNs.
- A period must be a whole number >= 1 (``StrategyError`` otherwise). A period longer than
  the data is not an error here (the result is all NaN); :class:`Indicators` refuses it.

Warm-up lengths (index of the first defined value): ``sma``/``ema``/``bollinger``/
``highest``/``lowest``: ``period - 1``; ``rsi``/``atr``/``donchian``: ``period``;
``macd``: ``slow - 1`` (line), ``slow + signal - 2`` (signal, histogram).
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from stom_desktop.core.errors import StrategyError

if TYPE_CHECKING:
    from stom_desktop.strategy.indicator_cache import Indicators

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "atr",
    "bollinger",
    "crossed_above",
    "crossed_below",
    "donchian",
    "ema",
    "highest",
    "lowest",
    "macd",
    "rsi",
    "sma",
    "true_range",
    "vwap",
]

_DAY_MS = 86_400_000


def _kernels() -> ModuleType:
    """The compiled kernels, imported on first use: importing numba costs ~0.3 s, which
    the GUI should not pay at start-up just to list strategies."""
    from stom_desktop.strategy import _kernels as kernels

    return kernels


def check_period(indicator: str, period: Any) -> int:
    """``period`` as an ``int`` >= 1, or ``StrategyError`` naming the indicator and value."""
    if isinstance(period, bool) or not isinstance(period, int | np.integer) or period < 1:
        raise StrategyError(
            f"{indicator}: period must be a whole number >= 1, got {period!r}",
            hint="parameters used as periods should be declared as int Params",
        )
    return int(period)


def _as_float(x: npt.ArrayLike, indicator: str) -> FloatArray:
    array = np.ascontiguousarray(x, dtype=np.float64)
    if array.ndim != 1:
        raise StrategyError(f"{indicator}: expected a 1-D array, got shape {array.shape}")
    return array


def _same_length(indicator: str, *arrays: FloatArray) -> None:
    lengths = {a.shape[0] for a in arrays}
    if len(lengths) > 1:
        raise StrategyError(f"{indicator}: input arrays differ in length {sorted(lengths)}")


def sma(x: npt.ArrayLike, period: int) -> FloatArray:
    """Simple moving average of the last ``period`` values (a running sum, compiled).

    A window of identical values gives exactly that value, like pandas' ``rolling().mean()``.
    """
    p = check_period("sma", period)
    values = _as_float(x, "sma")
    out, ok = _kernels().sma_clean(values, p)
    return out if ok else _kernels().sma_nan(values, p)


def ema(x: npt.ArrayLike, period: int) -> FloatArray:
    """Exponential moving average, ``alpha = 2 / (period + 1)``, seeded with the SMA.

    Seeding with the mean of the first ``period`` values (the TA-Lib convention) makes the
    value independent of where the history happens to start once a few periods have passed.
    """
    p = check_period("ema", period)
    return _kernels().ewm_seeded(_as_float(x, "ema"), p, 2.0 / (p + 1.0))


def _wilder(x: FloatArray, period: int) -> FloatArray:
    """Wilder's smoothing (``alpha = 1/period``) seeded with the simple mean."""
    return _kernels().ewm_seeded(x, period, 1.0 / period)


def rsi(x: npt.ArrayLike, period: int = 14) -> FloatArray:
    """Relative Strength Index (Wilder), 0..100; first value at index ``period``.

    The first average gain/loss is the mean of the first ``period`` changes, then Wilder's
    smoothing (``alpha = 1/period``). 100 when there were no losses in the smoothing, 50
    when price did not move at all. Leading NaNs (another indicator's warm-up) are skipped.
    """
    p = check_period("rsi", period)
    return _kernels().rsi_kernel(_as_float(x, "rsi"), p)


def bollinger(
    x: npt.ArrayLike, period: int = 20, k: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Bollinger bands ``(mid, upper, lower)``: SMA ± ``k`` population standard deviations.

    The population deviation (ddof=0) is Bollinger's own definition and TA-Lib's; pandas'
    ``rolling().std()`` defaults to ddof=1.
    """
    p = check_period("bollinger", period)
    if not np.isfinite(k) or k < 0:
        raise StrategyError(f"bollinger: k must be a finite number >= 0, got {k!r}")
    values = _as_float(x, "bollinger")
    mid = sma(values, p)
    width = float(k) * _kernels().rolling_std(values, p)
    return mid, mid + width, mid - width


def true_range(high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike) -> FloatArray:
    """True range: ``max(high-low, |high-prev close|, |low-prev close|)``; NaN at bar 0."""
    h, lo, c = (
        _as_float(high, "true_range"),
        _as_float(low, "true_range"),
        _as_float(close, "true_range"),
    )
    _same_length("true_range", h, lo, c)
    out = np.full(h.shape[0], np.nan)
    if h.shape[0] > 1:
        prev = c[:-1]
        out[1:] = np.maximum(
            h[1:] - lo[1:], np.maximum(np.abs(h[1:] - prev), np.abs(lo[1:] - prev))
        )
    return out


def atr(
    high: npt.ArrayLike, low: npt.ArrayLike, close: npt.ArrayLike, period: int = 14
) -> FloatArray:
    """Average true range (Wilder); first value at index ``period`` (the TA-Lib convention:
    bar 0 has no previous close, so the seed is the mean of true ranges 1..period)."""
    p = check_period("atr", period)
    return _wilder(true_range(high, low, close), p)


def highest(x: npt.ArrayLike, period: int) -> FloatArray:
    """Rolling maximum over the last ``period`` bars, *including* the current one."""
    p = check_period("highest", period)
    return _kernels().rolling_extreme(_as_float(x, "highest"), p, True)


def lowest(x: npt.ArrayLike, period: int) -> FloatArray:
    """Rolling minimum over the last ``period`` bars, *including* the current one."""
    p = check_period("lowest", period)
    return _kernels().rolling_extreme(_as_float(x, "lowest"), p, False)


def _shift1(x: FloatArray) -> FloatArray:
    out = np.empty_like(x)
    out[:1] = np.nan
    out[1:] = x[:-1]
    return out


def donchian(
    high: npt.ArrayLike, low: npt.ArrayLike, period: int = 20
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Donchian channel ``(upper, lower, mid)`` of the **previous** ``period`` bars.

    Bar ``i``'s channel covers bars ``i-period..i-1`` (the current bar is excluded), so a
    breakout is simply ``close > upper`` — the convention of the Turtle rules. With the
    current bar included, ``close > upper`` could never be true. First value at index
    ``period``. Use :func:`highest`/:func:`lowest` for windows that include the bar.
    """
    p = check_period("donchian", period)
    h, lo = _as_float(high, "donchian"), _as_float(low, "donchian")
    _same_length("donchian", h, lo)
    upper = _shift1(_kernels().rolling_extreme(h, p, True))
    lower = _shift1(_kernels().rolling_extreme(lo, p, False))
    return upper, lower, (upper + lower) / 2.0


def macd(
    x: npt.ArrayLike, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD ``(line, signal, histogram)``: ``ema(fast) - ema(slow)``, its ``ema(signal)``,
    and their difference. ``fast`` must be shorter than ``slow``."""
    f, s = check_period("macd fast", fast), check_period("macd slow", slow)
    sig = check_period("macd signal", signal)
    if f >= s:
        raise StrategyError(f"macd: fast period {f} must be shorter than slow period {s}")
    values = _as_float(x, "macd")
    line = ema(values, f) - ema(values, s)
    signal_line = ema(line, sig)
    return line, signal_line, line - signal_line


def vwap(
    high: npt.ArrayLike,
    low: npt.ArrayLike,
    close: npt.ArrayLike,
    volume: npt.ArrayLike,
    ts: npt.ArrayLike | None = None,
    *,
    utc_offset_hours: float = 0.0,
) -> FloatArray:
    """Volume-weighted average of the typical price ``(high+low+close)/3``.

    Without ``ts`` it accumulates over the whole history. With ``ts`` (int64 ms UTC bar
    open times) it restarts at each calendar day in the time zone ``UTC+utc_offset_hours``
    (e.g. 9 for Korea), the usual intraday VWAP. NaN until some volume has traded.
    """
    h, lo, c = _as_float(high, "vwap"), _as_float(low, "vwap"), _as_float(close, "vwap")
    vol = _as_float(volume, "vwap")
    _same_length("vwap", h, lo, c, vol)
    if ts is None:
        session = np.zeros(h.shape[0], dtype=np.int64)
    else:
        stamps = np.ascontiguousarray(ts, dtype=np.int64)
        if stamps.shape != h.shape:
            raise StrategyError(f"vwap: ts has shape {stamps.shape}, prices {h.shape}")
        if not np.isfinite(utc_offset_hours) or abs(utc_offset_hours) > 14:
            raise StrategyError(f"vwap: utc_offset_hours {utc_offset_hours!r} is not -14..14")
        offset_ms = round(utc_offset_hours * 3_600_000)
        session = np.floor_divide(stamps + offset_ms, _DAY_MS)
    return _kernels().vwap_kernel((h + lo + c) / 3.0, vol, session)


def _pair(a: npt.ArrayLike, b: npt.ArrayLike | float, name: str) -> tuple[FloatArray, FloatArray]:
    x = np.asarray(a, dtype=np.float64)
    if x.ndim != 1:
        raise StrategyError(f"{name}: expected a 1-D array, got shape {x.shape}")
    # Two indicator arrays of one series (the usual case): nothing to convert or broadcast
    # (np.broadcast_to alone cost ~10 us, more than the comparison on 500 bars).
    if type(b) is np.ndarray and b.dtype == np.float64 and b.shape == x.shape:
        return x, b
    try:
        y = np.broadcast_to(np.asarray(b, dtype=np.float64), x.shape)
    except ValueError as exc:
        raise StrategyError(
            f"{name}: second argument of shape {np.shape(b)} does not match {x.shape}"
        ) from exc
    return x, y


#: Below this length the numpy expression beats calling into compiled code.
_CROSS_KERNEL_MIN = 4096


def _cross(x: FloatArray, y: FloatArray, *, above: bool) -> BoolArray:
    if x.shape[0] >= _CROSS_KERNEL_MIN:
        return _kernels().cross_kernel(np.ascontiguousarray(x), np.ascontiguousarray(y), above)
    out = np.zeros(x.shape, dtype=np.bool_)
    if x.shape[0] > 1:
        if above:
            out[1:] = (x[1:] > y[1:]) & (x[:-1] <= y[:-1])
        else:
            out[1:] = (x[1:] < y[1:]) & (x[:-1] >= y[:-1])
    return out


def crossed_above(a: npt.ArrayLike, b: npt.ArrayLike | float) -> BoolArray:
    """True at bar ``i`` when ``a[i] > b[i] and a[i-1] <= b[i-1]``; bar 0 and NaN are False.

    ``b`` may be an array or a number (a level such as an RSI threshold). This exact
    definition is the one the backtesting.py/vectorbt parity tests use: a touch followed by
    a move up counts, a run of equal values does not produce repeated crossings.
    """
    x, y = _pair(a, b, "crossed_above")
    return _cross(x, y, above=True)


def crossed_below(a: npt.ArrayLike, b: npt.ArrayLike | float) -> BoolArray:
    """True at bar ``i`` when ``a[i] < b[i] and a[i-1] >= b[i-1]``; bar 0 and NaN are False."""
    x, y = _pair(a, b, "crossed_below")
    return _cross(x, y, above=False)


def __getattr__(name: str) -> type[Indicators]:
    # ``Indicators`` lives in indicator_cache (it imports this module); this keeps the
    # ``strategy.indicators.Indicators`` spelling used in base.py's docs working.
    if name == "Indicators":
        from stom_desktop.strategy.indicator_cache import Indicators

        return Indicators
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
