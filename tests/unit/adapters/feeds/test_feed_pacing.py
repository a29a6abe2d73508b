"""Speed pacing of the feeds with a fake wall clock: real time, accelerated, closed hours."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from stom_desktop.adapters.feeds import MarketSimulator, SimulatorConfig
from stom_desktop.core.bars import to_ms
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.events import MarketEvent
from stom_desktop.core.instruments import Instrument

MINUTE = 60_000


def _paced_run(sim: MarketSimulator, fake_time, max_polls: int = 100_000) -> list[MarketEvent]:  # type: ignore[no-untyped-def]
    """Poll until finished; every event must be due when it is handed out."""
    pacer = sim._pacer
    out: list[MarketEvent] = []
    for _ in range(max_polls):
        if sim.finished:
            return out
        batch = sim.poll(50)
        if batch and pacer.paced:
            assert batch[-1].ts_ms <= pacer.market_now()  # never early
        out.extend(batch)
    raise AssertionError("feed did not finish")


@pytest.mark.parametrize("speed", [1.0, 60.0])
def test_wall_time_spent_is_market_time_over_speed(fake_time, speed: float) -> None:  # type: ignore[no-untyped-def]
    clock = SimulatedClock(0)
    config = SimulatorConfig(seed=1, duration_ms=10 * MINUTE, speed=speed, book_interval_ms=0)
    sim = MarketSimulator(
        ["SIM1"], config, clock=clock, sleep=fake_time.sleep, monotonic=fake_time.monotonic
    )
    events = _paced_run(sim, fake_time)
    span_s = (events[-1].ts_ms - events[0].ts_ms) / 1000
    assert span_s == pytest.approx(599.0)
    assert sum(fake_time.slept) == pytest.approx(span_s / speed, rel=1e-6)
    assert all(s <= 0.05 + 1e-12 for s in fake_time.slept)  # returns to the engine often
    assert clock.now_ms() >= events[-1].ts_ms


def test_max_speed_never_sleeps(fake_time) -> None:  # type: ignore[no-untyped-def]
    config = SimulatorConfig(seed=1, duration_ms=MINUTE)
    sim = MarketSimulator(["SIM1"], config, sleep=fake_time.sleep, monotonic=fake_time.monotonic)
    assert len(_paced_run(sim, fake_time)) > 60
    assert fake_time.slept == []


def test_paced_feed_returns_nothing_before_the_next_event_is_due(fake_time) -> None:  # type: ignore[no-untyped-def]
    config = SimulatorConfig(seed=1, duration_ms=MINUTE, speed=1.0, quote_interval_ms=5_000)
    sim = MarketSimulator(
        ["SIM1"], config, sleep=fake_time.sleep, monotonic=fake_time.monotonic, max_wait_s=0.5
    )
    first = sim.poll()
    assert [e.ts_ms for e in first] == [config.start_ms] * len(first)  # the t=0 step only
    assert sim.poll() == []  # slept 0.5 s of the 5 s to the next quote
    assert fake_time.slept == [0.5]


def test_closed_hours_are_skipped_without_waiting(fake_time) -> None:  # type: ignore[no-untyped-def]
    seoul = ZoneInfo("Asia/Seoul")
    start = to_ms(datetime(2024, 1, 5, 15, 29, tzinfo=seoul))  # Friday, 1 minute to close
    config = SimulatorConfig(seed=1, start_ms=start, duration_ms=3 * 1440 * MINUTE, speed=60.0)
    sim = MarketSimulator(
        [Instrument.krx_stock("005930")],
        config,
        sleep=fake_time.sleep,
        monotonic=fake_time.monotonic,
    )
    events: list[MarketEvent] = []
    while not any(e.ts_ms >= to_ms(datetime(2024, 1, 8, 9, 1, tzinfo=seoul)) for e in events[-5:]):
        events.extend(sim.poll(100))
    # 2 market minutes at 60x: about 2 wall seconds, not the weekend / 60.
    assert sum(fake_time.slept) == pytest.approx(2.0, abs=0.1)


def test_without_skip_closed_the_pacer_waits_through_the_night(fake_time) -> None:  # type: ignore[no-untyped-def]
    seoul = ZoneInfo("Asia/Seoul")
    start = to_ms(datetime(2024, 1, 4, 15, 29, tzinfo=seoul))  # Thursday
    config = SimulatorConfig(
        seed=1, start_ms=start, duration_ms=1440 * MINUTE, speed=3600.0, skip_closed=False
    )
    sim = MarketSimulator(
        [Instrument.krx_stock("005930")],
        config,
        sleep=fake_time.sleep,
        monotonic=fake_time.monotonic,
        max_wait_s=1.0,
    )
    events: list[MarketEvent] = []
    friday_open = to_ms(datetime(2024, 1, 5, 9, 0, tzinfo=seoul))
    while not events or events[-1].ts_ms < friday_open:
        events.extend(sim.poll(100))
    # 17.5 hours from 15:29 to 09:00 at 3600x = 17.5 wall seconds.
    assert sum(fake_time.slept) == pytest.approx(17.5, abs=0.1)
