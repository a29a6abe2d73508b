"""Accounts in Settings: real file keyring, masked display, and the secret never leaks.

The secret and API key must not appear (raw or base64) in the settings file, the SQLite
database or the log file after a full save through the dialog with DEBUG logging on.
"""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import keyring
from gui_fakes import ScriptedPrompts

from stom_desktop.adapters.secrets import SERVICE_NAME, KeyringSecretStore
from stom_desktop.config import app_paths, load_settings
from stom_desktop.gui.settings_window import SettingsDialog
from stom_desktop.services.account_service import AccountService

API_KEY = "AKIA-GUI-TEST-KEY-0123456789"
SECRET = "sUp3r-s3cr3t-GUI-value-9876"


def _fill(dialog: SettingsDialog) -> None:
    panel = dialog.accounts_panel
    panel.name.setText("binance-main")
    panel.exchange.setCurrentText("binance")
    panel.api_key.setText(API_KEY)
    panel.secret.setText(SECRET)


def test_accounts_stored_masked_and_never_leaked(
    qtbot: Any, file_keyring: Path, debug_log: Path
) -> None:
    prompts = ScriptedPrompts(confirm=True)
    accounts = AccountService(KeyringSecretStore())
    dialog = SettingsDialog(load_settings(), accounts, prompts=prompts)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    panel = dialog.accounts_panel
    qtbot.waitUntil(lambda: panel.banner.text() != "")
    assert "NOT encrypted" in panel.banner.text()  # the plaintext backend is called out

    # also save a database URL, so the database and the settings file exist to be scanned
    db_path = app_paths().ensure().data_dir / "scan.sqlite"
    dialog.fields["database_url"].setText(f"sqlite:///{db_path}")
    _fill(dialog)
    panel.save()
    dialog.save()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1, timeout=10_000)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Saved"), timeout=20_000)
    assert prompts.asked and prompts.asked[0][0] == "Insecure keyring"

    shown = [panel.model.data(panel.model.index(0, c)) for c in range(4)]
    assert shown[0:2] == ["binance-main", "binance"]
    assert shown[2].startswith("AKIA") and API_KEY not in shown[2] and SECRET not in shown[3]
    assert panel.api_key.text() == "" and panel.secret.text() == ""  # not kept in the form
    assert keyring.get_password(SERVICE_NAME, "binance-main:secret") == SECRET

    for handler in logging.getLogger().handlers:
        handler.flush()
    scanned = [app_paths().settings_file, debug_log, *db_path.parent.glob("scan.sqlite*")]
    assert all(p.exists() for p in scanned[:3])
    assert debug_log.read_text(encoding="utf-8")  # something was logged
    needles = [
        value.encode() if encoded is None else encoded
        for value in (SECRET, API_KEY)
        for encoded in (None, base64.b64encode(value.encode()))
    ]
    for path in scanned:
        content = path.read_bytes()
        for needle in needles:
            assert needle not in content, f"{needle!r} leaked into {path}"


def test_declining_the_insecure_keyring_stores_nothing(qtbot: Any, file_keyring: Path) -> None:
    accounts = AccountService(KeyringSecretStore())
    dialog = SettingsDialog(
        load_settings(),
        accounts,
        prompts=ScriptedPrompts(confirm=False),  # type: ignore[arg-type]
    )
    qtbot.addWidget(dialog)
    panel = dialog.accounts_panel
    qtbot.waitUntil(lambda: panel.banner.text() != "")
    _fill(dialog)
    panel.save()
    assert "Not saved" in panel.status.text()
    assert accounts.list_accounts() == []


def test_deleting_an_account(qtbot: Any, file_keyring: Path) -> None:
    accounts = AccountService(KeyringSecretStore())
    accounts.set_account("old", API_KEY, SECRET, allow_insecure=True)
    dialog = SettingsDialog(load_settings(), accounts, prompts=ScriptedPrompts())  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    panel = dialog.accounts_panel
    qtbot.waitUntil(lambda: panel.model.rowCount() == 1)
    panel.table.selectRow(0)
    panel.delete_selected()
    qtbot.waitUntil(lambda: panel.model.rowCount() == 0)
    assert keyring.get_password(SERVICE_NAME, "old:secret") is None
