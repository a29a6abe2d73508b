"""Settings > Telegram: switch phone notifications on, store the bot token, send a test.

The switches, chat id and Bot API server are ordinary settings (``notifications.telegram*``)
saved with the dialog's Save. The bot token typed here goes only to the keyring, on a
worker (a keyring may block while it asks to be unlocked), when Save is pressed; the field
is cleared afterwards and the panel only says whether a token is stored. "Send test
message" runs on a worker with the form's current values and shows the result or the error
(the service scrubs the token from it).
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.gui.notifications import KINDS, LABELS, TELEGRAM_KEYS
from stom_desktop.gui.prompts import Prompts
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)

_OK = "color: #a5d6a7;"
_ERR = "color: #ef9a9a;"
_DOTS = "\u2022" * 8


class TelegramPort(Protocol):
    """``services.notification_service.NotificationService`` as the panel uses it."""

    def status(self) -> Any: ...
    def set_token(self, token: str, *, allow_insecure: bool = False) -> None: ...
    def clear_token(self) -> bool: ...
    def send_test(
        self,
        *,
        chat_id: str | None = None,
        token: str | None = None,
        api_url: str | None = None,
    ) -> str: ...
    def configure(self, settings: Any) -> None: ...


def _text(value: Any) -> str:
    return "" if value is None else str(value)


class TelegramPanel(QGroupBox):
    """The Telegram section of the Settings dialog."""

    token_saved = pyqtSignal()  # the keyring write finished (ok or not)

    def __init__(
        self,
        settings: Any,
        telegram: TelegramPort | None,
        prompts: Prompts,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Telegram (messages to your phone)", parent)
        self.telegram = telegram
        self.prompts = prompts
        self._status: Any = None
        self.token_busy = False
        section = settings.notifications

        self.enable = QCheckBox("Send notifications to Telegram")
        self.enable.setChecked(bool(section.telegram))
        self.kinds: dict[str, QCheckBox] = {}
        kinds_row = QHBoxLayout()
        kinds_row.addSpacing(24)  # indented: these only apply while the switch above is on
        kinds_row.addWidget(QLabel("Send:"))
        for kind in KINDS:
            box = QCheckBox(LABELS[kind])
            box.setChecked(bool(getattr(section, TELEGRAM_KEYS[kind])))
            self.kinds[kind] = box
            kinds_row.addWidget(box)
        kinds_row.addStretch(1)
        self.enable.toggled.connect(self._follow_enable)

        self.token = QLineEdit()
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setPlaceholderText("paste the token from @BotFather")
        self.token_state = QLabel("Bot token: checking the keyring\u2026")
        self.clear_button = QPushButton("Remove token")
        self.clear_button.setObjectName("danger")
        self.clear_button.clicked.connect(self.clear_token)
        token_row = QHBoxLayout()
        token_row.addWidget(self.token_state, 1)
        token_row.addWidget(self.clear_button)
        self.chat_id = QLineEdit(_text(section.telegram_chat_id))
        self.chat_id.setPlaceholderText("e.g. 123456789 (groups: -100...) or @channel")
        self.api_url = QLineEdit(section.telegram_api_url)
        #: Setting key -> its field (the dialog marks a field whose value was refused).
        self.fields = {
            "notifications.telegram_chat_id": self.chat_id,
            "notifications.telegram_api_url": self.api_url,
        }

        form = QFormLayout()
        form.addRow("Bot token", self.token)
        form.addRow("", token_row)
        form.addRow("Chat id", self.chat_id)
        form.addRow("Bot API server", self.api_url)

        self.test_button = QPushButton("Send test message")
        self.test_button.clicked.connect(self.send_test)
        self.result = QLabel()
        self.result.setWordWrap(True)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.result, 1)

        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.enable)
        layout.addLayout(kinds_row)
        layout.addLayout(form)
        layout.addLayout(test_row)
        self._follow_enable(self.enable.isChecked())
        if telegram is None:
            self.token_state.setText("Telegram is not available (services not started).")
            self.token.setEnabled(False)
            self.test_button.setEnabled(False)
            self.clear_button.setEnabled(False)
        else:
            self.refresh()

    # -- state ----------------------------------------------------------------------------
    def _follow_enable(self, on: bool) -> None:
        for box in self.kinds.values():
            box.setEnabled(on)

    def _say(self, label: QLabel, text: str, *, error: bool) -> None:
        label.setStyleSheet(_ERR if error else _OK)
        label.setText(text)

    def refresh(self) -> None:
        """Re-read whether a token is stored and which keyring holds it (on a worker)."""
        telegram = self.telegram
        if telegram is None:
            return
        run_in_worker(
            telegram.status,
            what="telegram status",
            on_done=self._loaded,
            on_error=lambda exc: self._say(self.token_state, str(exc), error=True),
        )

    def _loaded(self, status: Any) -> None:
        self._status = status
        if status.backend_warning:
            self.banner.setText(f"\u26a0 {status.backend_warning}")
            self.banner.show()
        else:
            self.banner.hide()
        if status.token_stored:
            self.token_state.setText(f"Bot token: {_DOTS} stored in the keyring")
            self.token.setPlaceholderText("stored \u2014 leave empty to keep it, paste to replace")
        else:
            self.token_state.setText("Bot token: not set")
            self.token.setPlaceholderText("paste the token from @BotFather")
        self.token_state.setStyleSheet("")
        self.clear_button.setEnabled(bool(status.token_stored))
        if status.last_error:
            self._say(self.result, f"Last delivery failed: {status.last_error}", error=True)

    # -- settings -------------------------------------------------------------------------
    def changes(self, settings: Any) -> dict[str, str]:
        """``{setting key: text}`` for the Telegram settings that differ from ``settings``."""
        section = settings.notifications
        out: dict[str, str] = {}
        if bool(section.telegram) != self.enable.isChecked():
            out["notifications.telegram"] = "true" if self.enable.isChecked() else "false"
        for kind, box in self.kinds.items():
            key = TELEGRAM_KEYS[kind]
            if bool(getattr(section, key)) != box.isChecked():
                out[f"notifications.{key}"] = "true" if box.isChecked() else "false"
        chat = self.chat_id.text().strip()
        if chat != _text(section.telegram_chat_id):
            # Quoted: `set_setting` reads JSON, and a chat id is text even when numeric.
            out["notifications.telegram_chat_id"] = json.dumps(chat) if chat else ""
        url = self.api_url.text().strip()
        if url != section.telegram_api_url:
            out["notifications.telegram_api_url"] = url
        return out

    def settings_saved(self, settings: Any) -> None:
        """The dialog saved: the running service follows the new switches at once."""
        if self.telegram is not None:
            self.telegram.configure(settings.notifications)

    # -- token ----------------------------------------------------------------------------
    def has_new_token(self) -> bool:
        """Whether a token was typed (it is stored on Save)."""
        return bool(self.token.text().strip())

    def save_token(self) -> bool:
        """Store the typed token in the keyring on a worker; False if there was none to store."""
        telegram = self.telegram
        token = self.token.text().strip()
        if telegram is None or not token or self.token_busy:
            return False
        allow_insecure = False
        status = self._status
        if status is not None and not status.backend_secure:
            allow_insecure = self.prompts.confirm(
                self,
                "Insecure keyring",
                f"{status.backend_warning}\n\nStore the Telegram bot token there anyway?",
            )
            if not allow_insecure:
                refused = "Token not stored: the keyring is not secure."
                self._say(self.token_state, refused, error=True)
                return False
        self.token_busy = True

        def stored(_: object) -> None:
            self.token_busy = False
            self.token.clear()
            self._say(self.token_state, "Bot token stored in the keyring.", error=False)
            self.refresh()
            self.token_saved.emit()

        def failed(exc: BaseException) -> None:
            self.token_busy = False
            self._say(self.token_state, f"Token not stored: {exc}", error=True)
            self.token_saved.emit()

        run_in_worker(
            lambda: telegram.set_token(token, allow_insecure=allow_insecure),
            what="store telegram token",
            on_done=stored,
            on_error=failed,
        )
        return True

    def clear_token(self) -> None:
        """Remove the stored token after confirmation."""
        telegram = self.telegram
        if telegram is None:
            return
        if not self.prompts.confirm(self, "Remove token", "Remove the Telegram bot token?"):
            return
        run_in_worker(
            telegram.clear_token,
            what="remove telegram token",
            on_done=lambda _r: self.refresh(),
            on_error=lambda exc: self._say(self.token_state, str(exc), error=True),
        )

    # -- test -----------------------------------------------------------------------------
    def send_test(self) -> None:
        """Send a test message with the form's values, off the GUI thread."""
        telegram = self.telegram
        if telegram is None:
            return
        chat, token, url = self.chat_id.text(), self.token.text(), self.api_url.text()
        self.test_button.setEnabled(False)
        self._say(self.result, "Sending\u2026", error=False)

        def done(text: str) -> None:
            self.test_button.setEnabled(True)
            self._say(self.result, f"\u2714 {text[:1].upper()}{text[1:]}.", error=False)

        def failed(exc: BaseException) -> None:
            self.test_button.setEnabled(True)
            self._say(self.result, f"\u2716 {exc}", error=True)

        run_in_worker(
            lambda: telegram.send_test(chat_id=chat, token=token or None, api_url=url),
            what="telegram test message",
            on_done=done,
            on_error=failed,
        )
