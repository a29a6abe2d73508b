"""Run slow calls (start a session, check a database, a backtest) on a QThreadPool worker.

The result or the error comes back to the GUI thread as a queued signal; errors are logged
with their traceback and handed to ``on_error`` so the window can show ``str(error)``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PyQt6.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

log = logging.getLogger(__name__)

# Signal carriers of running tasks: kept alive here until their task reported back.
_live: set[_TaskSignals] = set()


class _TaskSignals(QObject):
    done = pyqtSignal(object)
    failed = pyqtSignal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], signals: _TaskSignals, what: str) -> None:
        super().__init__()
        self._fn = fn
        self._signals = signals
        self._what = what

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:
            log.error("%s failed: %s", self._what, exc, exc_info=exc)
            self._signals.failed.emit(exc)
        else:
            self._signals.done.emit(result)


def run_in_worker(
    fn: Callable[[], Any],
    *,
    what: str,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    pool: QThreadPool | None = None,
) -> None:
    """Run ``fn()`` off the GUI thread; ``on_done(result)``/``on_error(exc)`` run on the GUI thread.

    Call from the GUI thread: the signal carrier is created here, so its slots are queued
    back to this thread. ``what`` names the task in the log.
    """
    signals = _TaskSignals()
    _live.add(signals)

    def finished(_: object) -> None:
        _live.discard(signals)

    if on_done is not None:
        signals.done.connect(on_done)
    if on_error is not None:
        signals.failed.connect(on_error)
    signals.done.connect(finished)
    signals.failed.connect(finished)
    (pool or QThreadPool.globalInstance()).start(_Task(fn, signals, what))


def pending_tasks() -> int:
    """How many worker tasks have not reported back yet (tests wait for 0)."""
    return len(_live)
