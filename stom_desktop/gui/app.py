"""``run_tray``: the desktop application (tray icon, windows) around the wired services.

Start-up is ordered for speed: Qt, the single-instance check and the tray icon come first
(about 0.2 s); the services (settings, database, engine, scheduler: seconds of imports
for numba, pandas and SQLAlchemy) are built afterwards on a worker while the tray already
shows "starting". When they are ready the GIL switch interval is shortened and the start-up
objects are frozen out of the garbage collector, so an engine thread cannot stall the GUI
(NOTES.md: p99 6 ms / max 39 ms untuned, 1.8 / 3.6 ms tuned).
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from PyQt6.QtWidgets import QApplication, QSystemTrayIcon

from stom_desktop.core.errors import StomError
from stom_desktop.gui.log_handler import install_file_handler, install_qt_handler
from stom_desktop.gui.single_instance import claim_or_notify, default_instance_name
from stom_desktop.gui.theme import apply_theme, current_theme
from stom_desktop.gui.tray import TrayController
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)

#: Set to "stdout" to have the app print ``stom-tray ready <ms>`` once the tray shows
#: (benchmarks/bench_startup.py measures cold start with it).
READY_ENV = "STOM_TRAY_READY"
#: GIL switch interval while the GUI runs. Every call from Qt into Python (a model's
#: ``data()`` while a table paints, a slot) must re-take the GIL from a busy engine thread
#: and waits up to one interval: a repaint of the Dashboard's tables makes hundreds of such
#: calls, so 1 ms stalled the GUI timer by 30-100 ms (p99 8-19 ms) during a 500-symbol
#: paper session at full speed; 0.1 ms: p99 4.5-6 ms, max 7-20 ms (benchmarks/bench_startup.py).
SWITCH_INTERVAL_S = 0.0001

AppFactory = Callable[[], Any]


def tune_for_gui() -> None:
    """Shorter GIL slices and a frozen start-up heap: keep GUI stalls from engine threads short."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    gc.freeze()


def _resolve(app_ctx: Any) -> Any:
    """``app_ctx`` itself, or the App a zero-argument factory builds."""
    if hasattr(app_ctx, "settings") or not callable(app_ctx):
        return app_ctx
    return app_ctx()


def build_services(app_ctx: Any) -> dict[str, Any]:
    """Touch the App's services (building them) and say which could not be built and why.

    Runs on a worker thread. Attributes the composition root does not provide yet are
    reported, not fatal: the tray starts with those actions disabled.
    """
    ctx = _resolve(app_ctx)
    parts: dict[str, Any] = {"ctx": ctx, "problems": []}
    parts["settings"] = ctx.settings
    parts["paths"] = ctx.paths
    for name in ("trading", "schedule"):
        try:
            parts[name] = getattr(ctx, name)
        except AttributeError:
            parts[name] = None
            parts["problems"].append(f"{name}: not provided by the App (bootstrap)")
        except StomError as exc:
            parts[name] = None
            parts["problems"].append(f"{name}: {exc}")
    parts["accounts"] = getattr(ctx, "accounts", None)
    if parts["accounts"] is None:
        # The keyring needs no database: offer Accounts even before bootstrap wires it.
        from stom_desktop.adapters.secrets import KeyringSecretStore
        from stom_desktop.services.account_service import AccountService

        secrets = getattr(ctx, "secrets", None) or KeyringSecretStore()
        parts["accounts"] = AccountService(secrets)
    return parts


def run_tray(
    app_ctx: Any,
    *,
    argv: list[str] | None = None,
    instance_name: str | None = None,
    on_services_ready: Callable[[Any, Callable[[str, str, str], None]], None] | None = None,
    on_quit: Callable[[], None] | None = None,
) -> int:
    """Run the tray application until Quit; returns the exit code.

    ``app_ctx`` is the ``bootstrap.App`` or a zero-argument factory returning it (the fast
    path: the tray shows before the services are imported). ``on_services_ready(app,
    post_notice)`` runs on the worker once the services exist: the launcher starts the
    scheduler there (gui may not import scheduling) and may route scheduler notices to
    ``post_notice(title, text, kind)``, which is thread-safe; ``on_quit`` runs first when
    the event loop ends (the launcher stops the scheduler before sessions stop). A second
    launch only asks
    the running instance to bring its Dashboard forward and returns 0.
    """
    started = time.perf_counter()
    qapp = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    assert isinstance(qapp, QApplication)
    qapp.setApplicationName("STOM Desktop")
    qapp.setQuitOnLastWindowClosed(False)
    apply_theme(qapp, current_theme())
    instance = claim_or_notify(instance_name or default_instance_name())
    if instance is None:
        print("STOM Desktop is already running: asked it to show its Dashboard.")
        return 0
    handler = install_qt_handler()
    controller = TrayController(
        tray_available=QSystemTrayIcon.isSystemTrayAvailable(),
        log_handler=handler,
        exit_app=qapp.quit,
    )
    instance.show_requested.connect(controller.bring_forward)
    controller.show()
    ready_ms = (time.perf_counter() - started) * 1000
    log.info("tray ready in %.0f ms (system tray: %s)", ready_ms, controller.tray_available)
    if os.environ.get(READY_ENV) == "stdout":
        print(f"stom-tray ready {ready_ms:.0f}", flush=True)

    def load() -> dict[str, Any]:
        parts = build_services(app_ctx)
        if on_services_ready is not None:
            on_services_ready(parts["ctx"], controller.post_notice)
        return parts

    def loaded(parts: dict[str, Any]) -> None:
        controller.log_file = install_file_handler(parts["paths"].log_dir)
        controller.attach(
            ctx=parts["ctx"],
            trading=parts["trading"],
            schedule=parts["schedule"],
            accounts=parts["accounts"],
            settings=parts["settings"],
            paths=parts["paths"],
            problems=parts["problems"],
        )
        tune_for_gui()
        log.info("services ready %.0f ms after launch", (time.perf_counter() - started) * 1000)
        if os.environ.get(READY_ENV) == "stdout":
            print(f"stom-tray services {(time.perf_counter() - started) * 1000:.0f}", flush=True)

    def failed(exc: BaseException) -> None:
        controller.set_trading_available(False, str(exc))
        controller.notify("errors", "STOM Desktop could not start its services", str(exc))

    run_in_worker(load, what="build services", on_done=loaded, on_error=failed)
    try:
        code = qapp.exec()
    finally:
        if on_quit is not None:
            on_quit()
        controller.shutdown()
        instance.close()
        trading = controller.trading
        if trading is not None:
            try:
                trading.shutdown()
            except StomError as exc:
                log.error("trading shutdown: %s", exc)
        # Send what Telegram still has queued (the sessions' last events), bounded in time.
        notifications = getattr(controller.ctx, "__dict__", {}).get("notifications")
        if notifications is not None:
            notifications.close(timeout=5.0)
    return code
