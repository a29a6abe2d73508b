"""Fixtures: a real ScheduleService on a temporary SQLite database and a fake trading App."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sched_fakes import FakeApp, FakeTrading

from stom_desktop.persistence import Database, create_database
from stom_desktop.scheduling import jobs, runtime
from stom_desktop.services.data_service import DataService
from stom_desktop.services.schedule_service import ScheduleService
from stom_desktop.services.strategy_service import StrategyService


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Database]:
    database = create_database(f"sqlite:///{tmp_path / 'sched.sqlite'}")
    yield database
    database.dispose()


@pytest.fixture()
def app(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApp]:
    """The App job functions see: real schedule/data/strategies, fake trading."""
    strategies = StrategyService(tmp_path / "strategies")
    schedule = ScheduleService(db, timezone="Asia/Seoul", strategies=strategies)
    fake = FakeApp(
        schedule=schedule, trading=FakeTrading(), data=DataService(db), strategies=strategies
    )
    # The fake trading service takes the spec dict as it is.
    monkeypatch.setattr(jobs, "session_spec_from_dict", dict)
    runtime.set_app(fake)
    yield fake
    if fake.trading.block_start is not None:
        fake.trading.block_start.set()
    schedule.shutdown(wait=True)
    runtime.set_app(None)
    runtime.set_notifier(None)
