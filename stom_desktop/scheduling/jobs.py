"""The job functions APScheduler runs: warm-up, start, liquidate, stop, report, data download.

Each is stored as ``"stom_desktop.scheduling.jobs:<kind>"`` with one JSON-able kwarg,
``definition`` (a ``JobDefinition`` dict), and reaches the running App through
:mod:`stom_desktop.scheduling.runtime`. Every run is recorded in ``job_runs`` (running ->
ok/error with a detail) and calls services only; nothing here touches a widget.

Calendar handling happens here, at run time (the chosen design): triggers are plain crons in
the exchange time zone at the *regular* times, and the job checks the calendar when it fires.
On a non-session day it records "skipped"; when the job is anchored to the open or close and
that day's real time is later (2026-01-02 opens 10:00, or a user override), it re-schedules
itself as a one-off at the real time ("shifted"). A day whose anchor is *earlier* than the
regular time (an early close) runs at the cron time, late, and says so; add an explicit job
for such days.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stom_desktop.core.errors import DataError, StomError
from stom_desktop.scheduling import runtime
from stom_desktop.scheduling.calendars import get_calendar, is_open, local_date
from stom_desktop.services.schedule_service import JobDefinition

log = logging.getLogger(__name__)

# A run within this of its anchored time counts as on time (cron fires on the minute).
ON_TIME = timedelta(seconds=90)
# What happens to a run that is late (missed beyond its grace, or the anchor already passed):
# 'in_session' = run late only while that day's session is open; 'same_day' = run late on
# the same exchange day; 'never' = record it as missed (the next run will do the work).
LATE_POLICY = {
    "warm_up": "in_session",
    "start_session": "in_session",
    "liquidate": "same_day",
    "stop_session": "same_day",
    "daily_report": "same_day",
    "data_download": "never",
}
# Session states in which a session still runs (TradingService.ACTIVE_STATUSES).
ACTIVE_STATES = frozenset({"created", "idle", "running", "paused"})

_locks_guard = threading.Lock()
_locks: dict[str, threading.Lock] = {}


@dataclass(frozen=True, slots=True)
class _Plan:
    action: str  # run | skip | defer | missed
    scheduled_for: datetime
    note: str = ""


def warm_up(
    definition: dict[str, Any], mode: str = "scheduled", late_for: str | None = None
) -> str:
    """Pre-open: check the database, load recent data and the strategy, warm numba."""
    return _run(definition, mode, late_for, _warm_up)


def start_session(
    definition: dict[str, Any], mode: str = "scheduled", late_for: str | None = None
) -> str:
    """Start the session described by the job's spec (once: a running one is left alone)."""
    return _run(definition, mode, late_for, _start_session)


def liquidate(
    definition: dict[str, Any], mode: str = "scheduled", late_for: str | None = None
) -> str:
    """Flatten the positions of the job's running session(s)."""
    return _run(definition, mode, late_for, _liquidate)


def stop_session(
    definition: dict[str, Any], mode: str = "scheduled", late_for: str | None = None
) -> str:
    """Stop the job's running session(s) (``options.liquidate`` flattens first)."""
    return _run(definition, mode, late_for, _stop_session)


def daily_report(
    definition: dict[str, Any], mode: str = "scheduled", late_for: str | None = None
) -> str:
    """Write the end-of-day report (TradingService); notify (tray, Telegram when on)."""
    return _run(definition, mode, late_for, _daily_report)


def data_download(
    definition: dict[str, Any], mode: str = "scheduled", late_for: str | None = None
) -> str:
    """Fetch bars for ``options.symbols``: 'synthetic' works now, exchanges need issue 7."""
    return _run(definition, mode, late_for, _data_download)


def session_spec_from_dict(spec: dict[str, Any]) -> Any:
    """The TradingService ``SessionSpec`` for a stored spec dict."""
    try:
        from stom_desktop.services.trading_service import SessionSpec
    except ImportError as exc:
        raise StomError("the trading service is not available in this build") from exc
    return SessionSpec.from_dict(spec)


