"""Download dialog against the fake Binance klines server: progress, cancel/resume, errors.

The real ccxt client talks to a local pytest-httpserver (``fake_exchanges.FakeBinance``);
bars land in the app's real SQLite store and the Backtest window's series picker.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from download_fakes import GatedDownloads
from fake_exchanges import FakeBinance, binance_bar
from PyQt6.QtCore import QDate
from pytest_httpserver import HTTPServer

from stom_desktop.adapters.brokers.ccxt_client import BASE_URL_ENV, make_exchange
from stom_desktop.core.errors import TemporaryBrokerError
from stom_desktop.gui.backtest_window import BacktestWindow
from stom_desktop.gui.download_dialog import DownloadDialog, describe_error, fmt_eta
from stom_desktop.persistence import BarRepository, create_database
from stom_desktop.services.download_service import DownloadService

SINCE_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
DAY_BARS = 1440  # 2024-01-01 .. 2024-01-02 (exclusive), one-minute bars


@pytest.fixture()
def binance() -> Iterator[FakeBinance]:
    srv = HTTPServer(host="127.0.0.1", threaded=True)
    srv.no_handler_status_code = 404  # the default 500 would look like a venue outage
    srv.start()
    yield FakeBinance(srv)
    srv.clear()
    srv.stop()


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Any]:
    database = create_database(f"sqlite:///{tmp_path / 'bars.db'}")
    yield database
    database.dispose()


def _service(db: Any, base_url: str, page_limit: int) -> DownloadService:
    def factory(name: str) -> Any:
        return make_exchange(name, base_url=base_url, timeout_ms=400, enable_rate_limit=False)

    return DownloadService(db, factory, page_limit=page_limit)


def _fill(dialog: DownloadDialog, symbol: str = "BTC/USDT") -> None:
    dialog.exchange.setCurrentText("binance")
    dialog.symbol.setText(symbol)
    dialog.timeframe.setCurrentText("1m")
    dialog.since.setDate(QDate(2024, 1, 1))
    dialog.until_on.setChecked(True)
    dialog.until.setDate(QDate(2024, 1, 2))


def _klines_starts(binance: FakeBinance) -> list[int]:
    return [int(p["startTime"]) for m, path, p in binance.requests if path == "/api/v3/klines"]


def test_download_from_the_backtest_window_fills_the_series_picker(
    qtbot: Any, binance: FakeBinance, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The window's own service (DownloadService on the app database, default ccxt client)
    # is pointed at the fake through the documented testing hook.
    monkeypatch.setenv(BASE_URL_ENV, binance.base_url)
    from stom_desktop.bootstrap import build_app

    app = build_app()
    try:
        window = BacktestWindow(app)
        qtbot.addWidget(window)
        window.show()
        assert window.series.count() == 0
        window.download_button.click()
        dialog = window.download_dialog
        assert isinstance(dialog, DownloadDialog) and dialog.isVisible()
        _fill(dialog)
        with qtbot.waitSignal(dialog.finished_run, timeout=30_000):
            dialog.download_button.click()
            assert dialog.busy and dialog.cancel_button.isEnabled()
        assert not dialog.busy
        report = dialog.report
        assert (report.bars, report.pages, report.cancelled) == (DAY_BARS, 2, False)
        assert dialog.last_progress == (DAY_BARS, DAY_BARS, SINCE_MS + (DAY_BARS - 1) * 60_000)
        assert dialog.progress.value() == dialog.progress.maximum() == DAY_BARS
        assert "Done: 1,440 bars of BTC/USDT 1m in 2 pages" in dialog.status.text()
        bars = BarRepository(app.database).load("BTC/USDT", "1m")
        assert np.array_equal(bars.ts, SINCE_MS + 60_000 * np.arange(DAY_BARS))
        assert bars.close[5] == float(binance_bar(SINCE_MS + 5 * 60_000)[4])
        # No restart: the picker lists and selects the new series.
        assert window.series.currentText() == f"BTC/USDT 1m ({DAY_BARS:,} bars)"
        assert window.start_date.date() == QDate(2024, 1, 1)
    finally:
        app.close()


def test_cancel_midway_keeps_the_pages_and_the_next_run_resumes(
    qtbot: Any, binance: FakeBinance, db: Any
) -> None:
    gate = GatedDownloads(_service(db, binance.base_url, page_limit=500), hold_after=1)
    dialog = DownloadDialog(lambda: gate)
    qtbot.addWidget(dialog)
    dialog.show()
    _fill(dialog)
    dialog.download_button.click()
    assert gate.reached.wait(20)
    qtbot.waitUntil(lambda: dialog.last_progress is not None, timeout=5000)
    assert dialog.progress.value() == 500 and dialog.progress.maximum() == DAY_BARS
    assert "ETA" in dialog.detail.text()
    dialog.cancel_button.click()  # the worker is held after page 1: the cancel comes first
    assert "Cancelling" in dialog.status.text() and not dialog.cancel_button.isEnabled()
    with qtbot.waitSignal(dialog.finished_run, timeout=20_000):
        gate.release.set()
    assert dialog.report.cancelled and dialog.report.bars == 500
    assert "Cancelled: 500 bars stored" in dialog.status.text()
    assert dialog.download_button.isEnabled() and not dialog.busy
    assert len(BarRepository(db).load("BTC/USDT", "1m")) == 500
    before = len(_klines_starts(binance))

    gate.hold(1)
    dialog.download_button.click()
    assert gate.reached.wait(20)
    qtbot.waitUntil(lambda: "Resuming from" in dialog.status.text(), timeout=5000)
    assert "Resuming from 2024-01-01 08:19 UTC" in dialog.status.text()
    with qtbot.waitSignal(dialog.finished_run, timeout=20_000):
        gate.release.set()
    report = dialog.report
    assert not report.cancelled
    assert report.resumed_from == SINCE_MS + 499 * 60_000
    assert report.bars == DAY_BARS - 500  # only the rest
    assert "resumed after 2024-01-01 08:19 UTC" in dialog.status.text()
    assert _klines_starts(binance)[before:] == [SINCE_MS + 500 * 60_000, SINCE_MS + 1000 * 60_000]
    bars = BarRepository(db).load("BTC/USDT", "1m")
    assert np.array_equal(bars.ts, SINCE_MS + 60_000 * np.arange(DAY_BARS))


def test_bad_symbol_names_the_symbol(qtbot: Any, binance: FakeBinance, db: Any) -> None:
    dialog = DownloadDialog(lambda: _service(db, binance.base_url, page_limit=500))
    qtbot.addWidget(dialog)
    _fill(dialog, "FOO/USDT")
    with qtbot.waitSignal(dialog.finished_run, timeout=20_000):
        dialog.download_button.click()
    text = dialog.status.text()
    assert "binance has no market 'FOO/USDT'" in text
    assert dialog.download_button.isEnabled()
    assert BarRepository(db).list_series() == []


def test_network_down_says_so_and_keeps_the_form(qtbot: Any, db: Any) -> None:
    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dialog = DownloadDialog(lambda: _service(db, f"http://127.0.0.1:{port}", page_limit=500))
    qtbot.addWidget(dialog)
    _fill(dialog)
    with qtbot.waitSignal(dialog.finished_run, timeout=30_000):
        dialog.download_button.click()
    text = dialog.status.text()
    assert text.startswith("Network problem: binance could not be reached")
    assert "press Download again to resume" in text
    assert dialog.symbol.isEnabled() and dialog.symbol.text() == "BTC/USDT"


def test_form_is_checked_before_anything_runs(qtbot: Any) -> None:
    made: list[bool] = []
    dialog = DownloadDialog(lambda: made.append(True))  # type: ignore[arg-type, func-returns-value]
    qtbot.addWidget(dialog)
    dialog.symbol.setText("BTCUSDT")
    dialog.download_button.click()
    assert "BASE/QUOTE" in dialog.status.text() and not dialog.busy
    _fill(dialog)
    dialog.until.setDate(QDate(2023, 12, 31))
    dialog.download_button.click()
    assert "is not after since 2024-01-01" in dialog.status.text()
    assert made == []
    # Switching exchange swaps the example symbol, not one the user typed.
    dialog.symbol.setText("BTC/USDT")
    dialog.exchange.setCurrentText("upbit")
    assert dialog.symbol.text() == "BTC/KRW"
    dialog.symbol.setText("ETH/KRW")
    dialog.exchange.setCurrentText("binance")
    assert dialog.symbol.text() == "ETH/KRW"


def test_error_and_eta_wording() -> None:
    down = TemporaryBrokerError("binance fetch_ohlcv failed after 4 attempts: NetworkError")
    assert describe_error(down, "binance", "BTC/USDT").startswith("Network problem")
    assert fmt_eta(None) == "\u2014" and fmt_eta(65) == "1:05" and fmt_eta(3723) == "1:02:03"
