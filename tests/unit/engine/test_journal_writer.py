"""JournalWriter: queued writes group-committed in order; failures isolated and reported."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from order_fakes import FakeBroker, RecordingBus
from order_journal import fresh_sqlite_url

from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import PersistenceError
from stom_desktop.core.events import ErrorEvent
from stom_desktop.engine.journal_writer import JournalOp, JournalWriter
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.requests import OrderRequest
from stom_desktop.persistence import Database, OrderRepository, create_database

T0_MS = 1_767_571_200_000


class BatchFake:
    """Records each committed batch; can hold the first commit and fail chosen orders."""

    def __init__(self, *, fail_for: str | None = None, hold: bool = False) -> None:
        self.batches: list[list[JournalOp]] = []
        self.fail_for = fail_for
        self.gate = threading.Event()
        self.entered = threading.Event()
        if not hold:
            self.gate.set()
        self.intents: list[str] = []

    def write_batch(self, ops: Sequence[JournalOp]) -> None:
        self.entered.set()
        self.gate.wait(10)
        if any(cid == self.fail_for for _, cid, _ in ops):
            raise PersistenceError(f"order {self.fail_for}: disk full")
        self.batches.append(list(ops))

    def record_intent(self, cid: str, *args: Any, **kwargs: Any) -> str:
        self.intents.append(cid)
        return cid

    def applied(self) -> list[str]:
        return [f"{cid}:{kw.get('to_status')}" for batch in self.batches for _, cid, kw in batch]

    def by_client_id(self, cid: str) -> int:
        return len(self.applied())


def test_writes_are_group_committed_in_queue_order() -> None:
    fake = BatchFake(hold=True)
    writer = JournalWriter(fake, max_batch=1000)
    writer.transition("o0", "submitted")
    assert fake.entered.wait(10)  # the first commit is in progress: the rest queue up
    for i in range(1, 200):
        writer.transition(f"o{i}", "submitted")
    assert writer.pending == 200
    fake.gate.set()
    assert writer.flush(10)
    assert fake.applied() == [f"o{i}:submitted" for i in range(200)]
    assert [len(b) for b in fake.batches] == [1, 199]  # one transaction for the backlog
    assert writer.commits == 2 and writer.committed_ops == 200
    assert writer.close()


def test_intent_is_synchronous_and_reads_wait_for_the_queue() -> None:
    fake = BatchFake()
    writer = JournalWriter(fake)
    assert writer.record_intent("o1", "SIM", "buy", "market", 1) == "o1"
    assert fake.intents == ["o1"]  # written before the call returned, not queued
    for i in range(50):
        writer.add_fill("o1", Decimal(1), Decimal(10), venue_fill_id=f"F{i}", to_status="x")
    assert writer.by_client_id("o1") == 50  # the read saw every queued write
    writer.close()


def test_a_failed_write_is_isolated_and_reported_never_lost() -> None:
    fake = BatchFake(fail_for="bad", hold=True)
    writer = JournalWriter(fake)
    writer.transition("a", "submitted")
    assert fake.entered.wait(10)
    writer.transition("b", "submitted")
    writer.transition("bad", "submitted")
    writer.transition("c", "submitted")
    fake.gate.set()
    assert writer.flush(10)
    assert fake.applied() == ["a:submitted", "b:submitted", "c:submitted"]
    assert writer.failed
    failures = writer.take_errors()
    assert [(f.client_order_id, f.operation) for f in failures] == [("bad", "transition")]
    assert "disk full" in str(failures[0].error)
    assert not writer.failed and writer.take_errors() == []
    writer.close()
    with pytest.raises(PersistenceError, match="closed"):
        writer.transition("d", "submitted")


def test_a_journal_without_batches_cannot_be_wrapped() -> None:
    with pytest.raises(TypeError, match="write_batch"):
        JournalWriter(object())


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Database]:
    database = create_database(fresh_sqlite_url(tmp_path))
    yield database
    database.dispose()


def _manager(db: Database, journal: Any) -> tuple[OrderManager, FakeBroker, RecordingBus]:
    broker = FakeBroker(auto_fill=True)
    bus = RecordingBus()
    om = OrderManager(
        broker, journal, SimulatedClock(T0_MS), bus, journal_writes="async",
        price_source=lambda _s: Decimal(100),
    )  # fmt: skip
    om.register_session("s1", initial_cash=Decimal(10_000_000))
    return om, broker, bus


def test_async_order_manager_journal_matches_memory_after_flush(db: Database) -> None:
    repo = OrderRepository(db)
    om, broker, _ = _manager(db, repo)
    for i in range(20):
        side = Side.BUY if i % 2 == 0 else Side.SELL
        assert om.place(OrderRequest("s1", "SIM1", side, Decimal(i + 1))).success
    assert om.flush_journal()
    for snap in om.orders():
        stored = repo.by_client_id(snap.client_order_id)
        assert stored is not None and stored.status == snap.status.value == "filled"
        assert stored.filled_quantity == snap.filled_quantity
        assert stored.venue_order_id == broker.orders[snap.client_order_id].venue_order_id
        assert [f.venue_fill_id for f in repo.fills(snap.client_order_id)] == [
            f.fill_id for f in broker.fills if f.client_order_id == snap.client_order_id
        ]
    assert om.close()
    repo.close()


class FailingFills(OrderRepository):
    """A journal whose group commits fail whenever a fill is in them."""

    def write_batch(self, ops: Sequence[Any]) -> None:
        if any(method == "add_fill" for method, _, _ in ops):
            raise PersistenceError("fills table is read-only")
        super().write_batch(ops)


def test_async_journal_failure_becomes_error_event_handler_call_and_reconcile(
    db: Database,
) -> None:
    repo = FailingFills(db)
    om, _, bus = _manager(db, repo)
    paused: list[tuple[str, str]] = []
    om.set_journal_failure_handler(lambda sid, msg: paused.append((sid, msg)))
    result = om.place(OrderRequest("s1", "SIM1", Side.BUY, Decimal(3)))
    assert result.success
    cid = result.client_order_id
    assert cid is not None
    assert om.flush_journal()  # flush reports the failure on this thread
    errors = [e for e in bus.events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1 and cid in errors[0].message and "add_fill" in errors[0].message
    assert errors[0].session_id == "s1"
    assert [sid for sid, _ in paused] == ["s1"]
    stored = repo.by_client_id(cid)
    assert stored is not None and stored.status == "submitted"  # the fill is not journaled
    # reconciliation with the venue is queued for the order the journal is behind on
    assert cid in om._pending
    om.close()
    repo.close()


class FailingJournalRouter:
    """An order router whose journal reported one failed write for session ``s``."""

    def __init__(self) -> None:
        self.handler: Any = None
        self.failures = [("s", "order stom-s-1: journal add_fill failed (disk full)")]

    def set_journal_failure_handler(self, handler: Any) -> None:
        self.handler = handler

    def check_journal(self) -> int:
        failures, self.failures = self.failures, []
        for sid, message in failures:
            self.handler(sid, message)
        return len(failures)

    def place(self, request: Any) -> Any:
        raise AssertionError("no orders in this test")

    def cancel(self, client_order_id: str) -> None:
        raise AssertionError("no orders in this test")


def test_engine_pauses_the_session_whose_journal_write_failed() -> None:
    from engine_fakes import ListFeed, scripted

    from stom_desktop.core.events import SessionState, SessionStateEvent
    from stom_desktop.engine import Engine, SessionConfig

    router = FailingJournalRouter()
    engine = Engine(clock=SimulatedClock(T0_MS), order_manager=router, tune_runtime=False)  # type: ignore[arg-type]
    failing = engine.add_session(SessionConfig("s", ("A",)), scripted())
    other = engine.add_session(SessionConfig("t", ("B",)), scripted())
    engine.add_feed(ListFeed([]))
    states: list[SessionStateEvent] = []
    engine.bus.subscribe(SessionStateEvent, states.append)
    engine.run_until(timeout_s=10)
    assert failing.state is SessionState.PAUSED
    paused = [e for e in states if e.state is SessionState.PAUSED]
    assert [e.session_id for e in paused] == ["s"] and "disk full" in (paused[0].message or "")
    assert other.state is SessionState.RUNNING
