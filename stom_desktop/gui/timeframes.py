"""The chart's timeframe switch: 1s 1m 5m 15m 1h 1d buttons, finer-than-stored ones disabled.

The resampling itself is data logic and lives in ``core/resample.py``; this is only UI.
"""

from __future__ import annotations

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QButtonGroup, QHBoxLayout, QToolButton, QWidget

from stom_desktop.core.resample import can_resample

TIMEFRAMES = ("1s", "1m", "5m", "15m", "1h", "1d")


class TimeframeSwitch(QWidget):
    """Exclusive checkable buttons, one per timeframe; ``changed`` carries the new one."""

    changed = pyqtSignal(str)

    def __init__(self, current: str = "1m", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QToolButton] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for tf in TIMEFRAMES:
            button = QToolButton(self)
            button.setText(tf)
            button.setCheckable(True)
            button.setObjectName(f"tf_{tf}")
            button.clicked.connect(lambda _c=False, t=tf: self._clicked(t))
            self.group.addButton(button)
            layout.addWidget(button)
            self.buttons[tf] = button
        self._current = current
        if current in self.buttons:
            self.buttons[current].setChecked(True)

    @property
    def current(self) -> str:
        """The selected timeframe."""
        return self._current

    def set_current(self, timeframe: str, *, emit: bool = False) -> None:
        """Select ``timeframe`` (emits ``changed`` only when ``emit``)."""
        self._current = timeframe
        if timeframe in self.buttons:
            self.buttons[timeframe].setChecked(True)
        if emit:
            self.changed.emit(timeframe)

    def set_base(self, base: str | None) -> None:
        """Enable only the timeframes buildable from ``base`` bars (None: all)."""
        for tf, button in self.buttons.items():
            ok = base is None or can_resample(base, tf)
            button.setEnabled(ok)
            button.setToolTip("" if ok else f"cannot be built from stored {base} bars")

    def _clicked(self, timeframe: str) -> None:
        if timeframe != self._current:
            self._current = timeframe
            self.changed.emit(timeframe)
