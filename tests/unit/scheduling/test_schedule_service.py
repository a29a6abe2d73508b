"""ScheduleService: validation, listing, enable/disable, delete/undo, run now, defaults, demo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sched_fakes import FakeApp

from stom_desktop.services.schedule_service import (
    InvalidJobError,
    JobDefinition,
    default_session_spec,
)

SEOUL = ZoneInfo("Asia/Seoul")


def _job(**changes: object) -> JobDefinition:
    base = JobDefinition(
        id="my.start",
        kind="start_session",
        cron="0 9 * * mon-fri",
        anchor="open",
        spec=default_session_spec("mine", speed=1.0),
    )
    return JobDefinition.from_dict({**base.to_dict(), **changes})


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"id": "bad id!"}, "id", "letters"),
        ({"kind": "launch_rockets"}, "kind", "not one of"),
        ({"cron": "0 9 * *"}, "cron", "needs 5 fields"),
        ({"cron": "0 25 * * mon-fri"}, "cron", "'0 25 * * mon-fri'"),
        ({"cron": None}, "trigger", "exactly one"),
        ({"run_at": "2026-01-05T09:00:00+09:00"}, "trigger", "exactly one"),
        ({"calendar": "NYSE"}, "calendar", "unknown"),
        ({"anchor": "noon"}, "anchor", "open, close"),
        ({"spec": None}, "spec", "needs a session spec"),
        (
            {"spec": {**default_session_spec("x", speed=1), "symbols": []}},
            "spec.symbols",
            "at least one",
        ),
        ({"spec": {**default_session_spec("x", speed=1), "mode": "yolo"}}, "spec.mode", "paper"),
        (
            {"spec": {**default_session_spec("x", speed=1), "strategy": "nope"}},
            "spec.strategy",
            "nope",
        ),
        ({"spec": {**default_session_spec("x", speed=1), "speed": -1}}, "spec.speed", ">= 0"),
    ],
)
def test_invalid_definitions_name_job_and_field(
    app: FakeApp, changes: dict[str, object], field: str, text: str
) -> None:
    with pytest.raises(InvalidJobError) as caught:
        app.schedule.add(_job(**changes))
    assert caught.value.field == field
    assert text in str(caught.value)
    assert app.schedule.list_jobs() == []


def test_add_list_and_next_run_in_exchange_time(app: FakeApp) -> None:
    info = app.schedule.add(_job())
    assert info.enabled and info.kind == "start_session"
    assert info.trigger == "cron 0 9 * * mon-fri Asia/Seoul, at open+0m (XKRX)"
    assert info.next_run is not None and info.next_run.tzinfo is not None
    assert (info.next_run.utcoffset(), info.next_run.hour, info.next_run.minute) == (
        timedelta(hours=9),
        9,
        0,
    )
    assert info.next_run.weekday() < 5
    with pytest.raises(InvalidJobError, match="already exists"):
        app.schedule.add(_job())
    assert [i.id for i in app.schedule.list_jobs()] == ["my.start"]


def test_disable_enable_delete_and_undo(app: FakeApp) -> None:
    app.schedule.add(_job())
    off = app.schedule.disable("my.start")
    assert (off.enabled, off.next_run, off.definition.enabled) == (False, None, False)
    on = app.schedule.enable("my.start")
    assert on.enabled and on.next_run is not None and on.definition.enabled
    removed = app.schedule.delete("my.start")
    assert app.schedule.list_jobs() == []
    restored = app.schedule.add(removed)
    assert restored.definition == removed
    with pytest.raises(Exception, match="no scheduled job 'gone'"):
        app.schedule.delete("gone")


def test_edit_changes_the_trigger_and_may_rename(app: FakeApp) -> None:
    app.schedule.add(_job())
    edited = app.schedule.edit(
        "my.start", _job(cron="30 9 * * mon-fri", anchor="open", offset_minutes=30)
    )
    assert edited.next_run is not None and (edited.next_run.hour, edited.next_run.minute) == (9, 30)
    renamed = app.schedule.edit("my.start", _job(id="my.start2"))
    assert renamed.id == "my.start2"
    assert [i.id for i in app.schedule.list_jobs()] == ["my.start2"]
    with pytest.raises(InvalidJobError, match="cron"):
        app.schedule.edit("my.start2", _job(id="my.start2", cron="nonsense"))


def test_run_now_adds_a_one_off_copy_and_keeps_the_schedule(app: FakeApp) -> None:
    app.schedule.add(_job())
    app.schedule.disable("my.start")
    copy_id = app.schedule.run_now("my.start")
    assert copy_id == "my.start@now"
    copy = app.schedule.get(copy_id)
    assert copy.one_off and copy.enabled and copy.definition.id == "my.start"
    assert copy.next_run is not None
    assert abs((copy.next_run - datetime.now(UTC)).total_seconds()) < 60
    assert not app.schedule.get("my.start").enabled


def test_default_schedule_ships_disabled_with_the_example_times(app: FakeApp) -> None:
    infos = app.schedule.install_default_schedule()
    assert [(i.id, i.kind, i.enabled) for i in infos] == [
        ("default.warm_up", "warm_up", False),
        ("default.start", "start_session", False),
        ("default.liquidate", "liquidate", False),
        ("default.stop", "stop_session", False),
        ("default.report", "daily_report", False),
    ]
    spec = infos[1].definition.spec
    assert spec is not None
    assert (spec["strategy"], spec["symbols"], spec["mode"], spec["feed"]) == (
        "sma_cross",
        ["SIM1", "SIM2"],
        "paper",
        "simulator",
    )
    times = []
    for info in infos:
        enabled = app.schedule.enable(info.id)
        assert enabled.next_run is not None
        times.append(enabled.next_run.strftime("%H:%M %Z"))
    assert times == ["08:50 KST", "09:00 KST", "15:15 KST", "15:20 KST", "15:30 KST"]
    # Re-installing keeps the user's enabled state unless asked to replace.
    assert all(i.enabled for i in app.schedule.install_default_schedule())
    assert not any(i.enabled for i in app.schedule.install_default_schedule(replace_existing=True))


def test_demo_schedule_is_a_two_minute_day_from_now(app: FakeApp) -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    infos = app.schedule.demo_schedule(now)
    offsets = {i.id: (i.next_run - now).total_seconds() for i in infos if i.next_run}
    assert offsets == {
        "demo.warm_up": 2,
        "demo.start": 5,
        "demo.liquidate": 90,
        "demo.stop": 100,
        "demo.report": 105,
    }
    assert infos[1].definition.spec is not None and infos[1].definition.spec["speed"] == 60.0
    fast = app.schedule.demo_schedule(now, timescale=0.1)
    assert (fast[-1].next_run - now).total_seconds() == pytest.approx(10.5)
    assert fast[1].definition.spec is not None and fast[1].definition.spec["speed"] == 600.0
