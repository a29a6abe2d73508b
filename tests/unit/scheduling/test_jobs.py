"""Job functions: recorded runs, the calendar honoured at run time, services called."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sched_fakes import FakeApp

from stom_desktop.scheduling import jobs, runtime
from stom_desktop.services.schedule_service import JobDefinition, default_session_spec

SEOUL = ZoneInfo("Asia/Seoul")


def _start_job(**changes: object) -> JobDefinition:
    base = JobDefinition(
        id="t.start",
        kind="start_session",
        cron="0 9 * * mon-fri",
        calendar="XKRX",
        anchor="open",
        spec=default_session_spec("t session", speed=60.0),
    )
    return JobDefinition.from_dict({**base.to_dict(), **changes})


def _at(monkeypatch: pytest.MonkeyPatch, *args: int) -> datetime:
    moment = datetime(*args, tzinfo=SEOUL)  # type: ignore[misc]
    monkeypatch.setattr(jobs, "_now", lambda: moment.astimezone(UTC))
    return moment


def test_start_on_a_regular_day_starts_the_session_and_records_ok(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    _at(monkeypatch, 2026, 1, 5, 9, 0, 3)
    result = jobs.start_session(_start_job().to_dict())
    assert "started session 1" in result
    assert app.trading.calls == [("start", "t session")]
    (run,) = app.schedule.job_runs.list(job_id="t.start")
    assert run.status == "ok"
    assert run.scheduled_for == datetime(2026, 1, 5, 9, 0, tzinfo=SEOUL)
    assert run.finished_at is not None and run.started_at is not None
    # A second firing while the session runs does not start another one.
    assert "already running: session 1" in jobs.start_session(_start_job().to_dict())
    assert app.trading.kinds() == ["start"]


def test_holiday_is_skipped_without_calling_trading(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    _at(monkeypatch, 2026, 1, 1, 9, 0, 0)
    result = jobs.start_session(_start_job().to_dict())
    assert result == "skipped: 2026-01-01 is not a XKRX session"
    assert app.trading.calls == []
    (run,) = app.schedule.job_runs.list(job_id="t.start")
    assert (run.status, run.detail) == ("ok", result)


def test_late_open_shifts_the_start_to_ten(app: FakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    _at(monkeypatch, 2026, 1, 2, 9, 0, 0)
    result = jobs.start_session(_start_job().to_dict())
    assert result.startswith("shifted:") and "10:00 KST" in result
    assert app.trading.calls == []
    shifted = app.schedule.scheduler.get_job("t.start@shifted")
    assert shifted.next_run_time == datetime(2026, 1, 2, 10, 0, tzinfo=SEOUL)
    assert shifted.kwargs["mode"] == "shifted"
    # At 10:00 the shifted copy runs and starts the session, recorded under the job's id.
    _at(monkeypatch, 2026, 1, 2, 10, 0, 1)
    assert "started session" in jobs.start_session(**shifted.kwargs)
    statuses = [(r.status, (r.detail or "")[:8]) for r in app.schedule.job_runs.list()]
    assert statuses == [("ok", "shifted:"), ("ok", "started ")]


def test_override_moves_a_day(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch, stom_home: Path
) -> None:
    (stom_home / "config").mkdir(parents=True)
    (stom_home / "config" / "calendar_overrides.json").write_text(
        json.dumps(
            {
                "XKRX": {
                    "2026-01-05": {"open": "10:00", "close": "16:30", "note": "exam day"},
                    "2026-01-06": {"closed": True},
                }
            }
        )
    )
    _at(monkeypatch, 2026, 1, 5, 15, 15, 0)
    liquidate = _start_job(id="t.liq", kind="liquidate", anchor="close", offset_minutes=-15)
    result = jobs.liquidate(liquidate.to_dict())
    assert "16:15 KST" in result and "exam day" in result
    assert app.schedule.scheduler.get_job("t.liq@shifted").next_run_time == datetime(
        2026, 1, 5, 16, 15, tzinfo=SEOUL
    )
    _at(monkeypatch, 2026, 1, 6, 9, 0, 0)
    assert jobs.start_session(_start_job().to_dict()).startswith("skipped: 2026-01-06")
    assert app.trading.calls == []


def test_start_after_an_early_close_is_recorded_missed(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch, stom_home: Path
) -> None:
    (stom_home / "config").mkdir(parents=True)
    (stom_home / "config" / "calendar_overrides.json").write_text(
        json.dumps({"XKRX": {"2026-01-05": {"open": "07:00", "close": "08:30"}}})
    )
    notices: list[runtime.Notice] = []
    runtime.set_notifier(notices.append)
    _at(monkeypatch, 2026, 1, 5, 9, 0, 0)
    assert jobs.start_session(_start_job().to_dict()).startswith("missed:")
    (run,) = app.schedule.job_runs.list(job_id="t.start")
    assert run.status == "missed"
    assert [n.kind for n in notices] == ["missed"]
    assert app.trading.calls == []


def test_liquidate_stop_and_report_call_the_trading_service(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    notices: list[runtime.Notice] = []
    runtime.set_notifier(notices.append)
    _at(monkeypatch, 2026, 1, 5, 9, 0, 0)
    jobs.start_session(_start_job().to_dict())
    _at(monkeypatch, 2026, 1, 5, 15, 15, 0)
    assert "1 order(s)" in jobs.liquidate(
        _start_job(id="t.l", kind="liquidate", anchor="close", offset_minutes=-15).to_dict()
    )
    _at(monkeypatch, 2026, 1, 5, 15, 20, 0)
    assert "stopped session(s) 1" in jobs.stop_session(
        _start_job(id="t.s", kind="stop_session", anchor="close", offset_minutes=-10).to_dict()
    )
    assert "no running session" in jobs.stop_session(
        _start_job(id="t.s", kind="stop_session", anchor="close", offset_minutes=-10).to_dict()
    )
    _at(monkeypatch, 2026, 1, 5, 15, 30, 0)
    report = _start_job(id="t.r", kind="daily_report", anchor="close", offset_minutes=0)
    assert "report saved to /reports/2026-01-05.md" in jobs.daily_report(report.to_dict())
    assert app.trading.kinds() == ["start", "liquidate", "stop", "report"]
    assert [n.kind for n in notices] == ["report"]
    assert {r.status for r in app.schedule.job_runs.list()} == {"ok"}


def test_a_failing_service_is_recorded_as_error_and_notified(
    app: FakeApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    notices: list[runtime.Notice] = []
    runtime.set_notifier(notices.append)

    def broken(_spec: object) -> int:
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(app.trading, "start_session", broken)
    result = jobs.start_session(_start_job().to_dict(), mode="now")
    assert result == "error: RuntimeError: engine exploded"
    (run,) = app.schedule.job_runs.list(job_id="t.start")
    assert run.status == "error"
    assert "engine exploded" in (run.detail or "") and "Traceback" in (run.detail or "")
    assert notices[-1].kind == "error"


def test_warm_up_checks_database_data_and_strategy(app: FakeApp) -> None:
    app.data.generate("SIM1", "1m", 500, 1)
    warm = _start_job(id="t.w", kind="warm_up", calendar="24/7", anchor=None, cron="50 8 * * *")
    result = jobs.warm_up(warm.to_dict(), mode="now")
    assert "database ok (1 series stored)" in result
    assert "SIM2: no recent 1m bars stored" in result
    assert "strategy sma_cross loaded" in result and "numba warm" in result


def test_data_download_synthetic_works_and_exchanges_say_issue_7(app: FakeApp) -> None:
    synthetic = JobDefinition(
        id="t.dl",
        kind="data_download",
        cron="0 18 * * *",
        calendar="24/7",
        options={"source": "synthetic", "symbols": ["AAA"], "bars": 100},
    )
    assert "generated 100 synthetic 1m bars for AAA" in jobs.data_download(
        synthetic.to_dict(), mode="now"
    )
    assert [s.symbol for s in app.data.list_series()] == ["AAA"]
    upbit = JobDefinition.from_dict(
        {**synthetic.to_dict(), "options": {"source": "upbit", "symbols": ["BTC"]}}
    )
    assert "issue 7" in jobs.data_download(upbit.to_dict(), mode="now")
    assert app.schedule.job_runs.list(job_id="t.dl")[-1].status == "error"


def test_without_a_registered_app_the_error_says_what_to_do() -> None:
    runtime.set_app(None)
    with pytest.raises(Exception, match="set_app"):
        jobs.start_session(_start_job().to_dict())
