"""Arrays of QRectF / QLineF that numpy writes in place and QPainter draws in one call."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PyQt6 import QtCore, sip

__all__ = ["PrimitiveBuffer"]


class PrimitiveBuffer:
    """A ``sip.array`` of ``QRectF`` or ``QLineF`` exposed as an ``(n, 4)`` float64 view.

    ``QPainter.drawRects``/``drawLines`` accept a ``sip.array`` directly, so filling the
    numpy view and passing :meth:`arg` draws thousands of shapes with no Python object per
    shape (the same trick pyqtgraph's BarGraphItem uses internally). The buffer only grows.
    """

    def __init__(self, klass: type[QtCore.QRectF] | type[QtCore.QLineF]) -> None:
        self._klass = klass
        self._capacity = 0
        self._array: sip.array | None = None
        self._view: npt.NDArray[np.float64] = np.empty((0, 4))

    def fill(self, n: int) -> npt.NDArray[np.float64]:
        """An ``(n, 4)`` view to write: QRectF ``x, y, w, h`` or QLineF ``x1, y1, x2, y2``."""
        if n > self._capacity:
            cap = max(64, 1 << (n - 1).bit_length())
            self._array = sip.array(self._klass, cap)
            ptr = sip.voidptr(self._array, cap * 4 * 8)
            self._view = np.frombuffer(ptr, dtype=np.float64, count=cap * 4).reshape(cap, 4)
            self._capacity = cap
        return self._view[:n]

    def arg(self, n: int) -> sip.array:
        """The first ``n`` primitives as a ``sip.array`` (a view, no copy) for QPainter."""
        if self._array is None:
            self.fill(max(n, 1))
        assert self._array is not None
        return self._array if n == self._capacity else self._array[:n]
