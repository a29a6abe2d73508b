"""Engine events -> typed Qt signals, delivered on the GUI thread.

:class:`EngineBridge` subscribes to the engine's ``EventBus``. Bus handlers run on the
engine thread and do nothing but emit a signal (or queue a bar): a signal emitted from a
thread other than the bridge's is delivered through the receiver's event loop (a queued
connection), so slots always run on the GUI thread and may touch widgets.

Bars can arrive thousands of times a second (500 symbols at 60x speed); each would cost a
posted Qt event. They are appended to a lock-free ``deque`` instead and one wake-up is
posted per batch: the GUI thread drains the queue and emits ``bars`` with the list.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, Qt, pyqtSignal, pyqtSlot

from stom_desktop.core.events import (
    BarEvent,
    ErrorEvent,
    FillEvent,
    OrderUpdateEvent,
    PositionEvent,
    RiskRejectEvent,
    SessionStateEvent,
)
from stom_desktop.gui.ports import EventBusPort

log = logging.getLogger(__name__)


class EngineBridge(QObject):
    """Re-emits engine bus events as Qt signals on the thread that owns the bridge."""

    bars = pyqtSignal(list)  # list[BarEvent], in arrival order, one batch per wake-up
    order_update = pyqtSignal(OrderUpdateEvent)
    fill = pyqtSignal(FillEvent)
    position = pyqtSignal(PositionEvent)
    session_state = pyqtSignal(SessionStateEvent)
    error = pyqtSignal(ErrorEvent)
    risk_reject = pyqtSignal(RiskRejectEvent)
    _bars_ready = pyqtSignal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pending_bars: deque[BarEvent] = deque()
        self._wake_posted = False
        self._unsubscribe: list[Callable[[], None]] = []
        # Queued even when emitted from the GUI thread: draining must never re-enter.
        self._bars_ready.connect(self._drain_bars, Qt.ConnectionType.QueuedConnection)

    @property
    def attached(self) -> bool:
        """Whether the bridge is subscribed to a bus."""
        return bool(self._unsubscribe)

    def attach(self, bus: EventBusPort) -> None:
        """Subscribe to ``bus`` (once; attaching again first detaches)."""
        self.detach()
        pairs: list[tuple[type, Callable[[Any], None]]] = [
            (BarEvent, self._on_bar),
            (OrderUpdateEvent, self.order_update.emit),
            (FillEvent, self.fill.emit),
            (PositionEvent, self.position.emit),
            (SessionStateEvent, self.session_state.emit),
            (ErrorEvent, self.error.emit),
            (RiskRejectEvent, self.risk_reject.emit),
        ]
        self._unsubscribe = [bus.subscribe(event_type, h) for event_type, h in pairs]
        log.debug("engine bridge attached to %r", bus)

    def detach(self) -> None:
        """Unsubscribe from the bus (harmless when not attached)."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    # -- engine thread ----------------------------------------------------------------------
    def _on_bar(self, event: BarEvent) -> None:
        self._pending_bars.append(event)  # deque.append is atomic under the GIL
        if not self._wake_posted:
            self._wake_posted = True
            self._bars_ready.emit()

    # -- GUI thread -------------------------------------------------------------------------
    @pyqtSlot()
    def _drain_bars(self) -> None:
        # Clear the flag first: a bar appended after this line posts a new wake-up.
        self._wake_posted = False
        batch: list[BarEvent] = []
        pending = self._pending_bars
        while pending:
            batch.append(pending.popleft())
        if batch:
            self.bars.emit(batch)
