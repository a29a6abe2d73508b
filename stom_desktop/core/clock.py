"""Clocks: the system clock for live runs and a simulated clock for replays and tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


class SystemClock:
    """Wall-clock time, timezone-aware UTC."""

    __slots__ = ()

    def now(self) -> datetime:
        """Current time (UTC)."""
        return datetime.now(UTC)

    def now_ms(self) -> int:
        """Current time in ms since the epoch."""
        return time.time_ns() // 1_000_000


class SimulatedClock:
    """A clock that moves only when told to; it never goes backwards.

    Feeds in replay or simulation set it from event timestamps, so every component that
    asks the clock sees the market's time, and runs are deterministic.
    """

    __slots__ = ("_ms",)

    def __init__(self, start: datetime | int = 0) -> None:
        self._ms = start if isinstance(start, int) else self._to_ms(start)

    def now(self) -> datetime:
        """Current simulated time (UTC)."""
        return _EPOCH + timedelta(milliseconds=self._ms)

    def now_ms(self) -> int:
        """Current simulated time in ms since the epoch."""
        return self._ms

    def set_ms(self, ts_ms: int) -> None:
        """Move to ``ts_ms``; moving backwards raises ``ValueError``."""
        if ts_ms < self._ms:
            raise ValueError(f"simulated clock cannot go back from {self._ms} to {ts_ms} ms")
        self._ms = ts_ms

    def set(self, when: datetime) -> None:
        """Move to ``when`` (timezone-aware)."""
        self.set_ms(self._to_ms(when))

    def advance(self, delta: timedelta | int) -> None:
        """Move forward by ``delta`` (a timedelta or milliseconds)."""
        step = delta if isinstance(delta, int) else delta // _MS
        self.set_ms(self._ms + step)

    @staticmethod
    def _to_ms(when: datetime) -> int:
        if when.tzinfo is None or when.utcoffset() is None:
            raise ValueError(f"clock time must be timezone-aware, got {when.isoformat()}")
        return (when - _EPOCH) // _MS
