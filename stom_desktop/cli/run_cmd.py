"""``stom run``: the main job on the embedded defaults (what ``make run`` starts).

Until the tray application lands (issue 5) the main job is the research loop on the
built-in data: make sure the demo market exists (a deterministic synthetic ``SIM`` 1m
series), backtest the bundled example strategy on it and print the report.
"""

from __future__ import annotations

import typer

from stom_desktop.bootstrap import build_app
from stom_desktop.cli.backtest_cmd import print_result
from stom_desktop.cli.render import err, out, progress_bar
from stom_desktop.services.backtest_service import BacktestRequest

DEMO_SYMBOL = "SIM"
DEMO_TIMEFRAME = "1m"
DEMO_BARS = 200_000
DEMO_SEED = 42
DEMO_STRATEGY = "sma_cross"


def run(
    headless: bool = typer.Option(
        True, "--headless/--gui", help="no GUI (the tray arrives with the scheduler issue)"
    ),
) -> None:
    """Run the main job on the embedded defaults: demo data, example strategy, report."""
    if not headless:
        raise NotImplementedError(
            "the tray application is not built yet (issue 5); use `stom run --headless`"
        )
    ctx = build_app()
    try:
        stored = {(s.symbol, s.timeframe) for s in ctx.data.list_series()}
        if (DEMO_SYMBOL, DEMO_TIMEFRAME) not in stored:
            report = ctx.data.generate(DEMO_SYMBOL, DEMO_TIMEFRAME, DEMO_BARS, DEMO_SEED)
            out.print(
                f"generated the demo market: {report.rows:,} {DEMO_TIMEFRAME} bars of "
                f"{DEMO_SYMBOL} (seed {DEMO_SEED})"
            )
        request = BacktestRequest(
            strategy=DEMO_STRATEGY, symbol=DEMO_SYMBOL, timeframe=DEMO_TIMEFRAME
        )
        with progress_bar(f"backtest {DEMO_STRATEGY}") as update:
            saved = ctx.backtests.run(request, progress=update)
        print_result(saved.result, saved.run_id, ctx.settings.timezone, max_trades=5)
        err.print(
            f"database: {ctx.database.display_url}\n"
            "next: `stom optimize sma_cross --symbol SIM --timeframe 1m "
            "--param fast=5:50:5 --param slow=20:200:20`",
            highlight=False,
        )
    finally:
        ctx.close()
