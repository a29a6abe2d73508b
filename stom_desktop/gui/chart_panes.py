"""Show or hide a chart window's indicator panes (RSI, MACD) from its View menu, remembered.

A hidden pane leaves the chart's grid layout (its row stretch drops to 0), so the price and
volume panes take its height; the time axis moves to the lowest pane still shown. The
choice is stored in the GUI state file (``gui-state.ini``, see
:mod:`stom_desktop.gui.window_state`) under the window's key as soon as it changes, so the
next chart window opens with the same panes.
"""

from __future__ import annotations

from collections.abc import Mapping

from PyQt6.QtCore import QObject, QRectF
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QMainWindow

from stom_desktop.gui.charts import ChartWidget
from stom_desktop.gui.window_state import gui_settings


class PaneToggles(QObject):
    """One checkable View-menu action per pane in ``labels`` (pane name -> menu label)."""

    def __init__(
        self,
        window: QMainWindow,
        chart: ChartWidget,
        labels: Mapping[str, str],
        key: str = "chart_window",
    ) -> None:
        super().__init__(window)
        self.chart = chart
        self.key = key
        self._rows = {name: row for row, name in enumerate(chart.panes)}
        layout = chart.graphics.ci.layout
        self._stretch = {name: layout.rowStretchFactor(row) for name, row in self._rows.items()}
        self._hidden: set[str] = set()
        self.menu = window.menuBar().addMenu("&View")  # type: ignore[union-attr]
        self.actions: dict[str, QAction] = {}
        store = gui_settings()
        for name, label in labels.items():
            action = QAction(f"{label} pane", self)
            action.setCheckable(True)
            shown = bool(store.value(f"{key}/panes/{name}", True, type=bool))
            action.setChecked(shown)
            self.set_visible(name, shown, save=False)
            action.toggled.connect(lambda on, n=name: self.set_visible(n, on))
            self.menu.addAction(action)  # type: ignore[union-attr]
            self.actions[name] = action

    def is_visible(self, name: str) -> bool:
        """Whether pane ``name`` is shown."""
        return name not in self._hidden

    def set_visible(self, name: str, visible: bool, save: bool = True) -> None:
        """Show or hide pane ``name``; ``save`` stores the choice for the next window."""
        plot, row = self.chart.panes[name], self._rows[name]
        layout = self.chart.graphics.ci.layout
        if visible and name in self._hidden:
            self._hidden.discard(name)
            layout.addItem(plot, row, 0)
            layout.setRowStretchFactor(row, self._stretch[name])
            plot.show()
        elif not visible and name not in self._hidden:
            self._hidden.add(name)
            layout.removeItem(plot)
            layout.setRowStretchFactor(row, 0)
            plot.hide()
            # An empty rect: the crosshair must not find the mouse "inside" a hidden pane.
            plot.setGeometry(QRectF())
        shown = [p for n, p in self.chart.panes.items() if n not in self._hidden]
        for pane in shown:
            pane.showAxis("bottom", pane is shown[-1])  # only the lowest shows the time axis
        if name in self.actions and self.actions[name].isChecked() != visible:
            self.actions[name].setChecked(visible)  # called from code, not the menu
        if save:
            store = gui_settings()
            store.setValue(f"{self.key}/panes/{name}", visible)
            store.sync()
