"""``stom replay RECORDING_ID``: a recorded market day through the same engine, 1x..100x.

Recordings come from ``stom trade --record`` (``session-<id>``). The replay runs a
strategy on the recorded quotes and trades exactly as ``stom trade`` runs it on the
simulator: same engine, PaperBroker, risk and journal, with the same live table and report.
"""

from __future__ import annotations

from decimal import Decimal

import typer
from rich.table import Table

from stom_desktop.bootstrap import build_app
from stom_desktop.cli.render import fmt_ts, out
from stom_desktop.cli.trade_cmd import parse_duration, run_and_report
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.services.strategy_service import parse_param_pairs
from stom_desktop.services.trading_spec import SessionSpec

MAX_SPEED = 100.0


def replay(
    recording_id: str = typer.Argument("", help="recording id (see --list)"),
    strategy: str = typer.Option("sma_cross", "--strategy", "-s", help="strategy to run"),
    speed: float = typer.Option(10.0, "--speed", help="1..100 (x real time); 0 = max"),
    symbols: str | None = typer.Option(None, "--symbols", help="default: all recorded"),
    mode: str = typer.Option("paper", "--mode", help="paper | dry_run"),
    timeframe: str = typer.Option("1m", "--timeframe", "-t", help="bar timeframe"),
    param: list[str] = typer.Option([], "--param", "-p", help="strategy parameter NAME=VALUE"),
    cash: float = typer.Option(10_000_000, "--cash", help="initial cash of the session"),
    duration: str | None = typer.Option(None, "--duration", help="wall-clock limit, e.g. 5m"),
    live_table: bool = typer.Option(True, "--live/--no-live", help="live table on a terminal"),
    list_only: bool = typer.Option(False, "--list", help="list the stored recordings"),
) -> None:
    """Replay a recorded day through the engine at 1x..100x with a strategy, then report."""
    if list_only or not recording_id:
        _list_recordings()
        return
    if not (speed == 0 or 1.0 <= speed <= MAX_SPEED):
        raise ConfigurationError(f"must be 1..100 or 0 (max), got {speed:g}", key="--speed")
    ctx = build_app()
    try:
        available = ctx.trading.recording_symbols(recording_id)
    finally:
        ctx.close()
    if not available:
        raise ConfigurationError(
            f"no recording {recording_id!r}", key="recording_id", hint="`stom replay --list`"
        )
    chosen = tuple(symbols.split(",")) if symbols else tuple(available)
    spec = SessionSpec(
        name=f"replay-{recording_id}"[:128],
        strategy=strategy,
        symbols=chosen,
        mode=mode,
        timeframe=timeframe,
        params=dict(parse_param_pairs(param)),
        feed="replay",
        recording=recording_id,
        speed=speed,
        initial_cash=Decimal(str(cash)),
    )
    run_and_report(spec, parse_duration(duration), live_table, liquidate=False)


def _list_recordings() -> None:
    ctx = build_app()
    try:
        recordings = ctx.trading.recordings()
        tz = ctx.settings.timezone
    finally:
        ctx.close()
    if not recordings:
        out.print("no recordings yet: `stom trade sma_cross --record` makes one")
        return
    table = Table(title="recordings")
    for col in ("id", "ticks", "symbols", "from", "to"):
        table.add_column(col)
    for r in recordings:
        table.add_row(
            r.recording_id,
            f"{r.ticks:,}",
            str(r.symbols),
            fmt_ts(r.first_ts, tz),
            fmt_ts(r.last_ts, tz),
        )
    out.print(table)
