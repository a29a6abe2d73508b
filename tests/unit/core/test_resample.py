"""core.resample: exact against pandas' resample, DST-correct days, live folding."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import DataError
from stom_desktop.core.resample import (
    LiveResampler,
    bucket_start,
    bucket_starts,
    can_resample,
    resample,
)
from stom_desktop.core.synthetic import generate_bars


def _pandas(series: BarSeries, rule: str, tz: str | None = None) -> pd.DataFrame:
    index = pd.to_datetime(series.ts, unit="ms", utc=True)
    if tz is not None:
        index = index.tz_convert(tz)
    frame = pd.DataFrame(
        {
            "open": series.open,
            "high": series.high,
            "low": series.low,
            "close": series.close,
            "volume": series.volume,
        },
        index=index,
    )
    agg = frame.resample(rule).agg(
        {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    )
    return agg.dropna(subset=["open"])  # empty buckets make no bar


def _with_gaps(series: BarSeries, seed: int) -> BarSeries:
    keep = np.random.default_rng(seed).random(len(series)) > 0.3
    return BarSeries(
        series.symbol,
        series.timeframe,
        series.ts[keep],
        series.open[keep],
        series.high[keep],
        series.low[keep],
        series.close[keep],
        series.volume[keep],
    )


@pytest.mark.parametrize(
    ("source", "target", "rule"),
    [("1m", "5m", "5min"), ("1m", "15m", "15min"), ("1m", "1h", "1h"), ("1s", "1m", "1min")],
)
def test_intraday_equals_pandas_resample(source: str, target: str, rule: str) -> None:
    series = _with_gaps(generate_bars("X", source, 20_000, 5), seed=1)
    out = resample(series, target)
    expected = _pandas(series, rule)
    assert out.timeframe == target
    np.testing.assert_array_equal(out.ts, expected.index.as_unit("ms").asi8)
    for col in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(out, col), expected[col].to_numpy())
    np.testing.assert_allclose(out.volume, expected["volume"].to_numpy(), rtol=1e-12)
    out.validate()  # a valid BarSeries (sorted, high >= low...)


@pytest.mark.parametrize("tz", ["Asia/Seoul", "America/New_York", "UTC"])
def test_daily_buckets_start_at_local_midnight_like_pandas(tz: str) -> None:
    # 1h bars across the March and November DST switches of New York.
    start = int(datetime(2024, 2, 20, tzinfo=ZoneInfo("UTC")).timestamp() * 1000)
    n = 24 * 300
    base = generate_bars("X", "1h", n, 9)
    series = BarSeries(
        "X",
        "1h",
        start + 3_600_000 * np.arange(n, dtype=np.int64),
        base.open,
        base.high,
        base.low,
        base.close,
        base.volume,
    )
    out = resample(series, "1d", tz)
    expected = _pandas(series, "1D", tz)
    np.testing.assert_array_equal(out.ts, expected.index.as_unit("ms").asi8)
    np.testing.assert_array_equal(out.close, expected["close"].to_numpy())
    np.testing.assert_array_equal(out.high, expected["high"].to_numpy())
    first_local = datetime.fromtimestamp(out.ts[1] / 1000, tz=ZoneInfo(tz))
    assert (first_local.hour, first_local.minute) == (0, 0)


def test_weeks_start_on_monday() -> None:
    series = generate_bars("X", "1d", 60, 2)
    out = resample(series, "1w", "UTC")
    weekdays = {datetime.fromtimestamp(t / 1000, tz=ZoneInfo("UTC")).weekday() for t in out.ts}
    assert weekdays == {0}
    assert float(out.volume.sum()) == pytest.approx(float(series.volume.sum()))


def test_same_timeframe_is_returned_and_finer_is_refused() -> None:
    series = generate_bars("X", "1m", 100, 1)
    assert resample(series, "1m") is series
    with pytest.raises(DataError, match="cannot build 1s bars from 1m bars of 'X'"):
        resample(series, "1s")
    assert can_resample("1m", "5m") and can_resample("1s", "1d") and can_resample("1m", "1w")
    assert not can_resample("2m", "5m") and not can_resample("1h", "1m")


def test_bucket_start_matches_the_vector_version() -> None:
    ts = np.array([0, 59_999, 60_000, 1_704_067_199_999, 1_704_067_200_000], dtype=np.int64)
    for tf in ("1m", "5m", "1h", "1d"):
        vec = bucket_starts(ts, tf, "Asia/Seoul")
        assert [bucket_start(int(t), tf, "Asia/Seoul") for t in ts] == vec.tolist()
    # KST midnight is 15:00 UTC the day before
    assert bucket_start(1_704_067_200_000, "1d", "Asia/Seoul") == 1_704_034_800_000


def test_live_resampler_folds_forming_and_closed_minutes_into_five_minutes() -> None:
    series = generate_bars("X", "1m", 23, 4)
    expected = resample(series, "5m")
    live = LiveResampler("5m")
    states: dict[int, tuple[float, ...]] = {}
    for i in range(len(series)):
        t, o, h, lo, c, v = (
            int(series.ts[i]),
            series.open[i],
            series.high[i],
            series.low[i],
            series.close[i],
            series.volume[i],
        )
        # two forming updates (partial high/low/volume), then (sometimes) the closed bar
        live.add(t, o, max(o, c), min(o, c), c, v / 3, False)
        state = live.add(t, o, h, lo, c, v * 0.9, False)
        if i % 2 == 0:  # odd minutes get no closed event: the next minute finalises them
            state = live.add(t, o, h, lo, c, v, True)
        states[state[0]] = state[1:]
    # The last state of every bucket, with unclosed minutes counted at 0.9 volume...
    assert list(states) == expected.ts.tolist()
    for k, t in enumerate(expected.ts):
        o, h, lo, c, _v = states[int(t)]
        assert (o, h, lo, c) == (
            expected.open[k],
            expected.high[k],
            expected.low[k],
            expected.close[k],
        )
    # ...and volume exact when every minute is closed
    live = LiveResampler("5m")
    for i in range(len(series)):
        last = live.add(
            int(series.ts[i]),
            series.open[i],
            series.high[i],
            series.low[i],
            series.close[i],
            series.volume[i],
            True,
        )
    assert last[5] == pytest.approx(expected.volume[-1])
