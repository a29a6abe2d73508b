"""Add/edit dialog for one scheduled job, validated by the schedule service before it closes."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PyQt6.QtCore import QDateTime
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.core.errors import StomError
from stom_desktop.gui.ports import SchedulePort

log = logging.getLogger(__name__)

KINDS = ("warm_up", "start_session", "liquidate", "stop_session", "daily_report", "data_download")
CALENDARS = {"XKRX": "Asia/Seoul", "24/7": "UTC"}


class JobDialog(QDialog):
    """Edit a ``JobDefinition``; ``definition`` holds the validated result after OK."""

    def __init__(
        self, schedule: SchedulePort, job: Any | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Edit job" if job is not None else "Add job")
        self.schedule = schedule
        self.definition: Any | None = None
        spec = dict(getattr(job, "spec", None) or {})
        options = dict(getattr(job, "options", None) or {})

        self.job_id = QLineEdit(getattr(job, "id", ""))
        self.job_id.setPlaceholderText("e.g. krx.start")
        self.kind = QComboBox()
        self.kind.addItems(list(KINDS))
        self.kind.setCurrentText(getattr(job, "kind", "start_session"))
        self.description = QLineEdit(getattr(job, "description", ""))
        self.calendar = QComboBox()
        self.calendar.addItems(list(CALENDARS))
        self.calendar.setCurrentText(getattr(job, "calendar", "XKRX"))
        self.use_cron = QRadioButton("Repeat (cron)")
        self.use_once = QRadioButton("Once at")
        self.cron = QLineEdit(getattr(job, "cron", None) or "0 9 * * mon-fri")
        self.cron.setPlaceholderText("minute hour day month weekday, e.g. 0 9 * * mon-fri")
        self.run_at = QDateTimeEdit()
        self.run_at.setCalendarPopup(True)
        self.run_at.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        run_at = getattr(job, "run_at", None)
        self._set_run_at(run_at)
        (self.use_once if run_at is not None else self.use_cron).setChecked(True)
        self.anchor = QComboBox()
        self.anchor.addItems(["", "open", "close"])
        self.anchor.setCurrentText(getattr(job, "anchor", None) or "")
        self.offset = QSpinBox()
        self.offset.setRange(-720, 720)
        self.offset.setSuffix(" min")
        self.offset.setValue(int(getattr(job, "offset_minutes", 0)))
        self.enabled = QCheckBox("Enabled")
        self.enabled.setChecked(bool(getattr(job, "enabled", True)))

        self.strategy = QLineEdit(spec.get("strategy", "sma_cross"))
        self.session_name = QLineEdit(spec.get("name", ""))
        self.session_name.setPlaceholderText("session name (default: the job id)")
        symbols = spec.get("symbols") or options.get("symbols") or ["SIM1", "SIM2"]
        self.symbols = QLineEdit(", ".join(symbols))
        self.mode = QComboBox()
        self.mode.addItems(["paper", "dry_run", "live"])
        self.mode.setCurrentText(spec.get("mode", "paper"))
        self.speed = QDoubleSpinBox()
        self.speed.setRange(0.0, 10_000.0)
        self.speed.setValue(float(spec.get("speed", 1.0)))
        self.source = QLineEdit(str(options.get("source", "synthetic")))

        form = QFormLayout()
        form.addRow("Id", self.job_id)
        form.addRow("Kind", self.kind)
        form.addRow("Description", self.description)
        form.addRow("Calendar", self.calendar)
        form.addRow(self.use_cron, self.cron)
        form.addRow(self.use_once, self.run_at)
        form.addRow("Anchor", self.anchor)
        form.addRow("Offset from anchor", self.offset)
        form.addRow("", self.enabled)
        form.addRow(QLabel("Session (start/stop/liquidate/warm-up):"))
        form.addRow("Strategy", self.strategy)
        form.addRow("Session name", self.session_name)
        form.addRow("Symbols", self.symbols)
        form.addRow("Mode", self.mode)
        form.addRow("Speed (1 = real time, 0 = max)", self.speed)
        form.addRow("Download source", self.source)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ef9a9a;")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.try_accept)
        buttons.rejected.connect(self.reject)
        self.buttons = buttons
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _tz(self) -> ZoneInfo:
        return ZoneInfo(CALENDARS.get(self.calendar.currentText(), "UTC"))

    def _set_run_at(self, run_at: datetime | None) -> None:
        moment = run_at if run_at is not None else datetime.now(UTC)
        local = moment.astimezone(self._tz())
        self.run_at.setDateTime(
            QDateTime(local.year, local.month, local.day, local.hour, local.minute, local.second)
        )

    def build(self) -> Any:
        """The ``JobDefinition`` the fields describe (not validated yet)."""
        from stom_desktop.services.schedule_service import JobDefinition

        kind = self.kind.currentText()
        symbols = [s.strip() for s in self.symbols.text().split(",") if s.strip()]
        spec: dict[str, Any] | None = None
        options: dict[str, Any] = {}
        if kind in ("warm_up", "start_session", "liquidate", "stop_session"):
            spec = {
                "name": self.session_name.text().strip() or self.job_id.text().strip(),
                "strategy": self.strategy.text().strip(),
                "symbols": symbols,
                "mode": self.mode.currentText(),
                "timeframe": "1m",
                "feed": "simulator",
                "speed": self.speed.value(),
            }
        elif kind == "data_download":
            options = {"source": self.source.text().strip(), "symbols": symbols}
        cron: str | None = None
        run_at: datetime | None = None
        if self.use_cron.isChecked():
            cron = " ".join(self.cron.text().split())
        else:
            qdt = self.run_at.dateTime()
            d, t = qdt.date(), qdt.time()
            run_at = datetime(
                d.year(), d.month(), d.day(), t.hour(), t.minute(), t.second(), tzinfo=self._tz()
            )
        return JobDefinition(
            id=self.job_id.text().strip(),
            kind=kind,
            cron=cron,
            run_at=run_at,
            calendar=self.calendar.currentText(),
            anchor=self.anchor.currentText() or None,
            offset_minutes=self.offset.value(),
            spec=spec,
            options=options,
            enabled=self.enabled.isChecked(),
            description=self.description.text().strip(),
        )

    def try_accept(self) -> None:
        """Validate through the service; close only when the definition is valid."""
        try:
            definition = self.build()
            validate = getattr(self.schedule, "validate", None)
            if callable(validate):
                validate(definition)
        except (StomError, ValueError, TypeError) as exc:
            self.error.setText(str(exc))
            return
        self.definition = definition
        self.accept()
