"""Logs: the application log, filterable by level and text, tailing live.

Lines come from :class:`~stom_desktop.gui.log_handler.QtLogHandler` (its buffer on open,
its signal afterwards). New lines are collected and appended at most ~30 times a second.
"""

from __future__ import annotations

import logging

from PyQt6.QtCore import QTimer
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.gui.log_handler import LogLine, QtLogHandler

FRAME_MS = 33
MAX_SHOWN = 5000
LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "ERROR": logging.ERROR,
}


class LogsWindow(QMainWindow):
    """A live, filterable view of the log."""

    def __init__(
        self, handler: QtLogHandler, log_file: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("STOM Desktop — Logs")
        self.resize(1000, 600)
        self.handler = handler
        self._incoming: list[LogLine] = []

        self.level = QComboBox()
        self.level.addItems(list(LEVELS))
        self.level.setCurrentText("INFO")
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("filter: text contained in the line (case-insensitive)")
        self.text_filter.setClearButtonEnabled(True)
        self.follow = QCheckBox("Follow")
        self.follow.setChecked(True)
        clear = QPushButton("Clear view")
        clear.clicked.connect(self._clear)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Level"))
        bar.addWidget(self.level)
        bar.addWidget(self.text_filter, 1)
        bar.addWidget(self.follow)
        bar.addWidget(clear)

        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(MAX_SHOWN)
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.view.setFont(mono)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        if log_file is not None:
            layout.addWidget(QLabel(f"Log file: {log_file}"))
        self.setCentralWidget(body)

        self.level.currentTextChanged.connect(self.rebuild)
        self.text_filter.textChanged.connect(self.rebuild)
        handler.record.connect(self._on_record)
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FRAME_MS)
        self._flush_timer.timeout.connect(self.flush)
        self._flush_timer.start()
        self.rebuild()

    def matches(self, line: LogLine) -> bool:
        """Whether ``line`` passes the level and text filters."""
        if line.levelno < LEVELS[self.level.currentText()]:
            return False
        needle = self.text_filter.text().strip().lower()
        return not needle or needle in line.text.lower()

    def shown_lines(self) -> list[str]:
        """The lines currently displayed (after the pending ones are flushed)."""
        self.flush()
        text = self.view.toPlainText()
        return text.split("\n") if text else []

    def rebuild(self) -> None:
        """Re-filter the whole buffer (after a filter change)."""
        self._incoming.clear()
        lines = [line.text for line in self.handler.lines if self.matches(line)]
        self.view.setPlainText("\n".join(lines[-MAX_SHOWN:]))
        self._scroll_to_end()

    def flush(self) -> None:
        """Append the lines received since the last frame."""
        if not self._incoming:
            return
        batch = [line.text for line in self._incoming if self.matches(line)]
        self._incoming.clear()
        if batch:
            self.view.appendPlainText("\n".join(batch))
            self._scroll_to_end()

    def _on_record(self, line: LogLine) -> None:
        self._incoming.append(line)

    def _clear(self) -> None:
        self._incoming.clear()
        self.view.clear()

    def _scroll_to_end(self) -> None:
        if self.follow.isChecked():
            # Scroll, do not move the cursor: moving it to the end also scrolls sideways.
            bar = self.view.verticalScrollBar()
            bar.setValue(bar.maximum())
