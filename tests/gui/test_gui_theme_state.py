"""Theme switching (palette and style sheet) and window layout restored on restart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtCore import QRect, Qt
from PyQt6.QtGui import QPalette
from PyQt6.QtWidgets import QApplication, QLabel, QMainWindow, QSplitter

from stom_desktop.gui import theme
from stom_desktop.gui.window_state import remember, state_file


@pytest.fixture()
def qapp_theme(qapp: QApplication) -> Iterator[QApplication]:
    sheet, palette = qapp.styleSheet(), qapp.palette()
    yield qapp
    theme.apply_theme(qapp, "dark")
    qapp.setStyleSheet(sheet)
    qapp.setPalette(palette)


def test_theme_switch_changes_palette_and_style_sheet(qapp_theme: QApplication) -> None:
    theme.apply_theme(qapp_theme, "dark")
    dark_window = qapp_theme.palette().color(QPalette.ColorRole.Window).name()
    assert dark_window == "#1e2428" and "#1e2428" in qapp_theme.styleSheet()
    assert theme.active_theme() == "dark"
    theme.apply_theme(qapp_theme, "light")
    assert qapp_theme.palette().color(QPalette.ColorRole.Window).name() == "#f5f7f8"
    assert qapp_theme.palette().color(QPalette.ColorRole.Text).name() == "#1f2a30"
    assert "#f5f7f8" in qapp_theme.styleSheet() and "#1e2428" not in qapp_theme.styleSheet()
    assert theme.colors().plot_background == "#ffffff"
    assert qapp_theme.font().pointSize() >= theme.BASE_POINT_SIZE
    with pytest.raises(ValueError, match=r"ui/theme"):
        theme.apply_theme(qapp_theme, "neon")


def test_current_theme_is_the_stored_choice(qapp_theme: QApplication) -> None:
    assert theme.current_theme() == "dark"  # nothing chosen yet
    theme.apply_theme(qapp_theme, "light", persist=True)
    assert theme.current_theme() == "light"


def test_theme_action_switches_and_stores_the_choice(qtbot: Any, qapp_theme: QApplication) -> None:
    theme.apply_theme(qapp_theme, "dark")
    window = QMainWindow()
    qtbot.addWidget(window)
    action = theme.theme_action(window)
    assert not action.isChecked()
    action.setChecked(True)
    assert theme.active_theme() == "light" and theme.current_theme() == "light"
    assert qapp_theme.palette().color(QPalette.ColorRole.Base).name() == "#ffffff"
    action.setChecked(False)
    assert theme.active_theme() == "dark" and theme.current_theme() == "dark"


def _window() -> QMainWindow:
    win = QMainWindow()
    split = QSplitter(Qt.Orientation.Horizontal)
    split.setObjectName("main_split")
    split.addWidget(QLabel("left"))
    split.addWidget(QLabel("right"))
    win.setCentralWidget(split)
    win.resize(700, 400)
    return win


def test_geometry_and_splitters_restore_after_recreating_the_window(qtbot: Any) -> None:
    first = _window()
    qtbot.addWidget(first)
    assert remember(first, "test_window") is False  # nothing stored yet
    first.show()
    first.setGeometry(QRect(123, 145, 640, 480))
    split = first.findChild(QSplitter, "main_split")
    assert split is not None
    split.setSizes([150, 490])
    saved_sizes = split.sizes()
    first.close()  # saving happens on close
    assert state_file().is_file()

    second = _window()
    qtbot.addWidget(second)
    assert remember(second, "test_window") is True
    second.show()
    assert second.size().width() == 640 and second.size().height() == 480
    assert second.geometry().topLeft() == first.geometry().topLeft()
    restored = second.findChild(QSplitter, "main_split")
    assert restored is not None and restored.sizes() == saved_sizes
    other = _window()
    qtbot.addWidget(other)
    assert remember(other, "another_window") is False
