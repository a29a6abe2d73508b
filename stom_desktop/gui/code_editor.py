"""A plain-text code editor with a line-number gutter, problem markers and squiggles.

:class:`CodeEditor` is a ``QPlainTextEdit`` (fast for files of any size) with a gutter that
shows line numbers and a red/amber dot on lines that have problems; ``set_problems`` also
underlines the offending lines with extra selections, and ``goto`` moves the cursor to a
1-based line and column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PyQt6.QtCore import QRect, QSize, Qt
from PyQt6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
    QTextFormat,
)
from PyQt6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from stom_desktop.gui import theme
from stom_desktop.gui.python_highlighter import PythonHighlighter

MARKER_PX = 10


class _Gutter(QWidget):
    """Paints line numbers and markers for its editor."""

    def __init__(self, editor: CodeEditor) -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent | None) -> None:
        if event is not None:
            self.editor.paint_gutter(event)


class CodeEditor(QPlainTextEdit):
    """Python source editor: monospace, 4-space tabs, highlighting, gutter and markers."""

    def __init__(self, parent: QWidget | None = None, theme_name: str | None = None) -> None:
        super().__init__(parent)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSize(max(font.pointSize(), 10))
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(4 * self.fontMetrics().horizontalAdvance(" "))
        self.colors = theme.colors(theme_name)
        self.highlighter = PythonHighlighter(self.document(), theme_name or theme.active_theme())
        #: line (1-based) -> (severity, messages) for the gutter markers.
        self.markers: dict[int, tuple[str, list[str]]] = {}
        self._problem_selections: list[QTextEdit.ExtraSelection] = []
        self.gutter = _Gutter(self)
        self.blockCountChanged.connect(self._update_margins)
        self.updateRequest.connect(self._on_update_request)
        self.cursorPositionChanged.connect(self._refresh_selections)
        self._update_margins()
        self._refresh_selections()

    # -- gutter -------------------------------------------------------------------------
    def gutter_width(self) -> int:
        """Pixels for the widest line number plus the marker column."""
        digits = max(3, len(str(max(1, self.blockCount()))))
        return 10 + MARKER_PX + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_margins(self, _count: int = 0) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _on_update_request(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())
        viewport = self.viewport()
        if viewport is not None and rect.contains(viewport.rect()):
            self._update_margins()

    def resizeEvent(self, e: QResizeEvent | None) -> None:
        super().resizeEvent(e)
        area = self.contentsRect()
        self.gutter.setGeometry(QRect(area.left(), area.top(), self.gutter_width(), area.height()))

    def paint_gutter(self, event: QPaintEvent) -> None:
        """Line numbers (current line bright) and a dot on lines with problems."""
        painter = QPainter(self.gutter)
        painter.fillRect(event.rect(), QColor(self.colors.base))
        block = self.firstVisibleBlock()
        number = block.blockNumber() + 1
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        current = self.textCursor().blockNumber() + 1
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        while block.isValid() and top <= event.rect().bottom():
            bottom = top + round(self.blockBoundingRect(block).height())
            if block.isVisible() and bottom >= event.rect().top():
                marker = self.markers.get(number)
                if marker is not None:
                    color = self.colors.error if marker[0] == "error" else self.colors.warning
                    painter.setBrush(QColor(color))
                    painter.setPen(Qt.PenStyle.NoPen)
                    y = top + (height - MARKER_PX + 2) // 2
                    painter.drawEllipse(3, y, MARKER_PX - 2, MARKER_PX - 2)
                painter.setPen(QColor(self.colors.text if number == current else self.colors.muted))
                painter.drawText(
                    0,
                    top,
                    self.gutter.width() - 4,
                    height,
                    int(Qt.AlignmentFlag.AlignRight),
                    str(number),
                )
            block = block.next()
            top = bottom
            number += 1
        painter.end()

    # -- problems and navigation ----------------------------------------------------------
    def set_problems(self, problems: Sequence[Any]) -> None:
        """Mark ``problems`` (objects with 1-based ``line``, ``column``, ``message``, ``severity``).

        Each problem line gets a wavy underline over the whole line and a gutter dot; an
        empty sequence clears the marks.
        """
        self.markers = {}
        self._problem_selections = []
        doc = self.document()
        for problem in problems:
            line = max(1, int(problem.line))
            severity = str(getattr(problem, "severity", "error"))
            previous = self.markers.get(line)
            if previous is None:
                self.markers[line] = (severity, [problem.message])
            else:
                worst = "error" if "error" in (previous[0], severity) else severity
                self.markers[line] = (worst, [*previous[1], problem.message])
            if doc is None:
                continue
            block = doc.findBlockByNumber(line - 1)
            if not block.isValid():
                continue
            selection = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            color = QColor(self.colors.error if severity == "error" else self.colors.warning)
            fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
            fmt.setUnderlineColor(color)
            fmt.setToolTip(problem.message)
            selection.format = fmt  # type: ignore[misc]
            cursor = QTextCursor(block)
            cursor.movePosition(
                QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor
            )
            if not cursor.hasSelection():  # an empty line: mark the line itself
                cursor.movePosition(
                    QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor
                )
            selection.cursor = cursor  # type: ignore[misc]
            self._problem_selections.append(selection)
        self._refresh_selections()
        self.gutter.update()

    def problem_lines(self) -> list[int]:
        """The 1-based lines that currently carry a problem mark."""
        return sorted(self.markers)

    def underlined_lines(self) -> list[int]:
        """The 1-based lines that carry a wavy underline (extra selections)."""
        return sorted({s.cursor.blockNumber() + 1 for s in self._problem_selections})

    def goto(self, line: int, column: int = 1) -> None:
        """Move the cursor to 1-based ``line``/``column`` and scroll it into view."""
        doc = self.document()
        if doc is None:
            return
        block = doc.findBlockByNumber(max(0, line - 1))
        if not block.isValid():
            block = doc.lastBlock()
        cursor = QTextCursor(block)
        offset = min(max(0, column - 1), max(0, block.length() - 1))
        cursor.movePosition(QTextCursor.MoveOperation.Right, n=offset)
        self.setTextCursor(cursor)
        self.centerCursor()
        self.setFocus()

    def _refresh_selections(self) -> None:
        current = QTextEdit.ExtraSelection()
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(self.colors.current_line))
        fmt.setProperty(QTextFormat.Property.FullWidthSelection, True)
        current.format = fmt  # type: ignore[misc]
        cursor = self.textCursor()
        cursor.clearSelection()
        current.cursor = cursor  # type: ignore[misc]
        self.setExtraSelections([current, *self._problem_selections])
        self.gutter.update()
