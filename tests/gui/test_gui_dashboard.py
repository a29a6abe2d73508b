"""Dashboard: tables filled from the trading service, refreshed after engine events."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from gui_fakes import FakeTrading, position, session
from PyQt6.QtCore import Qt

from stom_desktop.core.enums import Side
from stom_desktop.core.events import RiskRejectEvent, SessionState, SessionStateEvent
from stom_desktop.gui.bridge import EngineBridge
from stom_desktop.gui.dashboard import DashboardWindow


def test_dashboard_shows_and_refreshes(qtbot: Any, trading: FakeTrading) -> None:
    trading.session_list = [session(1, "running", "1500")]
    trading.position_list = [position(1, "SIM1", "3")]
    bridge = EngineBridge()
    bridge.attach(trading.events)
    window = DashboardWindow(trading, bridge)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.sessions.rowCount() == 1)
    assert window.sessions.data(window.sessions.index(0, 4)) == "running"
    pnl = window.sessions.index(0, 5)
    assert window.sessions.data(pnl) == "1,500"
    assert window.sessions.data(pnl, Qt.ItemDataRole.ForegroundRole) is not None  # coloured
    assert window.positions.data(window.positions.index(0, 1)) == "SIM1"
    assert "today's P&L 1,234" in window.summary.text()

    trading.session_list = [session(1, "paused", "1500"), session(2, "running")]
    before = window.refresh_count
    event = SessionStateEvent("2", SessionState.RUNNING, 1, message="started by schedule")
    threading.Thread(target=trading.events.publish, args=(event,)).start()
    qtbot.waitUntil(lambda: window.sessions.rowCount() == 2 and window.refresh_count > before)
    assert "started by schedule" in window.alerts.data(window.alerts.index(0, 2))
    reject = RiskRejectEvent("2", "SIM2", Side.BUY, Decimal(5), "max_open_positions", "full", 2)
    trading.events.publish(reject)
    qtbot.waitUntil(lambda: window.alerts.rowCount() == 2)
    assert "max_open_positions" in window.alerts.data(window.alerts.index(0, 2))
    bridge.detach()
