"""In-process typed publish/subscribe bus: the engine's events to every other part of the app.

Handlers subscribe per event *type* (``bus.subscribe(QuoteEvent, handler)``); a handler
subscribed to a base class (``object`` for everything) receives its subclasses too. The
handler tuple of each concrete type is resolved once and cached, so ``publish`` costs one
dict lookup plus the calls: no per-event allocation (the quote path runs it 500k+ times a
second).

Thread model: ``publish`` runs the handlers synchronously on the publishing thread (the
engine thread). ``subscribe``/unsubscribe may be called from any thread: they rebuild the
subscription table under a lock and swap it in with one assignment, so a publish in flight
sees either the old or the new table, never a half-built one. A GUI subscriber must hop to
its own thread itself (``gui/bridge.py`` queues a Qt signal).

A handler that raises never reaches the publisher: the exception is logged and published
as an :class:`~stom_desktop.core.events.ErrorEvent` (``session_id`` ``"bus"``); failures
while delivering an ``ErrorEvent`` are only logged, so a broken error handler cannot loop.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from stom_desktop.core.events import ErrorEvent

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]
#: ``session_id`` of ErrorEvents raised by a failing bus handler.
BUS_ERROR_SOURCE = "bus"


class EventBus:
    """Synchronous typed pub/sub (implements ``core.ports.EventBus``)."""

    __slots__ = ("_clock_ms", "_dispatch", "_errors", "_lock", "_subs")

    def __init__(self, clock_ms: Callable[[], int] | None = None) -> None:
        """``clock_ms`` stamps ErrorEvents from failing handlers (default: 0, i.e. unknown)."""
        self._lock = threading.Lock()
        self._subs: tuple[tuple[type, Handler], ...] = ()
        # concrete event type -> handlers (resolved lazily from ``_subs``; replaced whole)
        self._dispatch: dict[type, tuple[Handler, ...]] = {}
        self._clock_ms = clock_ms
        self._errors = 0

    @property
    def handler_errors(self) -> int:
        """How many handler calls have raised since the bus was made."""
        return self._errors

    def subscribe(self, event_type: type, handler: Handler) -> Callable[[], None]:
        """Call ``handler(event)`` for every published instance of ``event_type``.

        Returns a function that removes this subscription (calling it twice is harmless).
        Handlers of one type run in subscription order.
        """
        if not isinstance(event_type, type):
            raise TypeError(f"subscribe needs an event class, got {event_type!r}")
        entry = (event_type, handler)
        with self._lock:
            self._subs = (*self._subs, entry)
            self._dispatch = {}

        def unsubscribe() -> None:
            with self._lock:
                subs = list(self._subs)
                for i, existing in enumerate(subs):
                    if existing is entry:
                        del subs[i]
                        self._subs = tuple(subs)
                        self._dispatch = {}
                        break

        return unsubscribe

    def publish(self, event: object) -> None:
        """Deliver ``event`` to its subscribers; never raises because a handler failed."""
        handlers = self._dispatch.get(type(event))
        if handlers is None:
            handlers = self._resolve(type(event))
        for handler in handlers:
            try:
                handler(event)
            except Exception as exc:  # noqa: BLE001 - a subscriber must not break the engine
                self._handler_failed(event, handler, exc)

    def has_subscribers(self, event_type: type) -> bool:
        """Whether publishing an ``event_type`` would call anyone (lets callers skip work)."""
        handlers = self._dispatch.get(event_type)
        if handlers is None:
            handlers = self._resolve(event_type)
        return bool(handlers)

    def _resolve(self, event_type: type) -> tuple[Handler, ...]:
        with self._lock:
            subs = self._subs
            handlers = tuple(h for t, h in subs if issubclass(event_type, t))
            if subs is self._subs:  # not changed meanwhile: cache it (copy-on-write)
                table = dict(self._dispatch)
                table[event_type] = handlers
                self._dispatch = table
        return handlers

    def _handler_failed(self, event: object, handler: Handler, exc: Exception) -> None:
        self._errors += 1
        name = getattr(handler, "__qualname__", repr(handler))
        message = f"event handler {name} failed on {type(event).__name__}: {exc!r}"
        log.error("%s", message, exc_info=exc)
        if isinstance(event, ErrorEvent):
            return  # an error handler failing: logged above, never re-published
        ts_ms = getattr(event, "ts_ms", None)
        if not isinstance(ts_ms, int):
            ts_ms = self._clock_ms() if self._clock_ms is not None else 0
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.publish(ErrorEvent(BUS_ERROR_SOURCE, message, text, ts_ms))
