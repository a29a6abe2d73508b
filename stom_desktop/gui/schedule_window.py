"""Schedule: jobs with next run (exchange time zone) and last result; add/edit, enable/disable,
delete with undo, run now, install the default schedule.

Every service call runs on a worker (the job store is a database) and the list is re-read
afterwards. A delete keeps the removed definition so "Undo delete" can add it back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PyQt6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.gui.job_dialog import JobDialog
from stom_desktop.gui.models import Column, RowsModel, fmt_value
from stom_desktop.gui.ports import SchedulePort
from stom_desktop.gui.prompts import Prompts
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)


def last_result(job: Any) -> str:
    """``status: detail (finished time)`` of the job's last recorded run, or ``never run``."""
    run = getattr(job, "last_run", None)
    if run is None:
        return "never run"
    detail = f": {run.detail}" if getattr(run, "detail", None) else ""
    when = getattr(run, "finished_at", None) or getattr(run, "started_at", None)
    return f"{run.status}{detail}" + (f" ({fmt_value(when)})" if when is not None else "")


JOB_COLUMNS = [
    Column("Id", "id"),
    Column("Kind", "kind"),
    Column("Description", "description"),
    Column("Trigger", "trigger"),
    Column("Next run", "next_run"),
    Column("Enabled", "enabled"),
    Column("Last result", last_result),
]


