"""Fixtures for storage tests: a migrated database on each back-end, closed afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest

from stom_desktop.core.bars import BarSeries
from stom_desktop.persistence import Database, create_database


@pytest.fixture()
def db(database_url: str) -> Iterator[Database]:
    """A freshly migrated database (SQLite file or PostgreSQL), disposed after the test."""
    database = create_database(database_url)
    yield database
    database.dispose()


def _make_series(
    n: int,
    *,
    start_ms: int = 1_700_000_000_000,
    step_ms: int = 60_000,
    seed: int = 1,
    symbol: str = "BTC/USDT",
    timeframe: str = "1m",
) -> BarSeries:
    """A valid random-walk series of ``n`` bars with full-precision float64 values."""
    rng = np.random.default_rng(seed)
    ts = start_ms + np.arange(n, dtype=np.int64) * step_ms
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-3, n)))
    open_ = np.r_[close[:1], close[:-1]]
    high = np.maximum(open_, close) * (1.0 + rng.random(n) * 1e-3)
    low = np.minimum(open_, close) * (1.0 - rng.random(n) * 1e-3)
    volume = rng.random(n) * 1e3
    return BarSeries.from_arrays(symbol, timeframe, ts, open_, high, low, close, volume)


@pytest.fixture()
def make_series() -> Callable[..., BarSeries]:
    """Factory: ``make_series(n, start_ms=, step_ms=, seed=, symbol=, timeframe=)``."""
    return _make_series
