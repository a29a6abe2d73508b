"""The ``stom`` command: Typer root that wires sub-commands and turns StomError into exit 2."""

from __future__ import annotations

import logging
import sys

import typer
from rich.console import Console

from stom_desktop.cli import (
    account_cmd,
    backtest_cmd,
    config_cmd,
    data_cmd,
    notify_cmd,
    optimize_cmd,
    replay_cmd,
    run_cmd,
    schedule_cmd,
    strategy_cmd,
    trade_cmd,
)
from stom_desktop.core.errors import StomError

app = typer.Typer(
    name="stom",
    help="STOM Desktop: backtest, optimise and run trading strategies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(data_cmd.app, name="data")
app.add_typer(strategy_cmd.app, name="strategy")
app.add_typer(notify_cmd.app, name="notify")
app.add_typer(account_cmd.app, name="account")
app.command("backtest")(backtest_cmd.backtest)
app.command("optimize")(optimize_cmd.optimize)
app.add_typer(schedule_cmd.app, name="schedule")
app.command("run")(run_cmd.run)
app.command("tray")(run_cmd.tray)
app.command("quickstart")(run_cmd.quickstart)
app.command("trade")(trade_cmd.trade)
app.command("order")(trade_cmd.order)
app.command("replay")(replay_cmd.replay)

_err = Console(stderr=True)


def main() -> None:
    """Entry point of the console script: user errors print one clear message, exit code 2."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except StomError as exc:
        _err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        _err.print("[yellow]interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