class ScheduleWindow(QMainWindow):
    """The scheduled jobs and what can be done with them."""

    def __init__(
        self,
        schedule: SchedulePort | None,
        prompts: Prompts | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("STOM Desktop — Schedule")
        self.resize(1150, 480)
        self.schedule = schedule
        self.prompts = prompts or Prompts()
        self.undo_stack: list[Any] = []  # deleted JobDefinitions, newest last
        self.busy = False
        tz = getattr(schedule, "timezone", None) if schedule is not None else None
        self.model = RowsModel(JOB_COLUMNS, self, tz)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.doubleClicked.connect(lambda _i: self.edit_selected())

        self.buttons: dict[str, QPushButton] = {}
        bar = QHBoxLayout()
        for key, label, slot in (
            ("add", "Add\u2026", self.add_job),
            ("edit", "Edit\u2026", self.edit_selected),
            ("enable", "Enable", lambda: self.set_enabled(True)),
            ("disable", "Disable", lambda: self.set_enabled(False)),
            ("delete", "Delete", self.delete_selected),
            ("undo", "Undo delete", self.undo_delete),
            ("run_now", "Run now", self.run_now),
            ("defaults", "Install default schedule", self.install_defaults),
            ("refresh", "Refresh", self.refresh),
        ):
            button = QPushButton(label)
            button.clicked.connect(slot)
            self.buttons[key] = button
            bar.addWidget(button)
        self.buttons["delete"].setObjectName("danger")
        bar.addStretch(1)
        self.status = QLabel()
        self.status.setWordWrap(True)
        zone = QLabel(f"Times in {tz}" if tz is not None else "")
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        layout.addWidget(zone)
        layout.addWidget(self.status)
        self.setCentralWidget(body)
        self._update_buttons()
        if schedule is None:
            self._say("The scheduler is not available (no schedule service).", error=True)
            for button in self.buttons.values():
                button.setEnabled(False)
        else:
            self.refresh()

    # -- helpers ---------------------------------------------------------------------------
    def _say(self, text: str, *, error: bool = False) -> None:
        self.status.setStyleSheet("color: #ef9a9a;" if error else "color: #a5d6a7;")
        self.status.setText(text)

    def _update_buttons(self) -> None:
        self.buttons["undo"].setEnabled(bool(self.undo_stack))
        if self.undo_stack:
            self.buttons["undo"].setText(f"Undo delete of {self.undo_stack[-1].id}")
        else:
            self.buttons["undo"].setText("Undo delete")

    def selected_job(self) -> Any | None:
        """The selected job row, if any."""
        rows = self.table.selectionModel().selectedRows()
        return self.model.row(rows[0].row()) if rows else None

    def select_job(self, job_id: str) -> bool:
        """Select the row of ``job_id``; False when it is not listed."""
        for i, job in enumerate(self.model.rows):
            if job.id == job_id:
                self.table.selectRow(i)
                return True
        return False

    def _call(self, what: str, fn: Callable[[], Any], done: Callable[[Any], None]) -> None:
        self.busy = True

        def ok(result: Any) -> None:
            self.busy = False
            done(result)
            self.refresh()

        def failed(exc: BaseException) -> None:
            self.busy = False
            self._say(f"{what} failed: {exc}", error=True)
            self.refresh()

        run_in_worker(fn, what=what, on_done=ok, on_error=failed)

    def _need_selection(self) -> Any | None:
        job = self.selected_job()
        if job is None:
            self._say("Select a job first.", error=True)
        return job

    # -- actions ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the job list (keeps the selection by job id)."""
        schedule = self.schedule
        if schedule is None:
            return
        selected = self.selected_job()
        keep = selected.id if selected is not None else None

        def shown(jobs: Any) -> None:
            self.model.set_rows(list(jobs))
            if keep is not None:
                self.select_job(keep)

        run_in_worker(
            schedule.list_jobs,
            what="list jobs",
            on_done=shown,
            on_error=lambda exc: self._say(f"Could not list jobs: {exc}", error=True),
        )

    def add_job(self) -> None:
        """Open the job dialog for a new job and add it."""
        schedule = self.schedule
        if schedule is None:
            return
        dialog = JobDialog(schedule, parent=self)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.definition is None:
            return
        definition = dialog.definition
        self._call(
            f"add {definition.id}",
            lambda: schedule.add(definition),
            lambda _r: self._say(f"Added job {definition.id}."),
        )

    def edit_selected(self) -> None:
        """Edit the selected job in the dialog."""
        schedule, job = self.schedule, self._need_selection()
        if schedule is None or job is None:
            return
        dialog = JobDialog(schedule, job.definition, parent=self)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.definition is None:
            return
        definition = dialog.definition
        self._call(
            f"edit {job.id}",
            lambda: schedule.edit(job.id, definition),
            lambda _r: self._say(f"Saved job {definition.id}."),
        )

    def set_enabled(self, enabled: bool) -> None:
        """Enable or disable the selected job."""
        schedule, job = self.schedule, self._need_selection()
        if schedule is None or job is None:
            return
        verb = "enable" if enabled else "disable"
        fn = schedule.enable if enabled else schedule.disable
        self._call(
            f"{verb} {job.id}", lambda: fn(job.id), lambda _r: self._say(f"{verb}d {job.id}.")
        )

    def delete_selected(self) -> None:
        """Delete the selected job (undo re-adds it)."""
        schedule, job = self.schedule, self._need_selection()
        if schedule is None or job is None:
            return

        def deleted(definition: Any) -> None:
            self.undo_stack.append(definition)
            self._update_buttons()
            self._say(f"Deleted job {job.id}. \u201cUndo delete\u201d brings it back.")

        self._call(f"delete {job.id}", lambda: schedule.delete(job.id), deleted)

    def undo_delete(self) -> None:
        """Re-add the most recently deleted job."""
        schedule = self.schedule
        if schedule is None or not self.undo_stack:
            return
        definition = self.undo_stack.pop()
        self._update_buttons()

        def failed_back(_r: Any) -> None:
            self._say(f"Restored job {definition.id}.")

        self._call(f"restore {definition.id}", lambda: schedule.add(definition), failed_back)

    def run_now(self) -> None:
        """Run the selected job once, now (its schedule is untouched)."""
        schedule, job = self.schedule, self._need_selection()
        if schedule is None or job is None:
            return
        self._call(
            f"run {job.id} now",
            lambda: schedule.run_now(job.id),
            lambda copy_id: self._say(f"{job.id} queued to run now (as {copy_id})."),
        )

    def install_defaults(self) -> None:
        """Install the example schedule (disabled; enable the jobs you want)."""
        schedule = self.schedule
        if schedule is None:
            return
        self._call(
            "install default schedule",
            schedule.install_default_schedule,
            lambda jobs: self._say(
                f"Default schedule installed ({len(jobs)} jobs, disabled): enable them to run."
            ),
        )
