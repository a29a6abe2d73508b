"""Portfolio window: cash, equity and P&L; positions; allocation bars; today's equity curve.

Everything is read from one ``TradingService.snapshot()`` on a worker (the service answers
through each session's engine thread). Fills and position events mark the window dirty; a
~30 fps timer re-reads once per burst and a 1 s timer re-reads anyway (marks move).

P&L: a position's unrealised P&L is at its last price; the account's realised P&L is
``equity - initial cash - unrealised``, so it is net of fees and includes positions that
were closed (they are no longer in the positions table). The equity curve starts at the
sessions' initial cash at their start time and is then sampled at every refresh while the
window is open; it is not stored. Earlier days are on the "History" tab
(``gui.portfolio_history``: the journal's per-day P&L and equity, loaded on first show).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.gui.models import Column, RowsModel, fmt_value
from stom_desktop.gui.portfolio_history import HistoryPanel
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)

FRAME_MS = 33
PERIODIC_MS = 1000
_ZERO = Decimal(0)


@dataclass(frozen=True)
class Holding:
    """One open position as the portfolio shows it."""

    session_id: int
    symbol: str
    quantity: Decimal
    avg_price: Decimal
    last_price: Decimal | None
    market_value: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    allocation: float  # share of total equity, 0..1


@dataclass(frozen=True)
class PortfolioView:
    """One consistent read of the account(s)."""

    cash: Decimal
    equity: Decimal
    initial: Decimal
    unrealized: Decimal
    realized: Decimal  # net of fees: equity - initial - unrealised
    holdings: tuple[Holding, ...]
    started: float | None  # epoch seconds of the earliest session start


def read_portfolio(trading: Any) -> PortfolioView:
    """Sum the running and stopped sessions of ``trading`` into one portfolio view."""
    snap = trading.snapshot()
    sessions = list(snap.sessions)
    equity = sum((Decimal(s.equity) for s in sessions), _ZERO)
    pnl = sum((Decimal(s.pnl) for s in sessions), _ZERO)
    cash = sum((Decimal(getattr(s, "cash", 0) or 0) for s in sessions), _ZERO)
    starts = [s.started_at.timestamp() for s in sessions if getattr(s, "started_at", None)]
    holdings = []
    for p in snap.positions:
        mark = p.last_price if p.last_price is not None else p.avg_price
        value = Decimal(p.quantity) * Decimal(mark)
        holdings.append(
            Holding(
                p.session_id,
                p.symbol,
                p.quantity,
                p.avg_price,
                p.last_price,
                value,
                p.unrealized_pnl,
                p.realized_pnl,
                float(value / equity) if equity else 0.0,
            )
        )
    unrealized = sum((h.unrealized_pnl for h in holdings), _ZERO)
    return PortfolioView(
        cash=cash,
        equity=equity,
        initial=equity - pnl,
        unrealized=unrealized,
        realized=pnl - unrealized,
        holdings=tuple(sorted(holdings, key=lambda h: -abs(h.market_value))),
        started=min(starts) if starts else None,
    )


HOLDING_COLUMNS = [
    Column("Symbol", "symbol"),
    Column("Session", "session_id", numeric=True),
    Column("Quantity", "quantity", numeric=True),
    Column("Avg price", "avg_price", numeric=True),
    Column("Last", "last_price", numeric=True),
    Column("Value", "market_value", numeric=True),
    Column("Unrealised", "unrealized_pnl", numeric=True, signed=True),
    Column("Realised", "realized_pnl", numeric=True, signed=True),
    Column("Alloc %", lambda h: round(h.allocation * 100, 2), numeric=True),
]


class _MoneyAxis(pg.AxisItem):
    """Grouped whole numbers (10,005,000) instead of pyqtgraph's 1.0005e+07."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [f"{v * scale:,.0f}" for v in values]


