"""``stom strategy list|show``: what strategies are available."""

from __future__ import annotations

import typer
from rich.table import Table

from stom_desktop.bootstrap import build_app
from stom_desktop.cli.render import out

app = typer.Typer(help="List and inspect strategies (bundled and in the user folder).")


@app.command("list")
def list_() -> None:
    """Every strategy file with its parameters; broken files show their error."""
    ctx = build_app()
    table = Table(title=f"Strategies (user folder: {ctx.strategies.search_dirs[0]})")
    for column in ("name", "direction", "parameters (default [low..high])", "description"):
        table.add_column(column)
    for info in ctx.strategies.list():
        if not info.ok:
            table.add_row(info.name, "", f"[red]{info.error}[/]", str(info.path))
            continue
        params = ", ".join(
            f"{name}={spec.default} [{spec.low}..{spec.high}]" for name, spec in info.params.items()
        )
        table.add_row(info.name, info.direction, params, info.doc)
    out.print(table)
