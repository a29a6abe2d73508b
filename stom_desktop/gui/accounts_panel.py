"""Settings > Accounts: exchange API key/secret pairs in the OS keyring, shown masked.

Values typed here go straight to ``AccountService.set_account`` (on a worker: a keyring
may block while it asks to be unlocked) and the fields are cleared afterwards; they are
never logged, written to settings or shown again. A backend that does not protect secrets
is announced in a red banner and storing there needs an explicit confirmation.
"""

from __future__ import annotations

import logging
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.gui.models import Column, RowsModel
from stom_desktop.gui.ports import AccountPort
from stom_desktop.gui.prompts import Prompts
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)

EXCHANGES = ("binance", "upbit", "kiwoom")
ACCOUNT_COLUMNS = [
    Column("Name", "name"),
    Column("Exchange", "exchange"),
    Column("API key", "api_key_masked"),
    Column("Secret", "secret_masked"),
]


class AccountsPanel(QGroupBox):
    """List, add/replace and delete stored accounts."""

    changed = pyqtSignal()  # the list was re-read after a save/delete

    def __init__(
        self, accounts: AccountPort | None, prompts: Prompts, parent: QWidget | None = None
    ) -> None:
        super().__init__("Accounts (API keys in the OS keyring, service 'stom-desktop')", parent)
        self.accounts = accounts
        self.prompts = prompts
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.model = RowsModel(ACCOUNT_COLUMNS, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMaximumHeight(140)

        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. binance-main")
        self.exchange = QComboBox()
        self.exchange.setEditable(True)
        self.exchange.addItems(list(EXCHANGES))
        self.api_key = QLineEdit()
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.secret = QLineEdit()
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Exchange", self.exchange)
        form.addRow("API key", self.api_key)
        form.addRow("Secret", self.secret)
        self.save_button = QPushButton("Save account")
        self.save_button.clicked.connect(self.save)
        self.delete_button = QPushButton("Delete selected")
        self.delete_button.setObjectName("danger")
        self.delete_button.clicked.connect(self.delete_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.delete_button)
        buttons.addStretch(1)
        self.status = QLabel()
        self.status.setWordWrap(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.table)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self._backend: Any = None
        if accounts is None:
            self._set_status("Accounts are not available (no secret store wired).", error=True)
            self.setEnabled(False)
        else:
            self.refresh()

    def _set_status(self, text: str, *, error: bool = False) -> None:
        self.status.setObjectName("error" if error else "")
        self.status.setStyleSheet("color: #ef9a9a;" if error else "")
        self.status.setText(text)

    def refresh(self) -> None:
        """Re-read the backend status and the account list (on a worker)."""
        accounts = self.accounts
        if accounts is None:
            return

        def load() -> tuple[Any, list[Any]]:
            status = accounts.backend_status()
            listed = accounts.list_accounts() if status.available else []
            return status, listed

        run_in_worker(load, what="list accounts", on_done=self._loaded, on_error=self._failed)

    def _loaded(self, result: tuple[Any, list[Any]]) -> None:
        status, listed = result
        self._backend = status
        if status.warning:
            self.banner.setText(f"\u26a0 {status.warning}")
            self.banner.show()
        else:
            self.banner.hide()
        self.save_button.setEnabled(bool(status.available))
        self.model.set_rows(listed)
        self.changed.emit()

    def _failed(self, exc: BaseException) -> None:
        self._set_status(str(exc), error=True)

    def save(self) -> None:
        """Store the typed pair (asking first if the keyring is plain text), then clear it."""
        accounts = self.accounts
        if accounts is None:
            return
        name, exchange = self.name.text(), self.exchange.currentText()
        key, secret = self.api_key.text(), self.secret.text()
        allow_insecure = False
        backend = self._backend
        if backend is not None and backend.available and not backend.secure:
            allow_insecure = self.prompts.confirm(
                self,
                "Insecure keyring",
                f"{backend.warning}\n\nStore this API key there anyway?",
            )
            if not allow_insecure:
                self._set_status("Not saved: the keyring backend is not secure.", error=True)
                return

        def store() -> Any:
            return accounts.set_account(
                name, key, secret, exchange=exchange, allow_insecure=allow_insecure
            )

        def stored(info: Any) -> None:
            self.api_key.clear()
            self.secret.clear()
            self.name.clear()
            self._set_status(f"Saved account '{info.name}' ({info.api_key_masked}).")
            self.refresh()

        run_in_worker(store, what="save account", on_done=stored, on_error=self._failed)

    def selected_name(self) -> str | None:
        """Name of the selected account, if any."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row(rows[0].row()).name if rows else None

    def delete_selected(self) -> None:
        """Delete the selected account after confirmation."""
        accounts = self.accounts
        name = self.selected_name()
        if accounts is None or name is None:
            self._set_status("Select an account to delete.", error=True)
            return
        if not self.prompts.confirm(self, "Delete account", f"Delete account '{name}'?"):
            return

        def deleted(_: object) -> None:
            self._set_status(f"Deleted account '{name}'.")
            self.refresh()

        run_in_worker(
            lambda: accounts.delete_account(name),
            what="delete account",
            on_done=deleted,
            on_error=self._failed,
        )
