"""A local fake Telegram Bot API (pytest-httpserver) for the notifier and its users.

``FakeBotApi`` answers ``POST /bot<token>/sendMessage`` like Telegram: ``{"ok": true,
"result": {...}}``, records every message, and can be scripted to fail: ``fail_next``
queues answers (429 with ``retry_after``, 401, 502...), ``down`` answers 502 to every call,
``hold`` blocks each request until released (a hanging server). A request with another
token gets the server's 404, as Telegram answers a wrong token.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

TOKEN = "123456789:AAHfakeTOKENforTESTS_do-not-leak-9876"


class FakeBotApi:
    """Records sendMessage calls; see the module docstring for the failure scripts."""

    def __init__(self, server: HTTPServer, token: str = TOKEN) -> None:
        self.server = server
        server.no_handler_status_code = 404  # as Telegram answers a wrong token (clear() resets it)
        self.token = token
        self.messages: list[dict[str, Any]] = []
        self.calls = 0
        self.down = False
        self.hold = threading.Event()
        self.hold.set()  # set = not holding
        self.held = threading.Event()  # a request is waiting in ``hold``
        self._fail: list[tuple[int, dict[str, Any]]] = []
        self._lock = threading.Lock()
        server.expect_request(f"/bot{token}/sendMessage", method="POST").respond_with_handler(
            self._handle
        )

    @property
    def url(self) -> str:
        """Base URL to give the notifier (``http://127.0.0.1:<port>``)."""
        return self.server.url_for("/").rstrip("/")

    def fail_next(self, status: int, description: str, **parameters: Any) -> None:
        """Answer the next call with ``status`` (``parameters`` e.g. ``retry_after=0``)."""
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        with self._lock:
            self._fail.append((status, body))

    def texts(self) -> list[str]:
        """The text of every message received, in order."""
        with self._lock:
            return [str(m["text"]) for m in self.messages]

    def wait_for_messages(self, count: int, timeout: float = 10.0) -> list[str]:
        """Block until ``count`` messages arrived (AssertionError after ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            texts = self.texts()
            if len(texts) >= count:
                return texts
            time.sleep(0.01)
        raise AssertionError(f"expected {count} message(s), got {self.texts()!r}")

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.calls += 1
            scripted = self._fail.pop(0) if self._fail else None
        if not self.hold.is_set():
            self.held.set()
            self.hold.wait(30)
        if scripted is None and self.down:
            scripted = (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
        if scripted is not None:
            status, body = scripted
            return Response(json.dumps(body), status=status, content_type="application/json")
        payload = json.loads(request.get_data(as_text=True))
        with self._lock:
            self.messages.append(payload)
            message_id = len(self.messages)
        result = {"message_id": message_id, "chat": {"id": payload["chat_id"]}, "text": ""}
        return Response(json.dumps({"ok": True, "result": result}), content_type="application/json")


@contextmanager
def fake_bot_api(token: str = TOKEN, server: HTTPServer | None = None) -> Iterator[FakeBotApi]:
    """A fake Bot API on 127.0.0.1; afterwards any hold is released and the server stopped.

    Pass a running ``server`` (e.g. a module-scoped one: stopping a server costs 0.5 s) to
    reuse it; it is then only cleared. The fake server's own access log (werkzeug) prints
    the request path with the token; that is the test server talking, not the app, so it
    is kept quiet to let tests scan the app's logs for the token.
    """
    access_log = logging.getLogger("werkzeug")
    old_level = access_log.level
    access_log.setLevel(logging.WARNING)
    own = server is None
    if server is None:
        server = start_server()
    bot = FakeBotApi(server, token)
    try:
        yield bot
    finally:
        bot.hold.set()
        server.clear()
        if own:
            server.stop()
        access_log.setLevel(old_level)


def start_server() -> HTTPServer:
    """A started pytest-httpserver answering 404 to unknown paths (as Telegram does)."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.no_handler_status_code = 404
    server.start()
    return server
