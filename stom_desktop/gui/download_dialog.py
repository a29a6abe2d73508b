"""Download OHLCV history from an exchange into the bar store (the Backtest window's dialog).

The dialog only collects the request and shows progress: the work is
``services.download_service.DownloadService.download`` on a worker thread (the same call
as ``stom data download``). Progress arrives through a queued signal; Cancel sets an event
the service checks between pages, so the download stops after the page in flight and every
stored page stays. Running the same download again resumes after the last stored bar, and
the dialog says from when. ccxt (about half a second and 60 MB) is imported on the worker,
the first time a download runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from PyQt6.QtCore import QDate, QObject, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.core.bars import to_ms
from stom_desktop.core.errors import (
    BrokerAuthError,
    BrokerError,
    ConfigurationError,
    DataError,
    StomError,
    TemporaryBrokerError,
)
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)

EXCHANGES = ("binance", "upbit")
TIMEFRAMES = ("1m", "3m", "5m", "15m", "30m", "1h", "4h", "1d")
#: A symbol to start from on each venue (Upbit quotes in KRW).
DEFAULT_SYMBOL = {"binance": "BTC/USDT", "upbit": "BTC/KRW"}


class DownloadPort(Protocol):
    """What the dialog calls on ``services.download_service.DownloadService``."""

    def last_stored_ts(self, symbol: str, timeframe: str) -> int | None: ...
    def download(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        since: datetime,
        until: datetime | None = None,
        *,
        progress: Callable[[int, int, int | None], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Any: ...


def service_for(database: Any) -> Callable[[], DownloadPort]:
    """A factory of the real service on ``database`` (called on the worker: it imports ccxt)."""

    def make() -> DownloadPort:
        from stom_desktop.services.download_service import DownloadService

        return DownloadService(database)

    return make


def fmt_ms(ms: int | None) -> str:
    """A bar's open time as ``2024-01-01 00:49 UTC`` (``—`` for none)."""
    if ms is None:
        return "\u2014"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def fmt_eta(seconds: float | None) -> str:
    """``1:02:03`` / ``2:05``; ``—`` while it cannot be estimated yet."""
    if seconds is None or seconds < 0:
        return "\u2014"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def describe_error(exc: BaseException, exchange: str, symbol: str) -> str:
    """What failed, in words the user can act on (the service's message is kept)."""
    text = str(exc)
    if "BadSymbol" in text or "does not have market symbol" in text:
        return (
            f"{exchange} has no market {symbol!r}: check the symbol "
            "(ccxt form, e.g. BTC/USDT on Binance, BTC/KRW on Upbit)."
        )
    if isinstance(exc, TemporaryBrokerError):
        return (
            f"Network problem: {exchange} could not be reached ({text}). Bars already "
            "downloaded are kept; press Download again to resume."
        )
    if isinstance(exc, BrokerAuthError):
        return f"{exchange} refused the request: {text}"
    if isinstance(exc, DataError):
        return f"{exchange} sent invalid data for {symbol}; nothing of it was stored. ({text})"
    if isinstance(exc, ConfigurationError):
        return f"Check the form: {text}"
    if isinstance(exc, BrokerError):
        return f"Download of {symbol} from {exchange} failed: {text}"
    return f"Download of {symbol} failed: {type(exc).__name__}: {text}"


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _utc_day(edit: QDateEdit) -> datetime:
    return datetime.combine(edit.date().toPyDate(), datetime.min.time(), tzinfo=UTC)


class _Signals(QObject):
    """Carries progress and notes from the worker thread to the GUI thread."""

    progress = pyqtSignal(int, int, object)  # stored, expected, last bar ts (ms) or None
    note = pyqtSignal(str)


