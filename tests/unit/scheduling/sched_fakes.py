"""Fakes for scheduler tests: a TradingService that records calls and an App holding it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any


@dataclass
class FakeStatus:
    """The bits of SessionStatus the job functions read."""

    id: int
    name: str
    state: str


class FakeTrading:
    """Records every call; ``block_start`` makes start_session wait (to test overlaps)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.block_start: threading.Event | None = None
        self.start_entered = threading.Event()
        self._sessions: dict[int, FakeStatus] = {}
        self._lock = threading.Lock()

    def start_session(self, spec: dict[str, Any]) -> int:
        with self._lock:
            self.calls.append(("start", spec["name"]))
        self.start_entered.set()
        if self.block_start is not None:
            self.block_start.wait(10)
        with self._lock:
            session_id = len(self._sessions) + 1
            self._sessions[session_id] = FakeStatus(session_id, spec["name"], "running")
        return session_id

    def sessions(self) -> list[FakeStatus]:
        with self._lock:
            return list(self._sessions.values())

    def liquidate(self, session_id: int | None = None) -> list[str]:
        self.calls.append(("liquidate", session_id))
        return ["order-1"]

    def stop_session(self, session_id: int, *, liquidate: bool = False) -> None:
        self.calls.append(("stop", session_id))
        self._sessions[session_id].state = "stopped"

    def daily_report(self, day: Any = None) -> SimpleNamespace:
        self.calls.append(("report", day))
        return SimpleNamespace(path=Path("/reports/2026-01-05.md"))

    def shutdown(self, timeout: float = 5.0) -> None:
        self.calls.append(("shutdown", timeout))

    def kinds(self) -> list[str]:
        with self._lock:
            return [kind for kind, _ in self.calls]


@dataclass
class FakeApp:
    """What job functions reach through runtime.get_app()."""

    schedule: Any
    trading: FakeTrading
    data: Any
    strategies: Any
    extra: dict[str, Any] = field(default_factory=dict)


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``condition`` until truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
