"""Bar factories for the strategy tests: random-walk OHLCV with valid high/low/open/close."""

from __future__ import annotations

import numpy as np

from stom_desktop.core.bars import BarSeries

MINUTE_MS = 60_000
START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def make_bars(n: int = 500, seed: int = 7, *, flat_from: int | None = None) -> BarSeries:
    """A random walk of ``n`` one-minute bars; ``flat_from`` freezes the price from there."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, n)))
    if flat_from is not None:
        close[flat_from:] = close[flat_from]
    open_ = np.empty(n)
    open_[0] = close[0]
    open_[1:] = close[:-1]
    spread = np.abs(rng.normal(0.0, 0.004, n)) * close
    if flat_from is not None:
        spread[flat_from:] = 0.0
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.uniform(1.0, 100.0, n)
    ts = START_MS + MINUTE_MS * np.arange(n, dtype=np.int64)
    return BarSeries.from_arrays("TEST", "1m", ts, open_, high, low, close, volume)
