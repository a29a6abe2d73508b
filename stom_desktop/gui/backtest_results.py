"""Result views of the Backtest window: a sortable DataFrame table, metrics, equity + drawdown.

Also the report text (markdown) that the window exports next to the trades CSV and JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyqtgraph as pg
from PyQt6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSortFilterProxyModel, Qt
from PyQt6.QtWidgets import QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from stom_desktop.gui import theme

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
#: Metrics shown as percentages (fractions in the result).
PERCENT_METRICS = frozenset(
    {
        "total_return",
        "cagr",
        "volatility",
        "max_drawdown",
        "win_rate",
        "avg_trade_return",
        "best_trade_return",
        "worst_trade_return",
        "exposure",
        "return",
        "oos_return",
    }
)


def fmt_cell(name: str, value: Any) -> str:
    """Display text for a metric or trade cell (percentages, grouped numbers, local times)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if math.isnan(value):
            return "\u2014"
        if math.isinf(value):
            return "\u221e" if value > 0 else "-\u221e"
        if name.endswith("_ms"):  # durations (max_drawdown_ms): days read better
            return f"{value / 86_400_000:,.1f} d"
        if name in PERCENT_METRICS:
            return f"{value * 100:,.2f}%"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value / 86_400_000:,.1f} d" if name.endswith("_ms") else f"{value:,}"
    return str(value)


def _sort_key(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return -math.inf
    if isinstance(value, int | float | bool):
        return float(value)
    return str(value)


class FrameModel(QAbstractTableModel):
    """A read-only view of a DataFrame; ``SORT_ROLE`` gives raw values for numeric sorting."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.frame = pd.DataFrame()
        self._columns: list[str] = []
        self._values: list[list[Any]] = []

    def set_frame(self, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> None:
        """Show ``frame`` (optionally only ``columns``, in that order)."""
        self.beginResetModel()
        self.frame = frame
        self._columns = [str(c) for c in (columns if columns is not None else frame.columns)]
        subset = frame.loc[:, list(columns)] if columns is not None else frame
        self._values = list(subset.itertuples(index=False, name=None))  # type: ignore[arg-type]
        self.endResetModel()

    def column_name(self, column: int) -> str:
        """The DataFrame column shown in view column ``column``."""
        return self._columns[column]

    def rowCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._values)

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self._columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        if orientation == Qt.Orientation.Horizontal:
            return self._columns[section]
        return str(section + 1)

    def data(self, index: QModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        value = self._values[index.row()][index.column()]
        name = self._columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return fmt_cell(name, value)
        if role == SORT_ROLE:
            return _sort_key(value)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            numeric = isinstance(value, int | float | np.number) and not isinstance(value, bool)
            return _RIGHT if numeric else _LEFT
        signed = isinstance(value, float | np.floating) and value != 0 and not math.isnan(value)
        if role == Qt.ItemDataRole.ForegroundRole and name in ("pnl", "return") and signed:
            c = theme.colors()
            return pg.mkColor(c.up if value > 0 else c.down)
        return None


def sortable(model: FrameModel, parent: QObject | None = None) -> QSortFilterProxyModel:
    """A proxy that sorts ``model`` by raw values (numbers as numbers, times as times)."""
    proxy = QSortFilterProxyModel(parent)
    proxy.setSourceModel(model)
    proxy.setSortRole(SORT_ROLE)
    return proxy


def fill_metrics(table: QTableWidget, headers: Sequence[str], rows: dict[str, list[Any]]) -> None:
    """Fill ``table`` with one row per metric and one column per header (run)."""
    table.clear()
    table.setColumnCount(len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.setRowCount(len(rows))
    table.setVerticalHeaderLabels(list(rows))
    for r, (name, values) in enumerate(rows.items()):
        for c, value in enumerate(values):
            item = QTableWidgetItem(fmt_cell(name, value))
            item.setTextAlignment(_RIGHT)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
    header = table.horizontalHeader()
    if header is not None:
        header.setStretchLastSection(True)


def drawdown(equity: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Drawdown from the running peak as a (negative) fraction, per bar."""
    if equity.size == 0:
        return equity.astype(np.float64)
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, equity / peak - 1.0, 0.0)
    return dd.astype(np.float64)


