"""``stom account list|set|delete``: exchange API keys in the OS keyring, without a screen.

The same AccountService as Settings -> Accounts. Keys are read with hidden prompts (or
two lines of stdin with ``--stdin``), never as command-line arguments, which would end
up in the shell history and in ``ps``. Only masked values are ever printed.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.table import Table

from stom_desktop.bootstrap import build_app
from stom_desktop.core.errors import ConfigurationError

app = typer.Typer(help="Exchange API keys in the OS keyring (list, set, delete).")
_out = Console()
EXCHANGES = ("binance", "binanceusdm", "upbit")


@app.command("list")
def list_accounts() -> None:
    """Stored accounts with masked keys, and the keyring backend in use."""
    accounts = build_app().accounts
    status = accounts.backend_status()
    table = Table(title=f"Accounts (keyring: {status.name})")
    for column in ("name", "exchange", "api key", "secret", "complete"):
        table.add_column(column)
    for info in accounts.list_accounts():
        table.add_row(
            info.name,
            info.exchange or "-",
            info.api_key_masked,
            info.secret_masked,
            "yes" if info.complete else "NO",
        )
    _out.print(table)
    if status.warning:
        _out.print(f"[yellow]warning:[/] {status.warning}", highlight=False)


@app.command("set")
def set_account(
    name: str = typer.Argument(..., help="account name, e.g. binance-main"),
    exchange: str = typer.Option(..., "--exchange", help=" | ".join(EXCHANGES)),
    stdin: bool = typer.Option(
        False, "--stdin", help="read the API key, then the secret, one per line from stdin"
    ),
    allow_insecure: bool = typer.Option(
        False, "--allow-insecure", help="store even in a plain-text keyring (keyrings.alt)"
    ),
) -> None:
    """Store (or replace) an account's API key and secret in the keyring."""
    if exchange not in EXCHANGES:
        raise ConfigurationError(
            f"unknown exchange {exchange!r}; expected one of {', '.join(EXCHANGES)}",
            key="--exchange",
        )
    if stdin:
        api_key, secret = sys.stdin.readline().strip(), sys.stdin.readline().strip()
    else:
        api_key = typer.prompt("API key", hide_input=True)
        secret = typer.prompt("Secret", hide_input=True)
    info = build_app().accounts.set_account(
        name, api_key, secret, exchange=exchange, allow_insecure=allow_insecure
    )
    _out.print(f"account {info.name} ({info.exchange}) stored: key {info.api_key_masked}")


@app.command("delete")
def delete_account(
    name: str = typer.Argument(..., help="account name"),
    yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation"),
) -> None:
    """Remove an account and its secrets from the keyring."""
    if not yes and not typer.confirm(f"Delete account {name} and its keys from the keyring?"):
        raise typer.Exit(1)
    build_app().accounts.delete_account(name)
    _out.print(f"account {name} deleted")
