"""A fast candlestick item: draws only visible candles, merged to screen pixels when zoomed out."""

from __future__ import annotations

from typing import Any

import numpy as np
from PyQt6 import QtCore, QtGui

from stom_desktop.gui.charts._lod_item import LodBarItem
from stom_desktop.gui.charts._primitives import PrimitiveBuffer
from stom_desktop.gui.charts.lod import CLOSE, HIGH, LOW, OPEN, Buckets, OhlcvPyramid

__all__ = ["CandlestickItem"]


class CandlestickItem(LodBarItem):
    """OHLC candles at ``x = bar index`` from an :class:`OhlcvPyramid`.

    Per paint it takes the buckets overlapping the visible x range from the pyramid level
    whose buckets are at least ``min_bucket_px`` wide (first open, max high, min low, last
    close per bucket), so a frame costs O(pixels), not O(bars), at any zoom. Wicks are one
    ``drawLines`` call and bodies one ``drawRects`` call per colour, written straight from
    numpy into ``sip`` arrays. Appending or updating the last bar touches O(log n) values.
    Rising buckets (close >= open) use ``up_color``; bodies are at least 1 px tall and wide.
    """

    def __init__(self, store: OhlcvPyramid | None = None, **style: Any) -> None:
        """``style``: ``up_color``, ``down_color``, ``min_bucket_px``, ``body_ratio``."""
        super().__init__(store, **style)
        self._lines = (PrimitiveBuffer(QtCore.QLineF), PrimitiveBuffer(QtCore.QLineF))
        self._rects = (PrimitiveBuffer(QtCore.QRectF), PrimitiveBuffer(QtCore.QRectF))

    def _y_bounds(self) -> tuple[float, float]:
        found = self._store.price_range()
        return (0.0, 1.0) if found is None else found

    def _y_range(self, first: int, stop: int) -> tuple[float, float] | None:
        lo = self._store.extreme(LOW, first, stop)
        hi = self._store.extreme(HIGH, first, stop)
        return None if lo is None or hi is None else (lo, hi)

    def _draw(self, p: QtGui.QPainter, plan: Buckets, pw: float, ph: float) -> None:
        d = plan.data
        x = plan.centers()
        o, h, lo, c = d[OPEN], d[HIGH], d[LOW], d[CLOSE]
        up = c >= o
        half = self._half_width(plan, pw)
        # Bodies narrower than ~1.5 px are covered by the wick: skip the rectangles.
        bodies = 2.0 * half > 1.5 * pw
        no_pen = QtGui.QPen(QtCore.Qt.PenStyle.NoPen)
        for side, mask in enumerate((up, ~up)):
            m = int(np.count_nonzero(mask))
            if m == 0:
                continue
            xs = x[mask]
            lines = self._lines[side].fill(m)
            lines[:, 0] = xs
            lines[:, 1] = lo[mask]
            lines[:, 2] = xs
            lines[:, 3] = h[mask]
            p.setPen(self._pens[side])
            p.drawLines(self._lines[side].arg(m))
            if not bodies:
                continue
            om, cm = o[mask], c[mask]
            rects = self._rects[side].fill(m)
            rects[:, 0] = xs - half
            np.minimum(om, cm, out=rects[:, 1])
            rects[:, 2] = 2.0 * half
            np.maximum(np.abs(cm - om), ph, out=rects[:, 3])  # a doji is still 1 px tall
            p.setPen(no_pen)
            p.setBrush(self._brushes[side])
            p.drawRects(self._rects[side].arg(m))
