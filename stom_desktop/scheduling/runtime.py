"""Process-wide registry through which stored job functions reach the running application.

APScheduler stores jobs as ``"module:function"`` references with JSON-able kwargs, so a job
cannot carry the ``App``. The driver (tray, headless, CLI) calls :func:`set_app` once after
building it, and optionally :func:`set_notifier`; job functions call :func:`get_app` and
:func:`notify`. Nothing here touches Qt: a GUI notifier must only emit a queued signal.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stom_desktop.core.errors import StomError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Notice:
    """Something the user should hear about: ``kind`` is missed, late, error, report or info."""

    kind: str
    title: str
    message: str
    job_id: str | None = None


Notifier = Callable[[Notice], None]

_lock = threading.Lock()
_state: dict[str, Any] = {"app": None, "notifier": None}


def set_app(app: Any) -> None:
    """Register the running application (``None`` clears it)."""
    with _lock:
        _state["app"] = app


def get_app() -> Any:
    """The registered application; a clear error when the driver did not set one."""
    with _lock:
        app = _state["app"]
    if app is None:
        raise StomError(
            "no application is registered for scheduled jobs",
            hint="the driver must call stom_desktop.scheduling.runtime.set_app(app) first",
        )
    return app


def set_notifier(notifier: Notifier | None) -> None:
    """Register who hears about missed/late/failed jobs and reports (None: log only)."""
    with _lock:
        _state["notifier"] = notifier


def notify(notice: Notice) -> None:
    """Log ``notice`` and pass it to the notifier; a failing notifier is logged, not raised."""
    level = logging.WARNING if notice.kind in ("missed", "error", "late") else logging.INFO
    log.log(level, "%s: %s", notice.title, notice.message)
    with _lock:
        notifier: Notifier | None = _state["notifier"]
    if notifier is None:
        return
    try:
        notifier(notice)
    except Exception:  # a broken tray must not turn a job result into a job failure
        log.exception("notifier failed on %r", notice.title)
