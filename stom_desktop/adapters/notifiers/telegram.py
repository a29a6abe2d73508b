"""Telegram notifications through the Bot API ``sendMessage`` (plain HTTPS via requests).

The bot token is a secret: it comes from the keyring (:meth:`TelegramNotifier.from_store`,
entry ``telegram:bot_token``), is only ever placed in the request URL, and is scrubbed
from every error message. urllib3 logs each request URL at DEBUG level, so a logging
filter on its logger blanks the token there too. ``base_url`` is configurable so tests use
a local fake Bot API (and a user may run a self-hosted Bot API server).

Errors say whether a retry can help (:attr:`NotifierError.retryable`): network failures,
5xx answers and 429 (with Telegram's ``retry_after``) can; a bad token, an unknown chat or
a blocked bot cannot.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from stom_desktop.core.errors import ConfigurationError, StomError

if TYPE_CHECKING:  # requests (~40 ms to import) loads with the first notifier
    import requests

log = logging.getLogger(__name__)

#: Keyring entries (service ``stom-desktop``) holding the bot token and, in older
#: set-ups, the chat id (the chat id now lives in ``settings.notifications``).
TOKEN_KEY = "telegram:bot_token"
CHAT_KEY = "telegram:chat_id"
_ICONS = {"fill": "\u2705", "error": "\u26a0\ufe0f", "report": "\U0001f4ca"}
MAX_TEXT = 4096  # Bot API limit per message
# "<bot id>:<secret>" as BotFather hands it out; checked only to catch a bad paste.
_TOKEN_SHAPE = re.compile(r"^\d{3,}:[A-Za-z0-9_-]{20,}$")
_RETRY_AFTER_CAP_S = 60.0


class NotifierError(StomError):
    """A notification could not be delivered (network, bad token, blocked bot).

    ``retryable`` says whether sending again later may succeed; ``retry_after`` is the
    wait Telegram asked for (429), in seconds, when it gave one.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.retryable = retryable
        self.retry_after = retry_after


class _SecretGetter(Protocol):
    def get(self, key: str) -> str | None: ...


def check_token_shape(token: str) -> str:
    """``token`` stripped, or ``ConfigurationError`` if it cannot be a bot token.

    The message never repeats the value (it is a secret even when mistyped).
    """
    token = token.strip()
    if not _TOKEN_SHAPE.match(token):
        raise ConfigurationError(
            f"this does not look like a bot token ({len(token)} characters; expected "
            "'<digits>:<35 letters, digits, - or _>')",
            key="notifications.telegram",
            hint="copy the whole token BotFather sent, without 'bot' in front or spaces",
        )
    return token


class _ScrubFilter(logging.Filter):
    """Blanks registered tokens in records of the logger it sits on (urllib3's)."""

    def __init__(self) -> None:
        super().__init__("telegram-token-scrub")
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def add(self, *secrets: str) -> None:
        with self._lock:
            self._secrets = tuple(dict.fromkeys((*self._secrets, *(s for s in secrets if s))))

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self._secrets
        if not secrets:
            return True
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            return True  # a malformed record: logging reports it itself
        scrubbed = text
        for secret in secrets:
            scrubbed = scrubbed.replace(secret, "***")
        if scrubbed != text:
            record.msg, record.args = scrubbed, None
        return True


_SCRUB = _ScrubFilter()
# A logger's filters only see records logged on that very logger, so every urllib3 module
# that may log a request URL (DEBUG lines, retry and connection warnings) gets one.
_URL_LOGGERS = (
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "urllib3.poolmanager",
    "urllib3.connection",
    "urllib3.response",
    "requests",
)
for _name in _URL_LOGGERS:
    logging.getLogger(_name).addFilter(_SCRUB)


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
        # The part after ':' is the actual secret; scrub it alone too (any encoding of
        # the bot-id prefix), and the URL-quoted form requests may put in an error.
        secret_part = token.split(":", 1)[-1]
        self._secrets = tuple(dict.fromkeys((token, quote(token, safe=""), secret_part)))
        _SCRUB.add(*self._secrets)
        self.chat_id = str(chat_id)
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s
        if session is None:
            import requests

            session = requests.Session()
        self._session = session

    @classmethod
    def from_store(
        cls, store: _SecretGetter, chat_id: str | None = None, **kwargs: Any
    ) -> TelegramNotifier:
        """Read the token from the keyring via a ``KeyringSecretStore``.

        ``chat_id`` normally comes from ``settings.notifications.telegram_chat_id``; when
        it is None the old keyring entry ``telegram:chat_id`` is used.
        """
        token = store.get(TOKEN_KEY)
        chat = chat_id if chat_id else store.get(CHAT_KEY)
        if not token:
            raise ConfigurationError(
                f"no bot token in the keyring (entry '{TOKEN_KEY}')",
                key="notifications.telegram",
                hint="enter it in Settings -> Telegram or run `stom notify telegram set-token`",
            )
        if not chat:
            raise ConfigurationError(
                "no chat id to send to",
                key="notifications.telegram_chat_id",
                hint="enter it in Settings -> Telegram or `stom notify telegram enable --chat-id`",
            )
        return cls(token, chat, **kwargs)

    def notify(self, kind: str, title: str, text: str) -> None:
        """Send ``title`` and ``text`` (cut to Telegram's 4,096 characters)."""
        icon = _ICONS.get(kind, "\u2139\ufe0f")
        message = f"{icon} {title}\n{text}" if text else f"{icon} {title}"
        if len(message) > MAX_TEXT:
            message = message[: MAX_TEXT - 1] + "\u2026"
        url = f"{self._base}/bot{self._token}/sendMessage"
        import requests

        try:
            response = self._session.post(
                url,
                json={"chat_id": self.chat_id, "text": message, "disable_web_page_preview": True},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise NotifierError(
                f"telegram: request failed: {self._scrub(str(exc))}", retryable=True
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if response.status_code == 200 and body.get("ok", False):
            return
        description = self._scrub(str(body.get("description") or response.reason))
        status = response.status_code
        retry_after = _retry_after(body) if status == 429 else None
        raise NotifierError(
            f"telegram: sendMessage answered {status}: {description}",
            hint=None if status >= 500 or status == 429 else _hint(status),
            retryable=status == 429 or status >= 500,
            retry_after=retry_after,
        )

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _retry_after(body: dict[str, Any]) -> float | None:
    params = body.get("parameters")
    value = params.get("retry_after") if isinstance(params, dict) else None
    if isinstance(value, int | float) and value >= 0:
        return min(float(value), _RETRY_AFTER_CAP_S)
    return None


def _hint(status: int) -> str:
    if status in {401, 404}:
        return "the bot token was refused: paste it again in Settings -> Telegram"
    if status == 403:
        return "open the chat with the bot and press Start (or add the bot to the group)"
    return "check the chat id in Settings -> Telegram"
