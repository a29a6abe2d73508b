"""The Backtest window's optimisation tab: grid specs, a worker with Cancel, table and heat map.

The grid runs through ``OptimizeService.run`` on a worker with a ``threading.Event`` that
stops it between parameter sets. Results show as a sortable table (best first) and a heat
map of one metric over two chosen parameters (other parameters: the best value per cell).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyqtgraph as pg
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.gui import theme
from stom_desktop.gui.grid_run import GridRunLifecycle

METRICS = ("sharpe", "total_return", "sortino", "calmar", "profit_factor", "max_drawdown")
#: Metrics where smaller is better when chosen for the heat map colouring.
_MINIMISE: frozenset[str] = frozenset()


def heatmap_matrix(
    table: pd.DataFrame, x: str, y: str, metric: str, maximize: bool = True
) -> tuple[list[Any], list[Any], npt.NDArray[np.float64]]:
    """``(x values, y values, matrix[x, y])`` of ``metric``; the best row per cell wins.

    With more than two varying parameters several rows fall into one cell: the cell shows
    the best of them (what the optimiser could reach at that x, y). Missing cells are NaN.
    """
    if x == y:
        raise ValueError(f"heat map needs two different parameters, got {x!r} twice")
    data = table.loc[:, [x, y, metric]].copy()
    data[metric] = pd.to_numeric(data[metric], errors="coerce")
    grouped = data.groupby([x, y], sort=True)[metric]
    best = grouped.max() if maximize else grouped.min()
    xs = sorted(data[x].dropna().unique().tolist())
    ys = sorted(data[y].dropna().unique().tolist())
    matrix = np.full((len(xs), len(ys)), np.nan, dtype=np.float64)
    x_pos = {v: i for i, v in enumerate(xs)}
    y_pos = {v: j for j, v in enumerate(ys)}
    for (xv, yv), value in best.items():  # type: ignore[misc]
        matrix[x_pos[xv], y_pos[yv]] = value
    return xs, ys, matrix


def _label(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class HeatMap(QWidget):
    """A pyqtgraph ImageItem of a (x, y) grid with labelled axes and a colour bar."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        c = theme.colors()
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(c.plot_background)
        self.plot = self.graphics.addPlot()
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.image = pg.ImageItem(axisOrder="col-major")
        self.plot.addItem(self.image)
        self.colorbar = pg.ColorBarItem(
            values=(0.0, 1.0), colorMap=pg.colormap.get("viridis"), interactive=False
        )
        self.colorbar.setImageItem(self.image, insert_in=self.plot)
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(c.plot_foreground)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)
        self.matrix: npt.NDArray[np.float64] = np.zeros((0, 0))
        self.x_values: list[Any] = []
        self.y_values: list[Any] = []

    def show_matrix(
        self,
        xs: list[Any],
        ys: list[Any],
        matrix: npt.NDArray[np.float64],
        x_name: str,
        y_name: str,
        metric: str,
    ) -> None:
        """Draw ``matrix[x, y]`` with parameter values as tick labels."""
        self.matrix, self.x_values, self.y_values = matrix, list(xs), list(ys)
        finite = matrix[np.isfinite(matrix)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if hi <= lo:
            hi = lo + 1e-9
        self.image.setImage(matrix, levels=(lo, hi), autoLevels=False)
        self.image.setRect(QRectF(0, 0, max(1, len(xs)), max(1, len(ys))))
        self.colorbar.setLevels((lo, hi))
        self.plot.getAxis("bottom").setTicks([[(i + 0.5, _label(v)) for i, v in enumerate(xs)]])
        self.plot.getAxis("left").setTicks([[(j + 0.5, _label(v)) for j, v in enumerate(ys)]])
        self.plot.setLabel("bottom", x_name)
        self.plot.setLabel("left", y_name)
        self.plot.setTitle(f"{metric} by {x_name} \u00d7 {y_name}", color=theme.colors().text)
        self.plot.setRange(xRange=(0, len(xs)), yRange=(0, len(ys)), padding=0)


class OptimizePanel(GridRunLifecycle, QWidget):
    """Specs, metric, Run/Cancel with progress, the result table and the heat map."""

    RUN_NAME = "Optimisation"

    def __init__(
        self,
        optimizer: Any,
        base_request: Callable[[], Any],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.optimizer = optimizer
        self.base_request = base_request
        self.saved: Any = None
        self.specs = QLineEdit()
        self.specs.setPlaceholderText("fast=5:50:5 slow=20:200:20   (NAME=LOW:HIGH:STEP or a,b,c)")
        self.constraints = QLineEdit()
        self.constraints.setPlaceholderText("e.g. fast<slow (optional)")
        self.metric = QComboBox()
        self.metric.addItems(METRICS)
        self._init_run(self, "Optimise", "Enter parameter ranges and press Optimise.")

        form = QFormLayout()
        form.addRow("Grid", self.specs)
        form.addRow("Constraints", self.constraints)
        form.addRow("Rank by", self.metric)
        buttons = self._run_buttons()
        self._results_table(self)
        self.heat_x, self.heat_y, self.heat_metric = QComboBox(), QComboBox(), QComboBox()
        self.heat_metric.addItems(METRICS)
        for combo in (self.heat_x, self.heat_y, self.heat_metric):
            combo.currentIndexChanged.connect(self.redraw_heatmap)
        self.heatmap = HeatMap()
        heat_controls = QHBoxLayout()
        for label, combo in (("x", self.heat_x), ("y", self.heat_y), ("colour", self.heat_metric)):
            heat_controls.addWidget(QLabel(label))
            heat_controls.addWidget(combo, 1)
        heat_box = QWidget()
        heat_layout = QVBoxLayout(heat_box)
        heat_layout.setContentsMargins(0, 0, 0, 0)
        heat_layout.addLayout(heat_controls)
        heat_layout.addWidget(self.heatmap, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("optimize_split")
        split.addWidget(self.table)
        split.addWidget(heat_box)
        split.setSizes([520, 480])

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

    def start(self) -> None:
        """Build the request and run it on a worker."""
        from stom_desktop.core.errors import StomError
        from stom_desktop.services.optimize_service import OptimizeRequest

        try:
            base = self.base_request()
        except (StomError, ValueError) as exc:
            self.status.setText(f"Cannot optimise: {exc}")
            return
        specs = tuple(self.specs.text().split())
        if not specs:
            self.status.setText("Enter at least one grid spec such as fast=5:50:5.")
            return
        request = OptimizeRequest(
            base=base,
            specs=specs,
            constraints=tuple(self.constraints.text().split()),
            metric=self.metric.currentText(),
            workers=1,  # threads inside the GUI process: keep one core for painting
        )
        self._launch(request, "optimisation")
        self._info(f"Optimising {base.strategy} on {base.symbol} {base.timeframe}\u2026")

    def show_result(self, saved: Any) -> None:
        """Fill the table and the heat-map choices from a ``SavedOptimization``."""
        self.saved = saved
        grid = saved.grid
        if grid is None:
            self.status.setText(f"Run {saved.run_id}: walk-forward results are not shown here.")
            return
        params = list(grid.param_columns)
        columns = [*params, *[m for m in METRICS if m in grid.table.columns]]
        columns += [c for c in ("num_trades", "win_rate", "error") if c in grid.table.columns]
        self.model.set_frame(grid.table, columns)
        # back to the service's order (best first) rather than the last clicked column
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # type: ignore[union-attr]
        self.proxy.sort(-1)
        self.table.resizeColumnsToContents()
        best = ", ".join(f"{k}={v}" for k, v in (grid.best_params or {}).items())
        self.status.setText(
            f"Run {saved.run_id}: {grid.n_evaluated} of {grid.grid_size} sets in "
            f"{grid.elapsed:.1f} s ({grid.n_failed} failed). Best by {grid.metric}: {best}"
        )
        for combo, pick in ((self.heat_x, 0), (self.heat_y, 1)):
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(params)
            combo.setCurrentIndex(min(pick, len(params) - 1))
            combo.blockSignals(False)
        self.heat_metric.blockSignals(True)
        self.heat_metric.setCurrentText(grid.metric)
        self.heat_metric.blockSignals(False)
        self.redraw_heatmap()

    def redraw_heatmap(self) -> None:
        """Draw the chosen metric over the chosen two parameters (needs two parameters)."""
        grid = getattr(self.saved, "grid", None)
        x, y, metric = (
            self.heat_x.currentText(),
            self.heat_y.currentText(),
            self.heat_metric.currentText(),
        )
        if grid is None or not x or not y or x == y:
            self.heatmap.plot.setTitle("the heat map needs two varying parameters")
            return
        maximize = grid.maximize if metric == grid.metric else metric not in _MINIMISE
        xs, ys, matrix = heatmap_matrix(grid.table, x, y, metric, maximize)
        self.heatmap.show_matrix(xs, ys, matrix, x, y, metric)
