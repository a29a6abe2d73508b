"""Portfolio "History" tab: equity across days, daily P&L bars and a per-day table.

The numbers come from ``TradingService.equity_history`` (the journal, read on a worker,
never on the GUI thread); see ``services.equity_history`` for what equity means here.
The tab loads the first time it is shown, when the mode filter changes, on "Refresh",
and again whenever a session stops or fails (its day may have changed).
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.gui import theme
from stom_desktop.gui.models import Column, RowsModel
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)

#: Filter label -> ``equity_history`` mode.
MODES = {"All modes": "all", "Paper": "paper", "Live": "live"}
#: How many days back the tab reads.
HISTORY_DAYS = 365
_DAY_S = 86_400.0
_CENT = Decimal("0.01")


def _money(attr: str) -> Any:
    # Journal decimals carry 10 places (0.3000000000): show cents, not noise.
    return lambda row: getattr(row, attr).quantize(_CENT).normalize()


HISTORY_COLUMNS = [
    Column("Date", "day"),
    Column("Sessions", "sessions", numeric=True),
    Column("Interrupted", "interrupted", numeric=True),
    Column("Orders", "orders", numeric=True),
    Column("Trades (fills)", "fills", numeric=True),
    Column("Fees", _money("fees"), numeric=True),
    Column("Realised P&L", _money("realized_pnl"), numeric=True, signed=True),
    Column("Net P&L", _money("net_pnl"), numeric=True, signed=True),
    Column("Equity", _money("equity"), numeric=True),
]


class _MoneyAxis(pg.AxisItem):
    """Grouped whole numbers (10,005,000) instead of pyqtgraph's 1.0005e+07."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [f"{v * scale:,.0f}" for v in values]


def day_x(day: date) -> float:
    """The x of ``day``: its midnight as epoch seconds on a UTC date axis (labels = the date)."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class HistoryPanel(QWidget):
    """Mode filter, equity curve over daily P&L bars, and the per-day table."""

    def __init__(self, trading: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.trading = trading
        self.history: Any = None
        self.loaded = 0  # completed loads (tests)
        self._loading = False
        self._again = False  # a reload was asked for while one ran
        c = theme.colors()

        self.mode = QComboBox()
        self.mode.addItems(list(MODES))
        self.mode.currentIndexChanged.connect(lambda _: self.reload())
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.reload)
        self.status = QLabel("Not loaded yet")
        self.status.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Mode"))
        bar.addWidget(self.mode)
        bar.addWidget(refresh)
        bar.addWidget(self.status, 1)

        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(c.plot_background)
        # x is each day's UTC midnight, so a UTC date axis labels it with that very date.
        self.equity_plot = self.graphics.addPlot(
            row=0,
            col=0,
            axisItems={
                "bottom": pg.DateAxisItem(orientation="bottom", utcOffset=0),
                "left": _MoneyAxis(orientation="left"),
            },
        )
        self.pnl_plot = self.graphics.addPlot(
            row=1,
            col=0,
            axisItems={
                "bottom": pg.DateAxisItem(orientation="bottom", utcOffset=0),
                "left": _MoneyAxis(orientation="left"),
            },
        )
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 2)
        self.pnl_plot.setXLink(self.equity_plot)
        for plot, label in ((self.equity_plot, "equity"), (self.pnl_plot, "net P&L")):
            plot.setLabel("left", label, color=c.plot_foreground)
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.hideButtons()
            plot.getAxis("left").setWidth(90)  # equal widths keep the two x axes aligned
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setTextPen(c.plot_foreground)
                plot.getAxis(axis).setPen(c.plot_foreground)
        self.curve = self.equity_plot.plot(
            [], [], pen=pg.mkPen(c.up, width=2), symbol="o", symbolSize=6, symbolBrush=c.up
        )
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7 * _DAY_S)
        self.pnl_plot.addItem(self.bars)
        self.pnl_plot.addLine(y=0, pen=pg.mkPen(c.plot_foreground, width=1))
        self._up, self._down = c.up, c.down

        self.model = RowsModel(HISTORY_COLUMNS, self)
        table = QTableView()
        table.setModel(self.model)
        table.setAlternatingRowColors(True)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table = table
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.graphics)
        split.addWidget(table)
        split.setSizes([420, 220])
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(split, 1)

    @property
    def selected_mode(self) -> str:
        """The ``equity_history`` mode of the filter."""
        return MODES[self.mode.currentText()]

    def reload(self, *_: object) -> None:
        """Read the history on a worker (one read at a time; asking during one repeats it)."""
        if self.trading is None:
            self.status.setText("Trading service not available yet")
            return
        if self._loading:
            self._again = True
            return
        self._loading = True
        self.status.setText("Loading…")
        trading, mode = self.trading, self.selected_mode
        run_in_worker(
            lambda: trading.equity_history(days=HISTORY_DAYS, mode=mode),
            what="equity history",
            on_done=self.show_history,
            on_error=self._failed,
        )

    def ensure_loaded(self) -> None:
        """Load once (the first time the tab is shown)."""
        if not self.loaded and not self._loading:
            self.reload()

    def on_session_state(self, event: Any) -> None:
        """A session stopped or failed: its day's numbers changed (only once loaded)."""
        state = str(getattr(getattr(event, "state", None), "value", ""))
        if state in {"stopped", "error"} and (self.loaded or self._loading):
            self.reload()

    def _failed(self, exc: BaseException) -> None:
        self._loading = False
        self.status.setText(f"History failed: {exc}")
        self._repeat()

    def _repeat(self) -> None:
        if self._again:
            self._again = False
            self.reload()

    def show_history(self, history: Any) -> None:
        """Draw ``history`` (an ``EquityHistory``): curve, bars, table (newest day first)."""
        self._loading = False
        self.loaded += 1
        self.history = history
        days = list(history.days)
        self.status.setText(history.message)
        self.model.set_rows(list(reversed(days)))
        x = np.array([day_x(d.day) for d in days], dtype=np.float64)
        equity = np.array([float(d.equity) for d in days], dtype=np.float64)
        pnl = np.array([float(d.net_pnl) for d in days], dtype=np.float64)
        if days:  # the curve starts from the base the day before the first day shown
            x0 = x[0] - _DAY_S
            self.curve.setData(np.r_[x0, x], np.r_[float(history.base), equity])
        else:
            self.curve.setData([], [])
        brushes = [pg.mkBrush(self._up if v >= 0 else self._down) for v in pnl]
        self.bars.setOpts(x=x, height=pnl, width=0.7 * _DAY_S, brushes=brushes)
        self.equity_plot.enableAutoRange()
        self.pnl_plot.enableAutoRange()
        self._repeat()

    def curve_points(self) -> list[tuple[float, float]]:
        """What the equity curve draws, (x, y) pairs (tests)."""
        xs, ys = self.curve.getData()
        if xs is None or ys is None:
            return []
        return list(zip(xs.tolist(), ys.tolist(), strict=True))

    def bar_heights(self) -> list[float]:
        """What the daily P&L bars draw (tests)."""
        return [float(h) for h in self.bars.opts["height"]]
