"""``stom optimize``: grid search on all cores, or walk-forward analysis, saved to the DB."""

from __future__ import annotations

import json
import math

import typer
from rich.table import Table

from stom_desktop.backtest.optimize import KEY_METRICS, OptimizationResult
from stom_desktop.backtest.walkforward import WalkForwardResult
from stom_desktop.bootstrap import build_app
from stom_desktop.cli.backtest_cmd import format_metric
from stom_desktop.cli.options import date_range_ms
from stom_desktop.cli.render import err, fmt_ts, out, progress_bar
from stom_desktop.services.backtest_service import BacktestRequest
from stom_desktop.services.optimize_service import OptimizeRequest

#: Narrow headers so the best-rows table fits an 80-column terminal.
_SHORT = {
    "total_return": "return",
    "max_drawdown": "max dd",
    "win_rate": "win",
    "profit_factor": "PF",
    "num_trades": "trades",
    "final_equity": "final",
}


def _cell(name: str, value: object) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        if name == "final_equity" or (name in {"sharpe", "sortino", "calmar", "profit_factor"}):
            return "n/a" if math.isnan(value) else f"{value:,.2f}"
        return format_metric(name, value)
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _print_grid(result: OptimizationResult, run_id: int, top: int) -> None:
    table = Table(
        title=(
            f"{result.strategy}: best {min(top, result.n_evaluated)} of {result.n_evaluated} "
            f"by {result.metric} (run #{run_id}, {result.elapsed:.2f} s, "
            f"{result.workers} worker{'s' if result.workers > 1 else ''})"
        )
    )
    columns = [*result.param_columns, *KEY_METRICS]
    for column in columns:
        table.add_column(_SHORT.get(column, column), justify="right")
    for row in result.top(top).to_dict(orient="records"):
        table.add_row(*(_cell(c, row[c]) for c in columns))
    out.print(table)
    if result.n_failed:
        err.print(f"[yellow]{result.n_failed} parameter set(s) failed; see the saved run[/]")
    if result.cancelled:
        err.print("[yellow]cancelled: results cover the sets finished so far[/]")
    out.print(f"best: {result.best_params}", highlight=False)


def _print_walk_forward(result: WalkForwardResult, run_id: int, tz: str) -> None:
    table = Table(
        title=(
            f"{result.strategy} walk-forward {result.in_sample}/{result.out_of_sample} "
            f"by {result.metric} (run #{run_id}, {result.elapsed:.2f} s)"
        )
    )
    rows = result.windows.to_dict(orient="records")
    fixed = {"window", "is_start", "is_end", "oos_start", "oos_end", "is_bars", "oos_bars"}
    extra = [c for c in result.windows.columns if c not in fixed]
    for column in ("window", "out-of-sample", *extra):
        table.add_column(str(column), justify="right")
    for row in rows:
        oos = (
            f"{fmt_ts(int(row['oos_start'].timestamp() * 1000), tz)[:10]}.."
            f"{fmt_ts(int(row['oos_end'].timestamp() * 1000), tz)[:10]}"
        )
        table.add_row(str(row["window"]), oos, *(_cell(str(c), row[c]) for c in extra))
    out.print(table)
    summary = Table(title="Stitched out-of-sample result")
    summary.add_column("metric")
    summary.add_column("value", justify="right")
    for name, value in result.metrics.as_dict().items():
        summary.add_row(name, format_metric(name, value))
    out.print(summary)


def optimize(
    strategy: str = typer.Argument(..., help="strategy name or path"),
    symbol: str = typer.Option(..., "--symbol", "-s"),
    timeframe: str = typer.Option("1d", "--timeframe", "-t"),
    start: str | None = typer.Option(None, "--start"),
    end: str | None = typer.Option(None, "--end"),
    param: list[str] = typer.Option(
        [], "--param", "-p", help="NAME=START:STOP:STEP, NAME=A,B,C or NAME=VALUE"
    ),
    constraint: list[str] = typer.Option([], "--constraint", help='e.g. "fast<slow"'),
    metric: str = typer.Option("sharpe", "--metric", "-m", help="metric to rank by"),
    minimize: bool = typer.Option(False, "--minimize", help="lower is better for --metric"),
    walk_forward_spec: str | None = typer.Option(
        None, "--walk-forward", help="IN/OUT window lengths, e.g. 6m/1m or 5000b/1000b"
    ),
    workers: int | None = typer.Option(None, "--workers", help="threads (default: all cores)"),
    initial_capital: float | None = typer.Option(None, "--initial-capital", "--capital"),
    fee: float | None = typer.Option(None, "--fee"),
    slippage_bps: float | None = typer.Option(None, "--slippage-bps"),
    whole_units: bool = typer.Option(False, "--whole-units"),
    top: int = typer.Option(10, "--top", help="rows to print"),
    output: str = typer.Option("table", "--output", "-o", help="table or json"),
) -> None:
    """Grid-search STRATEGY's parameters on all cores (or walk-forward) and save every row."""
    if output not in {"table", "json"}:
        raise typer.BadParameter("use table or json", param_hint="--output")
    ctx = build_app()
    try:
        tz = ctx.settings.timezone
        start_ms, end_ms = date_range_ms(start, end, tz)
        request = OptimizeRequest(
            base=BacktestRequest(
                strategy=strategy,
                symbol=symbol,
                timeframe=timeframe,
                start_ms=start_ms,
                end_ms=end_ms,
                initial_capital=initial_capital,
                fee_pct=fee,
                slippage_bps=slippage_bps,
                fractional=False if whole_units else None,
            ),
            specs=tuple(param),
            constraints=tuple(constraint),
            metric=metric,
            maximize=False if minimize else None,
            workers=workers,
            walk_forward=walk_forward_spec,
        )
        with progress_bar(f"optimize {strategy}", enabled=output == "table") as update:
            saved = ctx.optimizer.run(request, progress=update)
        if output == "json":
            data: dict[str, object] = {"run_id": saved.run_id, "grid_size": saved.grid_size}
            if saved.grid is not None:
                data["best_params"] = saved.grid.best_params
                data["rows"] = saved.grid.records()
            if saved.walk_forward is not None:
                wf = saved.walk_forward
                data["windows"] = json.loads(
                    wf.windows.to_json(orient="records", date_format="iso")
                )
                data["oos_metrics"] = wf.metrics.as_dict()
            typer.echo(json.dumps(data, indent=2, default=str))
        elif saved.grid is not None:
            _print_grid(saved.grid, saved.run_id, top)
        elif saved.walk_forward is not None:
            _print_walk_forward(saved.walk_forward, saved.run_id, tz)
    finally:
        ctx.close()
