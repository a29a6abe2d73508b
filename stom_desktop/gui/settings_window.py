"""Settings: database and Redis URLs, time zone, risk limits, notifications, Telegram, accounts.

Every value is validated by ``config.settings.set_setting`` (the same check as
``stom config set``) and errors are shown in the dialog next to the field. A new database
URL is first opened for real on a worker (``persistence.create_database``): an
unreachable server or an unwritable file is reported with the ``PersistenceError`` text
and nothing is saved. Running services keep their settings until the app restarts, except
notifications: the tray and Telegram follow the new switches at once. A Telegram bot token
typed here goes to the keyring on Save (``gui/telegram_panel.py``), never to the file.
"""

from __future__ import annotations

import logging
from typing import Any

from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.core.errors import StomError
from stom_desktop.gui.accounts_panel import AccountsPanel
from stom_desktop.gui.notifications import (
    KINDS,
    LABELS,
    NotificationPrefs,
)
from stom_desktop.gui.ports import AccountPort
from stom_desktop.gui.prompts import Prompts
from stom_desktop.gui.telegram_panel import TelegramPanel, TelegramPort
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)

TIMEZONES = ("Asia/Seoul", "UTC", "America/New_York", "Europe/London", "Asia/Tokyo")
RISK_KEYS = (
    ("max_open_positions", "Max open positions"),
    ("max_position_pct", "Max position (fraction of equity)"),
    ("max_order_notional", "Max order notional"),
    ("daily_loss_limit_pct", "Daily loss limit (fraction)"),
    ("daily_profit_lock_pct", "Daily profit lock (fraction, empty = off)"),
    ("cooldown_seconds", "Cooldown after a loss (s)"),
)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def check_database_url(url: str) -> str:
    """Open (and migrate) the database at ``url``; returns its display URL or raises."""
    from stom_desktop.persistence import create_database

    database = create_database(url)
    try:
        return database.display_url
    finally:
        database.dispose()


class SettingsDialog(QDialog):
    """Edit and save the user's settings."""

    def __init__(
        self,
        settings: Any,
        accounts: AccountPort | None = None,
        prefs: NotificationPrefs | None = None,
        prompts: Prompts | None = None,
        parent: QWidget | None = None,
        *,
        telegram: TelegramPort | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("STOM Desktop — Settings")
        self.resize(640, 820)
        self.settings = settings
        self.prefs = prefs if prefs is not None else NotificationPrefs.from_settings(settings)
        self.prompts = prompts or Prompts()
        self.fields: dict[str, QLineEdit] = {}
        self.busy = False

        general = QGroupBox("Storage and display")
        form = QFormLayout(general)
        self._line(form, "database_url", "Database URL", "empty = SQLite in the user data dir")
        self._line(form, "redis_url", "Redis URL", "empty = in-process cache and bus")
        self.timezone = QComboBox()
        self.timezone.setEditable(True)
        self.timezone.addItems(list(TIMEZONES))
        self.timezone.setCurrentText(settings.timezone)
        form.addRow("Exchange time zone", self.timezone)
        self.fields["timezone"] = self.timezone.lineEdit()  # type: ignore[assignment]

        risk = QGroupBox("Risk limits (every session)")
        risk_form = QFormLayout(risk)
        for key, label in RISK_KEYS:
            self._line(risk_form, f"risk.{key}", label, "")

        notes = QGroupBox("Tray notifications")
        notes_layout = QVBoxLayout(notes)
        self.switches: dict[str, QCheckBox] = {}
        for kind in KINDS:
            box = QCheckBox(LABELS[kind])
            box.setChecked(self.prefs.enabled(kind))
            self.switches[kind] = box
            notes_layout.addWidget(box)

        self.telegram_panel = TelegramPanel(settings, telegram, self.prompts)
        self.accounts_panel = AccountsPanel(accounts, self.prompts)

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(close)

        content = QWidget()
        layout = QVBoxLayout(content)
        for group in (general, risk, notes, self.telegram_panel, self.accounts_panel):
            layout.addWidget(group)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.addWidget(scroll)
        outer.addLayout(buttons)

    def _line(self, form: QFormLayout, key: str, label: str, placeholder: str) -> None:
        edit = QLineEdit(_text(self._current(key)))
        edit.setPlaceholderText(placeholder)
        edit.textChanged.connect(lambda _t, e=edit: self._mark(e, False))
        self.fields[key] = edit
        form.addRow(label, edit)

    def _current(self, key: str) -> Any:
        node: Any = self.settings
        for part in key.split("."):
            node = getattr(node, part, None)
        return node

    @staticmethod
    def _mark(edit: QLineEdit, invalid: bool) -> None:
        edit.setProperty("invalid", invalid)
        edit.setStyleSheet("border: 1px solid #ef5350;" if invalid else "")

    def _show(self, text: str, *, error: bool) -> None:
        self.status.setStyleSheet("color: #ef9a9a;" if error else "color: #a5d6a7;")
        self.status.setText(text)

    def changes(self) -> dict[str, str]:
        """``{setting key: new text}`` for every field that differs from the settings."""
        out = {}
        for key, edit in self.fields.items():
            if edit.text().strip() != _text(self._current(key)):
                out[key] = edit.text().strip()
        return out

    def save(self) -> None:
        """Validate and save the changes (checking a new database URL on a worker first)."""
        if self.busy:
            return
        for edit in (*self.fields.values(), *self.telegram_panel.fields.values()):
            self._mark(edit, False)
        for kind, box in self.switches.items():
            self.prefs.set(kind, box.isChecked())
        changes = self.changes()
        for kind, box in self.switches.items():
            if getattr(self.settings.notifications, kind) != box.isChecked():
                changes[f"notifications.{kind}"] = "true" if box.isChecked() else "false"
        changes.update(self.telegram_panel.changes(self.settings))
        token_saving = self.telegram_panel.save_token()  # keyring only, on its own worker
        url = changes.get("database_url")
        if url:
            self.busy = True
            self.save_button.setEnabled(False)
            self._show("Checking the database URL\u2026", error=False)
            run_in_worker(
                lambda: check_database_url(url),
                what="check database URL",
                on_done=lambda _shown: self._apply(changes, token_saving),
                on_error=self._database_failed,
            )
        else:
            self._apply(changes, token_saving)

    def _database_failed(self, exc: BaseException) -> None:
        self.busy = False
        self.save_button.setEnabled(True)
        self._mark(self.fields["database_url"], True)
        self._show(f"Database URL not saved: {exc}", error=True)

    def _apply(self, changes: dict[str, str], token_saving: bool = False) -> None:
        from stom_desktop.config.settings import set_setting

        self.busy = False
        self.save_button.setEnabled(True)
        saved: list[str] = []
        token_note = " The bot token is being stored in the keyring." if token_saving else ""
        for key, text in changes.items():
            try:
                self.settings = set_setting(key, text)
            except StomError as exc:
                edit = self.fields.get(key) or self.telegram_panel.fields.get(key)
                if edit is not None:
                    self._mark(edit, True)
                if saved:
                    self.telegram_panel.settings_saved(self.settings)
                done = f" (saved before it: {', '.join(saved)})" if saved else ""
                self._show(f"Not saved: {exc}{done}", error=True)
                log.warning("settings dialog: %s", exc)
                return
            saved.append(key)
        if not saved:
            self._show(token_note.strip() or "No changes to save.", error=False)
            return
        self.telegram_panel.settings_saved(self.settings)
        log.info("settings saved: %s", ", ".join(saved))
        self._show(
            f"Saved {', '.join(saved)}. Database and Redis changes apply after a restart."
            + token_note,
            error=False,
        )
