"""``stom notify telegram status|set-token|clear-token|enable|disable|test``.

The same NotificationService the tray's Settings window uses. The bot token is read with a
hidden prompt (or from stdin with ``--stdin``), never as a command-line argument: arguments
end up in the shell history and in ``ps``.
"""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console

from stom_desktop.bootstrap import build_app
from stom_desktop.config import app_paths, set_setting
from stom_desktop.services.notification_service import NotificationService

app = typer.Typer(help="Notifications outside the desktop (Telegram).")
telegram = typer.Typer(help="Telegram: bot token in the keyring, chat id and switches in settings.")
app.add_typer(telegram, name="telegram")
_out = Console()


def _service() -> NotificationService:
    return build_app().notifications


@telegram.command("status")
def status() -> None:
    """Show whether Telegram is on, the chat id, and whether a token is stored."""
    service = _service()
    st = service.status()
    cfg = service.settings
    kinds = [k for k in ("fills", "errors", "daily_report") if getattr(cfg, f"telegram_{k}")]
    _out.print(f"telegram: {'on' if st.enabled else 'off'} ({', '.join(kinds) or 'no kinds'})")
    _out.print(f"chat id: {st.chat_id or '(not set)'}", highlight=False)
    _out.print(f"bot token: {'stored in the keyring' if st.token_stored else 'not set'}")
    _out.print(f"keyring: {st.backend}", highlight=False)
    if st.backend_warning:
        _out.print(f"[yellow]warning:[/] {st.backend_warning}", highlight=False)
    _out.print(f"Bot API: {cfg.telegram_api_url}", highlight=False)


@telegram.command("set-token")
def set_token(
    stdin: bool = typer.Option(False, "--stdin", help="read the token from standard input"),
    allow_insecure: bool = typer.Option(
        False, "--allow-insecure", help="store even in a plain-text keyring (keyrings.alt)"
    ),
) -> None:
    """Store the bot token (from @BotFather) in the keyring; prompts without echo."""
    token = sys.stdin.readline().strip() if stdin else typer.prompt("Bot token", hide_input=True)
    _service().set_token(token, allow_insecure=allow_insecure)
    _out.print("bot token stored in the keyring")


@telegram.command("clear-token")
def clear_token() -> None:
    """Remove the bot token from the keyring."""
    removed = _service().clear_token()
    _out.print("bot token removed" if removed else "no bot token was stored")


@telegram.command("enable")
def enable(
    chat_id: str = typer.Option(None, "--chat-id", help="chat to send to (number or @channel)"),
) -> None:
    """Switch Telegram notifications on (optionally setting the chat id)."""
    if chat_id is not None:
        # JSON-quoted: a numeric chat id stays text (set_setting parses JSON values).
        set_setting("notifications.telegram_chat_id", json.dumps(chat_id.strip()))
    settings = set_setting("notifications.telegram", "true")
    chat = settings.notifications.telegram_chat_id
    _out.print(
        f"telegram notifications on, chat {chat or '(not set: use --chat-id)'} "
        f"(saved to {app_paths().settings_file})",
        highlight=False,
    )


@telegram.command("disable")
def disable() -> None:
    """Switch Telegram notifications off (the token stays in the keyring)."""
    set_setting("notifications.telegram", "false")
    _out.print("telegram notifications off")


@telegram.command("test")
def test(
    chat_id: str = typer.Option(None, "--chat-id", help="send to this chat instead"),
) -> None:
    """Send a test message now and say whether it arrived at Telegram."""
    _out.print(_service().send_test(chat_id=chat_id), highlight=False)
