"""Screenshot driver: the tray (menu open) or one window on real services with a live session.

``python -m stom_desktop.gui.demo_shots WHAT [--grab OUT.png]`` where WHAT is ``tray``,
``fallback``, ``dashboard``, ``settings``, ``logs``, ``schedule``, ``chart``,
``chart-window`` (a live SIM1 chart with the strategy's SMAs and fills), ``orderbook`` or
``portfolio``. It builds the
App in ``$STOM_HOME`` (set it to a scratch folder), starts a paper session of the example
strategy on the simulator at 600x so there are positions and fills to show, installs the
default schedule, then opens WHAT. Run it under ``../shared/tools/xvfb-shot`` for a
full-screen shot with a real tray, or with ``--grab`` to save the window itself.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from PyQt6.QtCore import QPoint, QTimer
from PyQt6.QtWidgets import QApplication, QSystemTrayIcon

from stom_desktop.gui.icons import style_sheet
from stom_desktop.gui.log_handler import install_qt_handler
from stom_desktop.gui.tray import TrayController

WHATS = (
    "tray",
    "fallback",
    "dashboard",
    "settings",
    "logs",
    "schedule",
    "chart",
    "chart-window",
    "orderbook",
    "portfolio",
    "backtest",
    "optimization",
    "strategy-editor",
)
#: Trading windows: opened 0.5 s after the session starts (the chart must see its bars
#: from the start) and grabbed once this many ms of the 600x session have gone by.
LIVE_SHOTS = {"chart-window": 14_000, "orderbook": 6_000, "portfolio": 12_000}


def _services() -> dict[str, Any]:
    from stom_desktop.adapters.secrets import KeyringSecretStore
    from stom_desktop.bootstrap import build_app
    from stom_desktop.services.account_service import AccountService
    from stom_desktop.services.schedule_service import ScheduleService
    from stom_desktop.services.trading_service import TradingService

    app = build_app()
    trading = getattr(app, "trading", None) or TradingService(
        app.settings, app.database, app.strategies, app.paths
    )
    schedule = getattr(app, "schedule", None) or ScheduleService(
        app.database, timezone=app.settings.timezone, strategies=app.strategies
    )
    schedule.install_default_schedule()
    accounts = getattr(app, "accounts", None) or AccountService(KeyringSecretStore())
    return {
        "ctx": app,
        "trading": trading,
        "schedule": schedule,
        "accounts": accounts,
        "settings": app.settings,
        "paths": app.paths,
    }


def main(argv: list[str]) -> int:
    """Open WHAT on demo data; exits by itself after 30 s (or after ``--grab``)."""
    what = argv[1] if len(argv) > 1 else "tray"
    if what not in WHATS:
        raise SystemExit(f"usage: demo_shots {{{','.join(WHATS)}}} [--grab OUT.png]")
    grab = argv[argv.index("--grab") + 1] if "--grab" in argv else None
    qapp = QApplication(argv)
    qapp.setQuitOnLastWindowClosed(False)
    qapp.setStyleSheet(style_sheet())
    handler = install_qt_handler(logging.INFO)
    tray_ok = what != "fallback" and QSystemTrayIcon.isSystemTrayAvailable()
    ctl = TrayController(tray_available=tray_ok, log_handler=handler, exit_app=qapp.quit)
    parts = _services()
    ctl.attach(**parts)
    if what == "tray":
        ctl.prefs.set("fills", False)  # keep the balloon off the menu in the shot
    ctl.show()
    from stom_desktop.services.trading_spec import SessionSpec

    spec = SessionSpec(
        name="demo", strategy="sma_cross", symbols=("SIM1", "SIM2", "SIM3"), speed=600.0
    )
    parts["trading"].start_session(spec)
    logging.getLogger("stom_desktop.demo").warning("demo: a warning line for the Logs window")

    def show() -> None:
        if what == "tray":
            geometry = ctl.tray.geometry()
            at = geometry.bottomLeft() if geometry.isValid() else QPoint(1300, 26)
            ctl.menu.popup(at)
            return
        if what == "fallback":
            return
        if what in ("backtest", "optimization", "strategy-editor"):
            from stom_desktop.gui.backtest_demo import open_demo

            window = open_demo(ctl, what)
        else:
            window = ctl.show_window(what)
        window.move(60, 60)
        if grab is not None:
            QTimer.singleShot(1500, lambda: (window.grab().save(grab), qapp.quit()))

    def show_live() -> None:
        if what == "chart-window":
            window: Any = ctl.open_chart("SIM1")
            window.set_strategy("sma_cross")
        else:
            window = ctl.show_window(what)
            if what == "orderbook":
                window.set_symbol("SIM1")
        window.move(60, 60)
        if grab is not None:
            QTimer.singleShot(LIVE_SHOTS[what], lambda: (window.grab().save(grab), qapp.quit()))

    QTimer.singleShot(
        500 if what in LIVE_SHOTS else 4000, show_live if what in LIVE_SHOTS else show
    )
    QTimer.singleShot(30_000, qapp.quit)
    code = qapp.exec()
    parts["trading"].shutdown()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
