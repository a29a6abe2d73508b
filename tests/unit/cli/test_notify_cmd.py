"""``stom notify telegram``: token to a file keyring, chat id to settings, test via a fake API.

Also checks the composition root: a fill published on the App's trading bus reaches the
fake Bot API once Telegram is switched on, and ``App.close`` sends what is still queued.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import keyring
import pytest
from fake_telegram import TOKEN, FakeBotApi, fake_bot_api
from typer.testing import CliRunner

from stom_desktop.adapters.notifiers.telegram import NotifierError
from stom_desktop.adapters.secrets import SERVICE_NAME, SecretStoreError
from stom_desktop.bootstrap import build_app
from stom_desktop.cli.app import app
from stom_desktop.core.enums import Side
from stom_desktop.core.events import FillEvent
from stom_desktop.core.fills import Fill

runner = CliRunner()


@pytest.fixture()
def bot() -> Iterator[FakeBotApi]:
    with fake_bot_api() as api:
        yield api


def _invoke(*args: str, stdin: str | None = None) -> object:
    return runner.invoke(app, ["notify", "telegram", *args], input=stdin, catch_exceptions=True)


def test_cli_setup_status_and_test_message(
    stom_home: Path, file_keyring: Path, bot: FakeBotApi
) -> None:
    refused = _invoke("set-token", "--stdin", stdin=TOKEN + "\n")
    assert isinstance(refused.exception, SecretStoreError)  # plaintext keyring: not without consent
    stored = _invoke("set-token", "--stdin", "--allow-insecure", stdin=TOKEN + "\n")
    assert stored.exit_code == 0, stored.output
    assert keyring.get_password(SERVICE_NAME, "telegram:bot_token") == TOKEN
    assert _invoke("enable", "--chat-id", "-1001234567").exit_code == 0
    runner.invoke(app, ["config", "set", "notifications.telegram_api_url", bot.url])
    settings_file = stom_home / "config" / "settings.json"
    saved = json.loads(settings_file.read_text())["notifications"]
    assert saved["telegram"] is True and saved["telegram_chat_id"] == "-1001234567"

    status = _invoke("status")
    assert "telegram: on" in status.output and "stored in the keyring" in status.output
    assert "-1001234567" in status.output and "NOT encrypted" in status.output

    sent = _invoke("test")
    assert sent.exit_code == 0, sent.output
    assert "sent to chat -1001234567" in sent.output
    assert bot.messages[0]["chat_id"] == "-1001234567"

    bot.fail_next(403, "Forbidden: bot was blocked by the user")
    failed = _invoke("test")
    assert isinstance(failed.exception, NotifierError) and "blocked" in str(failed.exception)

    everything = settings_file.read_bytes()
    for needle in (TOKEN.encode(), base64.b64encode(TOKEN.encode())):
        assert needle not in everything
    for result in (stored, status, sent, failed):
        assert TOKEN not in result.output and TOKEN not in str(result.exception or "")

    assert _invoke("clear-token").exit_code == 0
    assert keyring.get_password(SERVICE_NAME, "telegram:bot_token") is None
    assert "not set" in _invoke("status").output
    assert _invoke("disable").exit_code == 0
    assert json.loads(settings_file.read_text())["notifications"]["telegram"] is False


def test_the_app_sends_fills_of_its_trading_bus(
    stom_home: Path, file_keyring: Path, bot: FakeBotApi
) -> None:
    keyring.set_password(SERVICE_NAME, "telegram:bot_token", TOKEN)
    for key, value in (
        ("telegram", "true"),
        ("telegram_chat_id", '"42"'),
        ("telegram_api_url", bot.url),
    ):
        assert runner.invoke(app, ["config", "set", f"notifications.{key}", value]).exit_code == 0
    ctx = build_app()
    fill = Fill(
        "f1",
        "o1",
        "005930",
        Side.SELL,
        Decimal(10),
        Decimal(71500),
        Decimal(0),
        "KRW",
        datetime(2026, 1, 5, 1, 0, tzinfo=UTC),
    )
    ctx.trading.events.publish(FillEvent("1", fill, 0))
    ctx.close()  # stops sessions, then sends what Telegram still has queued
    (text,) = bot.texts()
    assert "SELL 10 005930 @ 71500" in text and "10:00:00 KST" in text
