"""Demo for screenshots: 20 trading days of paper sessions in a temp home, Portfolio > History.

Run: ``python tests/helpers/portfolio_history_demo.py [OUT.png]`` (with OUT it grabs the
window after the history loaded and exits; without it the window stays open).
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("STOM_HOME", tempfile.mkdtemp(prefix="stom-history-demo-"))

from journal_sessions import stored_session
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication

from stom_desktop.bootstrap import build_app
from stom_desktop.gui.portfolio_window import PortfolioWindow
from stom_desktop.services.trading_service import TradingService


def seed(db: object) -> None:
    """Stored sessions on 20 weekdays from 2026-01-05 (seeded, so every run is the same)."""
    rng = random.Random(7)
    day = datetime(2026, 1, 5, 0, 30, tzinfo=UTC)  # 09:30 Seoul
    made = 0
    while made < 20:
        if day.weekday() < 5:
            for n in range(rng.choice((1, 1, 2))):
                trades = []
                for _ in range(rng.randint(1, 4)):
                    qty = rng.randint(5, 40)
                    entry = rng.randint(50_000, 80_000)
                    exit_ = entry + rng.randint(-1_800, 2_200)
                    fee = round(qty * entry * 0.00015)
                    trades += [("buy", str(qty), str(entry), str(fee))]
                    trades += [("sell", str(qty), str(exit_), str(fee))]
                stored_session(db, day + timedelta(hours=n), trades)  # type: ignore[arg-type]
            made += 1
        day += timedelta(days=1)


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else None
    app_ctx = build_app()
    seed(app_ctx.database)
    trading = TradingService(app_ctx.settings, app_ctx.database, app_ctx.strategies, app_ctx.paths)
    qapp = QApplication(sys.argv[:1])
    win = PortfolioWindow(trading)
    win.resize(1100, 760)
    win.show()
    win.tabs.setCurrentWidget(win.history)

    def grab() -> None:
        if not win.history.loaded:
            QTimer.singleShot(100, grab)
            return
        if out is not None:
            win.grab().save(out)
            qapp.quit()

    QTimer.singleShot(300, grab)
    qapp.exec()
    app_ctx.close()


if __name__ == "__main__":
    main()
