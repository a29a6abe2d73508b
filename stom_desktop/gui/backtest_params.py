"""A form generated from a strategy's declared parameters (``Param``): spin boxes with ranges.

``int`` parameters get a ``QSpinBox``, ``float`` ones a ``QDoubleSpinBox``, ``bool`` ones a
check box; an optional parameter (``default=None``: an exit that may be off) gets a check
box that switches its spin box on. The declared ``low``/``high``/``step`` become the
widget's range and step; the ``doc`` is the tooltip.
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from stom_desktop.strategy import Param

_INT_LIMIT = 1_000_000_000
_FLOAT_LIMIT = 1e12


def _decimals(param: Param) -> int:
    step = param.step if param.step is not None else 0.01
    text = f"{float(step):.10f}".rstrip("0")
    return max(2, min(8, len(text.split(".")[1]) if "." in text else 0))


class ParamForm(QWidget):
    """Editable values of one strategy's parameters; :meth:`values` reads them back."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.params: dict[str, Param] = {}
        self.widgets: dict[str, QSpinBox | QDoubleSpinBox | QCheckBox] = {}
        self.enablers: dict[str, QCheckBox] = {}
        self._empty = QLabel("this strategy declares no parameters")
        self._empty.setObjectName("warning")

    def set_params(self, params: dict[str, Param], values: dict[str, Any] | None = None) -> None:
        """Rebuild the form for ``params``; ``values`` (e.g. a stored run's) override defaults."""
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.params = dict(params)
        self.widgets, self.enablers = {}, {}
        self._empty = QLabel("this strategy declares no parameters")
        if not params:
            self.layout_.addRow(self._empty)
            return
        for name, param in params.items():
            value = (values or {}).get(name, param.default)
            self.layout_.addRow(name, self._row(name, param, value))

    def _row(self, name: str, param: Param, value: Any) -> QWidget:
        tip = param.doc + (
            f" (range {param.low}..{param.high}, step {param.step})"
            if param.low is not None or param.high is not None
            else ""
        )
        if param.kind is bool:
            box = QCheckBox()
            box.setChecked(bool(value))
            box.setToolTip(tip)
            self.widgets[name] = box
            return box
        spin: QSpinBox | QDoubleSpinBox
        if param.kind is int:
            spin = QSpinBox()
            spin.setRange(
                int(param.low) if param.low is not None else -_INT_LIMIT,
                int(param.high) if param.high is not None else _INT_LIMIT,
            )
            spin.setSingleStep(int(param.step) if param.step is not None else 1)
            spin.setValue(int(value if value is not None else spin.minimum()))
        else:
            spin = QDoubleSpinBox()
            spin.setDecimals(_decimals(param))
            spin.setRange(
                float(param.low) if param.low is not None else -_FLOAT_LIMIT,
                float(param.high) if param.high is not None else _FLOAT_LIMIT,
            )
            spin.setSingleStep(float(param.step) if param.step is not None else 0.01)
            spin.setValue(float(value) if value is not None else spin.minimum())
        spin.setToolTip(tip)
        spin.setObjectName(f"param_{name}")
        self.widgets[name] = spin
        if param.default is not None:
            return spin
        # Optional: a check box decides between a value and "off" (None).
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        enabled = QCheckBox("on")
        enabled.setToolTip(f"{name}: unchecked = off (None)")
        enabled.setChecked(value is not None)
        spin.setEnabled(value is not None)
        enabled.toggled.connect(spin.setEnabled)
        self.enablers[name] = enabled
        layout.addWidget(enabled)
        layout.addWidget(spin, 1)
        return row

    def values(self) -> dict[str, Any]:
        """Current values by name (None for an optional parameter switched off)."""
        out: dict[str, Any] = {}
        for name, widget in self.widgets.items():
            enabler = self.enablers.get(name)
            if enabler is not None and not enabler.isChecked():
                out[name] = None
            elif isinstance(widget, QCheckBox):
                out[name] = widget.isChecked()
            else:
                out[name] = widget.value()
        return out

    def ranges(self) -> dict[str, tuple[float, float]]:
        """The (minimum, maximum) each numeric widget accepts (what tests check)."""
        return {
            name: (w.minimum(), w.maximum())
            for name, w in self.widgets.items()
            if isinstance(w, QSpinBox | QDoubleSpinBox)
        }
