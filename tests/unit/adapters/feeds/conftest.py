"""Fakes for feed tests: a manual wall clock with a recording sleep, and a tiny event bus."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import pytest

from stom_desktop.core.ports import Event, EventHandler


class FakeTime:
    """``monotonic``/``sleep`` pair: sleeping advances the fake wall clock instantly."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.now += seconds


class FakeBus:
    """Synchronous publish/subscribe by exact event type (what the engine bus promises)."""

    def __init__(self) -> None:
        self.handlers: dict[type, list[EventHandler]] = defaultdict(list)

    def subscribe(self, event_type: type, handler: EventHandler) -> Callable[[], None]:
        self.handlers[event_type].append(handler)
        return lambda: self.handlers[event_type].remove(handler)

    def publish(self, event: Event) -> None:
        for handler in list(self.handlers[type(event)]):
            handler(event)


@pytest.fixture()
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture()
def bus() -> FakeBus:
    return FakeBus()
