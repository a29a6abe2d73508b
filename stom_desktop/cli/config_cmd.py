"""``stom config show|set``: read and change the typed settings."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from stom_desktop.config import app_paths, load_settings, set_setting

app = typer.Typer(help="Show or change settings (file in the user config dir, STOM_* env).")
_out = Console()


def _flatten(prefix: str, value: object, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, inner, rows)
    else:
        rows.append((prefix, json.dumps(value, default=str)))


@app.command("show")
def show(
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Print every setting with its current value."""
    settings = load_settings()
    data = settings.model_dump(mode="json")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    rows: list[tuple[str, str]] = []
    _flatten("", data, rows)
    table = Table(title=f"Settings ({app_paths().settings_file})")
    table.add_column("key")
    table.add_column("value")
    for key, value in rows:
        table.add_row(key, value)
    _out.print(table)
    _out.print(f"database in use: {settings.resolved_database_url()}", highlight=False)


@app.command("set", context_settings={"ignore_unknown_options": True})
def set_(
    key: str = typer.Argument(..., help="dotted key, e.g. backtest.fee_pct or timezone"),
    value: str = typer.Argument(..., help="new value (JSON for numbers/lists; '' to clear)"),
) -> None:
    """Validate and save one setting; nothing is written if the value is invalid."""
    settings = set_setting(key, value)
    current: object = settings.model_dump(mode="json")
    for part in key.split("."):
        assert isinstance(current, dict)
        current = current[part]
    _out.print(
        f"{key} = {json.dumps(current)}  (saved to {app_paths().settings_file})", highlight=False
    )
