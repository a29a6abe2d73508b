"""Random but valid OHLCV columns for chart tests."""

from __future__ import annotations

import numpy as np


def random_ohlcv(n: int, seed: int) -> dict[str, np.ndarray]:
    """Valid random OHLCV columns with strictly increasing minute timestamps."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.cumprod(1.0 + 0.01 * rng.standard_normal(n))
    open_ = np.concatenate([[100.0], close[:-1]]) * (1.0 + 0.001 * rng.standard_normal(n))
    top = np.maximum(open_, close)
    bottom = np.minimum(open_, close)
    return {
        "ts": 1_704_067_200_000 + 60_000 * np.arange(n, dtype=np.int64),
        "open": open_,
        "high": top * (1.0 + 0.005 * rng.random(n)),
        "low": bottom * (1.0 - 0.005 * rng.random(n)),
        "close": close,
        "volume": rng.lognormal(7.0, 1.0, n),
    }
