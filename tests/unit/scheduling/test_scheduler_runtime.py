"""The running scheduler: jobs fire, never overlap, misses are recorded, clock jumps handled."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sched_fakes import FakeApp, wait_for

from stom_desktop.scheduling import runtime
from stom_desktop.scheduling.scheduler import ClockWatchdog, SchedulerRuntime
from stom_desktop.services.schedule_service import (
    JobDefinition,
    ScheduleService,
    default_session_spec,
)

SEOUL = ZoneInfo("Asia/Seoul")


class FakeClocks:
    """Wall and monotonic clocks the test moves by hand."""

    def __init__(self) -> None:
        self.wall_s = datetime.now(UTC).timestamp()
        self.mono_s = 1000.0

    def wall(self) -> float:
        return self.wall_s

    def mono(self) -> float:
        return self.mono_s


@pytest.fixture()
def notices() -> Iterator[list[runtime.Notice]]:
    seen: list[runtime.Notice] = []
    runtime.set_notifier(seen.append)
    yield seen
    runtime.set_notifier(None)


def _def(job_id: str, kind: str, **changes: object) -> JobDefinition:
    base = JobDefinition(
        id=job_id,
        kind=kind,
        cron="* * * * *",
        calendar="24/7",
        spec=default_session_spec(f"{job_id} session", speed=1.0),
    )
    return JobDefinition.from_dict({**base.to_dict(), **changes})


def _runs(app: FakeApp, job_id: str) -> list[tuple[str, str]]:
    return [(r.status, r.detail or "") for r in app.schedule.job_runs.list(job_id=job_id)]


def test_a_job_fires_and_records_ok(app: FakeApp) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=0.3)
    app.schedule.add(_def("t.report", "daily_report", cron=None, run_at=soon.isoformat()))
    sched = SchedulerRuntime(app.schedule)
    sched.start(watchdog=False)
    wait_for(lambda: _runs(app, "t.report"), what="the report run")
    wait_for(lambda: _runs(app, "t.report")[0][0] != "running", what="the run to finish")
    ((status, detail),) = _runs(app, "t.report")
    assert status == "ok" and "report saved" in detail
    assert app.trading.kinds() == ["report"]
    assert app.schedule.scheduler.get_job("t.report") is None  # a date job runs once


def test_two_overlapping_runs_never_start(app: FakeApp, notices: list[runtime.Notice]) -> None:
    release = threading.Event()
    app.trading.block_start = release
    # A yearly cron: the test forces the due times, no natural firing gets in between.
    app.schedule.add(_def("t.start", "start_session", cron="0 0 1 1 *"))
    sched = SchedulerRuntime(app.schedule)
    sched.start(watchdog=False)
    scheduler = app.schedule.scheduler
    scheduler.modify_job("t.start", next_run_time=datetime.now(UTC))
    assert app.trading.start_entered.wait(10), "first run did not start"
    # APScheduler's max_instances=1: the due run is skipped while the first still runs.
    scheduler.modify_job("t.start", next_run_time=datetime.now(UTC))
    wait_for(lambda: any(s == "missed" for s, _ in _runs(app, "t.start")), what="skipped run")
    # A run-now copy (another APScheduler id) is held off by the job's own lock.
    app.schedule.run_now("t.start")
    wait_for(lambda: sum(s == "missed" for s, _ in _runs(app, "t.start")) == 2, what="2nd skip")
    assert app.trading.kinds() == ["start"]
    release.set()
    wait_for(lambda: any(s == "ok" for s, _ in _runs(app, "t.start")), what="first run to end")
    details = sorted(d for s, d in _runs(app, "t.start") if s == "missed")
    assert details == [
        "skipped: the previous run is still running",
        "skipped: the previous run was still running (max_instances=1)",
    ]
    assert app.trading.kinds() == ["start"]
    assert any("overlap" in n.title for n in notices)


def test_a_run_missed_beyond_grace_is_recorded_missed(
    app: FakeApp, notices: list[runtime.Notice]
) -> None:
    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    download = _def(
        "t.dl",
        "data_download",
        cron=None,
        run_at=two_hours_ago.isoformat(),
        spec=None,
        options={"source": "synthetic", "symbols": ["AAA"]},
    )
    app.schedule.add(download)
    SchedulerRuntime(app.schedule).start(watchdog=False)
    wait_for(lambda: _runs(app, "t.dl"), what="the missed record")
    ((status, detail),) = _runs(app, "t.dl")
    assert status == "missed" and detail.startswith("missed: was due")
    assert app.schedule.job_runs.list(job_id="t.dl")[0].scheduled_for == two_hours_ago
    assert app.data.list_series() == []
    assert [n.kind for n in notices] == ["missed"]


def test_a_start_missed_while_the_session_is_open_runs_late(
    app: FakeApp, notices: list[runtime.Notice]
) -> None:
    due = datetime.now(UTC) - timedelta(minutes=20)
    app.schedule.add(_def("t.start", "start_session", cron=None, run_at=due.isoformat()))
    SchedulerRuntime(app.schedule).start(watchdog=False)
    wait_for(lambda: [r for r in _runs(app, "t.start") if r[0] == "ok"], what="late start")
    ((status, detail),) = _runs(app, "t.start")
    assert status == "ok" and detail.startswith("late: scheduled") and "started session 1" in detail
    assert app.trading.kinds() == ["start"]
    assert [n.kind for n in notices] == ["late", "late"]  # decided late, then ran late


def test_missed_krx_start_after_the_close_is_missed_and_in_session_runs_late(app: FakeApp) -> None:
    start = JobDefinition(
        id="k.start",
        kind="start_session",
        cron="0 9 * * mon-fri",
        calendar="XKRX",
        anchor="open",
        spec=default_session_spec("krx", speed=1.0),
    )
    app.schedule.add(start)
    scheduled = datetime(2026, 1, 5, 9, 0, tzinfo=SEOUL)
    evening = SchedulerRuntime(app.schedule, now=lambda: datetime(2026, 1, 5, 16, 0, tzinfo=SEOUL))
    assert evening.handle_missed("k.start", scheduled) == "missed"
    ((status, detail),) = _runs(app, "k.start")
    assert status == "missed" and "2026-01-05 09:00 KST; session closed" in detail
    morning = SchedulerRuntime(app.schedule, now=lambda: datetime(2026, 1, 5, 11, 0, tzinfo=SEOUL))
    assert morning.handle_missed("k.start", scheduled) == "late"
    late = app.schedule.scheduler.get_job("k.start@late")
    assert late.kwargs["late_for"] == scheduled.isoformat()
    next_day = SchedulerRuntime(app.schedule, now=lambda: datetime(2026, 1, 6, 9, 30, tzinfo=SEOUL))
    assert next_day.handle_missed("k.start", scheduled) == "missed"


def test_an_error_escaping_a_job_is_recorded(app: FakeApp, notices: list[runtime.Notice]) -> None:
    SchedulerRuntime(app.schedule).start(watchdog=False)
    app.schedule.scheduler.add_job(
        "stom_desktop.scheduling.jobs:start_session",
        trigger="date",
        run_date=datetime.now(UTC),
        id="t.broken",
        kwargs={"definition": {"id": "t.broken"}},
    )
    wait_for(lambda: _runs(app, "t.broken"), what="the error record")
    ((status, detail),) = _runs(app, "t.broken")
    assert status == "error" and detail.startswith("TypeError")
    assert notices[-1].kind == "error"


def test_runs_left_running_by_a_crash_are_marked_interrupted(app: FakeApp) -> None:
    app.schedule.job_runs.start("t.crashed")
    SchedulerRuntime(app.schedule).start(watchdog=False)
    ((status, detail),) = _runs(app, "t.crashed")
    assert (status, detail) == ("error", "interrupted: the application stopped")


def test_watchdog_reports_forward_and_backward_jumps_only() -> None:
    clocks = FakeClocks()
    jumps: list[float] = []
    dog = ClockWatchdog(
        lambda _b, _a, s: jumps.append(s), wall=clocks.wall, monotonic=clocks.mono, threshold=30
    )
    assert dog.check() is None  # baseline
    clocks.wall_s += 5.0
    clocks.mono_s += 5.0
    assert dog.check() is None
    clocks.wall_s += 2 * 3600 + 5.0  # suspended two hours: monotonic barely moved
    clocks.mono_s += 5.0
    assert dog.check() == pytest.approx(7200)
    clocks.wall_s -= 100.0  # clock set back
    clocks.mono_s += 5.0
    assert dog.check() == pytest.approx(-105)
    clocks.wall_s += 20.0  # drift within the threshold
    clocks.mono_s += 5.0
    assert dog.check() is None
    assert jumps == [pytest.approx(7200), pytest.approx(-105)]


def test_clock_jump_reports_due_jobs_and_the_start_runs_late(
    app: FakeApp, db: object, notices: list[runtime.Notice]
) -> None:
    clocks = FakeClocks()
    sched = SchedulerRuntime(app.schedule, wall=clocks.wall, monotonic=clocks.mono)
    sched.start(watchdog=False)
    sched.watchdog.check()  # baseline
    # Let the scheduler thread finish a pass and go back to waiting (a run it fired ended).
    now = datetime.now(UTC).isoformat()
    app.schedule.add(_def("t.sentinel", "daily_report", cron=None, run_at=now))
    wait_for(lambda: [r for r in _runs(app, "t.sentinel") if r[0] == "ok"], what="sentinel")
    # While "asleep" the job fell due: stored by another process, so this scheduler's
    # thread does not know about it until something wakes it.
    other = ScheduleService(db, timezone="Asia/Seoul")  # type: ignore[arg-type]
    due = datetime.now(UTC) - timedelta(hours=1)
    other.add(_def("t.start", "start_session", cron=None, run_at=due.isoformat()))
    other.shutdown()
    assert app.trading.kinds() == ["report"]
    clocks.wall_s += 3600 + 5
    clocks.mono_s += 5
    assert sched.watchdog.check() == pytest.approx(3600)
    (jump,) = sched.jumps
    assert jump.due_jobs == ("t.start",)
    jump_notice = next(n for n in notices if n.title == "clock jump")
    assert "t.start" in jump_notice.message and "+3600 s" in jump_notice.message
    wait_for(lambda: [r for r in _runs(app, "t.start") if r[0] == "ok"], what="late start")
    assert app.trading.kinds() == ["report", "start"]
    assert "late: scheduled" in _runs(app, "t.start")[0][1]
