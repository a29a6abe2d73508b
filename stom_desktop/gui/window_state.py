"""Remember window geometry, main-window dock/toolbar state and splitter sizes across restarts.

Everything lives in one INI file, ``gui-state.ini`` in the user config folder (under
``$STOM_HOME/config`` in tests and portable installs), written through ``QSettings``. A
window calls :func:`remember` once after building its widgets: the saved layout is applied
at once and saved again whenever the window closes or hides.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PyQt6.QtCore import QByteArray, QEvent, QObject, QSettings
from PyQt6.QtWidgets import QMainWindow, QSplitter, QWidget

from stom_desktop.config import app_paths

log = logging.getLogger(__name__)

STATE_FILE = "gui-state.ini"


def state_file() -> Path:
    """Where the GUI state is stored (the config folder of this process)."""
    return app_paths().config_dir / STATE_FILE


def gui_settings() -> QSettings:
    """The ``QSettings`` store for GUI state (INI format, created on first write)."""
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    return QSettings(str(path), QSettings.Format.IniFormat)


def _splitters(window: QWidget) -> list[QSplitter]:
    # Only named splitters: an unnamed one has no stable key to store its sizes under.
    return [s for s in window.findChildren(QSplitter) if s.objectName()]


def save_window(window: QWidget, key: str, store: QSettings | None = None) -> None:
    """Store ``window``'s geometry, main-window state and named splitters under ``key``."""
    settings = store or gui_settings()
    settings.beginGroup(key)
    settings.setValue("geometry", window.saveGeometry())
    if isinstance(window, QMainWindow):
        settings.setValue("state", window.saveState())
    for splitter in _splitters(window):
        settings.setValue(f"splitter/{splitter.objectName()}", splitter.saveState())
    settings.endGroup()
    settings.sync()


def restore_window(window: QWidget, key: str, store: QSettings | None = None) -> bool:
    """Apply what :func:`save_window` stored under ``key``; False when nothing was stored."""
    settings = store or gui_settings()
    settings.beginGroup(key)
    try:
        geometry = settings.value("geometry")
        if not isinstance(geometry, QByteArray) or geometry.isEmpty():
            return False
        if not window.restoreGeometry(geometry):
            log.warning("window state %r in %s could not be restored", key, settings.fileName())
            return False
        state = settings.value("state")
        if isinstance(window, QMainWindow) and isinstance(state, QByteArray):
            window.restoreState(state)
        for splitter in _splitters(window):
            sizes = settings.value(f"splitter/{splitter.objectName()}")
            if isinstance(sizes, QByteArray):
                splitter.restoreState(sizes)
        return True
    finally:
        settings.endGroup()


class _Keeper(QObject):
    """Saves the watched window's layout when it closes or hides."""

    def __init__(self, window: QWidget, key: str) -> None:
        super().__init__(window)
        self._key = key

    def eventFilter(self, watched: QObject | None, event: QEvent | None) -> bool:
        if (
            isinstance(watched, QWidget)
            and event is not None
            and event.type() in (QEvent.Type.Close, QEvent.Type.Hide)
        ):
            save_window(watched, self._key)
        return False


def remember(window: QWidget, key: str) -> bool:
    """Restore ``window``'s saved layout now and save it on every close/hide.

    Returns True when a saved layout was applied (the caller keeps its default size
    otherwise).
    """
    restored = restore_window(window, key)
    window.installEventFilter(_Keeper(window, key))
    return restored
