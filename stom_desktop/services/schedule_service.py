"""Schedule use cases: list, add/edit (validated), enable/disable, delete, run now, defaults.

Jobs live in APScheduler 3's ``SQLAlchemyJobStore`` (table ``apscheduler_jobs``) in the app
database, so they survive restarts. Each stored job is a ``"module:function"`` reference into
``stom_desktop.scheduling.jobs`` with one JSON-able kwarg, ``definition`` (a
:class:`JobDefinition` dict), under a fixed id with ``replace_existing=True``.

The scheduler is built here (services sit below ``scheduling`` in the layers, and the
composition root must be able to build this service); ``stom_desktop.scheduling.scheduler``
adds the running parts (event listeners, sleep watchdog). Until a driver starts it, the
scheduler is opened *paused*: the job store is attached (table created) and every operation
works, but nothing fires. Disabled = APScheduler's paused job (no next run time).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from stom_desktop.core.errors import StomError
from stom_desktop.persistence.db import Database
from stom_desktop.persistence.repositories.job_runs import JobRunRecord, JobRunRepository

if TYPE_CHECKING:
    from apscheduler.job import Job
    from apscheduler.schedulers.background import BackgroundScheduler

    from stom_desktop.services.strategy_service import StrategyService

JOBS_MODULE = "stom_desktop.scheduling.jobs"
KINDS = ("warm_up", "start_session", "liquidate", "stop_session", "daily_report", "data_download")
SESSION_KINDS = frozenset({"warm_up", "start_session", "liquidate", "stop_session"})
# Misfire grace (s), chosen per kind. Beyond it APScheduler skips the run and emits
# EVENT_JOB_MISSED, which the scheduler runtime records and turns into an explicit, reported
# decision (late start only while the session is still open, etc.). Five minutes for starts:
# a start later than that must not happen silently. Ten for liquidate/stop, an hour for
# reports and downloads, which are still useful late.
MISFIRE_GRACE_S = {
    "warm_up": 300,
    "start_session": 300,
    "liquidate": 600,
    "stop_session": 600,
    "daily_report": 3600,
    "data_download": 3600,
}
DEFAULT_GRACE_S = 300
# Calendar name -> time zone of its cron triggers (mirrors scheduling.calendars).
CALENDAR_TZ = {"XKRX": "Asia/Seoul", "24/7": "UTC"}
MODES = ("paper", "live", "dry_run")
FEEDS = ("simulator", "replay")
ONE_OFF_MARK = "@"  # one-off copies (run now, shifted, late) are "<job id>@<what>"
_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")

DEFAULT_STRATEGY = "sma_cross"
DEFAULT_SYMBOLS = ("SIM1", "SIM2")


class InvalidJobError(StomError):
    """A job definition failed validation: ``job_id`` and ``field`` say which and where."""

    def __init__(self, job_id: str, field_name: str, message: str, *, hint: str | None = None):
        self.job_id = job_id
        self.field = field_name
        super().__init__(f"job {job_id!r} {field_name}: {message}", hint=hint)


@dataclass(frozen=True)
class JobDefinition:
    """Everything that defines a scheduled job (JSON-able through to_dict/from_dict).

    Exactly one of ``cron`` (5-field crontab in the calendar's time zone, e.g.
    ``"0 9 * * mon-fri"``) or ``run_at`` (one aware moment) is set. ``anchor`` ('open',
    'close' or None) with ``offset_minutes`` ties the job to the session, so on a late open
    or an overridden day the job runs at the real time: the job function checks at run time.
    """

    id: str
    kind: str
    cron: str | None = None
    run_at: datetime | None = None
    calendar: str = "XKRX"
    anchor: str | None = None
    offset_minutes: int = 0
    spec: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    enabled: bool = True
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``run_at`` as ISO text)."""
        out = asdict(self)
        out["run_at"] = None if self.run_at is None else self.run_at.isoformat()
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> JobDefinition:
        """Inverse of :meth:`to_dict`."""
        data = dict(raw)
        if isinstance(data.get("run_at"), str):
            data["run_at"] = datetime.fromisoformat(data["run_at"])
        return cls(**data)

    @property
    def tz(self) -> ZoneInfo:
        """The time zone of the job's trigger (the calendar's)."""
        return ZoneInfo(CALENDAR_TZ.get(self.calendar, "UTC"))


@dataclass(frozen=True)
class JobInfo:
    """One row of the schedule as a window or ``stom schedule list`` shows it."""

    id: str
    kind: str
    description: str
    trigger: str
    next_run: datetime | None
    enabled: bool
    one_off: bool
    last_run: JobRunRecord | None
    definition: JobDefinition


