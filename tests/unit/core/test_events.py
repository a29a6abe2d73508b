"""Events are immutable, slotted and typed; clocks; ports are satisfiable."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from stom_desktop.core.clock import SimulatedClock, SystemClock
from stom_desktop.core.enums import Side
from stom_desktop.core.events import (
    BarEvent,
    ErrorEvent,
    Event,
    FillEvent,
    MarketEvent,
    OrderBookEvent,
    OrderUpdateEvent,
    PositionEvent,
    QuoteEvent,
    RiskRejectEvent,
    SessionState,
    SessionStateEvent,
    TradeTick,
)
from stom_desktop.core.fills import Fill
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order
from stom_desktop.core.ports import Clock, EventBus, EventSink, Feed, Notifier

T0 = datetime(2026, 1, 5, tzinfo=UTC)
MS0 = 1_767_571_200_000  # T0 in ms


def market_events() -> list[MarketEvent]:
    return [
        QuoteEvent("SIM1", MS0, 99.0, 101.0, 100.0, 5.0, 7.0),
        TradeTick("SIM1", MS0, 100.0, 3.0, Side.BUY),
        OrderBookEvent("SIM1", MS0, (99.0, 98.0), (5.0, 6.0), (101.0, 102.0), (7.0, 8.0)),
        BarEvent("SIM1", "1m", MS0, 100.0, 101.0, 99.0, 100.5, 42.0, True),
    ]


def rare_events() -> list[Event]:
    order = Order("stom-t-000001", "SIM1", Side.BUY, 1, created_at=T0)
    fill = Fill("f1", "stom-t-000001", "SIM1", Side.BUY, Decimal(1), Decimal(100), Decimal(0),
                "KRW", T0)  # fmt: skip
    return [
        OrderUpdateEvent("s1", order.snapshot(), MS0),
        FillEvent("s1", fill, MS0),
        PositionEvent("s1", "SIM1", Decimal(1), Decimal(100), Decimal(0), MS0),
        SessionStateEvent("s1", SessionState.RUNNING, MS0),
        ErrorEvent("s1", "boom", "Traceback ...", MS0),
        RiskRejectEvent("s1", "SIM1", Side.BUY, Decimal(1), "risk.blacklist", "blacklisted", MS0),
    ]


@pytest.mark.parametrize("event", market_events() + rare_events(), ids=lambda e: type(e).__name__)
def test_events_are_immutable_and_slotted(event: Event) -> None:
    assert not hasattr(event, "__dict__")
    assert event.ts_ms == MS0
    field = "symbol" if hasattr(event, "symbol") else "session_id"
    with pytest.raises(AttributeError):
        setattr(event, field, "other")
    # Python 3.11's frozen+slots dataclasses raise TypeError for unknown names (a CPython
    # quirk of the regenerated slots class); either way nothing is added.
    with pytest.raises((AttributeError, TypeError)):
        event.extra = 1  # type: ignore[union-attr]


def test_market_events_compare_by_type_and_value() -> None:
    q = QuoteEvent("A", 1, 1.0, 2.0, 1.5, 3.0, 4.0)
    assert q == QuoteEvent("A", 1, 1.0, 2.0, 1.5, 3.0, 4.0)
    assert q != QuoteEvent("A", 1, 1.0, 2.0, 1.5, 3.0, 5.0)
    assert hash(q) == hash(QuoteEvent("A", 1, 1.0, 2.0, 1.5, 3.0, 4.0))
    t = TradeTick("A", 1, 1.0, 2.0)
    assert t != ("A", 1, 1.0, 2.0, None)  # not equal to a bare tuple
    assert TradeTick("A", 1, 1.0, 2.0) == t and t.aggressor is None
    assert q.mid == 1.5
    assert market_events()[2].depth == 2  # type: ignore[union-attr]


def test_order_update_exposes_id_and_status() -> None:
    ev = rare_events()[0]
    assert isinstance(ev, OrderUpdateEvent)
    assert (ev.client_order_id, ev.status) == ("stom-t-000001", OrderStatus.NEW)
    assert dataclasses.is_dataclass(ev)


def test_events_can_be_matched_by_type() -> None:
    seen = []
    for ev in market_events():
        match ev:
            case QuoteEvent(symbol=sym, bid=bid):
                seen.append(("q", sym, bid))
            case BarEvent(closed=True, close=close):
                seen.append(("bar", close))
            case _:
                seen.append(("other",))
    assert seen == [("q", "SIM1", 99.0), ("other",), ("other",), ("bar", 100.5)]


# -- clocks -----------------------------------------------------------------------------
def test_simulated_clock_moves_forward_only() -> None:
    clock = SimulatedClock(T0)
    assert clock.now() == T0 and clock.now_ms() == MS0
    clock.advance(timedelta(seconds=1, milliseconds=500))
    assert clock.now_ms() == MS0 + 1500
    clock.advance(250)
    assert clock.now() == T0 + timedelta(milliseconds=1750)
    clock.set(datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=9))) + timedelta(1))
    assert clock.now() == T0 + timedelta(days=1)
    with pytest.raises(ValueError, match="cannot go back"):
        clock.set_ms(MS0)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2027, 1, 1))
    assert clock.now().tzinfo is UTC


def test_system_clock_is_utc_and_consistent() -> None:
    clock = SystemClock()
    before = clock.now_ms()
    now = clock.now()
    after = clock.now_ms()
    assert now.tzinfo is UTC
    assert before - 1 <= int(now.timestamp() * 1000) <= after + 1


# -- ports are plain structural protocols -------------------------------------------------
class _ListFeed:
    def __init__(self, events: list[MarketEvent]) -> None:
        self._events = events
        self.symbols: list[str] = []

    def subscribe(self, symbols: Sequence[str]) -> None:
        self.symbols.extend(symbols)

    def poll(self, max_events: int = 1024) -> Sequence[MarketEvent]:
        batch, self._events = self._events[:max_events], self._events[max_events:]
        return batch

    @property
    def finished(self) -> bool:
        return not self._events

    def close(self) -> None:
        self._events = []


class _Bus:
    def __init__(self) -> None:
        self.handlers: dict[type, list[Callable[[Event], None]]] = {}

    def publish(self, event: Event) -> None:
        for handler in self.handlers.get(type(event), []):
            handler(event)

    def subscribe(self, event_type: type, handler: Callable[[Event], None]) -> Callable[[], None]:
        self.handlers.setdefault(event_type, []).append(handler)
        return lambda: self.handlers[event_type].remove(handler)


class _Notes:
    def notify(self, kind: str, title: str, text: str) -> None:
        pass


def test_simple_implementations_satisfy_the_ports() -> None:
    assert isinstance(SystemClock(), Clock) and isinstance(SimulatedClock(), Clock)
    feed = _ListFeed(market_events())
    bus = _Bus()
    assert isinstance(feed, Feed) and isinstance(bus, EventBus) and isinstance(bus, EventSink)
    assert isinstance(_Notes(), Notifier)
    got: list[Event] = []
    unsubscribe = bus.subscribe(QuoteEvent, got.append)
    feed.subscribe(["SIM1"])
    while not feed.finished:
        for ev in feed.poll(3):
            bus.publish(ev)
    assert got == [market_events()[0]]
    unsubscribe()
    bus.publish(market_events()[0])
    assert len(got) == 1
