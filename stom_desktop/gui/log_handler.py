"""Application logging for the GUI: a rotating file in the log dir and a live Qt tail.

:class:`QtLogHandler` keeps the last records in a ring buffer (so the Logs window shows
what happened before it was opened) and emits ``record`` for each new one; it may be
called from any thread, the signal is queued to the GUI thread.
"""

from __future__ import annotations

import logging
import logging.handlers
from collections import deque
from pathlib import Path
from typing import NamedTuple

from PyQt6.QtCore import QObject, pyqtSignal

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
LOG_FILE_NAME = "stom.log"


class LogLine(NamedTuple):
    """One formatted record."""

    levelno: int
    text: str


class _Emitter(QObject):
    record = pyqtSignal(object)  # LogLine


class QtLogHandler(logging.Handler):
    """A ``logging.Handler`` that buffers lines and signals each one to the GUI."""

    def __init__(self, capacity: int = 5000, level: int = logging.DEBUG) -> None:
        super().__init__(level)
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self.lines: deque[LogLine] = deque(maxlen=capacity)
        self.emitter = _Emitter()

    @property
    def record(self) -> pyqtSignal:
        """Signal carrying each new :class:`LogLine`."""
        return self.emitter.record

    def emit(self, record: logging.LogRecord) -> None:
        """Format, remember and signal ``record``."""
        try:
            line = LogLine(record.levelno, self.format(record))
        except Exception:  # noqa: BLE001 - logging's contract: report, never raise
            self.handleError(record)
            return
        self.lines.append(line)
        self.emitter.record.emit(line)


def install_qt_handler(level: int = logging.INFO) -> QtLogHandler:
    """Attach a :class:`QtLogHandler` to the root logger (lowering its level if needed)."""
    handler = QtLogHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    return handler


def install_file_handler(log_dir: Path, level: int = logging.INFO) -> Path:
    """Log to ``log_dir/stom.log`` (rotating, 5 x 2 MB); returns the file's path."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE_NAME
    root = logging.getLogger()
    for existing in root.handlers:
        if isinstance(existing, logging.FileHandler) and Path(existing.baseFilename) == path:
            return path
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.setLevel(level)
    root.addHandler(handler)
    return path
