"""Headless mode: the same scheduler and engine with no GUI (a server or VPS).

``run_headless(demo)`` builds the App, registers it for job functions, starts the
scheduler, logs to a rotating file in the user log dir and to stderr, and runs until SIGTERM
or SIGINT (stopping the scheduler and the trading service cleanly). With ``demo=True`` it
schedules the demo day (start in ~5 s, liquidate ~90 s, stop ~100 s, report ~105 s) and
exits after the report. ``STOM_DEMO_TIMESCALE`` (e.g. ``0.1``) compresses that timeline.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobEvent

from stom_desktop.bootstrap import App, build_app
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.scheduling import runtime
from stom_desktop.scheduling.scheduler import SchedulerRuntime, start_scheduler

log = logging.getLogger("stom_desktop.headless")

LOG_FILE_NAME = "stom-headless.log"
LOG_MAX_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5
DEMO_LAST_JOB = "demo.report"
DEMO_JOB_PREFIX = "demo."
TIMESCALE_ENV = "STOM_DEMO_TIMESCALE"
_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"


def configure_logging(log_dir: Path, level: str = "INFO") -> Path:
    """Send the root logger to a rotating file in ``log_dir`` and to stderr; returns the file."""
    log_dir.mkdir(parents=True, exist_ok=True)
    file = log_dir / LOG_FILE_NAME
    root = logging.getLogger()
    for handler in list(root.handlers):  # replace the CLI's default stderr handler
        root.removeHandler(handler)
    formatter = logging.Formatter(_FORMAT)
    rotating = logging.handlers.RotatingFileHandler(
        file, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    stderr = logging.StreamHandler(sys.stderr)
    for handler in (rotating, stderr):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    return file


def demo_timescale() -> float:
    """``STOM_DEMO_TIMESCALE`` as a positive float (1.0 when unset)."""
    raw = os.environ.get(TIMESCALE_ENV, "1")
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{raw!r} is not a number", key=TIMESCALE_ENV) from exc
    if value <= 0:
        raise ConfigurationError(f"must be > 0, got {value}", key=TIMESCALE_ENV)
    return value


def run_headless(demo: bool = False) -> int:
    """Run the scheduler without a GUI until a signal (or the demo's report); exit code."""
    ctx = build_app()
    log_file = configure_logging(ctx.paths.log_dir, ctx.settings.log_level)
    stop = threading.Event()
    demo_done = threading.Event()
    previous = _install_signal_handlers(stop)
    sched: SchedulerRuntime | None = None
    code = 0
    started = datetime.now(UTC)
    try:
        log.info("headless start: log file %s, database %s", log_file, ctx.database.display_url)
        schedule = ctx.schedule
        _ = ctx.trading  # built first: it recovers sessions a crash left behind
        _announce_telegram(ctx)
        timescale = demo_timescale() if demo else 1.0
        sched = start_scheduler(ctx)
        if demo:
            _watch_demo(schedule.scheduler, demo_done)
            infos = schedule.demo_schedule(timescale=timescale)
            log.info(
                "demo day scheduled (timescale %.3g): %s",
                timescale,
                ", ".join(f"{i.id} at {i.next_run:%H:%M:%S}" for i in infos if i.next_run),
            )
        for info in schedule.list_jobs():
            log.info("job %s: %s; next %s", info.id, info.trigger, info.next_run or "disabled")
        while not stop.is_set() and not demo_done.is_set():
            stop.wait(0.2)
        if demo_done.is_set():
            code = _demo_result(ctx, started)
    finally:
        log.info("stopping: scheduler, sessions, database")
        if sched is not None:
            sched.stop(wait=True)
        _shutdown_trading(ctx)
        runtime.set_app(None)
        runtime.set_notifier(None)
        ctx.close()
        _restore_signal_handlers(previous)
        log.info("stopped (exit code %d)", code)
    return code


def _announce_telegram(ctx: App) -> None:
    """Route failed/missed job notices to Telegram and say in the log whether it is set up."""
    notifications = ctx.notifications

    def forward(notice: runtime.Notice) -> None:
        notifications.send_notice(notice.kind, notice.title, notice.message)

    runtime.set_notifier(forward)
    status = notifications.status()
    if not status.enabled:
        log.info("telegram notifications: off (Settings -> Telegram or `stom notify telegram`)")
    elif not status.token_stored or not status.chat_id:
        log.warning(
            "telegram notifications are on but %s is missing: run `stom notify telegram "
            "set-token` / `enable --chat-id`",
            "the bot token" if not status.token_stored else "the chat id",
        )
    else:
        log.info("telegram notifications: on, chat %s", status.chat_id)


def _watch_demo(scheduler: Any, done: threading.Event) -> None:
    def on_event(event: JobEvent) -> None:
        if event.job_id == DEMO_LAST_JOB:
            done.set()

    scheduler.add_listener(on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)


def _demo_result(ctx: App, since: datetime) -> int:
    every = ctx.schedule.job_runs.list(since=since)
    runs = [r for r in every if r.job_id.startswith(DEMO_JOB_PREFIX)]
    failed = [r for r in runs if r.status in ("error", "missed")]
    for run in failed:
        log.error("demo job %s %s: %s", run.job_id, run.status, run.detail)
    log.info("demo finished: %d job run(s), %d failed", len(runs), len(failed))
    return 1 if failed else 0


def _shutdown_trading(ctx: App) -> None:
    # Only a trading service that was built has sessions to stop (App builds it lazily).
    trading = vars(ctx).get("trading")
    if trading is None:
        log.info("no trading service was started; nothing to shut down")
        return
    trading.shutdown()


def _install_signal_handlers(stop: threading.Event) -> dict[int, Any]:
    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous: dict[int, Any] = {}
    if threading.current_thread() is not threading.main_thread():
        return previous  # signals can only be handled on the main thread
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, handler)
    return previous


def _restore_signal_handlers(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)
