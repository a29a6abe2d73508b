"""Windows that arrive with issue 6 (Backtest, Strategies): placeholders until then."""

from __future__ import annotations

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QLabel, QMainWindow, QVBoxLayout, QWidget

COMING = {
    "backtest": ("Backtest", "Backtests with progress, equity/drawdown, trades and metrics"),
    "strategies": ("Strategies", "The strategy editor: highlight, validate, backtest"),
}


class PlaceholderWindow(QMainWindow):
    """Says plainly that this window is not built yet and which issue brings it."""

    def __init__(self, key: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title, what = COMING[key]
        self.setWindowTitle(f"STOM Desktop — {title}")
        self.resize(520, 220)
        heading = QLabel(title)
        heading.setObjectName("title")
        self.message = QLabel(
            f"{what} arrive with issue 6 (chart and trading windows).\n\n"
            "This window is a placeholder until then. Meanwhile the CLI has "
            "`stom backtest` and `stom optimize`."
        )
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(heading)
        layout.addWidget(self.message, 1)
        self.setCentralWidget(body)
