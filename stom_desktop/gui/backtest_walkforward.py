"""The Backtest window's walk-forward tab: rolling optimise-then-test windows and their stitch.

It runs ``OptimizeService.run`` with ``walk_forward="<train>/<test>"`` (what
``stom optimize --walk-forward`` runs) on a worker, with a ``threading.Event`` that stops
it between phases, like the Optimisation tab. The grid is this tab's own, or the
Optimisation tab's when left empty. Results: one row per window (train span, test span,
chosen parameters, in-sample score, out-of-sample return and Sharpe), the stitched
out-of-sample equity curve and its metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pyqtgraph as pg
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.gui.backtest_optimize import METRICS
from stom_desktop.gui.backtest_results import EquityChart, fill_metrics
from stom_desktop.gui.grid_run import GridRunLifecycle

#: Window length units offered: label -> the suffix ``walkforward.parse_length`` reads.
UNITS = {"days": "d", "weeks": "w", "months": "m", "years": "y", "bars": "b"}
#: Stitched metrics shown beside the curve (the full list is long; these answer "did it work").
SUMMARY = (
    "total_return",
    "cagr",
    "sharpe",
    "sortino",
    "max_drawdown",
    "num_trades",
    "win_rate",
    "profit_factor",
    "final_equity",
)

GridSource = Callable[[], tuple[tuple[str, ...], tuple[str, ...]]]


def _span(start: Any, end: Any) -> str:
    return f"{start:%Y-%m-%d} \u2026 {end:%Y-%m-%d}"


def window_table(windows: pd.DataFrame, params: list[str], metric: str) -> pd.DataFrame:
    """The rows the tab shows: spans as text, chosen ``params``, IS score, OOS return/Sharpe."""
    table = pd.DataFrame(
        {
            "window": windows["window"] + 1,
            "train": [
                _span(a, b) for a, b in zip(windows["is_start"], windows["is_end"], strict=True)
            ],
            "test": [
                _span(a, b) for a, b in zip(windows["oos_start"], windows["oos_end"], strict=True)
            ],
        }
    )
    for name in params:
        table[name] = windows[name]
    table[f"is_{metric}"] = windows[f"is_{metric}"]
    table["oos_return"] = windows["oos_return"]
    table["oos_sharpe"] = windows.get("oos_sharpe", windows.get(f"oos_{metric}"))
    if metric != "sharpe":
        table[f"oos_{metric}"] = windows[f"oos_{metric}"]
    table["oos_trades"] = windows["oos_trades"]
    return table


class WalkForwardPanel(GridRunLifecycle, QWidget):
    """Window lengths, grid, metric, Run/Cancel with progress, window table, stitched curve."""

    RUN_NAME = "Walk-forward"

    def __init__(
        self,
        optimizer: Any,
        base_request: Callable[[], Any],
        grid_source: GridSource | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.optimizer = optimizer
        self.base_request = base_request
        self.grid_source = grid_source
        self.saved: Any = None

        self.train = QSpinBox()
        self.train.setRange(1, 1_000_000)
        self.train.setValue(6)
        self.test = QSpinBox()
        self.test.setRange(1, 1_000_000)
        self.test.setValue(1)
        self.unit = QComboBox()
        self.unit.addItems(list(UNITS))
        self.unit.setCurrentText("months")
        self.specs = QLineEdit()
        self.specs.setPlaceholderText("empty = the Optimisation tab's grid, e.g. fast=5:50:5")
        self.constraints = QLineEdit()
        self.constraints.setPlaceholderText("e.g. fast<slow (optional)")
        self.metric = QComboBox()
        self.metric.addItems(METRICS)
        self._init_run(
            self,
            "Run walk-forward",
            "Optimise on each training window, trade the winner on the test window after it.",
        )

        lengths = QHBoxLayout()
        for label, widget in (("Train", self.train), ("Test", self.test)):
            lengths.addWidget(QLabel(label))
            lengths.addWidget(widget)
        lengths.addWidget(self.unit)
        lengths.addStretch(1)
        form = QFormLayout()
        form.addRow("Windows", lengths)
        form.addRow("Grid", self.specs)
        form.addRow("Constraints", self.constraints)
        form.addRow("Choose by", self.metric)
        buttons = self._run_buttons()
        self._results_table(self)
        self.chart = EquityChart()
        self.summary = QTableWidget()
        self.summary.setAlternatingRowColors(True)
        self.summary.setMaximumWidth(260)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setObjectName("walkforward_bottom")
        bottom.addWidget(self.chart)
        bottom.addWidget(self.summary)
        bottom.setSizes([720, 240])
        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("walkforward_split")
        split.addWidget(self.table)
        split.addWidget(bottom)
        split.setSizes([300, 420])

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

    def spec(self) -> str:
        """The window spec the form describes, e.g. ``"6m/1m"``."""
        unit = UNITS[self.unit.currentText()]
        return f"{self.train.value()}{unit}/{self.test.value()}{unit}"

    def _grid(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        specs = tuple(self.specs.text().split())
        constraints = tuple(self.constraints.text().split())
        if not specs and self.grid_source is not None:
            specs, borrowed = self.grid_source()
            constraints = constraints or borrowed
        return specs, constraints

    def request(self) -> Any:
        """The ``OptimizeRequest`` (with ``walk_forward``) the form and the window describe."""
        from stom_desktop.services.optimize_service import OptimizeRequest

        specs, constraints = self._grid()
        if not specs:
            raise ValueError("enter a grid such as fast=5:50:5 (here or on the Optimisation tab)")
        return OptimizeRequest(
            base=self.base_request(),
            specs=specs,
            constraints=constraints,
            metric=self.metric.currentText(),
            workers=1,  # threads inside the GUI process: keep one core for painting
            walk_forward=self.spec(),
        )

    def start(self) -> None:
        """Build the request and run the walk-forward on a worker."""
        from stom_desktop.core.errors import StomError

        try:
            request = self.request()
        except (StomError, ValueError) as exc:
            self._error(f"Cannot run walk-forward: {exc}")
            return
        self._launch(request, "walk-forward")
        base = request.base
        self._info(
            f"Walk-forward {request.walk_forward} of {base.strategy} on {base.symbol} "
            f"{base.timeframe}\u2026"
        )

    def show_result(self, saved: Any) -> None:
        """Fill the window table, the stitched curve and its metrics from a saved run."""
        wf = saved.walk_forward
        if wf is None:
            self._error(f"Run {saved.run_id} is a plain grid search, not a walk-forward.")
            return
        self.saved = saved
        fixed = {"window", "is_start", "is_end", "oos_start", "oos_end", "is_bars", "oos_bars"}
        scores = {f"is_{wf.metric}", f"oos_{wf.metric}", "oos_sharpe"}
        scores |= {"oos_return", "oos_trades", "oos_final_equity"}
        params = [c for c in wf.windows.columns if c not in fixed | scores]
        table = window_table(wf.windows, params, wf.metric)
        self.model.set_frame(table)
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # type: ignore[union-attr]
        self.proxy.sort(-1)
        self.table.resizeColumnsToContents()
        self.chart.show_result("stitched out-of-sample", wf.equity_ts, wf.equity)
        # Dotted lines where each test window starts (its parameters change there).
        for start in wf.segment_starts[1:]:
            line = pg.InfiniteLine(
                float(wf.equity_ts[start]) / 1000.0,
                angle=90,
                pen=pg.mkPen("#787b86", width=1, style=Qt.PenStyle.DotLine),
            )
            self.chart.equity_plot.addItem(line, ignoreBounds=True)
        values = wf.metrics.as_dict()
        fill_metrics(self.summary, ["stitched OOS"], {k: [values[k]] for k in SUMMARY})
        note = " (cancelled: windows finished so far)" if wf.cancelled else ""
        self._info(
            f"Run {saved.run_id}: {len(wf.windows)} windows of {wf.in_sample} train / "
            f"{wf.out_of_sample} test by {wf.metric}, {saved.grid_size} sets each, "
            f"{wf.elapsed:.1f} s. Stitched out-of-sample return "
            f"{wf.metrics.total_return * 100:,.2f}%, Sharpe {wf.metrics.sharpe:,.2f}{note}"
        )
