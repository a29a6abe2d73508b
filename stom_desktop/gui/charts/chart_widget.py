"""A reusable price + volume + indicator-pane chart with a crosshair readout and live updates."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from stom_desktop.core.errors import DataError
from stom_desktop.gui.charts._lod_item import DEFAULT_DOWN, DEFAULT_UP
from stom_desktop.gui.charts.candles import CandlestickItem
from stom_desktop.gui.charts.lod import OhlcvPyramid
from stom_desktop.gui.charts.time_axis import TimeAxisItem, format_local, zone
from stom_desktop.gui.charts.volume import VolumeItem

__all__ = ["BarsLike", "ChartWidget"]

_AXIS_WIDTH = 72  # fixed so the panes' plot areas line up
_RIGHT_MARGIN_BARS = 5  # empty space right of the last bar while following


class BarsLike(Protocol):
    """Anything with BarSeries' columns (int64 ms ``ts`` and float64 OHLCV)."""

    ts: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]
    volume: npt.NDArray[np.float64]


@dataclass(slots=True)
class _Line:
    item: pg.PlotDataItem
    values: npt.NDArray[np.float64]
    color: str


def _fmt(value: float) -> str:
    """Price/indicator text with a precision that suits its size."""
    if not np.isfinite(value):
        return "-"
    mag = abs(value)
    digits = 2 if mag >= 10 else 4 if mag >= 1 else 6
    return f"{value:,.{digits}f}"


def _fmt_volume(value: float) -> str:
    """Volume text: whole numbers as they are, fractions (crypto: 1.75 BTC) with decimals."""
    if not np.isfinite(value):
        return "-"
    if abs(value) >= 1000 or value == int(value):
        return f"{value:,.0f}"
    return _fmt(value).rstrip("0").rstrip(".")


