"""TickRecorder with an in-memory sink: batching, numbering, flush on stop, failures."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from stom_desktop.adapters.feeds import TickRecorder
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import PersistenceError
from stom_desktop.core.events import BarEvent, QuoteEvent, TradeTick


class MemorySink:
    """Stores batches like the repository would; can be told to fail or to block."""

    def __init__(self, existing: int = 0) -> None:
        self.existing = existing
        self.batches: list[dict[str, Any]] = []
        self.fail_on_batch: int | None = None
        self.gate = threading.Event()
        self.gate.set()
        self.threads: set[str] = set()

    def next_seq(self, recording_id: str) -> int:
        return self.existing

    def append(self, recording_id: str, first_seq: int, **columns: Sequence[Any]) -> int:
        self.gate.wait(5)
        self.threads.add(threading.current_thread().name)
        if self.fail_on_batch == len(self.batches):
            raise PersistenceError("disk full")
        self.batches.append({"recording_id": recording_id, "first_seq": first_seq, **columns})
        return len(columns["symbol"])

    def rows(self) -> list[tuple[Any, ...]]:
        out = []
        for b in self.batches:
            for i in range(len(b["symbol"])):
                out.append(
                    (b["first_seq"] + i, b["symbol"][i], b["ts"][i], b["bid"][i], b["ask"][i],
                     b["last"][i], b["volume"][i], b["bid_size"][i], b["ask_size"][i],
                     b["side"][i], b["session_id"])
                )  # fmt: skip
        return out


def _events(n: int) -> list[QuoteEvent | TradeTick]:
    out: list[QuoteEvent | TradeTick] = []
    for i in range(n):
        if i % 3 == 2:
            out.append(TradeTick("A", 1000 + i, 100.0 + i, 2.0, Side.SELL if i % 2 else None))
        else:
            out.append(QuoteEvent("A", 1000 + i, 99.0, 101.0, 100.0, 5.0, 6.0))
    return out


@pytest.mark.parametrize("background", [False, True])
def test_batches_are_numbered_in_order_and_stop_flushes_the_rest(background: bool) -> None:
    sink = MemorySink()
    recorder = TickRecorder(sink, "day-1", session_id=7, batch_size=4, background=background)
    for event in _events(10):
        recorder.record(event)
    assert recorder.stop() == 10
    assert [b["first_seq"] for b in sink.batches] == [0, 4, 8]
    rows = sink.rows()
    assert [r[0] for r in rows] == list(range(10))
    assert rows[0] == (0, "A", 1000, 99.0, 101.0, 100.0, None, 5.0, 6.0, None, 7)
    assert rows[2] == (2, "A", 1002, None, None, 102.0, 2.0, None, None, None, 7)
    assert rows[5] == (5, "A", 1005, None, None, 105.0, 2.0, None, None, "sell", 7)
    assert recorder.stop() == 10  # idempotent


def test_background_writes_happen_off_the_recording_thread() -> None:
    sink = MemorySink()
    sink.gate.clear()  # the "disk" is slow
    recorder = TickRecorder(sink, "r", batch_size=2, background=True)
    for event in _events(4):
        recorder.record(event)  # does not wait for the write
    assert sink.batches == []
    sink.gate.set()
    recorder.flush()
    assert len(sink.rows()) == 4
    assert sink.threads == {"tick-recorder-r"}
    recorder.stop()


def test_attach_records_quotes_and_trades_only_until_stopped(bus) -> None:  # type: ignore[no-untyped-def]
    sink = MemorySink()
    recorder = TickRecorder(sink, "r", batch_size=100, background=False).attach(bus)
    bus.publish(QuoteEvent("A", 1, 1.0, 2.0, 1.5, 1.0, 1.0))
    bus.publish(TradeTick("A", 2, 1.5, 1.0))
    bus.publish(BarEvent("A", "1m", 0, 1.0, 1.0, 1.0, 1.0, 1.0, True))
    assert recorder.pending == 2
    recorder.stop()
    bus.publish(QuoteEvent("A", 3, 1.0, 2.0, 1.5, 1.0, 1.0))  # unsubscribed: not recorded
    assert [r[2] for r in sink.rows()] == [1, 2]
    assert not any(bus.handlers.values())


def test_existing_recording_needs_append() -> None:
    with pytest.raises(PersistenceError, match="already holds 5 ticks"):
        TickRecorder(MemorySink(existing=5), "r", background=False)
    sink = MemorySink(existing=5)
    with TickRecorder(sink, "r", append=True, background=False) as recorder:
        recorder.record(_events(1)[0])
    assert sink.rows()[0][0] == 5


@pytest.mark.parametrize("background", [False, True])
def test_a_failed_write_is_raised_not_swallowed(background: bool) -> None:
    sink = MemorySink()
    sink.fail_on_batch = 1
    recorder = TickRecorder(sink, "r", batch_size=2, background=background)
    events = _events(6)
    with pytest.raises(PersistenceError, match="2 ticks were stored"):
        for event in events:
            recorder.record(event)
        recorder.flush()
    with pytest.raises(PersistenceError):
        recorder.stop()
    assert len(sink.rows()) == 2


def test_recording_after_stop_is_refused() -> None:
    recorder = TickRecorder(MemorySink(), "r", background=False)
    recorder.stop()
    with pytest.raises(PersistenceError, match="stopped"):
        recorder.record(_events(1)[0])
