"""Schedule window on a fake service: list, enable/disable, delete + undo, run now, dialog."""

from __future__ import annotations

from typing import Any

from gui_fakes import FakeDefinition, FakeRun, FakeSchedule

from stom_desktop.gui.job_dialog import JobDialog
from stom_desktop.gui.schedule_window import ScheduleWindow


def _window(qtbot: Any, schedule: FakeSchedule) -> ScheduleWindow:
    schedule.put(FakeDefinition("krx.start", description="start at open"),
                 last=FakeRun("ok", "session 3 started"))  # fmt: skip
    schedule.put(FakeDefinition("krx.report", kind="daily_report", enabled=False))
    window = ScheduleWindow(schedule)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.model.rowCount() == 2)
    return window


def _cell(window: ScheduleWindow, job_id: str, column: int) -> str:
    row = [j.id for j in window.model.rows].index(job_id)
    return str(window.model.data(window.model.index(row, column)))


def test_lists_next_run_and_last_result(qtbot: Any, schedule: FakeSchedule) -> None:
    window = _window(qtbot, schedule)
    assert _cell(window, "krx.start", 4).startswith("2026-01-06 00:00:00")
    assert _cell(window, "krx.start", 6).startswith("ok: session 3 started")
    assert _cell(window, "krx.report", 4) == ""  # disabled: no next run
    assert _cell(window, "krx.report", 6) == "never run"


def test_enable_disable_run_now(qtbot: Any, schedule: FakeSchedule) -> None:
    window = _window(qtbot, schedule)
    assert window.select_job("krx.report")
    window.buttons["enable"].click()
    qtbot.waitUntil(lambda: _cell(window, "krx.report", 5) == "yes")
    window.buttons["disable"].click()
    qtbot.waitUntil(lambda: _cell(window, "krx.report", 5) == "no")
    window.buttons["run_now"].click()
    qtbot.waitUntil(lambda: "queued to run now" in window.status.text())
    qtbot.waitUntil(lambda: _cell(window, "krx.report", 6).startswith("ok: ran now"))
    assert schedule.calls == [
        ("enable", "krx.report"), ("disable", "krx.report"), ("run_now", "krx.report")
    ]  # fmt: skip


def test_delete_and_undo(qtbot: Any, schedule: FakeSchedule) -> None:
    window = _window(qtbot, schedule)
    assert not window.buttons["undo"].isEnabled()
    window.select_job("krx.start")
    window.buttons["delete"].click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 1)
    assert window.buttons["undo"].isEnabled() and "krx.start" in window.buttons["undo"].text()
    window.buttons["undo"].click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 2)
    assert schedule.jobs["krx.start"].description == "start at open"
    assert not window.buttons["undo"].isEnabled()


def test_nothing_selected_says_so(qtbot: Any, schedule: FakeSchedule) -> None:
    window = _window(qtbot, schedule)
    window.table.clearSelection()
    window.buttons["delete"].click()
    assert "Select a job first" in window.status.text()
    assert schedule.calls == []


def test_install_defaults(qtbot: Any, schedule: FakeSchedule) -> None:
    window = _window(qtbot, schedule)
    window.buttons["defaults"].click()
    qtbot.waitUntil(lambda: window.model.rowCount() == 4)
    assert "Default schedule installed (2 jobs" in window.status.text()


def test_job_dialog_validates_before_closing(qtbot: Any, schedule: FakeSchedule) -> None:
    dialog = JobDialog(schedule)
    qtbot.addWidget(dialog)
    dialog.job_id.setText("krx.open")
    dialog.cron.setText("0 9 * *")  # four fields
    dialog.try_accept()
    assert "needs 5 fields" in dialog.error.text() and dialog.definition is None
    dialog.cron.setText("0 9 * * mon-fri")
    dialog.symbols.setText("SIM1, SIM2")
    dialog.try_accept()
    definition = dialog.definition
    assert definition is not None and definition.cron == "0 9 * * mon-fri"
    assert definition.spec["symbols"] == ["SIM1", "SIM2"] and definition.kind == "start_session"