def build_scheduler(
    database: Database, timezone: str, *, max_workers: int = 4
) -> BackgroundScheduler:
    """An APScheduler 3 ``BackgroundScheduler`` on the app database (not started).

    The job store reuses the app's SQLAlchemy engine rather than a URL: the same driver
    (psycopg 3), SQLite busy timeout and WAL settings, and one connection pool. Jobs run on
    a small thread pool (jobs only call services, which return quickly).
    """
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.schedulers.base import STATE_STOPPED

    class _Scheduler(BackgroundScheduler):
        # APScheduler 3.11's loop runs one more _process_jobs after shutdown() sets the
        # state to stopped; with a past-due job that pass fails on the closed store
        # (JobLookupError in the scheduler thread). Skip it.
        def _process_jobs(self) -> float | None:
            if self.state == STATE_STOPPED:
                return None
            result: float | None = super()._process_jobs()
            return result

    return _Scheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=database.engine)},
        executors={"default": ThreadPoolExecutor(max_workers=max_workers)},
        job_defaults={
            "coalesce": True,  # after a sleep, a backlog of runs collapses to one
            "max_instances": 1,  # a job never overlaps itself
            "misfire_grace_time": DEFAULT_GRACE_S,
        },
        timezone=ZoneInfo(timezone),
    )


