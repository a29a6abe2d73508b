"""Collector: polls a live feed the way the engine does and keeps every event (tests)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from stom_desktop.core.events import MarketEvent


class _Pollable(Protocol):
    def poll(self, max_events: int = ...) -> Any: ...


class Collector:
    """Polls ``feed`` every 10 ms inside :meth:`until` and keeps what arrived, in order."""

    def __init__(self, feed: _Pollable) -> None:
        self.feed = feed
        self.events: list[MarketEvent] = []

    def until(self, cond: Callable[[], bool], what: str, timeout: float = 8.0) -> None:
        """Poll until ``cond()`` holds; fail naming ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.events.extend(self.feed.poll())
            if cond():
                return
            assert time.monotonic() < deadline, f"{what}: not reached in time ({self.events})"
            time.sleep(0.01)

    def first(self, kind: type, pred: Callable[[Any], bool], what: str) -> Any:
        """The first event of type ``kind`` matching ``pred`` (polling until one arrives)."""
        self.until(lambda: any(isinstance(e, kind) and pred(e) for e in self.events), what)
        return next(e for e in self.events if isinstance(e, kind) and pred(e))

    def of(self, kind: type) -> list[Any]:
        """Every event of type ``kind`` kept so far."""
        return [e for e in self.events if isinstance(e, kind)]
