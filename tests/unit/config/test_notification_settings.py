"""settings.notifications: Telegram switches and chat id checks (the token is never a setting)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stom_desktop.config import load_settings, set_setting
from stom_desktop.config.settings import NotificationSettings
from stom_desktop.core.errors import ConfigurationError


def test_telegram_is_off_by_default_and_has_no_token_field() -> None:
    section = NotificationSettings()
    assert section.telegram is False and section.telegram_chat_id is None
    assert not [name for name in NotificationSettings.model_fields if "token" in name]


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("123456789", "123456789"), ("-1001234567", "-1001234567"), ('"@my_channel"', "@my_channel")],
)
def test_chat_id_from_the_command_line_is_kept_as_text(
    stom_home: Path, raw: str, stored: str
) -> None:
    # `stom config set` parses 123456789 as a JSON number: it must still become a string.
    settings = set_setting("notifications.telegram_chat_id", raw)
    assert settings.notifications.telegram_chat_id == stored
    assert load_settings().notifications.telegram_chat_id == stored


@pytest.mark.parametrize("raw", ["my chat", "true", '"12 34"', "https://t.me/x"])
def test_a_bad_chat_id_is_refused_and_not_saved(stom_home: Path, raw: str) -> None:
    with pytest.raises(ConfigurationError, match="telegram_chat_id"):
        set_setting("notifications.telegram_chat_id", raw)
    assert not (stom_home / "config" / "settings.json").exists()


def test_api_url_must_be_http_and_env_vars_work(
    stom_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match="telegram_api_url"):
        set_setting("notifications.telegram_api_url", "ftp://example.org")
    monkeypatch.setenv("STOM_NOTIFICATIONS__TELEGRAM", "true")
    monkeypatch.setenv("STOM_NOTIFICATIONS__TELEGRAM_CHAT_ID", "42")
    section = load_settings().notifications
    assert section.telegram is True and section.telegram_chat_id == "42"
    saved = set_setting("notifications.telegram_api_url", "http://127.0.0.1:8081/")
    assert saved.notifications.telegram_api_url == "http://127.0.0.1:8081"
    assert json.loads((stom_home / "config" / "settings.json").read_text()) == {
        "notifications": {"telegram_api_url": "http://127.0.0.1:8081/"}
    }
