"""``stom data import|generate|list|delete``: market data in and out of the database."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from stom_desktop.bootstrap import build_app
from stom_desktop.cli import download_cmd
from stom_desktop.cli.render import fmt_ts, out
from stom_desktop.services.data_service import ImportReport

app = typer.Typer(help="Import, download, generate and list stored OHLCV bars.")
app.command("download")(download_cmd.download)


def _print_report(report: ImportReport, tz: str) -> None:
    out.print(
        f"stored {report.rows:,} {report.timeframe} bars for [bold]{report.symbol}[/] "
        f"from {report.source}\n  {fmt_ts(report.first_ts, tz)} .. {fmt_ts(report.last_ts, tz)}",
        highlight=False,
    )
    for warning in report.warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)


@app.command("import")
def import_(
    file: Path = typer.Argument(..., help="CSV file (pandas, Yahoo, Binance, Kiwoom, MT4...)"),
    symbol: str = typer.Option(..., "--symbol", "-s", help="symbol to store the bars under"),
    timeframe: str = typer.Option("1d", "--timeframe", "-t", help="1m, 5m, 1h, 1d ..."),
    tz: str | None = typer.Option(
        None,
        "--tz",
        help="time zone of dates without an offset (default: the exchange zone in settings)",
    ),
    replace: bool = typer.Option(False, "--replace", help="overwrite bars already stored"),
) -> None:
    """Validate a CSV file completely, then store it in one transaction (all or nothing)."""
    ctx = build_app()
    try:
        zone = tz if tz is not None else ctx.settings.timezone
        report = ctx.data.import_csv(file, symbol, timeframe, tz=zone, replace=replace)
        _print_report(report, ctx.settings.timezone)
    finally:
        ctx.close()


@app.command("generate")
def generate(
    symbol: str = typer.Option("SIM", "--symbol", "-s"),
    timeframe: str = typer.Option("1m", "--timeframe", "-t"),
    bars: int = typer.Option(100_000, "--bars", "-n", help="number of bars"),
    seed: int = typer.Option(42, "--seed", help="same seed, same market"),
    replace: bool = typer.Option(False, "--replace", help="overwrite bars already stored"),
) -> None:
    """Generate a deterministic synthetic market and store it."""
    ctx = build_app()
    try:
        report = ctx.data.generate(symbol, timeframe, bars, seed, replace=replace)
        _print_report(report, ctx.settings.timezone)
    finally:
        ctx.close()


@app.command("list")
def list_() -> None:
    """Show every stored symbol and timeframe with its bar count and range."""
    ctx = build_app()
    try:
        rows = ctx.data.list_series()
        tz = ctx.settings.timezone
        if not rows:
            out.print("no bars stored yet: try `stom data generate` or `stom data import FILE`")
            return
        table = Table(title=f"Stored bars (times in {tz})")
        for column in ("symbol", "timeframe", "bars", "first", "last"):
            table.add_column(column, justify="right" if column == "bars" else "left")
        for info in rows:
            table.add_row(
                info.symbol,
                info.timeframe,
                f"{info.count:,}",
                fmt_ts(info.first_ts, tz),
                fmt_ts(info.last_ts, tz),
            )
        out.print(table)
    finally:
        ctx.close()


@app.command("delete")
def delete(
    symbol: str = typer.Option(..., "--symbol", "-s"),
    timeframe: str = typer.Option(..., "--timeframe", "-t"),
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
) -> None:
    """Delete one stored series (asks first)."""
    if not yes:
        typer.confirm(f"Delete all {timeframe} bars of {symbol}?", abort=True)
    ctx = build_app()
    try:
        removed = ctx.data.delete(symbol, timeframe)
        out.print(f"deleted {removed:,} bars of {symbol} {timeframe}")
    finally:
        ctx.close()
