"""Dashboard: sessions with state and P&L, positions, open orders, recent fills, alerts.

Engine events only mark the window dirty; a ~30 fps timer then re-reads the trading
service once, so a burst of fills costs one refresh. A slower timer refreshes anyway
(unrealised P&L moves with prices, which are not individual events here).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMainWindow,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.gui.bridge import EngineBridge
from stom_desktop.gui.models import Column, RowsModel, fmt_value
from stom_desktop.gui.ports import TradingPort
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)

FRAME_MS = 33  # coalesce repaints to ~30 fps
PERIODIC_MS = 1000
MAX_ALERTS = 200

SESSION_COLUMNS = [
    Column("Id", "id", numeric=True),
    Column("Name", "name"),
    Column("Strategy", "strategy"),
    Column("Mode", "mode"),
    Column("State", "state"),
    Column("P&L", "pnl", numeric=True, signed=True),
    Column("Equity", "equity", numeric=True),
    Column("Fills", "fills", numeric=True),
    Column("Started", "started_at"),
]
POSITION_COLUMNS = [
    Column("Session", "session_id", numeric=True),
    Column("Symbol", "symbol"),
    Column("Quantity", "quantity", numeric=True),
    Column("Avg price", "avg_price", numeric=True),
    Column("Last", "last_price", numeric=True),
    Column("Unrealised", "unrealized_pnl", numeric=True, signed=True),
    Column("Realised", "realized_pnl", numeric=True, signed=True),
]
ORDER_COLUMNS = [
    Column("Order id", "client_order_id"),
    Column("Symbol", "symbol"),
    Column("Side", "side"),
    Column("Type", "order_type"),
    Column("Quantity", "quantity", numeric=True),
    Column("Filled", "filled_quantity", numeric=True),
    Column("Price", "price", numeric=True),
    Column("Status", "status"),
]
FILL_COLUMNS = [
    Column("Time", "ts"),
    Column("Session", "session_id", numeric=True),
    Column("Symbol", "symbol"),
    Column("Side", "side"),
    Column("Quantity", "quantity", numeric=True),
    Column("Price", "price", numeric=True),
    Column("Fee", "fee", numeric=True),
    Column("Order id", "client_order_id"),
]
ALERT_COLUMNS = [Column("Time", "time"), Column("Kind", "kind"), Column("Message", "message")]


def _table(model: RowsModel, *, stretch_last: bool = False) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setAlternatingRowColors(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    # Only a text column may stretch: a stretched numeric column pushes its value far right.
    view.horizontalHeader().setStretchLastSection(stretch_last)
    view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    return view


class DashboardWindow(QMainWindow):
    """Live overview of the trading service."""

    def __init__(
        self,
        trading: TradingPort | None,
        bridge: EngineBridge | None = None,
        tz: ZoneInfo | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("STOM Desktop — Dashboard")
        self.resize(1100, 700)
        self.trading = trading
        self.tz = tz
        self.sessions = RowsModel(SESSION_COLUMNS, self, tz)
        self.positions = RowsModel(POSITION_COLUMNS, self, tz)
        self.orders = RowsModel(ORDER_COLUMNS, self, tz)
        self.fills = RowsModel(FILL_COLUMNS, self, tz)
        self.alerts = RowsModel(ALERT_COLUMNS, self, tz)
        self._alerts: deque[dict[str, Any]] = deque(maxlen=MAX_ALERTS)
        self._dirty = True
        self._loading = False
        self.refresh_count = 0  # how many times the service was re-read (tests, stats)

        self.summary = QLabel()
        self.summary.setObjectName("title")
        tabs = QTabWidget()
        tabs.addTab(_table(self.positions), "Positions")
        tabs.addTab(_table(self.orders), "Open orders")
        tabs.addTab(_table(self.fills, stretch_last=True), "Recent fills")
        tabs.addTab(_table(self.alerts, stretch_last=True), "Alerts")
        self.tabs = tabs
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(_table(self.sessions))
        split.addWidget(tabs)
        split.setSizes([220, 480])
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.summary)
        layout.addWidget(split)
        self.setCentralWidget(body)

        self._frame = QTimer(self)
        self._frame.setInterval(FRAME_MS)
        self._frame.timeout.connect(self._on_frame)
        self._frame.start()
        self._periodic = QTimer(self)
        self._periodic.setInterval(PERIODIC_MS)
        self._periodic.timeout.connect(self.mark_dirty)
        self._periodic.start()
        if bridge is not None:
            self.connect_bridge(bridge)
        self._on_frame()

    def connect_bridge(self, bridge: EngineBridge) -> None:
        """Listen to engine events (they mark the view dirty; errors also become alerts)."""
        for signal in (bridge.order_update, bridge.fill, bridge.position, bridge.session_state):
            signal.connect(self.mark_dirty)
        bridge.error.connect(lambda e: self.add_alert("error", f"[{e.session_id}] {e.message}"))
        bridge.risk_reject.connect(
            lambda e: self.add_alert(
                "risk", f"[{e.session_id}] {e.side} {e.quantity} {e.symbol}: {e.rule}: {e.reason}"
            )
        )
        bridge.session_state.connect(
            lambda e: e.message and self.add_alert("session", f"[{e.session_id}] {e.message}")
        )

    def set_trading(self, trading: TradingPort | None) -> None:
        """Attach the trading service once it has been built."""
        self.trading = trading
        self.mark_dirty()

    def mark_dirty(self, *_: object) -> None:
        """Something changed: re-read at the next frame."""
        self._dirty = True

    def add_alert(self, kind: str, message: str) -> None:
        """Show ``message`` at the top of the Alerts tab."""
        self._alerts.appendleft({"time": datetime.now(UTC), "kind": kind, "message": message})
        self.alerts.set_rows(list(self._alerts))

    def _on_frame(self) -> None:
        if not self._dirty or self._loading:
            return
        if not self.isVisible() and self.refresh_count > 0:
            return  # hidden: re-read when shown again (the flag stays set)
        self._dirty = False
        self.refresh()

    def refresh(self) -> None:
        """Re-read sessions, positions, orders, fills and P&L on a worker, then show them.

        The service answers through each session's engine thread (and the database for
        the P&L), so the read must never run on the GUI thread.
        """
        trading = self.trading
        if trading is None:
            self.summary.setText("Trading service not available yet")
            return
        self._loading = True
        run_in_worker(
            lambda: read_trading(trading),
            what="dashboard refresh",
            on_done=self._show,
            on_error=self._failed,
        )

    def _show(self, data: TradingView) -> None:
        self._loading = False
        self.refresh_count += 1
        self.sessions.set_rows(data.sessions)
        self.positions.set_rows(data.positions)
        self.orders.set_rows(data.open_orders)
        self.fills.set_rows(list(reversed(data.fills)))
        running = sum(1 for s in data.sessions if str(getattr(s, "state", "")) == "running")
        self.summary.setText(
            f"{len(data.sessions)} session(s), {running} running \u2014 "
            f"today's P&L {fmt_value(data.pnl)}"
        )

    def _failed(self, exc: BaseException) -> None:
        self._loading = False
        self.refresh_count += 1
        self.summary.setText(f"Refresh failed: {exc}")


@dataclass(frozen=True)
class TradingView:
    """One consistent read of the trading service for the dashboard."""

    sessions: list[Any]
    positions: list[Any]
    open_orders: list[Any]
    fills: list[Any]
    pnl: Any


def read_trading(trading: TradingPort, fills: int = 50) -> TradingView:
    """Read everything the dashboard shows (one ``snapshot()`` when the service has it)."""
    snapshot = getattr(trading, "snapshot", None)
    if callable(snapshot):
        snap = snapshot()
        view = TradingView(
            list(snap.sessions),
            list(snap.positions),
            list(snap.open_orders),
            sorted(snap.fills, key=lambda f: f.ts)[-fills:],
            None,
        )
    else:
        view = TradingView(
            list(trading.sessions()),
            list(trading.positions()),
            list(trading.open_orders()),
            list(trading.recent_fills(fills)),
            None,
        )
    return TradingView(
        view.sessions, view.positions, view.open_orders, view.fills, trading.today_pnl()
    )
