"""Portfolio "History" tab: filled from a fake service on a worker; empty history; session stop."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from PyQt6.QtCore import Qt

from stom_desktop.core.events import SessionState, SessionStateEvent
from stom_desktop.gui.portfolio_history import day_x
from stom_desktop.gui.portfolio_window import PortfolioWindow
from stom_desktop.services.equity_history import EquityHistory, HistoryDay

D = Decimal


def _day(day: date, net: str, equity: str, fees: str = "5") -> HistoryDay:
    return HistoryDay(
        day=day,
        sessions=1,
        interrupted=0,
        orders=2,
        fills=2,
        realized_pnl=D(net) + D(fees),
        fees=D(fees),
        net_pnl=D(net),
        equity=D(equity),
        open_positions=0,
    )


HISTORY = EquityHistory(
    "paper",
    (
        _day(date(2026, 1, 5), "990", "10000990"),
        _day(date(2026, 1, 7), "-208.3000000000", "10000781.7"),
    ),
    D(10_000_000),
    ("KRW",),
    "2 day(s), 2 session(s)",
)


class Trading:
    """Snapshot for the "Now" tab, history for the "History" tab; records where it ran."""

    def __init__(self, history: EquityHistory) -> None:
        self.history = history
        self.calls: list[tuple[int | None, str]] = []
        self.threads: list[threading.Thread] = []

    def snapshot(self) -> Any:
        return SimpleNamespace(sessions=(), positions=(), open_orders=(), fills=())

    def equity_history(self, days: int | None = 90, mode: str = "all") -> EquityHistory:
        self.calls.append((days, mode))
        self.threads.append(threading.current_thread())
        return self.history


class Bridge:
    """The three signals the portfolio window listens to (plain Qt signals of a QObject)."""

    def __init__(self) -> None:
        from PyQt6.QtCore import QObject, pyqtSignal

        class _B(QObject):
            fill = pyqtSignal(object)
            position = pyqtSignal(object)
            session_state = pyqtSignal(object)

        self.obj = _B()
        self.fill, self.position, self.session_state = (
            self.obj.fill,
            self.obj.position,
            self.obj.session_state,
        )


def _table(win: PortfolioWindow) -> list[dict[str, str]]:
    model = win.history.model
    headers = [
        model.headerData(c, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole)
        for c in range(model.columnCount())
    ]
    return [
        {
            h: model.data(model.index(r, c), Qt.ItemDataRole.DisplayRole)
            for c, h in enumerate(headers)
        }
        for r in range(model.rowCount())
    ]


def test_history_tab_loads_on_a_worker_and_fills_chart_and_table(qtbot: Any) -> None:
    trading = Trading(HISTORY)
    win = PortfolioWindow(trading)
    qtbot.addWidget(win)
    win.show()
    assert trading.calls == []  # nothing read until the tab is shown
    win.tabs.setCurrentWidget(win.history)
    qtbot.waitUntil(lambda: win.history.loaded == 1)
    assert trading.calls == [(365, "all")]
    assert trading.threads[0] is not threading.main_thread()
    rows = _table(win)
    assert [r["Date"] for r in rows] == ["2026-01-07", "2026-01-05"]  # newest first
    assert rows[0]["Net P&L"] == "-208.3" and rows[0]["Equity"] == "10,000,781.7"
    assert rows[1]["Fees"] == "5" and rows[1]["Realised P&L"] == "995"
    x5, x7 = day_x(date(2026, 1, 5)), day_x(date(2026, 1, 7))
    assert x5 == datetime(2026, 1, 5, tzinfo=UTC).timestamp()
    # the curve starts at the base the day before the first day
    assert win.history.curve_points() == [
        (x5 - 86_400, 10_000_000.0),
        (x5, 10_000_990.0),
        (x7, 10_000_781.7),
    ]
    assert win.history.bar_heights() == [990.0, -208.3]
    assert win.history.status.text() == "2 day(s), 2 session(s)"

    win.history.mode.setCurrentText("Paper")  # the filter reads again with its mode
    qtbot.waitUntil(lambda: win.history.loaded == 2)
    assert trading.calls[-1] == (365, "paper")


def test_empty_history_shows_the_message_and_no_points(qtbot: Any) -> None:
    empty = EquityHistory("all", (), D(0), (), "No sessions in the last 365 day(s) yet: run one")
    win = PortfolioWindow(Trading(empty))
    qtbot.addWidget(win)
    win.show()
    win.tabs.setCurrentWidget(win.history)
    qtbot.waitUntil(lambda: win.history.loaded == 1)
    assert win.history.status.text().startswith("No sessions")
    assert win.history.model.rowCount() == 0
    assert win.history.curve_points() == [] and win.history.bar_heights() == []


def test_a_stopped_session_reloads_the_history(qtbot: Any) -> None:
    trading, bridge = Trading(HISTORY), Bridge()
    win = PortfolioWindow(trading, bridge)
    qtbot.addWidget(win)
    win.show()
    running = SessionStateEvent("s1", SessionState.RUNNING, 0)
    bridge.session_state.emit(SessionStateEvent("s1", SessionState.STOPPED, 0))
    assert trading.calls == []  # not loaded yet: nothing to refresh
    win.tabs.setCurrentWidget(win.history)
    qtbot.waitUntil(lambda: win.history.loaded == 1)
    bridge.session_state.emit(running)
    bridge.session_state.emit(SessionStateEvent("s1", SessionState.STOPPED, 0))
    qtbot.waitUntil(lambda: win.history.loaded == 2)
    assert len(trading.calls) == 2
