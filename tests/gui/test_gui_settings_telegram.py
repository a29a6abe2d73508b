"""Settings > Telegram: token to a file keyring (never the settings file or log), test button.

The keyring is a real keyrings.alt PlaintextKeyring in a temporary file; the Bot API is a
local fake. After a Save with DEBUG logging on, the token must not appear (raw or base64)
in the settings file or the log file.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from fake_telegram import TOKEN, FakeBotApi, fake_bot_api
from gui_fakes import ScriptedPrompts
from PyQt6.QtCore import Qt

from stom_desktop.adapters.secrets import SERVICE_NAME, KeyringSecretStore
from stom_desktop.config import app_paths, load_settings
from stom_desktop.gui.settings_window import SettingsDialog
from stom_desktop.gui.workers import pending_tasks
from stom_desktop.services.notification_service import NotificationService


@pytest.fixture()
def bot() -> Iterator[FakeBotApi]:
    with fake_bot_api() as api:
        yield api


def _dialog(qtbot: Any, prompts: ScriptedPrompts) -> tuple[SettingsDialog, NotificationService]:
    settings = load_settings()
    service = NotificationService(settings.notifications, KeyringSecretStore())
    dialog = SettingsDialog(settings, None, prompts=prompts, telegram=service)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    panel = dialog.telegram_panel
    qtbot.waitUntil(lambda: "not set" in panel.token_state.text(), timeout=10_000)
    return dialog, service


def test_token_goes_to_the_keyring_not_the_settings_file_or_log(
    qtbot: Any, file_keyring: Path, bot: FakeBotApi, debug_log: Path
) -> None:
    prompts = ScriptedPrompts(confirm=True)
    dialog, service = _dialog(qtbot, prompts)
    panel = dialog.telegram_panel
    assert "NOT encrypted" in panel.banner.text()
    assert not panel.kinds["fills"].isEnabled()  # follows the master switch
    panel.enable.setChecked(True)
    assert panel.kinds["fills"].isEnabled()
    panel.kinds["fills"].setChecked(False)
    panel.token.setText(TOKEN)
    panel.chat_id.setText("-1001234567")
    panel.api_url.setText(bot.url)
    dialog.save()
    qtbot.waitUntil(lambda: "stored in the keyring" in panel.token_state.text(), timeout=10_000)
    qtbot.waitUntil(lambda: pending_tasks() == 0, timeout=10_000)
    assert prompts.asked and prompts.asked[0][0] == "Insecure keyring"
    assert keyring.get_password(SERVICE_NAME, "telegram:bot_token") == TOKEN
    assert panel.token.text() == ""  # not kept in the form
    assert TOKEN not in panel.token_state.text() and "\u2022" in panel.token_state.text()
    assert dialog.status.text().startswith("Saved")

    saved = json.loads(app_paths().settings_file.read_text(encoding="utf-8"))["notifications"]
    assert saved["telegram"] is True and saved["telegram_fills"] is False
    assert saved["telegram_chat_id"] == "-1001234567" and saved["telegram_api_url"] == bot.url
    assert service.settings.telegram and service.settings.telegram_chat_id == "-1001234567"

    panel.send_test()  # with the saved token and chat id
    qtbot.waitUntil(lambda: "\u2714" in panel.result.text(), timeout=10_000)
    assert "sent to chat -1001234567" in panel.result.text()
    assert bot.messages[0]["chat_id"] == "-1001234567"

    for handler in logging.getLogger().handlers:
        handler.flush()
    assert debug_log.read_text(encoding="utf-8")  # something was logged
    needles = [TOKEN.encode(), base64.b64encode(TOKEN.encode()), TOKEN.split(":")[1].encode()]
    for path in (app_paths().settings_file, debug_log):
        content = path.read_bytes()
        for needle in needles:
            assert needle not in content, f"{needle!r} leaked into {path}"
    assert base64.b64encode(TOKEN.encode()) in file_keyring.read_bytes()  # it is stored there


def test_test_button_uses_the_form_and_shows_a_scrubbed_error(
    qtbot: Any, file_keyring: Path, bot: FakeBotApi
) -> None:
    dialog, _service = _dialog(qtbot, ScriptedPrompts())
    panel = dialog.telegram_panel
    panel.token.setText(TOKEN)  # typed, not saved
    panel.chat_id.setText("777")
    panel.api_url.setText(bot.url)
    qtbot.mouseClick(panel.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "\u2714" in panel.result.text(), timeout=10_000)
    assert bot.messages[-1]["chat_id"] == "777"
    assert keyring.get_password(SERVICE_NAME, "telegram:bot_token") is None  # nothing stored

    bot.fail_next(403, "Forbidden: bot was blocked by the user")
    panel.test_button.click()
    qtbot.waitUntil(lambda: "\u2716" in panel.result.text(), timeout=10_000)
    assert "blocked by the user" in panel.result.text()
    assert TOKEN not in panel.result.text() and TOKEN.split(":")[1] not in panel.result.text()
    assert panel.test_button.isEnabled()


def test_a_bad_chat_id_is_marked_and_nothing_is_stored(qtbot: Any, file_keyring: Path) -> None:
    dialog, _service = _dialog(qtbot, ScriptedPrompts(confirm=False))
    panel = dialog.telegram_panel
    panel.chat_id.setText("my chat")
    panel.token.setText(TOKEN)
    dialog.save()  # the insecure keyring is declined: no token; the chat id is refused
    assert "telegram_chat_id" in dialog.status.text()
    assert panel.chat_id.property("invalid") is True
    assert "not secure" in panel.token_state.text()
    assert keyring.get_password(SERVICE_NAME, "telegram:bot_token") is None
    settings_file = app_paths().settings_file
    assert not settings_file.exists() or "telegram_chat_id" not in settings_file.read_text()


def test_without_the_service_the_section_says_so(qtbot: Any) -> None:
    dialog = SettingsDialog(load_settings(), None, prompts=ScriptedPrompts())  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    panel = dialog.telegram_panel
    assert "not available" in panel.token_state.text()
    assert not panel.test_button.isEnabled() and not panel.token.isEnabled()
