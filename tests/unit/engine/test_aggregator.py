"""BarAggregator: ticks -> OHLCV bars, time-driven closing, partial updates, late ticks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.events import BarEvent, QuoteEvent, TradeTick
from stom_desktop.core.synthetic import generate_bars
from stom_desktop.engine.aggregator import BarAggregator

T0 = 1_704_067_200_000
M = 60_000


def make(*timeframes: str, **kwargs: object) -> tuple[BarAggregator, list[BarEvent]]:
    out: list[BarEvent] = []
    return BarAggregator(timeframes or ("1m",), out.append, **kwargs), out  # type: ignore[arg-type]


def test_trades_build_ohlcv_and_close_at_the_boundary() -> None:
    agg, out = make("1m")
    for ts, price, size in [
        (T0, 10.0, 1),
        (T0 + 5, 12.0, 2),
        (T0 + 9, 9.0, 3),
        (T0 + 59_999, 11.0, 4),
    ]:
        agg.on_trade(TradeTick("A", ts, price, size))
    assert out == []
    assert agg.next_close_ms == T0 + M
    assert agg.close_due(T0 + M - 1) == 0
    assert agg.close_due(T0 + M) == 1
    assert out == [BarEvent("A", "1m", T0, 10.0, 12.0, 9.0, 11.0, 10.0, True)]
    assert agg.forming("A", "1m") is None


def test_a_newer_tick_closes_the_bar_without_close_due() -> None:
    agg, out = make("1m")
    agg.on_trade(TradeTick("A", T0, 10.0, 1))
    agg.on_trade(TradeTick("A", T0 + 3 * M + 7, 11.0, 1))  # two empty minutes: no bars
    assert out == [BarEvent("A", "1m", T0, 10.0, 10.0, 10.0, 10.0, 1.0, True)]
    forming = agg.forming("A", "1m")
    assert forming is not None and forming.ts_ms == T0 + 3 * M and not forming.closed


def test_close_due_closes_every_symbol_that_ended() -> None:
    agg, out = make("1m")
    agg.on_trade(TradeTick("A", T0 + 1, 10.0, 1))
    agg.on_trade(TradeTick("B", T0 + 2, 20.0, 1))
    agg.on_trade(TradeTick("A", T0 + M + 1, 10.5, 1))  # A closes itself; B did not tick
    assert [b.symbol for b in out] == ["A"]
    agg.close_due(T0 + M + 1)
    assert [b.symbol for b in out] == ["A", "B"]
    assert agg.next_close_ms == T0 + 2 * M


def test_quotes_use_last_or_mid_and_carry_no_volume() -> None:
    last, out_last = make("1m")
    mid, out_mid = make("1m", price_source="mid")
    for agg in (last, mid):
        agg.on_quote(QuoteEvent("A", T0, 99.0, 101.0, 100.5, 5.0, 5.0))
        agg.on_trade(TradeTick("A", T0 + 1, 100.0, 7.0))
        agg.flush()
    assert out_last[0].open == 100.5 and out_last[0].volume == 7.0
    assert out_mid[0].open == 100.0 and out_mid[0].volume == 7.0
    assert last.last_price("A") == 100.0
    with pytest.raises(ConfigurationError):
        make("1m", price_source="vwap")


def test_bad_prices_and_late_ticks_are_ignored() -> None:
    agg, out = make("1m")
    agg.on_trade(TradeTick("A", T0 + M, 10.0, 1))
    agg.on_trade(TradeTick("A", T0 + M + 1, math.nan, 1))
    agg.on_trade(TradeTick("A", T0 + M + 2, 0.0, 1))
    agg.on_trade(TradeTick("A", T0 + 5, 50.0, 1))  # older than the forming bar
    assert agg.late_ticks == 1
    agg.flush()
    assert out == [BarEvent("A", "1m", T0 + M, 10.0, 10.0, 10.0, 10.0, 1.0, True)]


def test_several_timeframes_agree_with_each_other() -> None:
    agg, out = make("1m", "5m")
    rng = np.random.default_rng(0)
    prices = 100 + np.cumsum(rng.normal(0, 0.1, 600))
    for i, price in enumerate(prices):
        agg.on_trade(TradeTick("A", T0 + i * 1000, float(price), 1.0))
    agg.flush()
    ones = [b for b in out if b.timeframe == "1m"]
    fives = [b for b in out if b.timeframe == "5m"]
    assert len(ones) == 10 and len(fives) == 2
    first_five = ones[:5]
    assert fives[0] == BarEvent(
        "A", "5m", T0, first_five[0].open, max(b.high for b in first_five),
        min(b.low for b in first_five), first_five[-1].close, 300.0, True,
    )  # fmt: skip


def test_partial_updates_are_throttled_in_market_time() -> None:
    agg, out = make("1m", partial_every_ms=10_000)
    for s in range(60):
        agg.on_trade(TradeTick("A", T0 + s * 1000, 100.0 + s, 1.0))
    partial = [b for b in out if not b.closed]
    # the bar's start plus one update every 10 s of market time
    assert [b.ts_ms for b in partial] == [T0] * 6
    assert [b.close for b in partial] == [100.0, 110.0, 120.0, 130.0, 140.0, 150.0]
    assert [b.volume for b in partial] == [1.0, 11.0, 21.0, 31.0, 41.0, 51.0]


def test_offset_shifts_bucket_alignment() -> None:
    agg, out = make("1h", offset_ms=30 * M)
    agg.on_trade(TradeTick("A", T0 + 31 * M, 1.0, 1.0))
    agg.flush()
    assert out[0].ts_ms == T0 + 30 * M


def test_rebuilds_stored_bars_exactly_from_ohlc_ticks() -> None:
    bars = generate_bars("S", "1m", 500, seed=9)
    agg, out = make("1m", "1h")
    for i in range(len(bars)):
        ts = int(bars.ts[i])
        for k, p in enumerate((bars.open[i], bars.high[i], bars.low[i], bars.close[i])):
            agg.on_trade(TradeTick("S", ts + k * 1000, float(p), 0.0))
    agg.flush()
    ones = [b for b in out if b.timeframe == "1m"]
    np.testing.assert_array_equal([b.open for b in ones], bars.open)
    np.testing.assert_array_equal([b.high for b in ones], bars.high)
    np.testing.assert_array_equal([b.low for b in ones], bars.low)
    np.testing.assert_array_equal([b.close for b in ones], bars.close)
    assert len([b for b in out if b.timeframe == "1h"]) == math.ceil(500 / 60)


def test_configuration_is_checked() -> None:
    with pytest.raises(ConfigurationError):
        BarAggregator([], lambda b: None)
    with pytest.raises(ConfigurationError, match="timeframe"):
        BarAggregator(["7x"], lambda b: None)
    with pytest.raises(ConfigurationError, match="partial_every_ms"):
        BarAggregator(["1m"], lambda b: None, partial_every_ms=-1)
