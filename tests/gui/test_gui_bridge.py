"""EngineBridge: bus events from an engine thread arrive as Qt signals on the GUI thread."""

from __future__ import annotations

import threading
from typing import Any

from PyQt6.QtCore import QThread
from PyQt6.QtWidgets import QApplication

from stom_desktop.core.events import BarEvent, ErrorEvent, SessionState, SessionStateEvent
from stom_desktop.engine.bus import EventBus
from stom_desktop.gui.bridge import EngineBridge


def test_events_cross_to_the_gui_thread_and_bars_come_batched(qtbot: Any) -> None:
    bus = EventBus()
    bridge = EngineBridge()
    bridge.attach(bus)
    gui_thread = QApplication.instance().thread()  # type: ignore[union-attr]
    states: list[tuple[object, object]] = []
    batches: list[list[BarEvent]] = []
    bridge.session_state.connect(lambda e: states.append((e, QThread.currentThread())))
    bridge.bars.connect(lambda b: batches.append((b, QThread.currentThread())))  # type: ignore[arg-type]
    bars = [BarEvent("SIM", "1m", i * 60_000, 1, 2, 0.5, 1.5, 10, True) for i in range(500)]
    state = SessionStateEvent("1", SessionState.RUNNING, 5)

    def engine() -> None:
        for bar in bars:
            bus.publish(bar)
        bus.publish(state)

    thread = threading.Thread(target=engine, name="engine")
    thread.start()
    thread.join()
    assert states == [] and batches == []  # nothing ran on the engine thread
    qtbot.waitUntil(lambda: len(states) == 1 and sum(len(b[0]) for b in batches) == 500)
    assert states[0] == (state, gui_thread)
    assert all(b[1] is gui_thread for b in batches)
    assert [bar for batch, _t in batches for bar in batch] == bars  # order kept
    assert len(batches) < 500  # coalesced into few wake-ups
    bridge.detach()
    bus.publish(ErrorEvent("1", "after detach", None, 1))
    with qtbot.assertNotEmitted(bridge.error, wait=100):
        pass
    assert not bridge.attached
