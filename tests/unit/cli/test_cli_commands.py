"""The ``stom`` commands end to end through Typer's runner, on a temporary STOM_HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stom_desktop.cli.app import app
from stom_desktop.core.errors import ConfigurationError, DataError, StrategyError

runner = CliRunner()


def invoke(*args: str) -> object:
    return runner.invoke(app, list(args), catch_exceptions=True)


def test_config_show_and_set_roundtrip(stom_home: Path) -> None:
    result = invoke("config", "set", "backtest.fee_pct", "0.0015")
    assert result.exit_code == 0, result.output
    saved = json.loads((stom_home / "config" / "settings.json").read_text())
    assert saved == {"backtest": {"fee_pct": 0.0015}}
    shown = invoke("config", "show", "--json")
    assert json.loads(shown.stdout)["backtest"]["fee_pct"] == 0.0015


def test_config_set_invalid_value_names_key_and_writes_nothing(stom_home: Path) -> None:
    result = invoke("config", "set", "backtest.fee_pct", "-0.5")
    assert isinstance(result.exception, ConfigurationError)
    assert "backtest.fee_pct" in str(result.exception)
    assert not (stom_home / "config" / "settings.json").exists()


def test_config_set_unknown_key(stom_home: Path) -> None:
    result = invoke("config", "set", "risk.max_bananas", "3")
    assert isinstance(result.exception, ConfigurationError)
    assert "risk.max_bananas" in str(result.exception)
    assert "max_open_positions" in str(result.exception)


def test_generate_list_backtest_json(stom_home: Path) -> None:
    gen = invoke("data", "generate", "--symbol", "SIM", "--timeframe", "1h", "--bars", "3000")
    assert gen.exit_code == 0, gen.output
    assert "stored 3,000 1h bars" in gen.stdout
    listed = invoke("data", "list")
    assert "SIM" in listed.stdout and "3,000" in listed.stdout
    result = invoke(
        "backtest", "sma_cross", "--symbol", "SIM", "--timeframe", "1h",
        "--capital", "50000", "--fee", "0.001", "--param", "fast=5", "--param", "slow=40",
        "--output", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["params"]["fast"] == 5 and data["params"]["slow"] == 40
    assert data["config"]["initial_capital"] == 50000
    assert data["metrics"]["num_trades"] > 0
    assert len(data["trades"]) == data["metrics"]["num_trades"] + data["metrics"]["open_trades"]
    assert data["run_id"] >= 1


def test_backtest_positional_dates_limit_the_range(stom_home: Path) -> None:
    invoke("data", "generate", "--symbol", "SIM", "--timeframe", "1d", "--bars", "400")
    result = invoke(
        "backtest", "sma_cross", "2024-02-01", "2024-06-30", "--symbol", "SIM",
        "--timeframe", "1d", "--output", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    # Times are read in the exchange zone (Asia/Seoul); the last day is inclusive.
    assert data["start"].startswith("2024-01-31T15:00") or data["start"].startswith("2024-02-01")
    assert data["bars"] == 151


def test_backtest_table_output(stom_home: Path) -> None:
    invoke("data", "generate", "--symbol", "SIM", "--timeframe", "1h", "--bars", "2000")
    result = invoke("backtest", "sma_cross", "--symbol", "SIM", "--timeframe", "1h")
    assert result.exit_code == 0, result.output
    assert "sharpe" in result.stdout and "max_drawdown" in result.stdout
    assert "Trades:" in result.stdout


def test_backtest_unknown_symbol_is_a_clear_error(stom_home: Path) -> None:
    result = invoke("backtest", "sma_cross", "--symbol", "NOPE", "--timeframe", "1d")
    assert isinstance(result.exception, DataError)
    assert "NOPE" in str(result.exception)


def test_backtest_bad_param_is_named(stom_home: Path) -> None:
    invoke("data", "generate", "--symbol", "SIM", "--timeframe", "1d", "--bars", "300")
    result = invoke("backtest", "sma_cross", "--symbol", "SIM", "--param", "fast=abc")
    assert isinstance(result.exception, StrategyError)
    assert "fast" in str(result.exception)
    result = invoke("backtest", "sma_cross", "--symbol", "SIM", "--param", "fast=40")
    assert isinstance(result.exception, StrategyError)
    assert "fast < slow" in str(result.exception)


def test_import_bad_csv_names_file_and_line_and_stores_nothing(
    stom_home: Path, tmp_path: Path
) -> None:
    good = "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,100\n"
    bad = good + "2024-01-03,10,9,11,10,100\n"  # high < low on line 3
    path = tmp_path / "bad.csv"
    path.write_text(bad)
    result = invoke("data", "import", str(path), "--symbol", "ABC", "--timeframe", "1d")
    assert isinstance(result.exception, DataError)
    assert f"{path}:3" in str(result.exception)
    listed = invoke("data", "list")
    assert "no bars stored" in listed.stdout


def test_import_good_csv(stom_home: Path, tmp_path: Path) -> None:
    path = tmp_path / "good.csv"
    path.write_text("date,open,high,low,close\n2024-01-02,10,11,9,10.5\n2024-01-03,10,12,9,11\n")
    result = invoke("data", "import", str(path), "--symbol", "ABC", "--timeframe", "1d")
    assert result.exit_code == 0, result.output
    assert "stored 2 1d bars for ABC" in result.stdout
    assert "warning:" in result.stdout  # no volume column


def test_strategy_list_shows_bundled(stom_home: Path) -> None:
    result = invoke("strategy", "list")
    assert result.exit_code == 0, result.output
    for name in ("sma_cross", "rsi_reversion", "donchian_breakout"):
        assert name in result.stdout


@pytest.mark.slow
def test_console_script_exit_code_and_message(stom_home: Path) -> None:
    """The real entry point prints one clear line for user errors and exits with 2."""
    env = {**os.environ, "STOM_HOME": str(stom_home)}
    proc = subprocess.run(
        [sys.executable, "-m", "stom_desktop", "config", "set", "timezone", "Mars/Base"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "setting 'timezone'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_quickstart_generates_demo_market_and_backtests_it(stom_home: Path) -> None:
    result = invoke("quickstart")
    assert result.exit_code == 0, result.output
    assert "generated the demo market: 200,000 1m bars of SIM" in result.stdout
    assert "sma_cross(fast=10, slow=30" in result.stdout
    again = invoke("quickstart")  # the second run reuses the stored market
    assert again.exit_code == 0, again.output
    assert "generated the demo market" not in again.stdout
