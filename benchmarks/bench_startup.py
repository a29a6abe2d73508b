"""Tray start-up and GUI responsiveness: cold start, RSS, event-loop stalls under load.

1. **Start-up** (fresh subprocess each run, ``python -m stom_desktop.gui`` offscreen, a fresh
   ``STOM_HOME``): wall time from launch until the app prints ``stom-tray ready`` (tray icon
   shown, menu usable) and until its services are built (settings, database, engine,
   scheduler on a worker); RSS at both points. Run 1 is the coldest this machine allows
   (bytecode cached, OS page cache warm from earlier runs).
2. **GUI stall**: a 5 ms ``QTimer`` (PreciseTimer) on the GUI thread records how late each
   tick fires while a worker thread runs 1M-bar backtests back to back
   (``backtest.runner.run_backtest`` on ``core.synthetic.generate_bars``), untuned and then
   tuned (``gui.app.tune_for_gui``: a 0.1 ms GIL switch interval + ``gc.freeze()``, what
   ``run_tray`` does), and while a 500-symbol paper session runs on the simulator as fast
   as it can with its events flowing through the GUI bridge into a Dashboard.

Targets (issue 5): tray ready <= 1.0 s cold, RSS <= 200 MB, stall p99 <= 5 ms, max <= 20 ms.
Run: ``python benchmarks/bench_startup.py`` (``--runs``, ``--seconds``, ``--skip-session``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
TICK_MS = 5


# -- 1. start-up ----------------------------------------------------------------------------
def measure_start(timeout: float = 60.0) -> dict[str, float]:
    """One launch: seconds to tray ready / services ready and RSS (MB) at each."""
    home = tempfile.mkdtemp(prefix="stom-bench-")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", STOM_HOME=home, STOM_TRAY_READY="stdout")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "stom_desktop.gui"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    out: dict[str, float] = {}
    try:
        ps = psutil.Process(proc.pid)
        assert proc.stdout is not None
        while time.perf_counter() - started < timeout:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("stom-tray ready"):
                out["ready_s"] = time.perf_counter() - started
                out["ready_rss_mb"] = ps.memory_info().rss / 2**20
            elif line.startswith("stom-tray services"):
                out["services_s"] = time.perf_counter() - started
                time.sleep(0.5)  # let the first P&L read and timers settle
                out["services_rss_mb"] = ps.memory_info().rss / 2**20
                break
    finally:
        proc.kill()
        proc.wait()
    if "ready_s" not in out:
        raise RuntimeError("the tray never printed 'stom-tray ready'")
    return out


# -- 2. stall measurement -------------------------------------------------------------------
class StallProbe:
    """Lateness of a 5 ms timer on the GUI thread (ms), collected between start and stop."""

    def __init__(self) -> None:
        from PyQt6.QtCore import Qt, QTimer

        self.late: list[float] = []
        self._last = 0.0
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last:
            self.late.append(max(0.0, (now - self._last) * 1000 - TICK_MS))
        self._last = now

    def run(self, seconds: float, busy: threading.Event) -> dict[str, float]:
        """Spin the event loop for ``seconds`` (or until ``busy`` clears) and summarise."""
        from PyQt6.QtWidgets import QApplication

        self.late.clear()
        self._last = 0.0
        self.timer.start()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end and busy.is_set():
            QApplication.processEvents()
            time.sleep(0.0005)  # idle like an event loop would (the worker gets the GIL)
        self.timer.stop()
        values = np.asarray(self.late or [0.0])
        return {
            "ticks": float(len(self.late)),
            "p50_ms": float(np.percentile(values, 50)),
            "p99_ms": float(np.percentile(values, 99)),
            "max_ms": float(values.max()),
        }


def backtest_load(seconds: float, busy: threading.Event, runs: list[int]) -> None:
    """Run 1M-bar backtests back to back for ``seconds`` on this (worker) thread."""
    from stom_desktop.backtest.runner import run_backtest
    from stom_desktop.core.synthetic import generate_bars
    from stom_desktop.services.strategy_service import StrategyService

    bars = generate_bars("SIM", "1m", 1_000_000, 7)
    strategy = StrategyService(Path(tempfile.mkdtemp())).create("sma_cross")
    run_backtest(strategy, bars)  # compile (numba) before the clock starts
    busy.set()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        run_backtest(strategy, bars)
        runs[0] += 1
    busy.clear()


def stall_during_backtest(seconds: float) -> dict[str, float]:
    """Stall stats while 1M-bar backtests run on a worker thread."""
    busy = threading.Event()
    runs = [0]
    worker = threading.Thread(target=backtest_load, args=(seconds, busy, runs), daemon=True)
    worker.start()
    if not busy.wait(120):
        raise RuntimeError("the backtest worker did not start")
    stats = StallProbe().run(seconds + 1, busy)
    worker.join()
    stats["backtests"] = float(runs[0])
    return stats


def stall_during_session(seconds: float, symbols: int) -> dict[str, float]:
    """Stall stats while a paper session on ``symbols`` simulator symbols runs flat out."""
    from stom_desktop.bootstrap import build_app
    from stom_desktop.gui.bridge import EngineBridge
    from stom_desktop.gui.dashboard import DashboardWindow
    from stom_desktop.services.trading_service import TradingService
    from stom_desktop.services.trading_spec import SessionSpec

    os.environ["STOM_HOME"] = tempfile.mkdtemp(prefix="stom-bench-")
    app = build_app()
    trading = getattr(app, "trading", None) or TradingService(
        app.settings, app.database, app.strategies, app.paths
    )
    bridge = EngineBridge()
    bridge.attach(trading.events)
    counts = {"bars": 0, "fills": 0}
    bridge.bars.connect(lambda b: counts.__setitem__("bars", counts["bars"] + len(b)))
    bridge.fill.connect(lambda _f: counts.__setitem__("fills", counts["fills"] + 1))
    dashboard = DashboardWindow(trading, bridge)
    dashboard.show()
    from stom_desktop.gui.app import tune_for_gui

    tune_for_gui()  # what run_tray does once its services exist: freeze them out of the GC
    spec = SessionSpec(
        name="bench",
        strategy="sma_cross",
        symbols=tuple(f"S{i:03d}" for i in range(symbols)),
        speed=0.0,
    )
    busy = threading.Event()
    busy.set()
    session_id = trading.start_session(spec)
    try:
        stats = StallProbe().run(seconds, busy)
    finally:
        trading.stop_session(session_id)
        trading.shutdown()
        bridge.detach()
        dashboard.close()
        app.close()
    stats["bars_to_gui"] = float(counts["bars"])
    stats["fills_to_gui"] = float(counts["fills"])
    return stats


def main() -> None:
    """Run every measurement and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="start-up launches")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each stall run")
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--skip-session", action="store_true")
    args = parser.parse_args()

    print("## Start-up (python -m stom_desktop.gui, offscreen)\n")
    print("| run | tray ready s | RSS at ready MB | services ready s | RSS with services MB |")
    print("|---|---|---|---|---|")
    starts = [measure_start() for _ in range(args.runs)]
    for i, s in enumerate(starts, 1):
        nan = float("nan")
        print(
            f"| {i} | {s['ready_s']:.3f} | {s['ready_rss_mb']:.0f} | "
            f"{s.get('services_s', nan):.2f} | {s.get('services_rss_mb', nan):.0f} |"
        )
    print("\ntarget: tray ready <= 1.0 s, RSS <= 200 MB\n")

    os.environ["QT_QPA_PLATFORM"] = os.environ.get("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtWidgets import QApplication

    qapp = QApplication(sys.argv)  # noqa: F841 - keeps Qt alive for the probes
    rows: list[tuple[str, dict[str, float]]] = []
    rows.append(("1M-bar backtests, default GIL/GC", stall_during_backtest(args.seconds)))
    from stom_desktop.gui.app import tune_for_gui

    tune_for_gui()
    rows.append(("1M-bar backtests, tuned", stall_during_backtest(args.seconds)))
    if not args.skip_session:
        label = f"{args.symbols}-symbol paper session (speed 0), tuned"
        stats = stall_during_session(args.seconds, args.symbols)
        rows.append((label, stats))
    print("## GUI event-loop stall (lateness of a 5 ms timer)\n")
    print("| load | ticks | p50 ms | p99 ms | max ms | work done |")
    print("|---|---|---|---|---|---|")
    for label, s in rows:
        if "backtests" in s:
            work = f"{s['backtests']:.0f} backtests"
        else:
            work = f"{s['bars_to_gui']:.0f} bars, {s['fills_to_gui']:.0f} fills to the GUI"
        print(
            f"| {label} | {s['ticks']:.0f} | {s['p50_ms']:.2f} | {s['p99_ms']:.2f} | "
            f"{s['max_ms']:.2f} | {work} |"
        )
    print("\ntarget: p99 <= 5 ms, max <= 20 ms")


if __name__ == "__main__":
    main()