class PortfolioWindow(QMainWindow):
    """Summary figures, positions table, allocation bars and the equity curve."""

    def __init__(
        self,
        trading: Any,
        bridge: Any = None,
        tz: ZoneInfo | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("STOM Desktop — Portfolio")
        self.resize(1000, 720)
        self.trading = trading
        self.tz = tz
        self.view: PortfolioView | None = None
        self.samples: list[tuple[float, float]] = []  # (epoch s, equity)
        self._dirty = True
        self._loading = False
        self.refresh_count = 0

        self.figures: dict[str, QLabel] = {}
        grid = QGridLayout()
        for i, key in enumerate(("Cash", "Equity", "Unrealised", "Realised (net)", "Total P&L")):
            caption = QLabel(key)
            value = QLabel("-")
            value.setObjectName("title")
            grid.addWidget(caption, 0, i)
            grid.addWidget(value, 1, i)
            self.figures[key] = value
        self.status = QLabel()
        self.model = RowsModel(HOLDING_COLUMNS, self, tz)
        table = QTableView()
        table.setModel(self.model)
        table.setAlternatingRowColors(True)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table = table
        self.allocation = pg.PlotWidget(background="#131722")
        self.allocation.setTitle("Allocation (% of equity)")
        self.allocation.setMouseEnabled(x=False, y=False)
        self.allocation.hideButtons()
        self._bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush="#2962ff")
        self.allocation.addItem(self._bars)
        # DateAxisItem's utcOffset is seconds *west* of UTC; times show in the exchange zone.
        offset = (tz or ZoneInfo("UTC")).utcoffset(datetime.now(UTC))
        west = -int(offset.total_seconds()) if offset is not None else 0
        self.equity_plot = pg.PlotWidget(
            background="#131722",
            axisItems={
                "bottom": pg.DateAxisItem(orientation="bottom", utcOffset=west),
                "left": _MoneyAxis(orientation="left"),
            },
        )
        self.equity_plot.setTitle("Equity today (sampled while this window is open)")
        self.equity_plot.hideButtons()
        self._curve = self.equity_plot.plot([], [], pen=pg.mkPen("#26a69a", width=2))
        charts = QSplitter()
        charts.addWidget(self.allocation)
        charts.addWidget(self.equity_plot)
        charts.setSizes([350, 650])
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(table)
        split.addWidget(charts)
        split.setSizes([170, 510])
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addLayout(grid)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        self.history = HistoryPanel(trading)
        self.tabs = QTabWidget()
        self.tabs.addTab(body, "Now")
        self.tabs.addTab(self.history, "History")
        self.tabs.currentChanged.connect(self._on_tab)
        self.setCentralWidget(self.tabs)

        self._frame = QTimer(self)
        self._frame.setInterval(FRAME_MS)
        self._frame.timeout.connect(self._on_frame)
        self._frame.start()
        self._periodic = QTimer(self)
        self._periodic.setInterval(PERIODIC_MS)
        self._periodic.timeout.connect(self.mark_dirty)
        self._periodic.start()
        if bridge is not None:
            for signal in (bridge.fill, bridge.position, bridge.session_state):
                signal.connect(self.mark_dirty)
            bridge.session_state.connect(self.history.on_session_state)
        self._on_frame()

    def _on_tab(self, index: int) -> None:
        # The history reads every stored session: only when someone looks at it.
        if self.tabs.widget(index) is self.history:
            self.history.ensure_loaded()

    def mark_dirty(self, *_: object) -> None:
        """Something changed: re-read at the next frame."""
        self._dirty = True

    def _on_frame(self) -> None:
        if not self._dirty or self._loading or self.trading is None:
            if self.trading is None:
                self.status.setText("Trading service not available yet")
            return
        self._dirty = False
        self._loading = True
        trading = self.trading
        run_in_worker(
            lambda: read_portfolio(trading),
            what="portfolio refresh",
            on_done=self.show_view,
            on_error=self._failed,
        )

    def _failed(self, exc: BaseException) -> None:
        self._loading = False
        self.status.setText(f"Refresh failed: {exc}")

    def show_view(self, view: PortfolioView, now: float | None = None) -> None:
        """Show ``view`` and add an equity sample at ``now`` (epoch s; default: the clock)."""
        self._loading = False
        self.refresh_count += 1
        self.view = view
        total = view.equity - view.initial
        for key, value in (
            ("Cash", view.cash),
            ("Equity", view.equity),
            ("Unrealised", view.unrealized),
            ("Realised (net)", view.realized),
            ("Total P&L", total),
        ):
            label = self.figures[key]
            label.setText(fmt_value(value.quantize(Decimal("0.01")).normalize()))
            signed = key not in {"Cash", "Equity"} and value != 0
            color = ("#26a69a" if value > 0 else "#ef5350") if signed else ""
            label.setStyleSheet(f"color:{color}" if color else "")
        self.status.setText(f"{len(view.holdings)} open position(s)")
        self.model.set_rows(list(view.holdings))
        self._draw_allocation(view)
        when = now if now is not None else time.time()
        if not self.samples and view.started is not None and view.started < when:
            self.samples.append((view.started, float(view.initial)))
        if view.equity or self.samples:
            self.samples.append((when, float(view.equity)))
        points = np.asarray(self.samples, dtype=np.float64).reshape(-1, 2)
        self._curve.setData(points[:, 0], points[:, 1])

    def _draw_allocation(self, view: PortfolioView) -> None:
        names = [h.symbol for h in view.holdings] + ["cash"]
        equity = float(view.equity) or 1.0
        heights = [h.allocation * 100 for h in view.holdings] + [float(view.cash) / equity * 100]
        x = np.arange(len(names), dtype=np.float64)
        brushes = [pg.mkBrush("#2962ff")] * len(view.holdings) + [pg.mkBrush("#787b86")]
        self._bars.setOpts(x=x, height=heights, width=0.6, brushes=brushes)
        self.allocation.getAxis("bottom").setTicks([list(zip(x.tolist(), names, strict=True))])
        self.allocation.setXRange(-0.6, len(names) - 0.4, padding=0)
        self.allocation.setYRange(0, max(100.0, *heights) if heights else 100.0, padding=0.05)

    def allocation_bars(self) -> dict[str, float]:
        """What the allocation chart shows: label -> percent of equity (tests)."""
        opts = self._bars.opts
        ticks = self.allocation.getAxis("bottom")._tickLevels  # set by setTicks above
        labels = [name for _, name in ticks[0]] if ticks else []
        return dict(zip(labels, [float(h) for h in opts["height"]], strict=True))

    def closeEvent(self, event: Any) -> None:
        """Stop refreshing while closed (showing it again resumes)."""
        self._frame.stop()
        self._periodic.stop()
        super().closeEvent(event)

    def showEvent(self, event: Any) -> None:
        """Refresh on show."""
        self._frame.start()
        self._periodic.start()
        self._dirty = True
        super().showEvent(event)