class EquityChart(QWidget):
    """Equity curve(s) above and drawdown below on a linked time axis (seconds, UTC)."""

    PALETTE = ("#26a69a", "#ffb300", "#42a5f5", "#ab47bc")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        c = theme.colors()
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(c.plot_background)
        self.equity_plot = self.graphics.addPlot(
            row=0, col=0, axisItems={"bottom": pg.DateAxisItem()}
        )
        self.drawdown_plot = self.graphics.addPlot(
            row=1, col=0, axisItems={"bottom": pg.DateAxisItem()}
        )
        self.graphics.ci.layout.setRowStretchFactor(0, 3)
        self.graphics.ci.layout.setRowStretchFactor(1, 1)
        self.drawdown_plot.setXLink(self.equity_plot)
        for plot, label in ((self.equity_plot, "equity"), (self.drawdown_plot, "drawdown %")):
            plot.setLabel("left", label, color=c.plot_foreground)
            plot.showGrid(x=True, y=True, alpha=0.15)
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setTextPen(c.plot_foreground)
                plot.getAxis(axis).setPen(c.plot_foreground)
        self.legend = self.equity_plot.addLegend(offset=(10, 10))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.curves: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}

    def clear(self) -> None:
        """Remove every curve."""
        self.equity_plot.clear()
        self.drawdown_plot.clear()
        self.legend.clear()
        self.curves = {}

    def add_curve(
        self, name: str, ts_ms: npt.NDArray[np.int64], equity: npt.NDArray[np.float64]
    ) -> None:
        """Draw one equity curve (and its drawdown) named ``name`` in the legend."""
        color = self.PALETTE[len(self.curves) % len(self.PALETTE)]
        x = np.asarray(ts_ms, dtype=np.float64) / 1000.0
        eq = np.asarray(equity, dtype=np.float64)
        pen = pg.mkPen(color, width=1.6)
        top = self.equity_plot.plot(x, eq, pen=pen, name=name)
        dd = drawdown(eq) * 100.0
        bottom = self.drawdown_plot.plot(
            x, dd, pen=pg.mkPen(color, width=1.0), fillLevel=0, brush=pg.mkBrush(color + "40")
        )
        self.curves[name] = (top, bottom)
        self.equity_plot.enableAutoRange()
        self.drawdown_plot.enableAutoRange()

    def show_result(self, name: str, ts_ms: Any, equity: Any) -> None:
        """Replace the chart with one curve."""
        self.clear()
        self.add_curve(name, ts_ms, equity)


def report_markdown(result: Any, run_id: int | None = None) -> str:
    """A readable markdown report of one ``BacktestResult``: settings, metrics, trades."""
    title = f"# Backtest: {result.strategy} on {result.symbol} {result.timeframe}"
    lines = [title, ""]
    if run_id is not None:
        lines += [f"Run id: {run_id}", ""]
    if result.equity_ts.shape[0]:
        start = pd.Timestamp(int(result.equity_ts[0]), unit="ms", tz="UTC")
        end = pd.Timestamp(int(result.equity_ts[-1]), unit="ms", tz="UTC")
        lines += [f"Period: {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC", ""]
    params = ", ".join(f"{k}={v}" for k, v in result.params.items()) or "(defaults)"
    lines += [f"Parameters: {params}", "", "## Metrics", "", "| metric | value |", "|---|---|"]
    for name, value in result.metrics.as_dict().items():
        lines.append(f"| {name} | {fmt_cell(name, value)} |")
    lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
    for name, value in result.config.as_dict().items():
        lines.append(f"| {name} | {value} |")
    trades = result.trades
    lines += ["", f"## Trades ({len(trades)})", ""]
    if len(trades):
        cols = ["entry_time", "exit_time", "direction", "size", "entry_price", "exit_price"]
        cols += ["pnl", "return", "exit_reason"]
        lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for row in trades.loc[:, cols].itertuples(index=False, name=None):
            cells = [fmt_cell(c, v) for c, v in zip(cols, row, strict=True)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
