"""``stom backtest``: run one strategy over stored bars and print metrics and trades."""

from __future__ import annotations

import json
import math

import typer
from rich.table import Table

from stom_desktop.backtest.result import BacktestResult
from stom_desktop.bootstrap import build_app
from stom_desktop.cli.options import date_range_ms
from stom_desktop.cli.render import err, fmt_ts, out, progress_bar
from stom_desktop.services.backtest_service import BacktestRequest
from stom_desktop.services.strategy_service import parse_param_pairs

_PERCENT = {
    "total_return",
    "cagr",
    "volatility",
    "max_drawdown",
    "win_rate",
    "avg_trade_return",
    "best_trade_return",
    "worst_trade_return",
    "exposure",
}


def format_metric(name: str, value: float | int) -> str:
    """A metric as people read it: fractions as percent, durations in days, n/a for NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return "inf" if value == math.inf else "n/a"
    if name == "max_drawdown_ms":
        return f"{value / 86_400_000:,.1f} days"
    if name in _PERCENT:
        return f"{value * 100:,.2f}%"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.4f}" if abs(value) < 1000 else f"{value:,.2f}"


def print_result(result: BacktestResult, run_id: int, tz: str, max_trades: int = 10) -> None:
    """Metrics table and the first/last trades, in the exchange's time zone."""
    params = ", ".join(f"{k}={v}" for k, v in result.params.items())
    title = f"{result.strategy}({params}) on {result.symbol} {result.timeframe} (run #{run_id})"
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in result.metrics.as_dict().items():
        table.add_row(name, format_metric(name, value))
    out.print(table)
    trades = result.trades
    if trades.empty:
        out.print("no trades")
        return
    shown = trades if len(trades) <= max_trades else trades.tail(max_trades)
    ttable = Table(title=f"Trades: {len(trades):,} (last {len(shown)} shown, times in {tz})")
    for column in ("entry", "exit", "side", "size", "entry px", "exit px", "P&L", "ret"):
        ttable.add_column(
            column, justify="left" if column in {"entry", "exit", "side"} else "right"
        )
    for row in shown.to_dict("records"):
        ttable.add_row(
            fmt_ts(int(row["entry_time"].timestamp() * 1000), tz, short=True),
            "open"
            if row["is_open"]
            else fmt_ts(int(row["exit_time"].timestamp() * 1000), tz, short=True),
            str(row["direction"]),
            f"{row['size']:,.6g}",
            f"{row['entry_price']:,.6g}",
            f"{row['exit_price']:,.6g}",
            f"{row['pnl']:,.2f}",
            f"{row['return'] * 100:,.2f}%",
        )
    out.print(ttable)


def backtest(
    strategy: str = typer.Argument(..., help="strategy name (file stem) or path to a .py file"),
    start_date: str | None = typer.Argument(None, help="first day, e.g. 20240101 (exchange time)"),
    end_date: str | None = typer.Argument(None, help="last day, inclusive"),
    symbol: str = typer.Option(..., "--symbol", "-s", help="stored symbol to test on"),
    timeframe: str = typer.Option("1d", "--timeframe", "-t"),
    start: str | None = typer.Option(None, "--start", help="same as START_DATE"),
    end: str | None = typer.Option(None, "--end", help="same as END_DATE"),
    initial_capital: float | None = typer.Option(
        None, "--initial-capital", "--capital", help="starting cash (default from settings)"
    ),
    fee: float | None = typer.Option(None, "--fee", help="fee per fill, fraction (0.0015)"),
    fee_fixed: float | None = typer.Option(None, "--fee-fixed", help="fixed fee per fill"),
    slippage_bps: float | None = typer.Option(None, "--slippage-bps"),
    fill_at: str | None = typer.Option(None, "--fill-at", help="next_open (default) or close"),
    whole_units: bool = typer.Option(False, "--whole-units", help="integer sizing (stocks)"),
    size_fraction: float | None = typer.Option(None, "--size", help="fraction of equity per entry"),
    min_notional: float | None = typer.Option(None, "--min-notional"),
    param: list[str] = typer.Option([], "--param", "-p", help="strategy parameter NAME=VALUE"),
    output: str = typer.Option("table", "--output", "-o", help="table or json"),
) -> None:
    """Backtest STRATEGY on stored bars; the run is saved to the database."""
    if output not in {"table", "json"}:
        raise typer.BadParameter("use table or json", param_hint="--output")
    ctx = build_app()
    try:
        tz = ctx.settings.timezone
        start_ms, end_ms = date_range_ms(start_date or start, end_date or end, tz)
        request = BacktestRequest(
            strategy=strategy,
            symbol=symbol,
            timeframe=timeframe,
            start_ms=start_ms,
            end_ms=end_ms,
            params=parse_param_pairs(param),
            initial_capital=initial_capital,
            fee_pct=fee,
            fee_fixed=fee_fixed,
            slippage_bps=slippage_bps,
            fill_at=fill_at,
            fractional=False if whole_units else None,
            size_fraction=size_fraction,
            min_notional=min_notional,
        )
        with progress_bar(f"backtest {strategy}", enabled=output == "table") as update:
            saved = ctx.backtests.run(request, progress=update)
        if output == "json":
            data = saved.result.to_json_dict()
            data["run_id"] = saved.run_id
            typer.echo(json.dumps(data, indent=2))
        else:
            print_result(saved.result, saved.run_id, tz)
            err.print(f"computed in {saved.result.elapsed_s * 1000:.1f} ms", highlight=False)
    finally:
        ctx.close()