class ScheduleService:
    """The schedule: APScheduler jobs in the app database plus their recorded runs."""

    def __init__(
        self,
        database: Database,
        *,
        timezone: str = "Asia/Seoul",
        strategies: StrategyService | None = None,
        max_workers: int = 4,
    ) -> None:
        self._database = database
        self._tz = ZoneInfo(timezone)
        self._strategies = strategies
        self._max_workers = max_workers
        self._scheduler: BackgroundScheduler | None = None
        self.job_runs = JobRunRepository(database)

    # -- scheduler lifecycle -------------------------------------------------------------
    @property
    def scheduler(self) -> BackgroundScheduler:
        """The APScheduler instance, opened (paused) on first use."""
        if self._scheduler is None:
            self._scheduler = build_scheduler(
                self._database, str(self._tz), max_workers=self._max_workers
            )
        if not self._scheduler.running:
            self._scheduler.start(paused=True)  # attach the store; fire nothing yet
        return self._scheduler

    @property
    def timezone(self) -> ZoneInfo:
        """The exchange time zone next run times are shown in."""
        return self._tz

    def start(self) -> None:
        """Let jobs fire (resume the scheduler)."""
        self.scheduler.resume()

    def shutdown(self, wait: bool = True) -> None:
        """Stop the scheduler (waiting for running jobs if ``wait``); safe to call twice."""
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
        self._scheduler = None

    # -- queries ---------------------------------------------------------------------------
    def list_jobs(self) -> list[JobInfo]:
        """Every stored job, soonest first (disabled ones last), with its last result."""
        last = self.job_runs.last_by_job()
        infos = [self._info(job, last) for job in self.scheduler.get_jobs()]
        far = datetime.max.replace(tzinfo=UTC)
        return sorted(infos, key=lambda i: (i.next_run is None, i.next_run or far, i.id))

    def get(self, job_id: str) -> JobInfo:
        """One job; ``StomError`` naming it when it does not exist."""
        return self._info(self._job(job_id), self.job_runs.last_by_job())

    def runs(self, job_id: str | None = None, limit: int = 50) -> list[JobRunRecord]:
        """The newest ``limit`` recorded runs (of one job, or all), oldest first."""
        rows = self.job_runs.list(job_id=job_id)
        return rows[-limit:]

    # -- changes ---------------------------------------------------------------------------
    def add(self, definition: JobDefinition, *, replace_existing: bool = False) -> JobInfo:
        """Validate and store a job; an existing id is refused unless ``replace_existing``."""
        self.validate(definition)
        if not replace_existing and self.scheduler.get_job(definition.id) is not None:
            raise InvalidJobError(definition.id, "id", "already exists", hint="edit it instead")
        self._store(definition, job_id=definition.id)
        return self.get(definition.id)

    def edit(self, job_id: str, definition: JobDefinition) -> JobInfo:
        """Replace job ``job_id`` with ``definition`` (which may carry a new id)."""
        self._job(job_id)
        self.validate(definition)
        if definition.id != job_id:
            if self.scheduler.get_job(definition.id) is not None:
                raise InvalidJobError(definition.id, "id", "already exists")
            self._store(definition, job_id=definition.id)
            self.scheduler.remove_job(job_id)
        else:
            self._store(definition, job_id=job_id)
        return self.get(definition.id)

    def enable(self, job_id: str) -> JobInfo:
        """Resume a disabled job (its next run is computed from now)."""
        job = self._job(job_id)
        self._modify_definition(job, enabled=True)
        if self.scheduler.resume_job(job_id) is None:
            raise StomError(f"job {job_id!r} has no future run time left and was removed")
        return self.get(job_id)

    def disable(self, job_id: str) -> JobInfo:
        """Pause a job: it stays stored but never fires until enabled."""
        job = self._job(job_id)
        self._modify_definition(job, enabled=False)
        self.scheduler.pause_job(job_id)
        return self.get(job_id)

    def delete(self, job_id: str) -> JobDefinition:
        """Remove a job and return its definition (``add`` it again to undo)."""
        job = self._job(job_id)
        definition = _definition(job)
        self.scheduler.remove_job(job_id)
        return definition

    def run_now(self, job_id: str) -> str:
        """Run a job once, now, as a one-off copy (its schedule is untouched); returns its id."""
        definition = _definition(self._job(job_id))
        return self.defer(definition, datetime.now(UTC), mode="now")

    def defer(
        self,
        definition: JobDefinition,
        run_at: datetime,
        *,
        mode: str,
        late_for: datetime | None = None,
    ) -> str:
        """Add a one-off copy of ``definition`` at ``run_at`` (used by job functions).

        ``mode`` is 'now' (run now), 'shifted' (moved to the real open/close) or 'late'
        (a missed run the runtime decided to run late). The copy keeps the original
        ``definition.id`` in its kwargs, so its run is recorded under that id.
        """
        copy_id = f"{definition.id}{ONE_OFF_MARK}{mode}"
        kwargs: dict[str, Any] = {"definition": definition.to_dict(), "mode": mode}
        if late_for is not None:
            kwargs["late_for"] = late_for.isoformat()
        self.scheduler.add_job(
            f"{JOBS_MODULE}:{definition.kind}",
            trigger="date",
            run_date=run_at,
            id=copy_id,
            name=f"{definition.description or definition.id} ({mode})",
            kwargs=kwargs,
            replace_existing=True,
            misfire_grace_time=MISFIRE_GRACE_S.get(definition.kind, DEFAULT_GRACE_S),
        )
        return copy_id

    def install_default_schedule(self, *, replace_existing: bool = False) -> list[JobInfo]:
        """The example day for sma_cross on SIM1,SIM2 (paper, simulator), shipped disabled.

        Warm-up 08:50, start 09:00, liquidate 15:15, stop 15:20, report 15:30 Asia/Seoul on
        KRX sessions (anchored to the real open/close, so late opens shift them). Existing
        jobs are kept (with their enabled state) unless ``replace_existing``.
        """
        spec = default_session_spec("default sma_cross", speed=1.0)
        rows = [
            ("warm_up", "50 8 * * mon-fri", "open", -10, "pre-open warm-up"),
            ("start", "0 9 * * mon-fri", "open", 0, "start session at the open"),
            ("liquidate", "15 15 * * mon-fri", "close", -15, "liquidate before the close"),
            ("stop", "20 15 * * mon-fri", "close", -10, "stop session"),
            ("report", "30 15 * * mon-fri", "close", 0, "end-of-day report"),
        ]
        kinds = {"start": "start_session", "stop": "stop_session", "report": "daily_report"}
        installed = []
        for name, cron, anchor, offset, text in rows:
            definition = JobDefinition(
                id=f"default.{name}",
                kind=kinds.get(name, name),
                cron=cron,
                calendar="XKRX",
                anchor=anchor,
                offset_minutes=offset,
                spec=spec,
                enabled=False,
                description=f"{text} ({DEFAULT_STRATEGY})",
            )
            if replace_existing or self.scheduler.get_job(definition.id) is None:
                self.add(definition, replace_existing=True)
            installed.append(self.get(definition.id))
        return installed

    def demo_schedule(
        self, now: datetime | None = None, *, timescale: float = 1.0
    ) -> list[JobInfo]:
        """A demo day starting ``now`` on the simulator at 60x, through the real scheduler.

        Warm-up +2 s, start +5 s, liquidate +90 s, stop +100 s, report +105 s (24/7 calendar,
        one-off date triggers). ``timescale`` compresses the timeline (0.1 = ten times
        faster) and speeds the simulator up by the same factor.
        """
        if timescale <= 0:
            raise InvalidJobError("demo", "timescale", f"must be > 0, got {timescale}")
        start = now if now is not None else datetime.now(UTC)
        spec = default_session_spec("demo sma_cross", speed=60.0 / timescale)
        rows = [
            ("warm_up", "warm_up", 2),
            ("start", "start_session", 5),
            ("liquidate", "liquidate", 90),
            ("stop", "stop_session", 100),
            ("report", "daily_report", 105),
        ]
        infos = []
        for name, kind, seconds in rows:
            definition = JobDefinition(
                id=f"demo.{name}",
                kind=kind,
                run_at=start + timedelta(seconds=seconds * timescale),
                calendar="24/7",
                spec=spec,
                description=f"demo: {name.replace('_', '-')}",
            )
            infos.append(self.add(definition, replace_existing=True))
        return infos

    # -- validation ------------------------------------------------------------------------
    def validate(self, definition: JobDefinition) -> None:
        """Raise ``InvalidJobError`` naming the job and field for anything wrong."""
        d = definition
        if not isinstance(d.id, str) or not _ID_RE.match(d.id):
            raise InvalidJobError(str(d.id), "id", "use 1-100 letters, digits, '.', '_' or '-'")
        if d.kind not in KINDS:
            raise InvalidJobError(d.id, "kind", f"{d.kind!r} is not one of {', '.join(KINDS)}")
        if (d.cron is None) == (d.run_at is None):
            raise InvalidJobError(d.id, "trigger", "give exactly one of cron or run_at")
        if d.calendar not in CALENDAR_TZ:
            known = ", ".join(CALENDAR_TZ)
            raise InvalidJobError(d.id, "calendar", f"{d.calendar!r} is unknown; known: {known}")
        if d.cron is not None:
            _check_cron(d)
        if d.run_at is not None and (d.run_at.tzinfo is None or d.run_at.utcoffset() is None):
            raise InvalidJobError(d.id, "run_at", "must carry a time zone")
        if d.anchor not in (None, "open", "close"):
            raise InvalidJobError(d.id, "anchor", f"must be open, close or empty, got {d.anchor!r}")
        if not isinstance(d.offset_minutes, int) or abs(d.offset_minutes) > 720:
            raise InvalidJobError(d.id, "offset_minutes", "must be whole minutes within +-720")
        if d.kind in SESSION_KINDS or d.spec is not None:
            self._check_spec(d)
        if d.kind == "data_download":
            _check_download(d)

    def _check_spec(self, d: JobDefinition) -> None:
        spec = d.spec
        if not isinstance(spec, dict):
            raise InvalidJobError(d.id, "spec", f"a {d.kind} job needs a session spec")
        for key in ("name", "strategy"):
            if not isinstance(spec.get(key), str) or not spec[key].strip():
                raise InvalidJobError(d.id, f"spec.{key}", "must be non-empty text")
        symbols = spec.get("symbols")
        if not isinstance(symbols, list | tuple) or not symbols:
            raise InvalidJobError(d.id, "spec.symbols", "give at least one symbol")
        if not all(isinstance(s, str) and s.strip() for s in symbols):
            raise InvalidJobError(
                d.id, "spec.symbols", f"symbols must be non-empty text: {symbols}"
            )
        if spec.get("mode", "paper") not in MODES:
            raise InvalidJobError(d.id, "spec.mode", f"must be one of {', '.join(MODES)}")
        if spec.get("feed", "simulator") not in FEEDS:
            raise InvalidJobError(d.id, "spec.feed", f"must be one of {', '.join(FEEDS)}")
        speed = spec.get("speed", 1.0)
        if not isinstance(speed, int | float) or speed < 0:
            raise InvalidJobError(d.id, "spec.speed", f"must be a number >= 0, got {speed!r}")
        if self._strategies is not None:
            try:
                self._strategies.load_class(spec["strategy"])
            except StomError as exc:
                raise InvalidJobError(d.id, "spec.strategy", str(exc)) from exc
        _check_with_session_spec(d)

    # -- internals -------------------------------------------------------------------------
    def _store(self, definition: JobDefinition, *, job_id: str) -> None:
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.date import DateTrigger

        trigger: CronTrigger | DateTrigger
        if definition.cron is not None:
            trigger = CronTrigger.from_crontab(definition.cron, timezone=definition.tz)
        else:
            trigger = DateTrigger(run_date=definition.run_at)
        options: dict[str, Any] = {}
        if not definition.enabled:
            options["next_run_time"] = None  # stored paused
        self.scheduler.add_job(
            f"{JOBS_MODULE}:{definition.kind}",
            trigger=trigger,
            id=job_id,
            name=definition.description or job_id,
            kwargs={"definition": definition.to_dict(), "mode": "scheduled"},
            replace_existing=True,
            misfire_grace_time=MISFIRE_GRACE_S.get(definition.kind, DEFAULT_GRACE_S),
            **options,
        )

    def _job(self, job_id: str) -> Job:
        job = self.scheduler.get_job(job_id)
        if job is None:
            known = ", ".join(j.id for j in self.scheduler.get_jobs()) or "none"
            raise StomError(f"no scheduled job {job_id!r}", hint=f"jobs: {known}")
        return job

    def _modify_definition(self, job: Job, **changes: Any) -> None:
        definition = replace(_definition(job), **changes)
        kwargs = dict(job.kwargs)
        kwargs["definition"] = definition.to_dict()
        self.scheduler.modify_job(job.id, kwargs=kwargs)

    def _info(self, job: Job, last: dict[str, JobRunRecord]) -> JobInfo:
        definition = _definition(job)
        next_run = getattr(job, "next_run_time", None)
        return JobInfo(
            id=job.id,
            kind=definition.kind,
            description=definition.description,
            trigger=trigger_text(definition),
            next_run=None if next_run is None else next_run.astimezone(self._tz),
            enabled=next_run is not None,
            one_off=ONE_OFF_MARK in job.id,
            last_run=last.get(definition.id if ONE_OFF_MARK in job.id else job.id),
            definition=definition,
        )


