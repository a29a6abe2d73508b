"""Headless mode as a user runs it: a subprocess with its own STOM_HOME.

The demo day (timeline compressed by STOM_DEMO_TIMESCALE) must run through the real
scheduler and trading service and exit 0 after the report; SIGTERM must stop it cleanly.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOG = Path("logs") / "stom-headless.log"
DB = Path("data") / "stom.sqlite"


def _command() -> list[str]:
    return [sys.executable, "-m", "stom_desktop", "run", "--headless", "--demo"]


def _start(home: Path, timescale: float) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOM_")}
    env.update(STOM_HOME=str(home), STOM_DEMO_TIMESCALE=str(timescale))
    return subprocess.Popen(
        _command(),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _job_runs(home: Path) -> list[tuple[str, str]]:
    conn = sqlite3.connect(home / DB, timeout=10)
    try:
        return list(conn.execute("SELECT job_id, status FROM job_runs ORDER BY id"))
    except sqlite3.OperationalError:  # the tables are not created yet
        return []
    finally:
        conn.close()


def test_headless_demo_runs_the_whole_day_and_exits(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = _start(home, timescale=0.1)  # the ~105 s day in ~11 s
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output[-3000:]
    log = (home / LOG).read_text(encoding="utf-8")
    assert "demo finished: 5 job run(s), 0 failed" in log
    assert "stopped (exit code 0)" in log
    assert "stopped (exit code 0)" in output  # also on stderr
    assert _job_runs(home) == [
        ("demo.warm_up", "ok"),
        ("demo.start", "ok"),
        ("demo.liquidate", "ok"),
        ("demo.stop", "ok"),
        ("demo.report", "ok"),
    ]
    assert list((home / "data" / "reports").glob("daily-*"))


def test_sigterm_stops_headless_cleanly(tmp_path: Path) -> None:
    home = tmp_path / "home"
    proc = _start(home, timescale=0.5)  # the session starts ~2.5 s after scheduling
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if (home / DB).exists() and ("demo.start", "ok") in _job_runs(home):
                break
            assert proc.poll() is None, "headless exited before the session started"
            time.sleep(0.1)
        else:
            pytest.fail("the demo session did not start within 60 s")
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output[-3000:]
    log_text = (home / LOG).read_text(encoding="utf-8")
    assert "received SIGTERM: stopping" in log_text
    assert "stopped (exit code 0)" in log_text
    runs = _job_runs(home)
    assert ("demo.start", "ok") in runs
    assert all(status != "running" for _, status in runs)
    conn = sqlite3.connect(home / DB, timeout=10)
    try:
        statuses = {row[0] for row in conn.execute("SELECT status FROM sessions")}
    finally:
        conn.close()
    assert statuses == {"stopped"}
