"""The app-wide look: a dark (default) or light theme as a QPalette plus a Qt style sheet.

The theme is the ``ui/theme`` value stored in the GUI state file (what the View -> Light
theme switch in a window writes), else ``dark``; the tray applies it at start-up.
Charts and the code editor read :func:`colors` so their hand-drawn parts match.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PyQt6.QtCore import QObject
from PyQt6.QtGui import QAction, QColor, QFont, QPalette
from PyQt6.QtWidgets import QApplication

from stom_desktop.gui.icons import RESOURCES
from stom_desktop.gui.window_state import gui_settings

log = logging.getLogger(__name__)

THEMES = ("dark", "light")
DEFAULT_THEME = "dark"
STATE_KEY = "ui/theme"
BASE_POINT_SIZE = 10  # readable on 96-dpi and HiDPI screens alike (Qt scales points)


@dataclass(frozen=True, slots=True)
class ThemeColors:
    """Colours of one theme for widgets that draw themselves (charts, editor)."""

    window: str
    base: str
    text: str
    muted: str
    accent: str
    highlight: str
    plot_background: str
    plot_foreground: str
    up: str
    down: str
    error: str
    warning: str
    current_line: str


_COLORS = {
    "dark": ThemeColors(
        window="#1e2428",
        base="#263238",
        text="#e0e6ea",
        muted="#90a4ae",
        accent="#80cbc4",
        highlight="#2e5d59",
        plot_background="#131722",
        plot_foreground="#b2b5be",
        up="#26a69a",
        down="#ef5350",
        error="#ef5350",
        warning="#ffb300",
        current_line="#2a353b",
    ),
    "light": ThemeColors(
        window="#f5f7f8",
        base="#ffffff",
        text="#1f2a30",
        muted="#607d8b",
        accent="#00796b",
        highlight="#b2dfdb",
        plot_background="#ffffff",
        plot_foreground="#37474f",
        up="#00897b",
        down="#e53935",
        error="#d32f2f",
        warning="#ef6c00",
        current_line="#eef5f4",
    ),
}

# Widgets the original dark sheet does not style (progress bars); the light sheet has them.
_EXTRA = {
    "dark": (
        "QProgressBar { border: 1px solid #455a64; border-radius: 3px; text-align: center; }\n"
        "QProgressBar::chunk { background-color: #26a69a; }\n"
    ),
    "light": "",
}

# The theme applied last (a one-key dict, not a rebound global, so helpers can read it).
_state = {"current": DEFAULT_THEME}


def check_theme(name: str) -> str:
    """``name`` if it is a known theme; otherwise a ValueError naming the choices."""
    if name not in THEMES:
        raise ValueError(f"unknown theme {name!r} (GUI state ui/theme); use one of {THEMES}")
    return name


def colors(name: str | None = None) -> ThemeColors:
    """The colours of theme ``name`` (default: the theme applied last)."""
    return _COLORS[check_theme(name or _state["current"])]


def current_theme() -> str:
    """The theme the user chose last (View -> Light theme), else ``dark``.

    The choice is a look-and-feel preference, so it lives with the window layouts in the
    GUI state file, not in the typed application settings.
    """
    stored = gui_settings().value(STATE_KEY)
    return stored if isinstance(stored, str) and stored in THEMES else DEFAULT_THEME


def active_theme() -> str:
    """The theme applied last by :func:`apply_theme` (``dark`` before any)."""
    return _state["current"]


def style_sheet(name: str) -> str:
    """The Qt style sheet text of theme ``name`` (resources/style/NAME.qss plus extras)."""
    path = RESOURCES / "style" / f"{check_theme(name)}.qss"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    return text + _EXTRA[name]


def palette(name: str) -> QPalette:
    """A QPalette matching theme ``name`` (for widgets and styles the sheet does not reach)."""
    c = _COLORS[check_theme(name)]
    pal = QPalette()
    role = QPalette.ColorRole
    for r, value in (
        (role.Window, c.window),
        (role.WindowText, c.text),
        (role.Base, c.base),
        (role.AlternateBase, c.current_line),
        (role.Text, c.text),
        (role.Button, c.base),
        (role.ButtonText, c.text),
        (role.Highlight, c.highlight),
        (role.HighlightedText, c.text),
        (role.ToolTipBase, c.base),
        (role.ToolTipText, c.text),
        (role.PlaceholderText, c.muted),
        (role.Link, c.accent),
    ):
        pal.setColor(r, QColor(value))
    return pal


def apply_theme(app: QApplication, name: str, *, persist: bool = False) -> None:
    """Apply theme ``name`` to the whole application; ``persist`` stores it as the choice."""
    check_theme(name)
    _state["current"] = name
    font = QFont(app.font())
    if font.pointSize() < BASE_POINT_SIZE:
        font.setPointSize(BASE_POINT_SIZE)
        app.setFont(font)
    app.setPalette(palette(name))
    app.setStyleSheet(style_sheet(name))
    if persist:
        store = gui_settings()
        store.setValue(STATE_KEY, name)
        store.sync()


def theme_action(parent: QObject) -> QAction:
    """A checkable "Light theme" action that switches the whole app and stores the choice.

    Widgets that draw with :func:`colors` (charts, the editor) pick the new colours up when
    they are next created.
    """
    action = QAction("Light theme", parent)
    action.setCheckable(True)
    action.setChecked(active_theme() == "light")

    def toggled(light: bool) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, "light" if light else "dark", persist=True)

    action.toggled.connect(toggled)
    return action