class DownloadDialog(QDialog):
    """Exchange, symbol, timeframe and dates; Download with progress, ETA and Cancel.

    ``make_service()`` returns the download service; it is called on the worker. When a
    download stores bars, ``downloaded(symbol, timeframe)`` is emitted (the Backtest
    window re-reads its series then).
    """

    downloaded = pyqtSignal(str, str)
    finished_run = pyqtSignal(object)  # the DownloadReport, or the exception

    def __init__(
        self,
        make_service: Callable[[], DownloadPort],
        parent: QWidget | None = None,
        *,
        today: date | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Download market data")
        self.resize(520, 0)
        self._make_service = make_service
        self._service: DownloadPort | None = None
        self._cancel = threading.Event()
        self._busy = False
        self._started = 0.0
        self.last_progress: tuple[int, int, int | None] | None = None
        self.report: Any = None  # the last DownloadReport
        self._signals = _Signals(self)
        self._signals.progress.connect(self._on_progress)
        self._signals.note.connect(self._on_note)

        self.exchange = QComboBox()
        self.exchange.addItems(list(EXCHANGES))
        self.exchange.currentTextChanged.connect(self._exchange_changed)
        self.symbol = QLineEdit(DEFAULT_SYMBOL["binance"])
        self.symbol.setPlaceholderText("ccxt symbol, e.g. BTC/USDT or BTC/KRW")
        self.timeframe = QComboBox()
        self.timeframe.addItems(list(TIMEFRAMES))
        self.timeframe.setCurrentText("1m")
        day = today or datetime.now(tz=UTC).date()
        self.since = QDateEdit(_qdate(day - timedelta(days=30)))
        self.until = QDateEdit(_qdate(day))
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.until_on = QCheckBox("until (exclusive)")
        self.until_on.setToolTip("Unchecked: up to the last closed bar")
        self.until_on.toggled.connect(self.until.setEnabled)
        self.until.setEnabled(False)
        until_row = QHBoxLayout()
        until_row.addWidget(self.until_on)
        until_row.addWidget(self.until, 1)

        form = QFormLayout()
        form.addRow("Exchange", self.exchange)
        form.addRow("Symbol", self.symbol)
        form.addRow("Timeframe", self.timeframe)
        form.addRow("Since (UTC)", self.since)
        form.addRow("Until (UTC)", until_row)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%v / %m bars (%p%)")
        self.detail = QLabel("")
        self.status = QLabel(
            "Bars are stored page by page: a cancelled or failed download keeps what it "
            "fetched and the next one resumes after the last stored bar."
        )
        self.status.setWordWrap(True)
        self.download_button = QPushButton("Download")
        self.download_button.setDefault(True)
        self.download_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.close_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.detail)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

    # -- form --------------------------------------------------------------------------------
    def _exchange_changed(self, exchange: str) -> None:
        # Swap the example symbol only if the user has not typed one of their own.
        if self.symbol.text().strip() in DEFAULT_SYMBOL.values():
            self.symbol.setText(DEFAULT_SYMBOL.get(exchange, ""))

    def request(self) -> tuple[str, str, str, datetime, datetime | None]:
        """``(exchange, symbol, timeframe, since, until)`` from the form, checked."""
        symbol = self.symbol.text().strip().upper()
        if "/" not in symbol:
            raise ConfigurationError(
                f"symbol {symbol or '(empty)'!r} needs the ccxt form BASE/QUOTE, e.g. BTC/USDT",
                key="symbol",
            )
        since = _utc_day(self.since)
        until = _utc_day(self.until) if self.until_on.isChecked() else None
        if until is not None and until <= since:
            raise ConfigurationError(
                f"until {until.date()} is not after since {since.date()}", key="until"
            )
        if since > datetime.now(tz=UTC):
            raise ConfigurationError(f"since {since.date()} is in the future", key="since")
        return self.exchange.currentText(), symbol, self.timeframe.currentText(), since, until

    @property
    def busy(self) -> bool:
        """True while a download runs (including after Cancel until it has stopped)."""
        return self._busy

    # -- running -----------------------------------------------------------------------------
    def start(self) -> None:
        """Run the download the form describes on a worker."""
        if self._busy:
            return
        try:
            exchange, symbol, timeframe, since, until = self.request()
        except StomError as exc:
            self._show(f"Cannot download: {exc}", error=True)
            return
        self._cancel.clear()
        self._set_busy(True)
        self.last_progress = None
        self.report = None
        self.progress.setRange(0, 0)  # busy indicator until the first page
        self.detail.setText("")
        self._show(f"Connecting to {exchange} for {symbol} {timeframe}\u2026", error=False)
        self._started = time.monotonic()
        signals, cancel = self._signals, self._cancel

        def work() -> Any:
            if self._service is None:
                self._service = self._make_service()
            service = self._service
            last = service.last_stored_ts(symbol, timeframe)
            if last is not None and last >= to_ms(since):
                signals.note.emit(
                    f"Resuming from {fmt_ms(last)}: bars up to it are stored already."
                )
            return service.download(
                exchange,
                symbol,
                timeframe,
                since,
                until,
                progress=signals.progress.emit,
                cancel=cancel.is_set,
            )

        run_in_worker(
            work,
            what=f"download {exchange} {symbol} {timeframe}",
            on_done=self._done,
            on_error=lambda exc: self._failed(exc, exchange, symbol),
        )

    def cancel(self) -> None:
        """Stop after the page in flight; everything stored so far stays."""
        if not self._busy:
            return
        self._cancel.set()
        self.cancel_button.setEnabled(False)
        self._show("Cancelling after the current page\u2026", error=False)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.download_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        for widget in (self.exchange, self.symbol, self.timeframe, self.since, self.until_on):
            widget.setEnabled(not busy)
        self.until.setEnabled(not busy and self.until_on.isChecked())

    def _on_note(self, text: str) -> None:
        self._show(text, error=False)

    def _on_progress(self, done: int, total: int, last_ts: object) -> None:
        ts = last_ts if isinstance(last_ts, int) else None
        if self.last_progress is None and self.status.text().startswith("Connecting"):
            self._show("Downloading\u2026", error=False)  # a "Resuming from" note stays
        self.last_progress = (done, total, ts)
        total = max(total, done, 1)
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        elapsed = time.monotonic() - self._started
        eta = (total - done) * elapsed / done if done > 0 and elapsed > 0 else None
        self.detail.setText(f"last bar {fmt_ms(ts)} \u00b7 ETA {fmt_eta(eta)}")

    def _done(self, report: Any) -> None:
        self._set_busy(False)
        self.report = report
        span = f"{fmt_ms(report.first_ts)} .. {fmt_ms(report.last_ts)}"
        after = report.resumed_from
        resumed = "" if after is None else f" (resumed after {fmt_ms(after)})"
        if report.cancelled:
            if self.progress.maximum() == 0:
                self.progress.setRange(0, 1)
            self._show(
                f"Cancelled: {report.bars:,} bars stored{resumed}. Press Download to resume.",
                error=False,
            )
        else:
            # Finished: the venue may hold fewer bars than the span (a listing date, gaps).
            self.progress.setRange(0, max(report.bars, 1))
            self.progress.setValue(max(report.bars, 1))
            self.detail.setText(f"stored {span}" if report.bars else "")
            if report.bars:
                self._show(
                    f"Done: {report.bars:,} bars of {report.symbol} {report.timeframe} in "
                    f"{report.pages} pages{resumed}.",
                    error=False,
                )
            else:
                self._show(
                    f"Up to date: no new closed bars of {report.symbol} {report.timeframe}.",
                    error=False,
                )
        if report.bars:
            self.downloaded.emit(report.symbol, report.timeframe)
        self.finished_run.emit(report)

    def _failed(self, exc: BaseException, exchange: str, symbol: str) -> None:
        self._set_busy(False)
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        self._show(describe_error(exc, exchange, symbol), error=True)
        self.finished_run.emit(exc)

    def _show(self, text: str, *, error: bool) -> None:
        self.status.setStyleSheet("color: #ef9a9a;" if error else "")
        self.status.setText(text)
        if error:
            log.warning("download dialog: %s", text)

    def closeEvent(self, event: Any) -> None:
        """Closing stops a running download (what it stored stays)."""
        self.cancel()
        super().closeEvent(event)
