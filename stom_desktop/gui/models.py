"""Qt table models over lists of plain objects (sessions, positions, orders, fills, jobs).

A :class:`Column` says how to read and format one attribute; :class:`RowsModel` shows a
list of rows with those columns and is refreshed by replacing the list (views keep their
selection by row key when possible).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

from PyQt6.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt
from PyQt6.QtGui import QColor

_ALIGN_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_ALIGN_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_UP = QColor("#26a69a")
_DOWN = QColor("#ef5350")


def fmt_value(value: Any, tz: ZoneInfo | None = None) -> str:
    """Display text of a cell: Decimals grouped, datetimes in ``tz``, enums by value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return f"{value:,.0f}"
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, datetime):
        shown = value.astimezone(tz) if tz is not None and value.tzinfo is not None else value
        return shown.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Column:
    """One column: header, attribute name (or getter), numeric alignment, P&L colouring."""

    header: str
    attr: str | Callable[[Any], Any]
    numeric: bool = False
    signed: bool = False  # colour green/red by sign (P&L)

    def value(self, row: Any) -> Any:
        """The raw value of this column in ``row``."""
        if callable(self.attr):
            return self.attr(row)
        if isinstance(row, dict):
            return row.get(self.attr)
        return getattr(row, self.attr, None)


class RowsModel(QAbstractTableModel):
    """A read-only table of ``rows`` shown through ``columns``."""

    def __init__(
        self,
        columns: Sequence[Column],
        parent: QObject | None = None,
        tz: ZoneInfo | None = None,
    ) -> None:
        super().__init__(parent)
        self.columns = list(columns)
        self.rows: list[Any] = []
        self.tz = tz

    def set_rows(self, rows: Sequence[Any]) -> None:
        """Replace the content (one model reset: cheap for the few hundred rows shown)."""
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row(self, index: int) -> Any:
        """The object behind row ``index``."""
        return self.rows[index]

    def rowCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].header
        return None

    def data(self, index: QModelIndex, role: int = 0) -> Any:
        if not index.isValid():
            return None
        column = self.columns[index.column()]
        value = column.value(self.rows[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return fmt_value(value, self.tz)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return _ALIGN_RIGHT if column.numeric else _ALIGN_LEFT
        signed = column.signed and isinstance(value, Decimal | int | float) and value != 0
        if role == Qt.ItemDataRole.ForegroundRole and signed:
            return _UP if value > 0 else _DOWN
        return None
