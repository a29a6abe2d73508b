"""``stom run`` (what ``make run`` starts), ``stom tray`` and ``stom quickstart``.

``stom run`` starts the tray application when there is a display, and otherwise says so
and runs the headless scheduler (``--demo``: the two-minute demo day). ``stom quickstart``
is the research loop on the built-in data: make sure the demo market exists (a
deterministic synthetic ``SIM`` 1m series), backtest the example strategy, print the report.
"""

from __future__ import annotations

import os
import sys

import typer

from stom_desktop.bootstrap import build_app
from stom_desktop.cli.backtest_cmd import print_result
from stom_desktop.cli.headless import run_headless
from stom_desktop.cli.render import err, out, progress_bar
from stom_desktop.services.backtest_service import BacktestRequest

DEMO_SYMBOL = "SIM"
DEMO_TIMEFRAME = "1m"
DEMO_BARS = 200_000
DEMO_SEED = 42
DEMO_STRATEGY = "sma_cross"


def has_display() -> bool:
    """Whether a desktop session is there to show a tray icon in."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def tray() -> None:
    """Start the tray application (replaces this process; the tray imports little first)."""
    os.execv(sys.executable, [sys.executable, "-m", "stom_desktop.gui"])


def run(
    headless: bool = typer.Option(
        False, "--headless", help="scheduler and engine without a GUI (servers, VPS)"
    ),
    demo: bool = typer.Option(
        False, "--demo", help="schedule a demo day starting now: the whole cycle in ~2 minutes"
    ),
) -> None:
    """Run STOM Desktop: the tray on a desktop, the headless scheduler elsewhere."""
    if not headless and has_display():
        tray()
        return
    if not headless:
        err.print("no display (DISPLAY/WAYLAND_DISPLAY unset): running the headless demo day")
        demo = True
    raise typer.Exit(run_headless(demo=demo))


def quickstart() -> None:
    """Generate the demo market if needed, backtest the example strategy, print the report."""
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