class ChartWidget(QtWidgets.QWidget):
    """Candles, volume and indicator panes on one linked bar-index x axis.

    x is the bar index (no gaps for nights and weekends); the bottom axis labels bars with
    their open time in ``tz``. The view follows new bars (auto-scroll) until the user pans
    the last bar out of view, and follows again once it is back in view. Mouse: drag pans,
    the wheel zooms time; each pane fits its y range to the visible bars. ``grid=True``
    adds pyqtgraph's grid, which makes every scrolled frame several times slower.
    """

    #: Emitted when auto-scroll turns on or off.
    followChanged = QtCore.pyqtSignal(bool)

    def __init__(
        self,
        tz: str = "UTC",
        parent: QtWidgets.QWidget | None = None,
        *,
        visible_bars: int = 200,
        up_color: str = DEFAULT_UP,
        down_color: str = DEFAULT_DOWN,
        background: str = "#131722",
        foreground: str = "#b2b5be",
        grid: bool = False,
    ) -> None:
        super().__init__(parent)
        self.tz = zone(tz)
        self.visible_bars = visible_bars
        self._fg = foreground
        # pyqtgraph's grid (drawn by the axes) cost ~25 ms per scrolled frame here: opt-in.
        self._grid = grid
        self.store = OhlcvPyramid()
        self._follow = True
        self._lines: dict[str, dict[str, _Line]] = {}
        self.hover_index: int | None = None

        self.readout = QtWidgets.QLabel(self)
        self.readout.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.readout.setStyleSheet(f"background:{background}; color:{foreground}; padding:3px;")
        self.graphics = pg.GraphicsLayoutWidget(self)
        self.graphics.setBackground(background)
        self.graphics.ci.layout.setVerticalSpacing(0)
        self.graphics.ci.setContentsMargins(2, 2, 2, 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.readout)
        layout.addWidget(self.graphics, 1)

        self.panes: dict[str, pg.PlotItem] = {}
        self._crosshair: dict[str, tuple[pg.InfiniteLine, pg.InfiniteLine]] = {}
        self.price_plot = self.add_pane("price", height=6)
        self.volume_plot = self.add_pane("volume", height=1.6)
        self.candles = CandlestickItem(self.store, up_color=up_color, down_color=down_color)
        self.volume = VolumeItem(self.store, up_color=up_color, down_color=down_color)
        self.price_plot.addItem(self.candles)
        self.volume_plot.addItem(self.volume)
        self._entries = pg.ScatterPlotItem(
            symbol="t1", size=12, brush=pg.mkBrush("#2196f3"), pen=pg.mkPen("w", width=1)
        )
        self._exits = pg.ScatterPlotItem(
            symbol="t", size=12, brush=pg.mkBrush("#ff9800"), pen=pg.mkPen("w", width=1)
        )
        for item in (self._entries, self._exits):
            item.setZValue(20)
            self.price_plot.addItem(item, ignoreBounds=True)
        self.price_plot.vb.sigXRangeChanged.connect(self._on_x_range_changed)
        self.graphics.scene().sigMouseMoved.connect(self.on_mouse_moved)
        self._update_readout()

    # -- panes and lines -----------------------------------------------------------------
    def add_pane(
        self,
        name: str,
        *,
        height: float = 1.6,
        levels: Sequence[float] = (),
        y_range: tuple[float, float] | None = None,
    ) -> pg.PlotItem:
        """A new pane under the others, x-linked to the price pane; ``levels`` draws
        dotted horizontal guides (e.g. RSI 30/70); ``y_range`` fixes the y scale (else it
        fits the visible values). Returns the pane's PlotItem."""
        if name in self.panes:
            raise DataError(f"pane {name!r} already exists", source="chart")
        axis = TimeAxisItem(self.store, self.tz)
        plot = self.graphics.addPlot(row=len(self.panes), col=0, axisItems={"bottom": axis})
        self.graphics.ci.layout.setRowStretchFactor(len(self.panes), int(height * 10))
        plot.showAxis("right")
        plot.hideAxis("left")
        plot.getAxis("right").setWidth(_AXIS_WIDTH)
        for ax in ("right", "bottom"):
            plot.getAxis(ax).setTextPen(self._fg)
            plot.getAxis(ax).setPen(pg.mkPen(self._fg, width=1))
        if self._grid:
            plot.showGrid(x=True, y=True, alpha=0.12)
        plot.setMouseEnabled(x=True, y=False)
        plot.hideButtons()
        # Lines draw only the visible part, max/min per pixel (PlotItem.addItem applies its
        # own settings to each curve, so set them here, not on the curve: with 1M points a
        # curve drawn whole took ~0.4 s per frame).
        plot.setClipToView(True)
        plot.setDownsampling(auto=True, mode="peak")
        plot.vb.disableAutoRange(axis=pg.ViewBox.XAxis)
        if y_range is None:
            plot.vb.enableAutoRange(axis=pg.ViewBox.YAxis)
            plot.vb.setAutoVisible(y=True)
        else:
            plot.vb.setYRange(*y_range, padding=0.02)
        if self.panes:  # only the bottom pane shows the time axis
            previous = list(self.panes.values())[-1]
            previous.hideAxis("bottom")
            plot.setXLink(self.panes["price"])
        for level in levels:
            plot.addItem(
                pg.InfiniteLine(
                    level,
                    angle=0,
                    pen=pg.mkPen(self._fg, width=1, style=QtCore.Qt.PenStyle.DotLine),
                ),
                ignoreBounds=True,
            )
        pen = pg.mkPen("#787b86", width=1, style=QtCore.Qt.PenStyle.DashLine)
        vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        for line in (vline, hline):
            line.setVisible(False)
            line.setZValue(30)
            plot.addItem(line, ignoreBounds=True)
        self._crosshair[name] = (vline, hline)
        self.panes[name] = plot
        self._lines[name] = {}
        return plot

    def set_line(
        self,
        pane: str,
        name: str,
        values: npt.ArrayLike,
        color: str = "#f0b90b",
        width: float = 1.5,
    ) -> None:
        """Draw (or replace) a line of per-bar ``values`` (NaN = no value) in ``pane``."""
        if pane not in self.panes:
            raise DataError(f"no pane {pane!r} (add it with add_pane)", source="chart")
        y = np.ascontiguousarray(values, dtype=np.float64)
        x = np.arange(y.shape[0], dtype=np.float64)
        lines = self._lines[pane]
        found = lines.get(name)
        if found is None:
            item = pg.PlotDataItem(connect="finite")
            # Price overlays do not widen the price scale; indicator panes fit their lines.
            self.panes[pane].addItem(item, ignoreBounds=pane == "price")
            found = lines[name] = _Line(item, y, color)
        found.values, found.color = y, color
        found.item.setPen(pg.mkPen(color, width=width))
        found.item.setData(x, y)
        self._update_readout()

    def set_overlay(self, name: str, values: npt.ArrayLike, color: str = "#f0b90b") -> None:
        """A line over the candles (SMA, EMA, Bollinger band...), one value per bar."""
        self.set_line("price", name, values, color)

    def remove_line(self, pane: str, name: str) -> None:
        """Remove a line added with :meth:`set_line` / :meth:`set_overlay`."""
        line = self._lines[pane].pop(name)
        self.panes[pane].removeItem(line.item)

    def set_markers(
        self,
        entries: Iterable[tuple[int, float]] = (),
        exits: Iterable[tuple[int, float]] = (),
    ) -> None:
        """Trade markers at ``(ts_ms, price)``: entries as up arrows, exits as down arrows,
        on the bar that contains each time."""
        for item, points in ((self._entries, entries), (self._exits, exits)):
            arr = np.asarray(list(points), dtype=np.float64).reshape(-1, 2)
            if arr.size and len(self.store):
                idx = self.store.search_ts(arr[:, 0].astype(np.int64), side="right") - 1
                item.setData(x=np.maximum(idx, 0).astype(np.float64), y=arr[:, 1])
            else:
                item.setData(x=[], y=[])

    # -- bars ----------------------------------------------------------------------------
    def set_bars(self, bars: BarsLike) -> None:
        """Show ``bars`` (a BarSeries or anything with its columns) and the latest bars."""
        self.store.set_bars(bars.ts, bars.open, bars.high, bars.low, bars.close, bars.volume)
        for item in (self.candles, self.volume):
            item.data_changed()
        self.show_last(self.visible_bars)
        self._update_readout()

    def append_bar(self, ts: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        """Add a new bar; the view scrolls one bar when following."""
        self.store.append(ts, o, h, lo, c, v)
        self._bars_changed(scroll=1)

    def update_last_bar(self, o: float, h: float, lo: float, c: float, v: float) -> None:
        """Update the forming (last) bar in place."""
        self.store.update_last(o, h, lo, c, v)
        self._bars_changed(scroll=0)

    def upsert_bar(self, ts: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        """``update_last_bar`` when ``ts`` is the last bar's time, else ``append_bar``."""
        if len(self.store) and self.store.bar(-1)[0] == ts:
            self.update_last_bar(o, h, lo, c, v)
        else:
            self.append_bar(ts, o, h, lo, c, v)

    def _bars_changed(self, scroll: int) -> None:
        self.candles.data_changed()
        self.volume.data_changed()
        if self._follow and scroll:
            left, right = self.price_plot.vb.viewRange()[0]
            self.price_plot.vb.setXRange(left + scroll, right + scroll, padding=0)
        if self.hover_index is None or self.hover_index >= len(self.store) - 1:
            self._update_readout()

    # -- view ----------------------------------------------------------------------------
    @property
    def follow(self) -> bool:
        """True while the view auto-scrolls to new bars."""
        return self._follow

    def show_last(self, n_bars: int) -> None:
        """Show the last ``n_bars`` bars plus a small right margin (and follow)."""
        n = len(self.store)
        right = n - 0.5 + _RIGHT_MARGIN_BARS
        self.price_plot.vb.setXRange(
            max(-0.5, right - n_bars - _RIGHT_MARGIN_BARS), right, padding=0
        )

    def show_range(self, first: float, last: float) -> None:
        """Show bars ``first..last`` (bar indices)."""
        self.price_plot.vb.setXRange(first - 0.5, last + 0.5, padding=0)

    def _on_x_range_changed(self, _vb: pg.ViewBox, x_range: tuple[float, float]) -> None:
        # Following means the last bar is in view: panning it out stops auto-scroll, bringing
        # it back (scrolling to the end) resumes it.
        follow = x_range[1] >= len(self.store) - 1
        if follow != self._follow:
            self._follow = follow
            self.followChanged.emit(follow)

    # -- crosshair and readout -----------------------------------------------------------
    def on_mouse_moved(self, scene_pos: QtCore.QPointF) -> None:
        """Move the crosshair to the bar under ``scene_pos`` and update the readout."""
        n = len(self.store)
        hovered = next(
            (
                name
                for name, plot in self.panes.items()
                if plot.vb.sceneBoundingRect().contains(scene_pos)
            ),
            None,
        )
        if hovered is None or n == 0:
            for vline, hline in self._crosshair.values():
                vline.setVisible(False)
                hline.setVisible(False)
            self.hover_index = None
            self._update_readout()
            return
        point = self.panes[hovered].vb.mapSceneToView(scene_pos)
        index = int(min(n - 1, max(0, round(point.x()))))
        for name, (vline, hline) in self._crosshair.items():
            vline.setPos(index)
            vline.setVisible(True)
            hline.setVisible(name == hovered)
            if name == hovered:
                hline.setPos(point.y())
        self.hover_index = index
        self._update_readout()

    def readout_values(self, index: int | None = None) -> dict[str, float | str]:
        """What the readout shows for bar ``index`` (default: hovered, else the last bar)."""
        n = len(self.store)
        if n == 0:
            return {}
        i = (
            index
            if index is not None
            else self.hover_index
            if self.hover_index is not None
            else n - 1
        )
        ts, o, h, lo, c, v = self.store.bar(i)
        out: dict[str, float | str] = {
            "time": format_local(ts, self.tz, "%Y-%m-%d %H:%M:%S %Z"),
            "open": o, "high": h, "low": lo, "close": c, "volume": v,
        }  # fmt: skip
        for lines in self._lines.values():
            for name, line in lines.items():
                out[name] = float(line.values[i]) if i < line.values.shape[0] else float("nan")
        return out

    def readout_plain(self) -> str:
        """The readout as plain text (what the label shows, without colours)."""
        return QtGui.QTextDocumentFragment.fromHtml(self.readout.text()).toPlainText()

    def _update_readout(self) -> None:
        values = self.readout_values()
        if not values:
            self.readout.setText("no bars")
            return
        o, c = float(values["open"]), float(values["close"])
        color = self.candles.up_color if c >= o else self.candles.down_color
        change = (c / o - 1.0) * 100.0 if o else 0.0
        ohlc = " ".join(
            f"{k[0].upper()} <b style='color:{color.name()}'>{_fmt(float(values[k]))}</b>"
            for k in ("open", "high", "low", "close")
        )
        parts = [str(values["time"]), ohlc,
                 f"V {_fmt_volume(float(values['volume']))}", f"<span style='color:{color.name()}'>"
                 f"{change:+.2f}%</span>"]  # fmt: skip
        for lines in self._lines.values():
            for name, line in lines.items():
                parts.append(
                    f"<span style='color:{line.color}'>{name} {_fmt(float(values[name]))}</span>"
                )
        self.readout.setText("&nbsp;&nbsp;".join(parts))
