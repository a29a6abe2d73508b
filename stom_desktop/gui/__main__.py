"""``python -m stom_desktop.gui``: the tray on the default App, with the scheduler running.

The tray shows first; the services (numba, pandas, SQLAlchemy: seconds to import) are
built on a worker, then the scheduler starts so scheduled sessions fire while the tray runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from stom_desktop.gui.app import run_tray

_running: dict[str, Any] = {}


def _build() -> Any:
    # Imported here, on the worker: bootstrap pulls numba/pandas/SQLAlchemy (seconds).
    from stom_desktop.bootstrap import build_app

    return build_app()


def _start_scheduler(app: Any, post_notice: Callable[[str, str, str], None]) -> None:
    """Runs on the services worker: scheduler notices become tray messages."""
    from stom_desktop.scheduling import runtime
    from stom_desktop.scheduling.scheduler import start_scheduler

    notifications = getattr(app, "notifications", None)

    def notify(notice: runtime.Notice) -> None:
        post_notice(notice.title, notice.message, notice.kind)
        if notifications is not None:  # failed/missed jobs also go to Telegram when on
            notifications.send_notice(notice.kind, notice.title, notice.message)

    runtime.set_notifier(notify)
    _install_defaults_once(app)
    _running["scheduler"] = start_scheduler(app)


def _install_defaults_once(app: Any) -> None:
    """On the very first start, ship the example schedule (disabled, ready to enable).

    A marker file remembers it, so a user who deletes those jobs does not get them back.
    """
    marker = app.paths.config_dir / "default-schedule-installed"
    if marker.exists():
        return
    app.schedule.install_default_schedule()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("the example schedule was installed on first start\n", encoding="utf-8")


def _stop_scheduler() -> None:
    scheduler = _running.pop("scheduler", None)
    if scheduler is not None:
        scheduler.stop()


def main() -> int:
    """Run the tray; the exit code of the Qt event loop."""
    return run_tray(_build, on_services_ready=_start_scheduler, on_quit=_stop_scheduler)


if __name__ == "__main__":
    sys.exit(main())
