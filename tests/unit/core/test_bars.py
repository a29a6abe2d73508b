"""BarSeries validation, slicing and the millisecond time helpers."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from stom_desktop.core.bars import BarSeries, format_ts, to_ms
from stom_desktop.core.errors import DataError

T0 = 1_704_153_600_000  # 2024-01-02T00:00:00Z
MIN = 60_000


def series(n: int = 5, **overrides: object) -> dict[str, object]:
    arrays: dict[str, object] = {
        "ts": T0 + np.arange(n, dtype=np.int64) * MIN,
        "open": np.full(n, 10.0),
        "high": np.full(n, 11.0),
        "low": np.full(n, 9.0),
        "close": np.full(n, 10.5),
        "volume": np.full(n, 100.0),
    }
    arrays.update(overrides)
    return arrays


def build(**arrays: object) -> BarSeries:
    return BarSeries.from_arrays("SYM", "1m", **arrays)  # type: ignore[arg-type]


def bad(values: list[float], i: int, v: float) -> np.ndarray:
    out = np.array(values, dtype=np.float64)
    out[i] = v
    return out


def test_from_arrays_converts_to_contiguous_int64_and_float64() -> None:
    bars = build(**series(3, ts=[T0, T0 + MIN, T0 + 2 * MIN], volume=[1, 2, 3]))
    assert bars.ts.dtype == np.int64 and bars.volume.dtype == np.float64
    assert bars.volume.tolist() == [1.0, 2.0, 3.0]
    strided = np.arange(10.0)[::2] + 10
    bars = build(**series(5, open=strided, close=strided, high=strided + 1, low=strided - 1))
    assert bars.open.flags["C_CONTIGUOUS"]
    assert len(bars) == 5


def test_empty_series_is_valid() -> None:
    bars = build(**series(0))
    assert len(bars) == 0


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("open", np.nan, "'open' is missing or not a finite number (nan)"),
        ("close", np.inf, "'close' is missing or not a finite number (inf)"),
        ("volume", -1.0, "negative volume -1.0"),
        ("low", -2.0, "negative low -2.0"),
        ("high", 8.5, "high 8.5 is below low 9.0"),
        ("open", 11.5, "open 11.5 is outside the bar's low..high (9.0..11.0)"),
        ("close", 8.9, "close 8.9 is outside the bar's low..high (9.0..11.0)"),
    ],
)
def test_validate_reports_the_first_bad_bar_and_its_line(
    field: str, value: float, needle: str
) -> None:
    base = series(5)
    base[field] = bad(base[field].tolist(), 3, value)  # type: ignore[attr-defined]
    with pytest.raises(DataError) as info:
        BarSeries.from_arrays("SYM", "1m", source="f.csv", first_line=2, **base)  # type: ignore[arg-type]
    assert info.value.line == 5  # element 3, element 0 on line 2
    assert info.value.source == "f.csv"
    assert needle in str(info.value)
    assert str(info.value).startswith("f.csv:5: ")


def test_default_source_names_symbol_and_timeframe() -> None:
    base = series(2, volume=np.array([1.0, -1.0]))
    with pytest.raises(DataError) as info:
        build(**base)
    assert info.value.source == "SYM 1m" and info.value.line == 2


def test_duplicate_and_non_increasing_timestamps() -> None:
    ts = T0 + np.array([0, MIN, MIN, 3 * MIN])
    with pytest.raises(DataError) as info:
        build(**series(4, ts=ts))
    assert info.value.line == 3
    assert "duplicate timestamp 2024-01-02T00:01:00+00:00" in str(info.value)
    assert "oldest first" in str(info.value)
    ts = T0 + np.array([0, 2 * MIN, MIN, 3 * MIN])
    with pytest.raises(DataError) as info:
        build(**series(4, ts=ts))
    assert info.value.line == 3 and "non-increasing timestamp" in str(info.value)
    assert "previous bar is 2024-01-02T00:02:00+00:00" in str(info.value)


def test_column_length_mismatch() -> None:
    with pytest.raises(DataError, match="'close' has a different length"):
        build(**series(3, close=np.full(2, 10.5)))


def test_validation_order_nan_before_ordering() -> None:
    base = series(3, ts=T0 + np.array([0, 0, MIN]))
    base["open"] = bad([10.0, 10.0, 10.0], 2, np.nan)
    with pytest.raises(DataError, match="finite"):
        build(**base)


def test_slice_and_between_are_views() -> None:
    bars = build(**series(10))
    part = bars.slice(2, 5)
    assert len(part) == 3 and part.ts[0] == T0 + 2 * MIN
    assert np.shares_memory(part.close, bars.close)
    assert bars.between(T0 + 3 * MIN, T0 + 6 * MIN).ts.tolist() == [
        T0 + 3 * MIN,
        T0 + 4 * MIN,
        T0 + 5 * MIN,
    ]
    assert len(bars.between(None, None)) == 10
    assert len(bars.between(T0 + 30 * MIN, None)) == 0
    assert bars.between(None, T0 + MIN + 1).ts.tolist() == [T0, T0 + MIN]


def test_format_ts() -> None:
    assert format_ts(T0) == "2024-01-02T00:00:00+00:00"
    assert format_ts(T0 + 1) == "2024-01-02T00:00:00.001000+00:00"
    assert format_ts(-1) == "1969-12-31T23:59:59.999000+00:00"
    # A garbage timestamp in an error message must not raise a second error.
    assert "outside the calendar" in format_ts(10**18)


def test_to_ms_is_exact_for_every_millisecond() -> None:
    # Regression: int(moment.timestamp() * 1000) was 1 ms low for ~0.6% of instants.
    assert to_ms(datetime(1987, 5, 10, 10, 40, 21, 915000, tzinfo=UTC)) == 547_641_621_915
    rng = random.Random(4)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for _ in range(20_000):
        ms = rng.randrange(-(10**12), 4 * 10**12)
        assert to_ms(epoch + timedelta(milliseconds=ms)) == ms


def test_to_ms_converts_offsets_floors_and_refuses_naive() -> None:
    kst = timezone(timedelta(hours=9))
    assert to_ms(datetime(2024, 1, 2, 9, 0, tzinfo=kst)) == T0
    assert to_ms(datetime(2024, 1, 2, 0, 0, 0, 999, tzinfo=UTC)) == T0  # sub-ms floored
    assert to_ms(datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC)) == -1
    with pytest.raises(ValueError, match="naive"):
        to_ms(datetime(2024, 1, 2))
