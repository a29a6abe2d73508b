"""Scheduled jobs live in the app database: they survive a restart, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from stom_desktop.persistence import create_database
from stom_desktop.scheduling import runtime
from stom_desktop.scheduling.scheduler import SchedulerRuntime
from stom_desktop.services.schedule_service import JobDefinition, ScheduleService
from stom_desktop.services.strategy_service import StrategyService


@dataclass
class _Trading:
    reports: list[Any] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def daily_report(self, day: Any = None) -> SimpleNamespace:
        self.reports.append(day)
        self.done.set()
        return SimpleNamespace(path=None)


@pytest.fixture(autouse=True)
def _clear_runtime() -> Iterator[None]:
    yield
    runtime.set_app(None)


def _service(url: str, tmp_path: Path) -> ScheduleService:
    db = create_database(url)
    return ScheduleService(db, timezone="Asia/Seoul", strategies=StrategyService(tmp_path / "s"))


def test_jobs_and_their_state_survive_a_restart(database_url: str, tmp_path: Path) -> None:
    first = _service(database_url, tmp_path)
    first.install_default_schedule()
    first.enable("default.start")
    first.job_runs.record("default.start", "missed", detail="asleep")
    before = {i.id: (i.next_run, i.enabled, i.definition) for i in first.list_jobs()}
    first.shutdown()

    second = _service(database_url, tmp_path)
    after = {i.id: (i.next_run, i.enabled, i.definition) for i in second.list_jobs()}
    assert after == before
    assert after["default.start"][1] is True and after["default.stop"][1] is False
    assert (
        after["default.start"][0] is not None
        and after["default.start"][0].strftime("%H:%M") == "09:00"
    )
    last = second.get("default.start").last_run
    assert last is not None and (last.status, last.detail) == ("missed", "asleep")
    second.shutdown()


def test_a_job_stored_before_a_restart_fires_after_it(database_url: str, tmp_path: Path) -> None:
    first = _service(database_url, tmp_path)
    run_at = datetime.now(UTC) + timedelta(seconds=0.5)
    first.add(JobDefinition(id="r.report", kind="daily_report", run_at=run_at, calendar="24/7"))
    first.shutdown()  # the process "exits" before the job is due

    second = _service(database_url, tmp_path)
    assert second.get("r.report").next_run == run_at
    trading = _Trading()
    runtime.set_app(SimpleNamespace(schedule=second, trading=trading))
    sched = SchedulerRuntime(second)
    sched.start(watchdog=False)
    try:
        assert trading.done.wait(10), "the stored job did not fire after the restart"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not second.job_runs.list(status="ok"):
            time.sleep(0.02)
        (run,) = second.job_runs.list(job_id="r.report")
        assert run.status == "ok" and run.scheduled_for is not None
        assert abs((run.scheduled_for - run_at).total_seconds()) < 1e-3
    finally:
        sched.stop()
