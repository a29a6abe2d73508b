"""ReplayFeed (bars and O-H/L-C ticks) and RecordedTickFeed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from stom_desktop.adapters.feeds import RecordedTickFeed, ReplayFeed
from stom_desktop.core.bars import BarSeries
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.events import BarEvent, MarketEvent, QuoteEvent, TradeTick
from stom_desktop.core.ports import Feed
from stom_desktop.core.synthetic import generate_bars

T0 = 1_704_067_200_000
MIN = 60_000


def _drain(feed: ReplayFeed | RecordedTickFeed, batch: int = 1000) -> list[MarketEvent]:
    out: list[MarketEvent] = []
    while not feed.finished:
        out.extend(feed.poll(batch))
    return out


def _bars(symbol: str, rows: list[tuple[float, float, float, float, float]], tf: str = "1m",
          start: int = T0) -> BarSeries:  # fmt: skip
    step = {"1m": MIN, "5m": 5 * MIN}[tf]
    ts = start + np.arange(len(rows), dtype=np.int64) * step
    o, h, lo, c, v = (np.array(col, dtype=float) for col in zip(*rows, strict=True))
    return BarSeries.from_arrays(symbol, tf, ts, o, h, lo, c, v)


def test_bars_mode_emits_stored_bars_exactly_merged_by_close_time() -> None:
    a = generate_bars("A", "1m", 300, seed=1)
    b = generate_bars("B", "5m", 60, seed=2, start_ms=a.ts[0])
    clock = SimulatedClock(0)
    feed = ReplayFeed([a, b], mode="bars", clock=clock)
    assert isinstance(feed, Feed)
    events = _drain(feed, batch=37)
    assert len(events) == 360 and all(type(e) is BarEvent and e.closed for e in events)
    by_symbol = {s.symbol: [e for e in events if e.symbol == s.symbol] for s in (a, b)}
    for s in (a, b):
        got = by_symbol[s.symbol]
        assert [e.ts_ms for e in got] == s.ts.tolist()
        assert [(e.open, e.high, e.low, e.close, e.volume) for e in got] == list(
            zip(s.open.tolist(), s.high.tolist(), s.low.tolist(), s.close.tolist(),
                s.volume.tolist(), strict=True)
        )  # fmt: skip
    closes = [e.ts_ms + (MIN if e.timeframe == "1m" else 5 * MIN) for e in events]
    assert closes == sorted(closes)
    # A and B close together every 5 minutes: A (first series) comes first.
    first_b = events.index(by_symbol["B"][0])
    assert events[first_b - 1].symbol == "A" and closes[first_b - 1] == closes[first_b]
    assert clock.now_ms() == max(closes)


def test_ticks_mode_open_nearer_extreme_other_extreme_close() -> None:
    series = _bars("X", [(10, 12, 9, 11, 100), (11, 11.5, 8, 9, 7), (9, 10, 8, 9, 3)])
    events = _drain(ReplayFeed([series], mode="ticks"))
    assert all(type(e) is TradeTick for e in events)
    prices = [e.price for e in events]  # type: ignore[union-attr]
    # Bar 1: high is 2 away, low 1 away: low first. Bar 2: high nearer. Bar 3: tie -> high.
    assert prices == [10, 9, 12, 11, 11, 11.5, 8, 9, 9, 10, 8, 9]
    ts = [e.ts_ms for e in events]
    assert ts[:4] == [T0, T0 + 20_000, T0 + 40_000, T0 + MIN - 1]
    assert all(T0 + i // 4 * MIN <= t < T0 + (i // 4 + 1) * MIN for i, t in enumerate(ts))


def test_ticks_mode_sizes_add_up_exactly_to_bar_volume() -> None:
    series = generate_bars("V", "1m", 2_000, seed=3)
    events = _drain(ReplayFeed([series], mode="ticks"))
    for i, volume in enumerate(series.volume.tolist()):
        total = 0.0
        for e in events[4 * i : 4 * i + 4]:
            assert type(e) is TradeTick
            total += e.size
        assert total == volume


def test_ticks_of_a_long_bar_interleave_with_short_bars_of_other_symbols() -> None:
    fast = _bars("F", [(1, 1, 1, 1, 1)] * 5)
    slow = _bars("S", [(2, 2, 2, 2, 4)], tf="5m")
    events = _drain(ReplayFeed([fast, slow], mode="ticks"), batch=3)
    ts = [e.ts_ms for e in events]
    assert ts == sorted(ts)
    assert [e.symbol for e in events[:2]] == ["F", "S"]  # same instant: series order


def test_ticks_mode_as_quotes_and_both() -> None:
    series = _bars("X", [(10, 12, 9, 11, 8)])
    quotes = _drain(ReplayFeed([series], mode="ticks", ticks_as="quotes"))
    assert [type(e) for e in quotes] == [QuoteEvent] * 4
    q = quotes[0]
    assert isinstance(q, QuoteEvent)
    assert (q.bid, q.ask, q.last, q.bid_size) == (10, 10, 10, 2)
    both = _drain(ReplayFeed([series], mode="ticks", ticks_as="both"))
    assert [type(e) for e in both] == [TradeTick, QuoteEvent] * 4


def test_subscribe_narrows_and_unknown_symbol_is_refused() -> None:
    a, b = _bars("A", [(1, 1, 1, 1, 1)] * 3), _bars("B", [(2, 2, 2, 2, 2)] * 3)
    feed = ReplayFeed([a, b])
    feed.subscribe(["B"])
    assert {e.symbol for e in _drain(feed)} == {"B"}
    with pytest.raises(ConfigurationError, match="ZZZ"):
        ReplayFeed([a]).subscribe(["ZZZ"])


def test_invalid_mode_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="mode"):
        ReplayFeed([], mode="candles")  # type: ignore[arg-type]
    assert ReplayFeed([]).finished


def test_replay_at_10x_takes_a_tenth_of_market_time(fake_time) -> None:  # type: ignore[no-untyped-def]
    series = generate_bars("A", "1m", 30, seed=1)
    feed = ReplayFeed(
        [series], mode="bars", speed=10.0, sleep=fake_time.sleep, monotonic=fake_time.monotonic
    )
    events = _drain(feed)
    assert len(events) == 30
    # The first bar is due at once; the other 29 closes come a minute apart.
    assert sum(fake_time.slept) == pytest.approx(29 * 60 / 10)


@dataclass
class _Ticks:
    symbol: list[str]
    ts: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    last: np.ndarray
    volume: np.ndarray
    bid_size: np.ndarray
    ask_size: np.ndarray
    side: list[str | None]


def _recorded() -> _Ticks:
    nan = np.nan
    return _Ticks(
        symbol=["A", "B", "A", "B"],
        ts=np.array([T0, T0 + 5, T0 + 3, T0 + 9], dtype=np.int64),  # one out of order
        bid=np.array([99.0, nan, 98.0, nan]),
        ask=np.array([101.0, nan, 100.0, nan]),
        last=np.array([100.0, 50.0, nan, 51.0]),
        volume=np.array([nan, 3.0, nan, 4.0]),
        bid_size=np.array([5.0, nan, nan, nan]),
        ask_size=np.array([6.0, nan, nan, nan]),
        side=[None, "buy", None, None],
    )


def test_recorded_ticks_replay_in_recorded_order(fake_time) -> None:  # type: ignore[no-untyped-def]
    clock = SimulatedClock(0)
    events = _drain(RecordedTickFeed(_recorded(), clock=clock), batch=3)
    assert events[0] == QuoteEvent("A", T0, 99.0, 101.0, 100.0, 5.0, 6.0)
    assert events[1] == TradeTick("B", T0 + 5, 50.0, 3.0, Side.BUY)
    assert type(events[2]) is QuoteEvent and events[2].ts_ms == T0 + 3
    assert np.isnan(events[2].last) and np.isnan(events[2].bid_size)
    assert events[3] == TradeTick("B", T0 + 9, 51.0, 4.0, None)
    assert clock.now_ms() == T0 + 9
    feed = RecordedTickFeed(_recorded())
    feed.subscribe(["B"])
    assert [e.symbol for e in _drain(feed)] == ["B", "B"]


def test_recorded_ticks_paced_at_100x(fake_time) -> None:  # type: ignore[no-untyped-def]
    ticks = _recorded()
    ticks.ts = np.array([T0, T0 + 1_000, T0 + 2_000, T0 + 10_000], dtype=np.int64)
    feed = RecordedTickFeed(
        ticks, speed=100.0, sleep=fake_time.sleep, monotonic=fake_time.monotonic
    )
    assert len(_drain(feed)) == 4
    assert sum(fake_time.slept) == pytest.approx(0.1)