# -- the recorded run -------------------------------------------------------------------------
def _run(
    raw: dict[str, Any],
    mode: str,
    late_for: str | None,
    body: Callable[[Any, JobDefinition], str],
) -> str:
    definition = JobDefinition.from_dict(raw)
    app = runtime.get_app()
    runs = app.schedule.job_runs
    lock = _lock_for(definition.id)
    # max_instances=1 guards one APScheduler job; this also keeps a run-now/late copy
    # (a different APScheduler id) from overlapping the regular run of the same job.
    if not lock.acquire(blocking=False):
        runs.record(definition.id, "missed", detail="skipped: the previous run is still running")
        return "skipped: already running"
    try:
        plan = _plan(definition, mode, _now(), late_for)
        if plan.action in ("skip", "missed"):
            runs.record(
                definition.id,
                "ok" if plan.action == "skip" else "missed",
                scheduled_for=plan.scheduled_for,
                detail=plan.note,
            )
            if plan.action == "missed":
                runtime.notify(
                    runtime.Notice("missed", f"{definition.id} missed", plan.note, definition.id)
                )
            return plan.note
        if plan.action == "defer":
            app.schedule.defer(definition, plan.scheduled_for, mode="shifted")
            runs.record(definition.id, "ok", scheduled_for=plan.scheduled_for, detail=plan.note)
            return plan.note
        return _execute(app, definition, plan, body)
    finally:
        lock.release()


def _execute(
    app: Any, definition: JobDefinition, plan: _Plan, body: Callable[[Any, JobDefinition], str]
) -> str:
    runs = app.schedule.job_runs
    run = runs.start(definition.id, scheduled_for=plan.scheduled_for)
    started = time.perf_counter()
    try:
        detail = body(app, definition)
    except Exception as exc:  # recorded, notified and contained: a job never kills the app
        text = str(exc) if isinstance(exc, StomError) else f"{type(exc).__name__}: {exc}"
        tb = "" if isinstance(exc, StomError) else "\n" + traceback.format_exc()
        runs.finish(run.id, "error", (plan.note + "; " if plan.note else "") + text + tb)
        log.exception("job %s failed", definition.id)
        runtime.notify(runtime.Notice("error", f"{definition.id} failed", text, definition.id))
        return f"error: {text}"
    elapsed = time.perf_counter() - started
    full = "; ".join(part for part in (plan.note, detail, f"{elapsed:.2f} s") if part)
    runs.finish(run.id, "ok", full)
    if plan.note.startswith("late"):
        runtime.notify(runtime.Notice("late", f"{definition.id} ran late", full, definition.id))
    return full


def _plan(d: JobDefinition, mode: str, now: datetime, late_for: str | None) -> _Plan:
    """Decide from the calendar whether this firing runs, is skipped, shifted or missed."""
    if mode == "now":
        return _Plan("run", now, "run now")
    calendar = get_calendar(d.calendar)
    due = now
    if late_for:
        due = datetime.fromisoformat(late_for)
    elif mode == "scheduled" and d.run_at is not None:
        due = d.run_at  # a one-time job: its own moment, not when the thread got to it
    day = local_date(calendar, due)
    if not calendar.is_session(day):
        return _Plan("skip", due, f"skipped: {day} is not a {calendar.name} session")
    if mode == "late":
        return _Plan("run", due, f"late: scheduled {due.astimezone(calendar.tz):%H:%M %Z}, ran now")
    if d.anchor is None:
        return _Plan("run", due)
    anchor = calendar.open_at(day) if d.anchor == "open" else calendar.close_at(day)
    expected = anchor + timedelta(minutes=d.offset_minutes)
    local = f"{expected.astimezone(calendar.tz):%H:%M %Z}"
    note = getattr(calendar, "note", lambda _day: "")(day)
    why = f" ({note})" if note else ""
    if expected - now > ON_TIME and mode != "shifted":
        return _Plan("defer", expected, f"shifted: {day} {d.anchor}s later{why}; runs at {local}")
    if now - expected > ON_TIME:
        policy = LATE_POLICY.get(d.kind, "same_day")
        if policy == "never" or (policy == "in_session" and not is_open(calendar, now)):
            return _Plan("missed", expected, f"missed: was due {day} {local}; session closed")
        return _Plan("run", expected, f"late: {day} {d.anchor} was earlier{why}; due {local}")
    return _Plan("run", expected, note)


