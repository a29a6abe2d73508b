"""FakeTime: injected ``sleep``/``monotonic`` for broker tests (sleeping only advances it)."""

from __future__ import annotations


class FakeTime:
    """Injected ``sleep``/``monotonic``: sleeping only advances the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now
