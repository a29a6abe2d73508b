"""Shared machinery of the bar items: the data store, geometry and the per-paint draw plan."""

from __future__ import annotations

import math

import numpy.typing as npt
import pyqtgraph as pg
from PyQt6 import QtCore, QtGui, QtWidgets

from stom_desktop.gui.charts.lod import Buckets, OhlcvPyramid, level_for

__all__ = ["LodBarItem"]

DEFAULT_UP = "#26a69a"
DEFAULT_DOWN = "#ef5350"


class LodBarItem(pg.GraphicsObject):
    """Base of :class:`CandlestickItem` and :class:`VolumeItem`.

    x is the bar index (bar ``i`` is centred on ``x = i``); a time axis maps indices to
    times, so gaps without bars (nights, weekends) take no space. Several items may share one
    :class:`OhlcvPyramid`: whoever changes it calls :meth:`data_changed` on each item.
    Subclasses implement :meth:`_y_bounds`, :meth:`_y_range` and :meth:`_draw`.
    """

    def __init__(
        self,
        store: OhlcvPyramid | None = None,
        *,
        up_color: str = DEFAULT_UP,
        down_color: str = DEFAULT_DOWN,
        min_bucket_px: float = 1.0,
        body_ratio: float = 0.8,
    ) -> None:
        super().__init__()
        self._store = store if store is not None else OhlcvPyramid()
        self.min_bucket_px = min_bucket_px
        self.body_ratio = body_ratio
        self.set_colors(up_color, down_color)
        self._rect = QtCore.QRectF()
        self._update_rect()
        #: Buckets drawn by the last paint (for tests and diagnostics).
        self.last_paint_count = 0
        #: Level used by the last paint (0 = one candle per bar).
        self.last_paint_level = 0

    # -- data ----------------------------------------------------------------------------
    @property
    def store(self) -> OhlcvPyramid:
        """The bars this item draws."""
        return self._store

    def set_colors(self, up_color: str, down_color: str) -> None:
        """Colours of rising (close >= open) and falling buckets."""
        self.up_color = QtGui.QColor(up_color)
        self.down_color = QtGui.QColor(down_color)
        self._pens = (pg.mkPen(self.up_color, width=1), pg.mkPen(self.down_color, width=1))
        self._brushes = (pg.mkBrush(self.up_color), pg.mkBrush(self.down_color))
        self.update()

    def set_bars(
        self,
        ts: npt.ArrayLike,
        open: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
        volume: npt.ArrayLike,
    ) -> None:
        """Replace every bar."""
        self._store.set_bars(ts, open, high, low, close, volume)
        self.data_changed()

    def append_bar(self, ts: int, o: float, h: float, lo: float, c: float, v: float) -> None:
        """Add one bar at the end (no rebuild: O(log n) plus one repaint)."""
        self._store.append(ts, o, h, lo, c, v)
        self.data_changed()

    def update_last_bar(self, o: float, h: float, lo: float, c: float, v: float) -> None:
        """Overwrite the last (forming) bar in place."""
        self._store.update_last(o, h, lo, c, v)
        self.data_changed()

    def data_changed(self) -> None:
        """Tell the item its store changed: refresh the bounding rect and schedule a repaint."""
        old = QtCore.QRectF(self._rect)
        self._update_rect()
        if self._rect != old:
            self.prepareGeometryChange()
            self.informViewBoundsChanged()
        self.update()

    # -- geometry ------------------------------------------------------------------------
    def _update_rect(self) -> None:
        n = len(self._store)
        if n == 0:
            self._rect = QtCore.QRectF()
            return
        lo, hi = self._y_bounds()
        self._rect = QtCore.QRectF(-0.5, lo, float(n), max(hi - lo, 1e-12))

    def boundingRect(self) -> QtCore.QRectF:
        """All bars: x from -0.5 to n - 0.5, y over every bar (kept up to date incrementally)."""
        return QtCore.QRectF(self._rect)

    def dataBounds(
        self, ax: int, frac: float = 1.0, orthoRange: tuple[float, float] | None = None
    ) -> tuple[float | None, float | None]:
        """Bounds for pyqtgraph's auto-range; with ``orthoRange`` only the bars inside it."""
        n = len(self._store)
        if n == 0:
            return None, None
        if ax == 0:
            return -0.5, n - 0.5
        if orthoRange is None:
            return self._y_bounds()
        first = max(0, math.floor(orthoRange[0] + 0.5))
        stop = min(n, math.floor(orthoRange[1] + 0.5) + 1)
        found = self._y_range(first, stop)
        return (None, None) if found is None else found

    def _y_bounds(self) -> tuple[float, float]:
        raise NotImplementedError

    def _y_range(self, first: int, stop: int) -> tuple[float, float] | None:
        raise NotImplementedError

    # -- drawing -------------------------------------------------------------------------
    def draw_plan(
        self, x_range: tuple[float, float] | None = None, pixel_width: float | None = None
    ) -> Buckets:
        """The buckets a paint would draw now: only those overlapping the visible x range,
        from the level whose buckets are at least ``min_bucket_px`` pixels wide.

        Arguments default to the current view (the whole data and level 0 off-screen).
        """
        n = len(self._store)
        if x_range is None:
            rect = self.viewRect()
            x_range = (-0.5, n - 0.5) if rect is None else (rect.left(), rect.right())
        if pixel_width is None:
            pw = self.pixelWidth() if self.getViewBox() is not None else 0.0
            pixel_width = pw if pw and math.isfinite(pw) else 0.0
        first = max(0, math.floor(x_range[0] + 0.5))
        stop = min(n, math.floor(x_range[1] + 0.5) + 1)
        if pixel_width <= 0.0:  # no view yet: assume a 4096 px wide screen
            pixel_width = (stop - first) / 4096.0
        level = level_for(pixel_width, self.min_bucket_px)  # pixel_width = bars per pixel
        return self._store.buckets(level, first, stop)

    def paint(
        self,
        p: QtGui.QPainter,
        opt: QtWidgets.QStyleOptionGraphicsItem | None = None,
        widget: QtWidgets.QWidget | None = None,
    ) -> None:
        """Draw the visible buckets (at most about one per pixel column)."""
        plan = self.draw_plan()
        self.last_paint_count = len(plan)
        self.last_paint_level = plan.level
        if not len(plan):
            return
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing, False)
        scale = p.worldTransform()
        pw = 1.0 / abs(scale.m11()) if scale.m11() else 1.0
        ph = 1.0 / abs(scale.m22()) if scale.m22() else 1.0
        self._draw(p, plan, pw, ph)

    def _draw(self, p: QtGui.QPainter, plan: Buckets, pw: float, ph: float) -> None:
        raise NotImplementedError

    def _half_width(self, plan: Buckets, pw: float) -> float:
        """Half the body width in data units: ``body_ratio`` of a bucket, at least 1 px wide."""
        return max(0.5 * self.body_ratio * plan.size, 0.5 * pw)
