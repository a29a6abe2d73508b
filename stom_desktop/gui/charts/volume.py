"""Volume bars with the same visible-range drawing and level of detail as the candles."""

from __future__ import annotations

from typing import Any

import numpy as np
from PyQt6 import QtCore, QtGui

from stom_desktop.gui.charts._lod_item import LodBarItem
from stom_desktop.gui.charts._primitives import PrimitiveBuffer
from stom_desktop.gui.charts.lod import CLOSE, OPEN, VOLUME, Buckets, OhlcvPyramid

__all__ = ["VolumeItem"]


class VolumeItem(LodBarItem):
    """Volume bars from 0 at ``x = bar index``, coloured by the bucket's direction.

    Zoomed out, a bucket shows the largest volume among its bars (what drawing every bar on
    that pixel column would show), so the y range does not jump with the zoom level. Share
    the :class:`OhlcvPyramid` of a :class:`CandlestickItem` to store the bars once.
    """

    def __init__(self, store: OhlcvPyramid | None = None, **style: Any) -> None:
        """``style``: ``up_color``, ``down_color``, ``min_bucket_px``, ``body_ratio``."""
        super().__init__(store, **style)
        self._rects = (PrimitiveBuffer(QtCore.QRectF), PrimitiveBuffer(QtCore.QRectF))

    def _y_bounds(self) -> tuple[float, float]:
        return 0.0, max(self._store.max_volume(), 1e-12)

    def _y_range(self, first: int, stop: int) -> tuple[float, float] | None:
        top = self._store.extreme(VOLUME, first, stop)
        return None if top is None else (0.0, top)

    def _draw(self, p: QtGui.QPainter, plan: Buckets, pw: float, ph: float) -> None:
        d = plan.data
        x = plan.centers()
        up = d[CLOSE] >= d[OPEN]
        half = self._half_width(plan, pw)
        p.setPen(QtGui.QPen(QtCore.Qt.PenStyle.NoPen))
        for side, mask in enumerate((up, ~up)):
            m = int(np.count_nonzero(mask))
            if m == 0:
                continue
            rects = self._rects[side].fill(m)
            rects[:, 0] = x[mask] - half
            rects[:, 1] = 0.0
            rects[:, 2] = 2.0 * half
            rects[:, 3] = d[VOLUME][mask]
            p.setBrush(self._brushes[side])
            p.drawRects(self._rects[side].arg(m))
