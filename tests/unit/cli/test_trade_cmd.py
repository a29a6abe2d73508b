"""``stom trade``, ``stom order`` and ``stom replay`` through Typer's runner on a temporary home."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from stom_desktop.cli import replay_cmd, trade_cmd
from stom_desktop.core.errors import ConfigurationError

runner = CliRunner()
app = typer.Typer()
app.command("trade")(trade_cmd.trade)
app.command("order")(trade_cmd.order)
app.command("replay")(replay_cmd.replay)


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


def test_parse_duration() -> None:
    assert trade_cmd.parse_duration("90") == 90.0
    assert trade_cmd.parse_duration("5m") == 300.0
    assert trade_cmd.parse_duration("1h30m") == 5400.0
    assert trade_cmd.parse_duration(None) is None
    with pytest.raises(ConfigurationError, match="cannot read duration"):
        trade_cmd.parse_duration("5 minutes")
    with pytest.raises(ConfigurationError, match="> 0"):
        trade_cmd.parse_duration("0s")


def test_trade_prints_fills_and_a_report_then_replay_repeats_it(stom_home: Path) -> None:
    args = ["trade", "sma_cross", "--symbols", "SIM1,SIM2", "--speed", "0"]
    args += ["--market-duration", "3h", "--no-live", "--record", "-p", "fast=5", "-p", "slow=20"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "session 1: buy" in flat(result.stdout) and "session 1 report" in flat(result.stdout)
    saved = json.loads((stom_home / "data" / "reports" / "session-1.json").read_text())
    assert saved["fills"] >= 4 and len(saved["trades"]) >= 2
    assert "daily report" in flat(result.stdout)
    listed = runner.invoke(app, ["replay", "--list"])
    assert listed.exit_code == 0 and "session-1" in flat(listed.stdout)
    again = runner.invoke(
        app,
        ["replay", "session-1", "--speed", "0", "--no-live", "-p", "fast=5", "-p", "slow=20"],
    )
    assert again.exit_code == 0, again.output
    replayed = json.loads((stom_home / "data" / "reports" / "session-2.json").read_text())
    assert replayed["trades"] == saved["trades"]


def test_live_mode_and_bad_replay_speed_are_refused() -> None:
    live = runner.invoke(app, ["trade", "sma_cross", "--mode", "live"])
    assert isinstance(live.exception, ConfigurationError)
    assert "not confirmed" in str(live.exception)
    assert "--i-understand-real-money" in str(live.exception)
    fast = runner.invoke(app, ["replay", "x", "--speed", "500"])
    assert isinstance(fast.exception, ConfigurationError) and "1..100" in str(fast.exception)
    missing = runner.invoke(app, ["replay", "nope"])
    assert isinstance(missing.exception, ConfigurationError)


def test_dry_run_sends_nothing(stom_home: Path) -> None:
    args = ["trade", "sma_cross", "--dry-run", "--speed", "0", "--market-duration", "3h"]
    result = runner.invoke(app, [*args, "--no-live", "-p", "fast=5", "-p", "slow=20"])
    assert result.exit_code == 0, result.output
    assert "intended orders logged, nothing was sent" in flat(result.stdout)
    saved = json.loads((stom_home / "data" / "reports" / "session-1.json").read_text())
    assert saved["mode"] == "dry_run" and saved["intended_orders"] > 0


def test_order_runs_on_a_temporary_paper_session() -> None:
    bought = runner.invoke(app, ["order", "buy", "SIM1", "10", "--wait", "5s"])
    assert bought.exit_code == 0, bought.output
    assert "temporary paper session" in flat(bought.stderr)
    assert "accepted: order stom-s1-000001" in flat(bought.stdout)
    assert "buy 10 SIM1" in flat(bought.stdout) and "position SIM1 10" in flat(bought.stdout)
    # a fresh temporary account holds nothing: the paper venue refuses the sell
    sold = runner.invoke(app, ["order", "sell", "SIM1", "10", "--wait", "2s"])
    assert sold.exit_code == 1 and "refused (paper.insufficient_funds)" in flat(sold.stdout)
