"""``stom schedule`` through Typer's runner on a temporary STOM_HOME."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner

from stom_desktop.bootstrap import build_app
from stom_desktop.cli.schedule_cmd import app
from stom_desktop.services.schedule_service import InvalidJobError

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=True, env={"COLUMNS": "250"})


def _jobs() -> dict[str, Any]:
    ctx = build_app()
    service = ctx.schedule
    try:
        return {i.id: i for i in service.list_jobs()}
    finally:
        service.shutdown()
        ctx.close()


def test_install_default_list_enable_disable_delete() -> None:
    result = invoke("install-default")
    assert result.exit_code == 0, result.output
    assert len(_jobs()) == 5
    assert not any(i.enabled for i in _jobs().values())
    assert invoke("enable", "default.start").exit_code == 0
    jobs = _jobs()
    assert jobs["default.start"].enabled and not jobs["default.stop"].enabled
    listed = invoke("list")  # a rich table: its width depends on the terminal, so no text checks
    assert listed.exit_code == 0, listed.output
    next_run = jobs["default.start"].next_run
    assert next_run is not None and next_run.strftime("%H:%M %Z") == "09:00 KST"
    assert invoke("disable", "default.start").exit_code == 0
    assert not _jobs()["default.start"].enabled
    deleted = invoke("delete", "default.report")
    assert deleted.exit_code == 0 and "deleted default.report" in deleted.output
    assert "default.report" not in _jobs()


def test_add_validates_and_edit_keeps_other_fields() -> None:
    bad = invoke(
        "add",
        "my.start",
        "--kind",
        "start_session",
        "--cron",
        "0 99 * * *",
        "--symbols",
        "SIM1",
        "--strategy",
        "sma_cross",
    )
    assert isinstance(bad.exception, InvalidJobError) and bad.exception.field == "cron"
    ok = invoke(
        "add",
        "my.start",
        "--kind",
        "start_session",
        "--cron",
        "0 9 * * mon-fri",
        "--anchor",
        "open",
        "--strategy",
        "sma_cross",
        "--symbols",
        "SIM1,SIM2",
        "--disabled",
    )
    assert ok.exit_code == 0, ok.output
    edited = invoke("edit", "my.start", "--cron", "5 9 * * mon-fri", "--enabled")
    assert edited.exit_code == 0, edited.output
    job = _jobs()["my.start"]
    assert job.enabled and job.definition.cron == "5 9 * * mon-fri"
    assert job.definition.anchor == "open"
    assert job.definition.spec is not None and job.definition.spec["symbols"] == ["SIM1", "SIM2"]


def test_run_now_here_runs_in_this_process_and_records() -> None:
    added = invoke(
        "add",
        "dl",
        "--kind",
        "data_download",
        "--cron",
        "0 18 * * *",
        "--calendar",
        "24/7",
        "--option",
        "source=synthetic",
        "--option",
        "symbols=AAA,BBB",
        "--option",
        "bars=50",
    )
    assert added.exit_code == 0, added.output
    ran = invoke("run-now", "dl", "--here")
    assert ran.exit_code == 0, ran.output
    assert "generated 100 synthetic 1m bars" in ran.output
    assert _jobs()["dl"].last_run.status == "ok"
    queued = invoke("run-now", "dl")
    assert "queued dl@now" in queued.output
    assert "dl@now" in _jobs()