def default_session_spec(name: str, *, speed: float) -> dict[str, Any]:
    """The example session: sma_cross on SIM1,SIM2, paper, on the simulator."""
    return {
        "name": name,
        "strategy": DEFAULT_STRATEGY,
        "symbols": list(DEFAULT_SYMBOLS),
        "mode": "paper",
        "timeframe": "1m",
        "feed": "simulator",
        "speed": speed,
    }


def trigger_text(d: JobDefinition) -> str:
    """Human text for the trigger, e.g. ``cron 0 9 * * mon-fri Asia/Seoul, at open+0m (XKRX)``."""
    when = (
        f"cron {d.cron} {d.tz}"
        if d.cron is not None
        else f"once at {d.run_at:%Y-%m-%d %H:%M:%S %Z}"
    )
    if d.anchor is None:
        return f"{when} ({d.calendar})"
    return f"{when}, at {d.anchor}{d.offset_minutes:+d}m ({d.calendar})"


def _definition(job: Job) -> JobDefinition:
    raw = job.kwargs.get("definition")
    if not isinstance(raw, dict):
        raise StomError(f"job {job.id!r} was not created by STOM Desktop (no definition)")
    return JobDefinition.from_dict(raw)


def _check_cron(d: JobDefinition) -> None:
    from apscheduler.triggers.cron import CronTrigger

    assert d.cron is not None
    fields = d.cron.split()
    if len(fields) != 5:
        raise InvalidJobError(
            d.id,
            "cron",
            f"{d.cron!r} needs 5 fields: minute hour day month weekday",
            hint="e.g. '0 9 * * mon-fri'",
        )
    try:
        CronTrigger.from_crontab(d.cron, timezone=d.tz)
    except ValueError as exc:
        raise InvalidJobError(
            d.id, "cron", f"{d.cron!r}: {exc}", hint="e.g. '0 9 * * mon-fri'"
        ) from exc


def _check_download(d: JobDefinition) -> None:
    source = d.options.get("source")
    if not isinstance(source, str) or not source:
        raise InvalidJobError(
            d.id, "options.source", "say where to download from, e.g. 'synthetic'"
        )
    symbols = d.options.get("symbols")
    if not isinstance(symbols, list) or not symbols:
        raise InvalidJobError(d.id, "options.symbols", "give at least one symbol")


def _check_with_session_spec(d: JobDefinition) -> None:
    """Round-trip through the TradingService's ``SessionSpec`` when that module exists."""
    try:
        from stom_desktop.services.trading_service import SessionSpec
    except ImportError:  # the trading service lands separately; the checks above still apply
        return
    try:
        SessionSpec.from_dict(dict(d.spec or {}))
    except (StomError, TypeError, ValueError, KeyError) as exc:
        raise InvalidJobError(d.id, "spec", str(exc)) from exc
