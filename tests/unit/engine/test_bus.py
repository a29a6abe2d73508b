"""EventBus: typed delivery, base-class subscriptions, unsubscribe and failure isolation."""

from __future__ import annotations

import threading

from stom_desktop.core.events import BarEvent, ErrorEvent, QuoteEvent, TradeTick
from stom_desktop.core.ports import EventBus as EventBusPort
from stom_desktop.engine.bus import BUS_ERROR_SOURCE, EventBus

Q = QuoteEvent("A", 1_000, 9.0, 11.0, 10.0, 1.0, 1.0)
T = TradeTick("A", 2_000, 10.0, 3.0)


def test_implements_the_port() -> None:
    assert isinstance(EventBus(), EventBusPort)


def test_handlers_get_only_their_type_in_subscription_order() -> None:
    bus = EventBus()
    seen: list[tuple[str, object]] = []
    bus.subscribe(QuoteEvent, lambda e: seen.append(("q1", e)))
    bus.subscribe(TradeTick, lambda e: seen.append(("t", e)))
    bus.subscribe(QuoteEvent, lambda e: seen.append(("q2", e)))
    bus.publish(Q)
    bus.publish(T)
    assert seen == [("q1", Q), ("q2", Q), ("t", T)]


def test_base_class_subscription_receives_everything() -> None:
    bus = EventBus()
    everything: list[object] = []
    bus.subscribe(object, everything.append)
    bar = BarEvent("A", "1m", 0, 1.0, 2.0, 0.5, 1.5, 10.0, True)
    for event in (Q, T, bar):
        bus.publish(event)
    assert everything == [Q, T, bar]
    assert bus.has_subscribers(QuoteEvent)


def test_unsubscribe_stops_delivery_and_is_idempotent() -> None:
    bus = EventBus()
    seen: list[object] = []
    unsubscribe = bus.subscribe(QuoteEvent, seen.append)
    bus.publish(Q)
    unsubscribe()
    unsubscribe()
    bus.publish(Q)
    assert seen == [Q]
    assert not bus.has_subscribers(QuoteEvent)


def test_failing_handler_is_isolated_and_reported_as_error_event() -> None:
    bus = EventBus()
    errors: list[ErrorEvent] = []
    after: list[object] = []
    bus.subscribe(ErrorEvent, errors.append)

    def broken(event: object) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(QuoteEvent, broken)
    bus.subscribe(QuoteEvent, after.append)
    bus.publish(Q)  # must not raise
    assert after == [Q], "handlers after the failing one still run"
    assert len(errors) == 1
    assert errors[0].session_id == BUS_ERROR_SOURCE
    assert errors[0].ts_ms == Q.ts_ms
    assert "subscriber bug" in errors[0].message and "broken" in errors[0].message
    assert errors[0].traceback_text is not None and "RuntimeError" in errors[0].traceback_text
    assert bus.handler_errors == 1


def test_failing_error_handler_does_not_loop() -> None:
    bus = EventBus()
    calls = 0

    def broken(event: object) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("always")

    bus.subscribe(object, broken)
    bus.publish(Q)
    # the quote and the ErrorEvent about it; the failure on the ErrorEvent is only logged
    assert calls == 2
    assert bus.handler_errors == 2


def test_subscribing_from_another_thread_while_publishing() -> None:
    bus = EventBus()
    counts = [0]
    bus.subscribe(QuoteEvent, lambda e: counts.__setitem__(0, counts[0] + 1))
    stop = threading.Event()
    extra: list[object] = []

    def churn() -> None:
        while not stop.is_set():
            bus.subscribe(TradeTick, extra.append)()

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(20_000):
            bus.publish(Q)
    finally:
        stop.set()
        worker.join()
    assert counts[0] == 20_000
    assert extra == []
