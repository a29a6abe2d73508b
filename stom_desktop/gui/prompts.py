"""Questions to the user (confirm, choose one of several) in one replaceable place.

Windows ask through a :class:`Prompts` object instead of calling ``QMessageBox``
directly, so tests can answer with a scripted fake and the wording lives in one spot.
"""

from __future__ import annotations

from collections.abc import Sequence

from PyQt6.QtWidgets import QMessageBox, QWidget


class Prompts:
    """Modal questions through ``QMessageBox``."""

    def confirm(self, parent: QWidget | None, title: str, text: str) -> bool:
        """Yes/No; default No (the question is asked before something drastic)."""
        answer = QMessageBox.question(
            parent,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def choose(
        self, parent: QWidget | None, title: str, text: str, options: Sequence[str]
    ) -> str | None:
        """One of ``options`` (the last one is the Cancel/escape choice), or None if closed."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text, parent=parent)
        buttons = []
        for i, label in enumerate(options):
            role = (
                QMessageBox.ButtonRole.RejectRole
                if i == len(options) - 1
                else QMessageBox.ButtonRole.AcceptRole
            )
            buttons.append(box.addButton(label, role))
        box.setEscapeButton(buttons[-1])
        box.exec()
        clicked = box.clickedButton()
        for label, button in zip(options, buttons, strict=True):
            if clicked is button:
                return label
        return None

    def error(self, parent: QWidget | None, title: str, text: str) -> None:
        """Tell the user something failed."""
        QMessageBox.critical(parent, title, text)
