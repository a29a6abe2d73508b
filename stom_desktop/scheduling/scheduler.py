"""The running scheduler: event listeners that record misses and errors, and a sleep watchdog.

:class:`SchedulerRuntime` wraps the ``ScheduleService``'s APScheduler 3
``BackgroundScheduler`` (built by ``services.schedule_service.build_scheduler``: SQLAlchemy
job store on the app database, small thread pool, ``coalesce=True``, ``max_instances=1``,
per-kind ``misfire_grace_time``, exchange time zone). It works the same under Qt: jobs run on
pool threads either way and only call services.

APScheduler only *logs* a missed run or a skipped overlap. The runtime listens for
``EVENT_JOB_MISSED``, ``EVENT_JOB_ERROR`` and ``EVENT_JOB_MAX_INSTANCES``, records them in
``job_runs`` and notifies. A missed run is then decided explicitly (``jobs.LATE_POLICY``): a
start missed while the session is still open runs now ("late start, reported"); otherwise
it is recorded as 'missed'.

Desktop schedulers stop firing on time after the machine sleeps (the scheduler thread waits on
a monotonic clock that does not advance while suspended). :class:`ClockWatchdog` compares the
wall clock with the monotonic clock every few seconds; on a jump it reports the jobs that
fell due meanwhile and calls ``scheduler.wakeup()`` so they are processed (and their misses
decided) at once. It also wakes the scheduler every minute to pick up jobs another process
(``stom schedule``) changed in the shared job store.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ADDED,
    EVENT_JOB_ERROR,
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_MODIFIED,
    JobEvent,
)

from stom_desktop.scheduling import runtime
from stom_desktop.scheduling.calendars import KRX, get_calendar, is_open, local_date, preload
from stom_desktop.scheduling.jobs import LATE_POLICY
from stom_desktop.services.schedule_service import (
    ONE_OFF_MARK,
    JobDefinition,
    ScheduleService,
)

log = logging.getLogger(__name__)

WATCHDOG_INTERVAL_S = 5.0
JUMP_THRESHOLD_S = 30.0
RESCAN_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class ClockJump:
    """A wall-clock jump: from ``before`` to ``after`` (aware UTC), ``seconds`` unexplained."""

    before: datetime
    after: datetime
    seconds: float
    due_jobs: tuple[str, ...] = ()


class ClockWatchdog:
    """Notices wall-clock jumps (sleep, resume, manual clock change) against a monotonic clock.

    ``check()`` does one comparison and is what tests drive with fake clocks; ``start()``
    runs it every ``interval`` seconds on a daemon thread.
    """

    def __init__(
        self,
        on_jump: Callable[[float, float, float], None],
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        interval: float = WATCHDOG_INTERVAL_S,
        threshold: float = JUMP_THRESHOLD_S,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self._on_jump = on_jump
        self._wall = wall
        self._monotonic = monotonic
        self._interval = interval
        self._threshold = threshold
        self._on_tick = on_tick
        self._last: tuple[float, float] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> float | None:
        """Compare the clocks once; returns the jump in seconds when one was reported."""
        wall, mono = self._wall(), self._monotonic()
        last, self._last = self._last, (wall, mono)
        if last is None:
            return None
        jump = (wall - last[0]) - (mono - last[1])
        if abs(jump) <= self._threshold:
            return None
        self._on_jump(last[0], wall, jump)
        return jump

    def start(self) -> None:
        """Run ``check`` (and ``on_tick``) every interval on a daemon thread."""
        self.check()
        self._thread = threading.Thread(target=self._loop, name="stom-clock-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (returns once it has ended)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._interval + 1.0)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.check()
                if self._on_tick is not None:
                    self._on_tick()
            except Exception:  # the watchdog must outlive one bad check
                log.exception("clock watchdog check failed")


class SchedulerRuntime:
    """Starts/stops the schedule service's scheduler with listeners and the watchdog."""

    def __init__(
        self,
        schedule: ScheduleService,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        watchdog_interval: float = WATCHDOG_INTERVAL_S,
        jump_threshold: float = JUMP_THRESHOLD_S,
        rescan_interval: float = RESCAN_INTERVAL_S,
    ) -> None:
        self.schedule = schedule
        self._now = now
        self._definitions: dict[str, JobDefinition] = {}
        self._rescan_every = max(1, round(rescan_interval / watchdog_interval))
        self._ticks = 0
        self.jumps: list[ClockJump] = []
        self.watchdog = ClockWatchdog(
            self._on_jump,
            wall=wall,
            monotonic=monotonic,
            interval=watchdog_interval,
            threshold=jump_threshold,
            on_tick=self._on_tick,
        )

    def start(self, *, watchdog: bool = True) -> None:
        """Attach listeners, mark runs a crash left 'running', let jobs fire, start the watchdog."""
        interrupted = self.schedule.job_runs.interrupt_running()
        if interrupted:
            log.warning("%d job run(s) were interrupted by the last shutdown", interrupted)
        scheduler = self.schedule.scheduler
        scheduler.add_listener(
            self._on_event,
            EVENT_JOB_MISSED
            | EVENT_JOB_ERROR
            | EVENT_JOB_MAX_INSTANCES
            | EVENT_JOB_ADDED
            | EVENT_JOB_MODIFIED,
        )
        for job in scheduler.get_jobs():
            self._remember(job)
        if any(d.calendar == KRX for d in self._definitions.values()):
            # Seconds of work: done now on a side thread, not by the first job at the open.
            threading.Thread(target=preload, name="stom-calendar-preload", daemon=True).start()
        self.schedule.start()
        if watchdog:
            self.watchdog.start()

    def stop(self, *, wait: bool = True) -> None:
        """Stop the watchdog and the scheduler (waiting for running jobs if ``wait``)."""
        self.watchdog.stop()
        self.schedule.shutdown(wait=wait)

    # -- events ------------------------------------------------------------------------------
    def _on_event(self, event: JobEvent) -> None:
        try:
            if event.code in (EVENT_JOB_ADDED, EVENT_JOB_MODIFIED):
                job = self.schedule.scheduler.get_job(event.job_id)
                if job is not None:
                    self._remember(job)
            elif event.code == EVENT_JOB_MISSED:
                self.handle_missed(event.job_id, event.scheduled_run_time)
            elif event.code == EVENT_JOB_MAX_INSTANCES:
                self._record_overlap(event.job_id, event.scheduled_run_times[-1])
            elif event.code == EVENT_JOB_ERROR:
                self._record_error(event)
        except Exception:  # a listener that raises would only be logged by APScheduler
            log.exception("could not record scheduler event %s for %s", event.code, event.job_id)

    def _remember(self, job: Any) -> None:
        raw = job.kwargs.get("definition")
        if isinstance(raw, dict):
            self._definitions[job.id] = JobDefinition.from_dict(raw)

    def handle_missed(self, job_id: str, scheduled: datetime) -> str:
        """Decide a run APScheduler skipped: run it late (reported) or record 'missed'."""
        definition = self._definitions.get(job_id)
        if definition is None:
            job = self.schedule.scheduler.get_job(job_id)
            if job is not None:
                self._remember(job)
                definition = self._definitions.get(job_id)
        record_id = job_id.split(ONE_OFF_MARK, 1)[0]
        now = self._now()
        if definition is None:
            detail = f"missed: was due {scheduled.isoformat()} (unknown job)"
            self.schedule.job_runs.record(
                record_id, "missed", scheduled_for=scheduled, detail=detail
            )
            runtime.notify(runtime.Notice("missed", f"{record_id} missed", detail, record_id))
            return "missed"
        calendar = get_calendar(definition.calendar)
        policy = LATE_POLICY.get(definition.kind, "never")
        same_day = local_date(calendar, scheduled) == local_date(calendar, now)
        due = f"{scheduled.astimezone(calendar.tz):%Y-%m-%d %H:%M %Z}"
        late_ok = same_day and (
            policy == "same_day" or (policy == "in_session" and is_open(calendar, now))
        )
        if late_ok:
            self.schedule.defer(definition, now, mode="late", late_for=scheduled)
            runtime.notify(
                runtime.Notice(
                    "late",
                    f"{definition.id}: late run",
                    f"{definition.kind} was due {due} (machine asleep or app not running); "
                    "running it now",
                    definition.id,
                )
            )
            return "late"
        why = "session closed" if policy == "in_session" else "too late to be useful"
        if not same_day:
            why = "a later day"
        detail = f"missed: was due {due}; {why}"
        self.schedule.job_runs.record(
            definition.id, "missed", scheduled_for=scheduled, detail=detail
        )
        runtime.notify(runtime.Notice("missed", f"{definition.id} missed", detail, definition.id))
        return "missed"

    def _record_overlap(self, job_id: str, scheduled: datetime) -> None:
        record_id = job_id.split(ONE_OFF_MARK, 1)[0]
        detail = "skipped: the previous run was still running (max_instances=1)"
        self.schedule.job_runs.record(record_id, "missed", scheduled_for=scheduled, detail=detail)
        runtime.notify(runtime.Notice("missed", f"{record_id} overlap skipped", detail, record_id))

    def _record_error(self, event: Any) -> None:
        # Job functions record their own failures; this catches what escapes them.
        record_id = event.job_id.split(ONE_OFF_MARK, 1)[0]
        detail = f"{type(event.exception).__name__}: {event.exception}\n{event.traceback or ''}"
        self.schedule.job_runs.record(
            record_id, "error", scheduled_for=event.scheduled_run_time, detail=detail
        )
        runtime.notify(
            runtime.Notice("error", f"{record_id} failed", str(event.exception), record_id)
        )

    # -- clock jumps -------------------------------------------------------------------------
    def _on_jump(self, before: float, after: float, seconds: float) -> None:
        self.handle_jump(
            datetime.fromtimestamp(before, UTC), datetime.fromtimestamp(after, UTC), seconds
        )

    def handle_jump(self, before: datetime, after: datetime, seconds: float) -> ClockJump:
        """Report the jobs that fell due during a jump and wake the scheduler to process them."""
        scheduler = self.schedule.scheduler
        jobs = scheduler.get_jobs()
        for job in jobs:  # another process may have stored some: know them before they fire
            self._remember(job)
        due = tuple(
            job.id for job in jobs if job.next_run_time is not None and job.next_run_time <= after
        )
        jump = ClockJump(before, after, seconds, due)
        self.jumps.append(jump)
        listed = ", ".join(due) if due else "none"
        runtime.notify(
            runtime.Notice(
                "info",
                "clock jump",
                f"the clock jumped {seconds:+.0f} s (sleep or clock change); "
                f"jobs due meanwhile: {listed}; processing them now",
            )
        )
        scheduler.wakeup()  # re-arm: recompute the wait from the wall clock
        return jump

    def _on_tick(self) -> None:
        self._ticks += 1
        if self._ticks % self._rescan_every == 0:
            # See jobs other processes (stom schedule) stored: learn their definitions first,
            # so a miss can still be decided after a date job has left the store.
            scheduler = self.schedule.scheduler
            for job in scheduler.get_jobs():
                self._remember(job)
            scheduler.wakeup()


def start_scheduler(app: Any, *, watchdog: bool = True) -> SchedulerRuntime:
    """Register ``app`` for job functions and start its schedule (``app.schedule``)."""
    runtime.set_app(app)
    scheduler_runtime = SchedulerRuntime(app.schedule)
    scheduler_runtime.start(watchdog=watchdog)
    return scheduler_runtime
