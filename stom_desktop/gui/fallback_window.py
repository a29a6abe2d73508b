"""The small main window that stands in for the tray icon when no system tray exists."""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtCore import QSize
from PyQt6.QtGui import QAction, QCloseEvent, QIcon
from PyQt6.QtWidgets import (
    QGridLayout,
    QLabel,
    QMainWindow,
    QToolButton,
    QVBoxLayout,
    QWidget,
)


class FallbackWindow(QMainWindow):
    """Same actions as the tray menu, the state icon and today's P&L, and why it is here."""

    def __init__(
        self, actions: Sequence[QAction | None], reason: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("STOM Desktop")
        self.reason = QLabel(reason)
        self.reason.setObjectName("banner")
        self.reason.setWordWrap(True)
        self.state_icon = QLabel()
        self.state_text = QLabel()
        self.state_text.setObjectName("title")
        self.pnl = QLabel()
        head = QGridLayout()
        head.addWidget(self.state_icon, 0, 0, 2, 1)
        head.addWidget(self.state_text, 0, 1)
        head.addWidget(self.pnl, 1, 1)
        head.setColumnStretch(1, 1)
        grid = QGridLayout()
        self.buttons: dict[str, QToolButton] = {}
        column = row = 0
        for action in actions:
            if action is None:  # a separator in the tray menu starts a new row here
                if column:
                    row, column = row + 1, 0
                continue
            button = QToolButton()
            button.setDefaultAction(action)
            button.setMinimumWidth(130)
            if action.objectName() == "kill":
                button.setObjectName("danger")
            self.buttons[action.objectName()] = button
            grid.addWidget(button, row, column)
            column += 1
            if column == 3:
                row, column = row + 1, 0
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(self.reason)
        layout.addLayout(head)
        layout.addLayout(grid)
        self.setCentralWidget(body)
        self.statusBar().showMessage("Ready")

    def set_state(self, icon: QIcon, state: str, pnl_text: str) -> None:
        """Show the session state and today's P&L."""
        self.state_icon.setPixmap(icon.pixmap(QSize(40, 40)))
        self.state_text.setText(f"Trading: {state}")
        self.pnl.setText(pnl_text)

    def notify(self, title: str, text: str) -> None:
        """Stand-in for a tray balloon: the status bar."""
        self.statusBar().showMessage(f"{title}: {text}", 15_000)

    def closeEvent(self, event: QCloseEvent | None) -> None:
        """Closing hides the window; Quit (a button) ends the app, like the tray."""
        if event is not None:
            event.ignore()
        self.hide()
