"""Shared machinery of the poll-based feeds: an event buffer, speed pacing and the clock.

A feed subclass only produces events in time order (``_refill``); this base hands them
out through ``poll`` either as fast as possible or paced against the wall clock at a
speed factor (1 = real time, 60 = one market minute per wall second), and moves an
optional ``SimulatedClock`` along with the market time.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Sequence

from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.events import MarketEvent

SleepFn = Callable[[float], None]
MonotonicFn = Callable[[], float]

#: Longest a paced ``poll`` sleeps before returning (possibly empty) so the engine loop
#: stays responsive to pause/stop commands.
DEFAULT_MAX_WAIT_S = 0.05


def check_speed(speed: float | None, key: str = "speed") -> float | None:
    """``speed`` if valid: ``None`` (as fast as possible) or a finite factor > 0."""
    if speed is None:
        return None
    if isinstance(speed, bool) or not isinstance(speed, int | float):
        raise ConfigurationError(f"must be a number or None (max), got {speed!r}", key=key)
    if not (math.isfinite(speed) and speed > 0):
        raise ConfigurationError(
            f"must be > 0 (1 = real time, 60 = 60x), got {speed!r}",
            key=key,
            hint="use None for as fast as possible",
        )
    return float(speed)


class Pacer:
    """Maps wall time to market time at ``speed``; jumps over registered closed periods."""

    def __init__(
        self,
        speed: float | None,
        *,
        sleep: SleepFn | None = None,
        monotonic: MonotonicFn | None = None,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
    ) -> None:
        self.speed = check_speed(speed)
        self._sleep = sleep if sleep is not None else time.sleep
        self._monotonic = monotonic if monotonic is not None else time.monotonic
        self._max_wait_s = max_wait_s
        self._anchor_market: float | None = None  # market ms at the anchor
        self._anchor_wall = 0.0  # monotonic seconds at the anchor
        self._skips: deque[tuple[int, int]] = deque()

    @property
    def paced(self) -> bool:
        """False when running as fast as possible."""
        return self.speed is not None

    @property
    def started(self) -> bool:
        """True once the market time is anchored to the wall clock."""
        return self._anchor_market is not None

    def start(self, market_ms: int) -> None:
        """Anchor: the market is at ``market_ms`` now."""
        self._anchor_market = float(market_ms)
        self._anchor_wall = self._monotonic()

    def skip(self, from_ms: int, to_ms: int) -> None:
        """When the market time reaches ``from_ms``, continue at ``to_ms`` at once."""
        self._skips.append((from_ms, to_ms))

    def market_now(self) -> float:
        """Current market time in ms (fractional) at this speed."""
        if self._anchor_market is None or self.speed is None:
            raise RuntimeError("Pacer.market_now: not started, or running at max speed")
        now = self._anchor_market + (self._monotonic() - self._anchor_wall) * 1000.0 * self.speed
        while self._skips and now >= self._skips[0][0]:
            _, to_ms = self._skips.popleft()
            if now < to_ms:  # the market just closed: continue at the next open at once
                self._anchor_market = float(to_ms)
                self._anchor_wall = self._monotonic()
                now = float(to_ms)
        return now

    def wait_for(self, due_ms: float) -> None:
        """Sleep until the market reaches ``due_ms``, but at most ``max_wait_s``."""
        if self.speed is None:
            return
        ahead_s = (due_ms - self.market_now()) / (1000.0 * self.speed)
        if ahead_s > 0:
            self._sleep(min(ahead_s, self._max_wait_s))


class BufferedFeed:
    """Base of the feeds here: ``poll`` from a buffer filled by ``_refill`` in time order.

    Subclasses append to ``self._events`` and ``self._due`` (the market time at which
    each event is due, non-decreasing) in ``_refill`` and return False once exhausted.
    """

    def __init__(
        self,
        *,
        speed: float | None = None,
        clock: SimulatedClock | None = None,
        sleep: SleepFn | None = None,
        monotonic: MonotonicFn | None = None,
        max_wait_s: float = DEFAULT_MAX_WAIT_S,
    ) -> None:
        self._pacer = Pacer(speed, sleep=sleep, monotonic=monotonic, max_wait_s=max_wait_s)
        self._clock = clock
        self._events: list[MarketEvent] = []
        self._due: list[int] = []
        self._pos = 0
        self._last_due = 0
        self._exhausted = False
        self._closed = False

    # -- to implement -------------------------------------------------------------------
    def _refill(self) -> bool:
        """Fill the (emptied) ``_events``/``_due``; False once no event will ever come.

        Returning True with nothing added means "nothing right now" (e.g. no symbols yet).
        """
        raise NotImplementedError

    # -- Feed protocol --------------------------------------------------------------------
    @property
    def speed(self) -> float | None:
        """Speed factor (1 = real time), or None for as fast as possible."""
        return self._pacer.speed

    @property
    def finished(self) -> bool:
        """True when no further event will ever come (end of data, or closed)."""
        return self._closed or (not self._have_next() and self._exhausted)

    def close(self) -> None:
        """Stop delivering; drops buffered events."""
        self._closed = True
        self._events, self._due, self._pos = [], [], 0

    def poll(self, max_events: int = 1024) -> Sequence[MarketEvent]:
        """Up to ``max_events`` events that are due, oldest first.

        As fast as possible: the next ``max_events`` events. Paced: the events whose
        market time has come; if none has, sleep until the next one is due but at most
        ``max_wait_s`` and return what is due then (possibly nothing).
        """
        if max_events < 1:
            raise ValueError(f"poll: max_events must be >= 1, got {max_events}")
        if self._closed or not self._have_next():
            return []
        pacer = self._pacer
        if not pacer.paced:
            out = self._take(max_events, None)
            self._advance_clock(self._last_due)
            return out
        if not pacer.started:
            pacer.start(self._due[self._pos])
        now = pacer.market_now()
        if self._due[self._pos] > now:
            pacer.wait_for(self._due[self._pos])
            now = pacer.market_now()
        out = self._take(max_events, now)
        # All due events returned: the market is at `now`; cut short: at the last event.
        self._advance_clock(self._last_due if len(out) == max_events else math.floor(now))
        return out

    # -- internals ------------------------------------------------------------------------
    def _have_next(self) -> bool:
        if self._pos < len(self._events):
            return True
        if self._exhausted or self._closed:
            return False
        self._events, self._due, self._pos = [], [], 0
        if not self._refill():
            self._exhausted = True
        return self._pos < len(self._events)

    def _take(self, max_events: int, limit: float | None) -> list[MarketEvent]:
        out: list[MarketEvent] = []
        self._last_due = 0
        while len(out) < max_events and self._have_next():
            start = self._pos
            stop = min(len(self._events), start + max_events - len(out))
            if limit is not None:
                stop = bisect_right(self._due, limit, start, stop)
            if stop == start:
                break
            out.extend(self._events[start:stop])
            self._last_due = self._due[stop - 1]
            self._pos = stop
            if stop < len(self._events):
                break
        return out

    def _advance_clock(self, market_ms: int) -> None:
        clock = self._clock
        if clock is not None and market_ms > clock.now_ms():
            clock.set_ms(int(market_ms))
