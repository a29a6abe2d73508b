"""TelegramNotifier against a local fake Bot API."""

from __future__ import annotations

import json
import logging

import pytest
from pytest_httpserver import HTTPServer

from stom_desktop.adapters.notifiers.telegram import (
    CHAT_KEY,
    TOKEN_KEY,
    NotifierError,
    TelegramNotifier,
    check_token_shape,
)
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.ports import Notifier

TOKEN = "123456:AAFakeTokenForTests_do_not_leak"


class DictStore:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str) -> str | None:
        return self.values.get(key)


def test_sends_message_to_the_chat(server: HTTPServer) -> None:
    server.expect_oneshot_request(f"/bot{TOKEN}/sendMessage", method="POST").respond_with_json(
        {"ok": True, "result": {"message_id": 1}}
    )
    notifier = TelegramNotifier.from_store(
        DictStore({TOKEN_KEY: TOKEN, CHAT_KEY: "42"}), base_url=server.url_for("/")
    )
    assert isinstance(notifier, Notifier)
    notifier.notify("fill", "BTC/USDT filled", "buy 0.001 @ 30000")
    request, _ = server.log[0]
    body = json.loads(request.get_data(as_text=True))
    assert body["chat_id"] == "42"
    assert "BTC/USDT filled" in body["text"] and "buy 0.001 @ 30000" in body["text"]


def test_api_error_is_reported_without_the_token(server: HTTPServer) -> None:
    server.expect_request(f"/bot{TOKEN}/sendMessage").respond_with_json(
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
        status=403,
    )
    notifier = TelegramNotifier(TOKEN, "42", base_url=server.url_for("/"))
    with pytest.raises(NotifierError, match="blocked by the user") as info:
        notifier.notify("error", "session paused", "strategy raised")
    assert TOKEN not in str(info.value)


def test_network_failure_does_not_leak_the_token() -> None:
    notifier = TelegramNotifier(TOKEN, "42", base_url="http://127.0.0.1:9", timeout_s=0.5)
    with pytest.raises(NotifierError) as info:
        notifier.notify("report", "daily report", "P&L +1%")
    assert TOKEN not in str(info.value) and "***" in str(info.value)


def test_missing_keyring_entries_name_the_setting() -> None:
    with pytest.raises(ConfigurationError, match=r"notifications\.telegram"):
        TelegramNotifier.from_store(DictStore({TOKEN_KEY: TOKEN}))


def test_errors_say_whether_a_retry_can_help(server: HTTPServer) -> None:
    notifier = TelegramNotifier(TOKEN, "42", base_url=server.url_for("/"))
    path = f"/bot{TOKEN}/sendMessage"
    answers = [
        (429, {"ok": False, "description": "Too Many Requests", "parameters": {"retry_after": 7}}),
        (502, {"ok": False, "description": "Bad Gateway"}),
        (400, {"ok": False, "description": "Bad Request: chat not found"}),
    ]
    for status, body in answers:
        server.expect_oneshot_request(path).respond_with_json(body, status=status)
    errors = []
    for _ in answers:
        with pytest.raises(NotifierError) as info:
            notifier.notify("fill", "t", "x")
        errors.append(info.value)
    assert [(e.retryable, e.retry_after) for e in errors] == [
        (True, 7.0),
        (True, None),
        (False, None),
    ]
    assert "chat not found" in str(errors[2]) and "chat id" in str(errors[2])


def test_urllib3_debug_lines_do_not_show_the_token(
    server: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.expect_request(f"/bot{TOKEN}/sendMessage").respond_with_json({"ok": True})
    notifier = TelegramNotifier(TOKEN, "42", base_url=server.url_for("/"))
    caplog.set_level(logging.WARNING, logger="werkzeug")  # the fake server's own access log
    with caplog.at_level(logging.DEBUG):
        notifier.notify("fill", "t", "x")
    urllib3_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("/bot***/sendMessage" in line for line in urllib3_lines)
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text


def test_bad_token_shape_is_refused_without_echoing_it() -> None:
    pasted = "bot" + TOKEN
    with pytest.raises(ConfigurationError) as info:
        check_token_shape(pasted)
    assert TOKEN not in str(info.value) and "BotFather" in str(info.value)
    assert check_token_shape(f" {TOKEN}\n") == TOKEN
