"""``stom data download``: OHLCV history from an exchange through ccxt, with a progress bar."""

from __future__ import annotations

from datetime import UTC, datetime

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from stom_desktop.bootstrap import build_app
from stom_desktop.cli.render import fmt_ts, out
from stom_desktop.core.errors import ConfigurationError


def _parse_day(value: str, option: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigurationError(
            f"{value!r} is not a date (use 2024-01-01 or 2024-01-01T09:00+09:00)", key=option
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def download(
    exchange: str = typer.Option(
        "binance", "--exchange", "-e", help="binance | binanceusdm | upbit"
    ),
    symbol: str = typer.Option(..., "--symbol", "-s", help="ccxt symbol: BTC/USDT, BTC/USDT:USDT"),
    timeframe: str = typer.Option("1m", "--timeframe", "-t", help="1m, 5m, 1h, 1d ..."),
    since: str = typer.Option(..., "--since", help="first day (UTC unless an offset is given)"),
    until: str | None = typer.Option(None, "--until", help="end, exclusive (default: now)"),
) -> None:
    """Download bars page by page; rerun to resume after the last stored bar."""
    start = _parse_day(since, "--since")
    end = None if until is None else _parse_day(until, "--until")
    ctx = build_app()
    try:
        # Imported here: ccxt costs ~0.5 s, which no other `stom` command should pay.
        from stom_desktop.services.download_service import DownloadService

        service = DownloadService(ctx.database)
        with Progress(
            TextColumn(f"{exchange} {symbol} {timeframe}"),
            BarColumn(),
            TextColumn("{task.completed:,} / {task.total:,} bars"),
            TimeRemainingColumn(),
            console=out,
        ) as bar:
            task = bar.add_task("download", total=None)

            def progress(done: int, total: int, _last: int | None) -> None:
                bar.update(task, completed=done, total=total)

            report = service.download(exchange, symbol, timeframe, start, end, progress=progress)
        tz = ctx.settings.timezone
        resumed = "" if report.resumed_from is None else " (resumed)"
        out.print(
            f"stored {report.bars:,} bars in {report.pages} pages{resumed}: "
            f"{fmt_ts(report.first_ts, tz)} .. {fmt_ts(report.last_ts, tz)}",
            highlight=False,
        )
    finally:
        ctx.close()