def _now() -> datetime:
    """The current time (aware UTC); tests replace it to stand on a given exchange day."""
    return datetime.now(UTC)


def _lock_for(job_id: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(job_id, threading.Lock())


# -- job bodies (services only) ---------------------------------------------------------------
def _spec(d: JobDefinition) -> dict[str, Any]:
    if not d.spec:
        raise StomError(f"job {d.id!r} has no session spec")
    return d.spec


def _warm_up(app: Any, d: JobDefinition) -> str:
    spec = _spec(d)
    parts = [f"database ok ({len(app.data.list_series())} series stored)"]
    timeframe = str(spec.get("timeframe", "1m"))
    since_ms = int((datetime.now(UTC) - timedelta(days=7)).timestamp() * 1000)
    for symbol in spec["symbols"]:
        try:
            parts.append(f"{symbol}: {len(app.data.load(symbol, timeframe, since_ms))} bars")
        except DataError:
            parts.append(f"{symbol}: no recent {timeframe} bars stored")
    app.strategies.load_class(spec["strategy"])
    parts.append(f"strategy {spec['strategy']} loaded")
    started = time.perf_counter()
    # The slow imports, paid now instead of at the open (numba, cached compiled kernels).
    import numba  # noqa: F401

    import stom_desktop.backtest.runner  # noqa: F401

    parts.append(f"numba warm ({time.perf_counter() - started:.2f} s)")
    return "; ".join(parts)


def _matching_sessions(app: Any, d: JobDefinition) -> list[Any]:
    name = _spec(d)["name"]
    return [
        s
        for s in app.trading.sessions()
        if s.name == name and str(getattr(s.state, "value", s.state)).lower() in ACTIVE_STATES
    ]


def _start_session(app: Any, d: JobDefinition) -> str:
    running = _matching_sessions(app, d)
    if running:
        return f"already running: session {running[0].id}"
    session_id = app.trading.start_session(session_spec_from_dict(_spec(d)))
    return (
        f"started session {session_id} ({_spec(d)['strategy']} on {','.join(_spec(d)['symbols'])})"
    )


def _liquidate(app: Any, d: JobDefinition) -> str:
    sessions = _matching_sessions(app, d)
    if not sessions:
        return f"no running session named {_spec(d)['name']!r}"
    placed = sum(len(app.trading.liquidate(s.id)) for s in sessions)
    return f"liquidated {len(sessions)} session(s): {placed} order(s)"


def _stop_session(app: Any, d: JobDefinition) -> str:
    sessions = _matching_sessions(app, d)
    if not sessions:
        return f"no running session named {_spec(d)['name']!r}"
    flatten = bool(d.options.get("liquidate", False))
    for s in sessions:
        app.trading.stop_session(s.id, liquidate=flatten)
    return f"stopped session(s) {', '.join(str(s.id) for s in sessions)}"


def _daily_report(app: Any, d: JobDefinition) -> str:
    report = app.trading.daily_report()
    path = getattr(report, "path", None)
    text = f"report saved to {path}" if path else "report written"
    runtime.notify(runtime.Notice("report", "Daily report", text, d.id))
    notifications = getattr(app, "notifications", None)  # Telegram, when switched on
    if notifications is not None and notifications.send_daily_report(report):
        text += "; queued for Telegram"
    return text


def _data_download(app: Any, d: JobDefinition) -> str:
    source = d.options.get("source")
    timeframe = str(d.options.get("timeframe", "1m"))
    if source != "synthetic":
        raise NotImplementedError(
            f"downloading from {source!r} needs the exchange adapters (issue 7); "
            "only 'synthetic' works now"
        )
    bars = int(d.options.get("bars", 10_000))
    seed = int(d.options.get("seed", 1))
    rows = 0
    for offset, symbol in enumerate(d.options["symbols"]):
        rows += app.data.generate(symbol, timeframe, bars, seed + offset, replace=True).rows
    return f"generated {rows} synthetic {timeframe} bars for {', '.join(d.options['symbols'])}"
