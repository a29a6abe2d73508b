"""The LOD pyramid is exact: every bucket is (first open, max high, min low, last close)."""

from __future__ import annotations

import numpy as np
import pytest
from chart_data import random_ohlcv

from stom_desktop.core.errors import DataError
from stom_desktop.gui.charts.lod import CLOSE, HIGH, LOW, OPEN, VOLUME, OhlcvPyramid, level_for

COLS = ("open", "high", "low", "close", "volume")


def reference(cols: dict[str, np.ndarray], k: int) -> np.ndarray:
    """Plain numpy aggregation by buckets of k bars (the definition)."""
    n = cols["open"].shape[0]
    starts = np.arange(0, n, k)
    ends = np.minimum(starts + k, n) - 1
    return np.vstack([
        cols["open"][starts],
        np.maximum.reduceat(cols["high"], starts),
        np.minimum.reduceat(cols["low"], starts),
        cols["close"][ends],
        np.maximum.reduceat(cols["volume"], starts),
    ])  # fmt: skip


def make(cols: dict[str, np.ndarray]) -> OhlcvPyramid:
    store = OhlcvPyramid()
    store.set_bars(cols["ts"], *(cols[c] for c in COLS))
    return store


@pytest.mark.parametrize("n", [1, 2, 3, 1000, 4097, 70_001])
def test_every_level_matches_numpy_reference(n: int) -> None:
    cols = random_ohlcv(n, seed=n)
    store = make(cols)
    for level in range(0, 18):
        got = store.buckets(level, 0, n)
        want = reference(cols, 1 << level)
        assert got.data.shape == want.shape
        np.testing.assert_array_equal(got.data, want)


def test_levels_built_from_coarser_sources_are_exact() -> None:
    cols = random_ohlcv(50_000, seed=1)
    store = make(cols)
    store.buckets(3, 0, 10)  # built from level 0
    store.buckets(9, 0, 10)  # built from level 3
    store.buckets(5, 0, 10)  # built from level 3 too
    assert store.built_levels == [0, 3, 5, 9]
    for level in (3, 5, 9):
        np.testing.assert_array_equal(
            store.buckets(level, 0, 50_000).data, reference(cols, 1 << level)
        )


def test_append_and_update_last_keep_every_built_level_exact() -> None:
    n0 = 3000
    cols = random_ohlcv(n0 + 2500, seed=2)  # appends outgrow the 1024-bar tail twice
    store = make({k: v[:n0] for k, v in cols.items()})
    for level in (1, 4, 8, 11):
        store.buckets(level, 0, 1)
    for i in range(n0, n0 + 2500):
        # first a provisional bar, then its final values: exercises update_last
        store.append(int(cols["ts"][i]), 1.0, 1e9, 0.0, 2.0, 1e9)
        store.update_last(*(float(cols[c][i]) for c in COLS))
    assert len(store) == n0 + 2500
    for level in (0, 1, 4, 8, 11, 13):
        np.testing.assert_array_equal(
            store.buckets(level, 0, len(store)).data, reference(cols, 1 << level)
        )
    lo, hi = store.price_range()
    assert (lo, hi) == (cols["low"].min(), cols["high"].max())
    assert store.max_volume() == cols["volume"].max()
    for row, name in enumerate(COLS):
        np.testing.assert_array_equal(store.column(row), cols[name])


def test_buckets_are_clipped_to_the_requested_bars() -> None:
    cols = random_ohlcv(10_000, seed=3)
    store = make(cols)
    got = store.buckets(4, 1000, 2000)  # 16-bar buckets
    assert (got.first, got.stop) == (1000 // 16, (2000 + 15) // 16)
    np.testing.assert_array_equal(got.data, reference(cols, 16)[:, got.first : got.stop])
    np.testing.assert_allclose(got.centers()[0], got.first * 16 + 7.5)
    assert len(store.buckets(0, 20_000, 30_000)) == 0


@pytest.mark.parametrize(("a", "b"), [(0, 10), (5, 70_000), (12_345, 54_321), (69_990, 70_000)])
def test_extremes_over_a_range_are_exact(a: int, b: int) -> None:
    cols = random_ohlcv(70_000, seed=4)
    store = make(cols)
    store.buckets(6, 0, 1)
    store.buckets(10, 0, 1)
    assert store.extreme(LOW, a, b) == cols["low"][a:b].min()
    assert store.extreme(HIGH, a, b) == cols["high"][a:b].max()
    assert store.extreme(VOLUME, a, b) == cols["volume"][a:b].max()
    assert store.extreme(HIGH, 100, 100) is None
    with pytest.raises(ValueError, match="no extreme"):
        store.extreme(OPEN, a, b)


def test_history_is_not_copied_and_never_written() -> None:
    cols = random_ohlcv(5000, seed=5)
    before = {k: v.copy() for k, v in cols.items()}
    store = make(cols)
    store.update_last(1.0, 2.0, 0.5, 1.5, 3.0)  # the last bar lives in the tail
    store.append(int(cols["ts"][-1]) + 60_000, 1.0, 2.0, 0.5, 1.5, 3.0)
    for k in cols:
        np.testing.assert_array_equal(cols[k], before[k])
    assert np.shares_memory(store._base[OPEN], cols["open"])
    assert store.bar(-2)[1:] == (1.0, 2.0, 0.5, 1.5, 3.0)
    assert store.bar(0) == (int(cols["ts"][0]), *(float(cols[c][0]) for c in COLS))


def test_time_lookups_span_history_and_tail() -> None:
    cols = random_ohlcv(100, seed=6)
    store = make(cols)
    store.append(int(cols["ts"][-1]) + 60_000, 1, 2, 0.5, 1.5, 1)
    ts = np.append(cols["ts"], cols["ts"][-1] + 60_000)
    np.testing.assert_array_equal(store.ts_at([0, 98, 99, 100]), ts[[0, 98, 99, 100]])
    probe = np.array([ts[0] - 1, ts[50], ts[99] + 1, ts[100], ts[100] + 5])
    np.testing.assert_array_equal(store.search_ts(probe), np.searchsorted(ts, probe))
    np.testing.assert_array_equal(
        store.search_ts(probe, side="right"), np.searchsorted(ts, probe, side="right")
    )


def test_bad_input_is_refused_with_data_error() -> None:
    cols = random_ohlcv(10, seed=7)
    store = make(cols)
    with pytest.raises(DataError, match="not after the last bar"):
        store.append(int(cols["ts"][-1]), 1, 1, 1, 1, 1)
    with pytest.raises(DataError, match="column 'high'"):
        OhlcvPyramid().set_bars(cols["ts"], cols["open"], cols["high"][:5], cols["low"],
                                cols["close"], cols["volume"])  # fmt: skip
    with pytest.raises(DataError, match="no bar to update"):
        OhlcvPyramid().update_last(1, 1, 1, 1, 1)
    empty = OhlcvPyramid()
    assert empty.price_range() is None and len(empty.buckets(3, 0, 100)) == 0


def test_level_for_picks_buckets_at_least_min_px_wide() -> None:
    assert level_for(0.2) == 0
    assert level_for(1.0) == 0
    assert level_for(1.01) == 1
    assert level_for(2.0) == 1
    assert level_for(700.0) == 10
    assert level_for(3.0, min_bucket_px=2.0) == 3
    assert level_for(float("nan")) == 0
    assert (OPEN, HIGH, LOW, CLOSE, VOLUME) == (0, 1, 2, 3, 4)
