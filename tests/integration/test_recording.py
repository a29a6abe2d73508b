"""Record a simulated session into the database and replay it: the same events come back.

Runs on SQLite and on the real PostgreSQL (``database_url``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterator

import pytest

from stom_desktop.adapters.feeds import (
    MarketSimulator,
    RecordedTickFeed,
    SimulatorConfig,
    TickRecorder,
)
from stom_desktop.core.errors import PersistenceError
from stom_desktop.core.events import MarketEvent, OrderBookEvent
from stom_desktop.core.instruments import Instrument
from stom_desktop.core.ports import Event, EventHandler
from stom_desktop.persistence import Database, create_database
from stom_desktop.persistence.repositories.recordings import RecordingRepository

MINUTE = 60_000


class _Bus:
    def __init__(self) -> None:
        self.handlers: dict[type, list[EventHandler]] = defaultdict(list)

    def subscribe(self, event_type: type, handler: EventHandler) -> Callable[[], None]:
        self.handlers[event_type].append(handler)
        return lambda: self.handlers[event_type].remove(handler)

    def publish(self, event: Event) -> None:
        for handler in list(self.handlers[type(event)]):
            handler(event)


@pytest.fixture()
def db(database_url: str) -> Iterator[Database]:
    database = create_database(database_url)
    yield database
    database.dispose()


def test_record_a_simulated_session_and_replay_it_identically(db: Database) -> None:
    repo = RecordingRepository(db)
    universe: list[Instrument | str] = [
        Instrument.krx_stock("005930"),
        Instrument.upbit_krw("KRW-BTC"),
        "SIM1",
    ]
    sim = MarketSimulator(universe, SimulatorConfig(seed=5, duration_ms=3 * MINUTE))
    bus = _Bus()
    recorder = TickRecorder(repo, "sim-day", batch_size=250).attach(bus)
    published: list[MarketEvent] = []
    while not sim.finished:
        for event in sim.poll(100):
            bus.publish(event)
            published.append(event)
    assert recorder.stop() == sum(1 for e in published if type(e) is not OrderBookEvent)

    ticks = repo.load("sim-day")
    assert ticks.seq.tolist() == list(range(len(ticks)))
    replayed: list[MarketEvent] = []
    feed = RecordedTickFeed(ticks, speed=None)
    while not feed.finished:
        replayed.extend(feed.poll(333))
    expected = [e for e in published if type(e) is not OrderBookEvent]
    # Every field survives, sizes and trade aggressor included (books are not recorded).
    assert replayed == expected

    [info] = repo.list_recordings()
    assert (info.recording_id, info.ticks, info.symbols) == ("sim-day", len(expected), 3)
    assert info.first_ts == published[0].ts_ms


def test_load_a_time_window_and_symbols(db: Database) -> None:
    repo = RecordingRepository(db)
    n = repo.append(
        "r",
        0,
        symbol=["A", "B", "A", "B"],
        ts=[100, 200, 300, 400],
        bid=[1.0, None, 3.0, float("nan")],
        ask=[2.0, None, 4.0, None],
        last=[1.5, 9.0, float("nan"), 8.0],
        volume=[None, 5.0, None, 6.0],
    )
    assert n == 4
    window = repo.load("r", start_ms=200, end_ms=400)
    assert window.seq.tolist() == [1, 2] and window.symbol == ["B", "A"]
    assert math.isnan(window.last[1])  # NaN is stored as NULL on both back-ends
    assert repo.load("r", symbols=["B"]).ts.tolist() == [200, 400]
    assert repo.next_seq("r") == 4 and repo.next_seq("other") == 0


def test_duplicate_seq_is_refused_and_nothing_written(db: Database) -> None:
    repo = RecordingRepository(db)
    repo.append("r", 0, symbol=["A"], ts=[1], bid=[1.0], ask=[2.0], last=[1.5], volume=[None])
    with pytest.raises(PersistenceError, match=r"seq 0\.\.1 not written"):
        # seq 0 clashes, seq 1 would be new: the whole batch is refused.
        repo.append(
            "r", 0, symbol=["A", "A"], ts=[2, 3], bid=[1.0, 1.0], ask=[2.0, 2.0],
            last=[1.5, 1.5], volume=[None, None],
        )  # fmt: skip
    assert len(repo.load("r")) == 1


def test_delete_a_recording(db: Database) -> None:
    repo = RecordingRepository(db)
    repo.append("r", 0, symbol=["A"], ts=[1], bid=[1.0], ask=[2.0], last=[1.5], volume=[None])
    assert repo.delete("r") == 1
    assert repo.list_recordings() == []
