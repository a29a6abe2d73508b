"""Restart recovery waits for requests still in flight before calling an order never sent.

A broker with ``arrival_window_s`` > 0 (a live venue) may still receive the dead
process's last request after recovery looked the order up. These tests play that with
the in-memory ``FakeBroker``: the injected ``sleep`` is the moment the late request lands
(or does not), and ``monotonic`` is a fake clock.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from order_fakes import FakeBroker
from order_journal import fresh_sqlite_url

from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import TemporaryBrokerError
from stom_desktop.core.orders import Order, OrderSnapshot, OrderType
from stom_desktop.engine.recovery import NEVER_SENT, UNKNOWN_AT_VENUE, recover
from stom_desktop.persistence import OrderRepository, create_database

T0_MS = 1_767_571_200_000
CID = "stom-s1-000001"


class LateVenue(FakeBroker):
    """A FakeBroker with an arrival window; ``in_flight`` orders land when time passes."""

    def __init__(self, window: float) -> None:
        super().__init__()
        self.arrival_window_s = window
        self.in_flight: list[Order] = []
        self.lookups: list[str] = []
        self.down_once: set[str] = set()  # the first lookup of these ids fails

    def fetch_order(self, client_order_id: str) -> OrderSnapshot | None:
        self.lookups.append(client_order_id)
        if client_order_id in self.down_once:
            self.down_once.discard(client_order_id)
            raise TemporaryBrokerError("503", client_order_id=client_order_id)
        return super().fetch_order(client_order_id)

    def land(self) -> None:
        """The requests still on the wire reach the venue now."""
        for order in self.in_flight:
            self.submit(order)
        self.in_flight.clear()


class FakeTime:
    """``monotonic`` and ``sleep`` for recovery: sleeping advances the clock and lets
    ``on_sleep`` run (the venue receiving late requests meanwhile)."""

    def __init__(self, venue: LateVenue | None = None) -> None:
        self.now = 500.0
        self.sleeps: list[float] = []
        self.venue = venue

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.venue is not None:
            self.venue.land()


@pytest.fixture()
def journal(tmp_path: Path) -> OrderRepository:
    return OrderRepository(create_database(fresh_sqlite_url(tmp_path)))


def journal_intent(journal: OrderRepository, cid: str = CID) -> Order:
    """Journal an intent, as the dead process did just before sending it."""
    journal.record_intent(cid, "SIM1", "buy", "limit", 5, price=Decimal(100), detail="intent=k")
    clock = SimulatedClock(T0_MS)
    return Order(
        cid, "SIM1", Side.BUY, 5, created_at=clock.now(),
        order_type=OrderType.LIMIT, price=Decimal(100),
    )  # fmt: skip


def run(venue: FakeBroker, journal: OrderRepository, time: FakeTime):  # type: ignore[no-untyped-def]
    return recover(
        venue, journal, clock=SimulatedClock(T0_MS), sleep=time.sleep, monotonic=time.monotonic
    )


def test_order_landing_during_the_wait_is_adopted_not_rejected(journal: OrderRepository) -> None:
    venue = LateVenue(window=2.0)
    venue.in_flight.append(journal_intent(journal))
    time = FakeTime(venue)
    report = run(venue, journal, time)
    assert time.sleeps == [2.0]  # one wait, until start + window
    assert venue.lookups == [CID, CID]  # looked up before and once after the wait
    assert report.adopted == [CID] and report.arrived_late == [CID]
    assert report.never_sent == [] and report.waited_s == 2.0 and not report.clean
    assert journal.by_client_id(CID).status == "submitted"  # type: ignore[union-attr]
    assert CID in report.open_orders


def test_order_that_never_lands_is_rejected_after_the_wait(journal: OrderRepository) -> None:
    journal_intent(journal)
    venue = LateVenue(window=6.0)
    time = FakeTime(venue)
    report = run(venue, journal, time)
    assert time.sleeps == [6.0]
    assert report.never_sent == [CID] and report.adopted == [] and report.arrived_late == []
    stored = journal.by_client_id(CID)
    assert stored is not None and stored.status == "rejected" and stored.reason == NEVER_SENT


def test_without_a_window_the_order_is_rejected_at_once(journal: OrderRepository) -> None:
    journal_intent(journal)
    venue = FakeBroker()  # no arrival_window_s: paper venues answer at once
    time = FakeTime()
    report = run(venue, journal, time)
    assert time.sleeps == [] and report.waited_s == 0.0
    assert report.never_sent == [CID] and report.arrived_late == []


def test_zero_window_is_the_old_behaviour_too(journal: OrderRepository) -> None:
    venue = LateVenue(window=0.0)
    venue.in_flight.append(journal_intent(journal))
    time = FakeTime(venue)
    report = run(venue, journal, time)
    assert time.sleeps == [] and venue.lookups == [CID]
    assert report.never_sent == [CID]


def test_one_wait_counts_from_the_start_for_all_orders(journal: OrderRepository) -> None:
    venue = LateVenue(window=3.0)
    late = journal_intent(journal, "stom-s1-000001")
    journal_intent(journal, "stom-s1-000002")  # never sent
    venue.in_flight.append(late)
    time = FakeTime(venue)
    original = venue.fetch_order

    def slow_lookup(cid: str) -> OrderSnapshot | None:
        time.now += 0.5  # each lookup takes 0.5 s of the window
        return original(cid)

    venue.fetch_order = slow_lookup  # type: ignore[assignment,method-assign]
    report = run(venue, journal, time)
    assert time.sleeps == [2.0]  # 3 s window - 1 s spent looking
    assert report.arrived_late == ["stom-s1-000001"] and report.never_sent == ["stom-s1-000002"]


def test_no_wait_when_the_window_has_passed_already(journal: OrderRepository) -> None:
    journal_intent(journal)
    venue = LateVenue(window=1.0)
    time = FakeTime(venue)
    original = venue.fetch_order

    def slow_lookup(cid: str) -> OrderSnapshot | None:
        time.now += 1.5
        return original(cid)

    venue.fetch_order = slow_lookup  # type: ignore[assignment,method-assign]
    report = run(venue, journal, time)
    assert time.sleeps == [] and report.never_sent == [CID]
    assert len(venue.lookups) == 2  # still looked up again before deciding


def test_failed_lookup_of_a_new_order_is_retried_after_the_wait(
    journal: OrderRepository,
) -> None:
    venue = LateVenue(window=2.0)
    venue.in_flight.append(journal_intent(journal))
    venue.down_once.add(CID)
    time = FakeTime(venue)
    report = run(venue, journal, time)
    assert time.sleeps == [2.0] and report.unresolved == []
    assert report.adopted == [CID] and report.arrived_late == []  # unknown, not "late"


def test_lookup_failing_after_the_wait_leaves_it_unresolved(journal: OrderRepository) -> None:
    journal_intent(journal)
    venue = LateVenue(window=2.0)

    def down(cid: str) -> OrderSnapshot | None:
        raise TemporaryBrokerError("503", client_order_id=cid)

    venue.fetch_order = down  # type: ignore[assignment,method-assign]
    time = FakeTime(venue)
    report = run(venue, journal, time)
    # The order manager resolves it later, after the window: its resend cannot double it.
    assert time.sleeps == [2.0] and report.unresolved == [CID] and report.never_sent == []
    assert journal.by_client_id(CID).status == "new"  # type: ignore[union-attr]


def test_submitted_orders_are_not_waited_for(journal: OrderRepository) -> None:
    journal_intent(journal)
    journal.transition(CID, "submitted", at=SimulatedClock(T0_MS).now(), venue_order_id="V9")
    venue = LateVenue(window=5.0)
    time = FakeTime(venue)
    report = run(venue, journal, time)
    # Acknowledged once, gone now: nothing in flight can change that; no wait.
    assert time.sleeps == [] and report.missing_at_venue == [CID]
    stored = journal.by_client_id(CID)
    assert stored is not None and stored.reason == UNKNOWN_AT_VENUE
