"""Telegram notifications through the Bot API ``sendMessage`` (plain HTTPS via requests).

The bot token is a secret: it comes from the keyring (:meth:`TelegramNotifier.from_store`,
entry ``telegram:bot_token``), is only ever placed in the request URL, and is scrubbed
from every error message. ``base_url`` is configurable so tests use a local fake Bot API.
"""

from __future__ import annotations

import logging
from typing import Protocol

import requests

from stom_desktop.core.errors import ConfigurationError, StomError

log = logging.getLogger(__name__)

#: Keyring entries (service ``stom-desktop``) holding the bot token and the chat id.
TOKEN_KEY = "telegram:bot_token"
CHAT_KEY = "telegram:chat_id"
_ICONS = {"fill": "\u2705", "error": "\u26a0\ufe0f", "report": "\U0001f4ca"}
_MAX_TEXT = 4096  # Bot API limit per message


class NotifierError(StomError):
    """A notification could not be delivered (network, bad token, blocked bot)."""


class _SecretGetter(Protocol):
    def get(self, key: str) -> str | None: ...


class TelegramNotifier:
    """``core.ports.Notifier`` sending each notification as one Telegram message."""

    def __init__(
        self,
        token: str,
        chat_id: str,
        *,
        base_url: str = "https://api.telegram.org",
        timeout_s: float = 10.0,
        session: requests.Session | None = None,
    ) -> None:
        if not token or not chat_id:
            raise ConfigurationError(
                "a bot token and a chat id are required", key="notifications.telegram"
            )
        self._token = token
        self.chat_id = chat_id
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s
        self._session = session or requests.Session()

    @classmethod
    def from_store(cls, store: _SecretGetter, **kwargs: object) -> TelegramNotifier:
        """Read the token (and chat id) from the keyring via a ``KeyringSecretStore``."""
        token, chat = store.get(TOKEN_KEY), store.get(CHAT_KEY)
        if not token or not chat:
            raise ConfigurationError(
                f"keyring entries '{TOKEN_KEY}' and '{CHAT_KEY}' must both be set",
                key="notifications.telegram",
                hint="enter the bot token and chat id in Settings -> Notifications",
            )
        return cls(token, chat, **kwargs)  # type: ignore[arg-type]

    def notify(self, kind: str, title: str, text: str) -> None:
        """Send ``title`` and ``text`` (cut to Telegram's 4,096 characters)."""
        icon = _ICONS.get(kind, "\u2139\ufe0f")
        message = f"{icon} {title}\n{text}"[:_MAX_TEXT]
        url = f"{self._base}/bot{self._token}/sendMessage"
        try:
            response = self._session.post(
                url,
                json={"chat_id": self.chat_id, "text": message, "disable_web_page_preview": True},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise NotifierError(f"telegram: request failed: {self._scrub(str(exc))}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not body.get("ok", False):
            description = self._scrub(str(body.get("description") or response.reason))
            raise NotifierError(
                f"telegram: sendMessage answered {response.status_code}: {description}",
                hint="check the bot token and chat id in Settings -> Notifications",
            )

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***")
