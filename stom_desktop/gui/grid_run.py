"""The worker lifecycle shared by the Backtest window's grid tabs (Optimisation, Walk-forward).

Both run ``OptimizeService.run`` on a worker with progress, a Cancel that makes the tab
idle at once (a late result is discarded by a token), and the same busy/done/failed
handling; only the request and how a result is shown differ.
"""

from __future__ import annotations

import threading
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QTableView

from stom_desktop.gui.backtest_results import FrameModel, sortable
from stom_desktop.gui.workers import run_in_worker

ERROR_STYLE = "color: #ef5350;"


class GridProgress(QObject):
    """Carries ``progress(fraction, text)`` calls from the worker to the GUI thread."""

    changed = pyqtSignal(float, str)


class GridRunLifecycle:
    """Mixin for a tab that runs one optimisation request at a time on a worker.

    The tab provides ``run_button``, ``cancel_button``, ``progress``, ``status``,
    ``optimizer``, ``start()`` and ``show_result(saved)``; it calls :meth:`_init_run` (which
    makes the Run/Cancel buttons, the progress bar and the status line) in its constructor
    and :meth:`_launch` to start; ``RUN_NAME`` names the run in messages.
    """

    RUN_NAME = "Run"
    run_button: QPushButton
    cancel_button: QPushButton
    progress: QProgressBar
    status: QLabel
    optimizer: Any

    def _init_run(self, parent: QObject, run_label: str, hint: str) -> None:
        self.run_button = QPushButton(run_label)
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel(hint)
        self.status.setWordWrap(True)
        self.cancel_event: threading.Event | None = None
        self._token = 0
        self._progress = GridProgress(parent)
        self._progress.changed.connect(self._on_progress)

    def _run_buttons(self) -> QHBoxLayout:
        """Run, Cancel and the progress bar in one row."""
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)
        return buttons

    def _results_table(self, parent: QObject) -> QTableView:
        """The sortable results table (``self.model`` behind ``self.proxy``)."""
        self.model = FrameModel(parent)
        self.proxy = sortable(self.model, parent)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        return self.table

    @property
    def running(self) -> bool:
        """True while a run is in flight (and not cancelled)."""
        return self.cancel_event is not None

    def start(self) -> None:
        """Build the tab's request and :meth:`_launch` it (the tab's own form)."""
        raise NotImplementedError

    def show_result(self, saved: Any) -> None:
        """Show a finished run (the tab's own view)."""
        raise NotImplementedError

    def _launch(self, request: Any, what: str) -> None:
        self._token += 1
        token = self._token
        cancel = threading.Event()
        self.cancel_event = cancel
        self._set_busy(True)
        self.progress.setValue(0)
        optimizer, progress = self.optimizer, self._progress.changed.emit
        run_in_worker(
            lambda: optimizer.run(request, progress=progress, cancel=cancel),
            what=what,
            on_done=lambda saved: self._done(token, saved),
            on_error=lambda exc: self._failed(token, exc),
        )

    def cancel(self) -> None:
        """Stop between steps; the tab is idle at once and the result is discarded."""
        if self.cancel_event is not None:
            self.cancel_event.set()
        self._token += 1
        self.cancel_event = None
        self._set_busy(False)
        self.progress.setValue(0)
        self._info(f"{self.RUN_NAME} cancelled.")

    def _set_busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _info(self, text: str) -> None:
        self.status.setStyleSheet("")
        self.status.setText(text)

    def _error(self, text: str) -> None:
        self.status.setStyleSheet(ERROR_STYLE)
        self.status.setText(text)

    def _on_progress(self, fraction: float, text: str) -> None:
        if self.running:
            self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
            self.progress.setFormat(f"{text} %p%")

    def _failed(self, token: int, exc: BaseException) -> None:
        if token != self._token:
            return
        self.cancel_event = None
        self._set_busy(False)
        self.progress.setValue(0)
        self._error(f"{self.RUN_NAME} failed: {exc}")

    def _done(self, token: int, saved: Any) -> None:
        if token != self._token:
            return  # cancelled meanwhile: discard
        self.cancel_event = None
        self._set_busy(False)
        self.progress.setValue(1000)
        self.show_result(saved)
