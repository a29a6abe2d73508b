"""Issue 4 "done means": `stom trade sma_cross --mode paper --symbols SIM1,SIM2 ...` in a real
process shows trades happening and prints a report (as fast as possible here, bounded by
market time so the run is deterministic), and SIGTERM stops a paced session cleanly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# Until the lead mounts `trade` in cli/app.py, the subprocess mounts it itself.
LAUNCH = (
    "import sys\n"
    "from stom_desktop.cli import app as root, trade_cmd\n"
    "names = {c.name for c in root.app.registered_commands}\n"
    "if 'trade' not in names:\n"
    "    root.app.command('trade')(trade_cmd.trade)\n"
    "sys.argv = ['stom', *sys.argv[1:]]\n"
    "root.main()\n"
)


def stom(home: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, STOM_HOME=str(home), COLUMNS="200")
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_trade_command_shows_trades_and_writes_a_report(tmp_path: Path) -> None:
    proc = stom(
        tmp_path, "trade", "sma_cross", "--mode", "paper", "--symbols", "SIM1,SIM2",
        "--speed", "0", "--market-duration", "5h", "--duration", "2m",
    )  # fmt: skip
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    fill_lines = [line for line in stdout.splitlines() if "session 1: buy" in line]
    assert fill_lines, stdout  # trades happened while it ran
    assert "session 1 report: sma_cross-paper" in stdout
    report = json.loads((tmp_path / "data" / "reports" / "session-1.json").read_text())
    assert report["mode"] == "paper" and report["state"] == "stopped"
    assert report["fills"] >= 2 and len(report["trades"]) >= 1
    assert list((tmp_path / "data" / "reports").glob("daily-*.md"))


def test_sigterm_stops_a_paced_session_cleanly(tmp_path: Path) -> None:
    proc = stom(tmp_path, "trade", "sma_cross", "--symbols", "SIM1", "--speed", "60")
    deadline = time.monotonic() + 60
    sessions = tmp_path / "data" / "stom.sqlite"
    while not sessions.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3.0)  # let it start and run a little
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert "stopping the session" in stderr
    assert "session 1 report" in stdout
    report = json.loads((tmp_path / "data" / "reports" / "session-1.json").read_text())
    assert report["state"] == "stopped"
