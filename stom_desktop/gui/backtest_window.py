"""The Backtest window: pick strategy, parameters, series, dates and costs; run; read results.

A run goes through ``BacktestService.run`` on a worker with a progress bar. The compiled
backtest is one call that cannot be interrupted, so Cancel is honest about what it does:
the window returns to idle at once and the worker's result is discarded when it arrives
(the service still stores that run in ``backtest_runs``). Optimisations stop between
parameter sets (see :mod:`stom_desktop.gui.backtest_optimize`). Clicking a trade calls
``on_trade(trades, ts_ms)``, which the tray wires to the Chart window.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from PyQt6.QtCore import QDate, QModelIndex, QObject, Qt, QTimer, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTableWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.core.errors import StomError
from stom_desktop.gui.backtest_compare import ComparePanel
from stom_desktop.gui.backtest_optimize import OptimizePanel
from stom_desktop.gui.backtest_params import ParamForm
from stom_desktop.gui.backtest_results import (
    EquityChart,
    FrameModel,
    fill_metrics,
    report_markdown,
    sortable,
)
from stom_desktop.gui.backtest_walkforward import WalkForwardPanel
from stom_desktop.gui.theme import theme_action
from stom_desktop.gui.window_state import remember
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)

TradeCallback = Callable[[pd.DataFrame, int], None]
TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "direction",
    "size",
    "entry_price",
    "exit_price",
    "pnl",
    "return",
    "bars_held",
    "exit_reason",
)
EDITOR_TAG = "(editor)"


def chart_navigator(
    window: BacktestWindow, open_chart: Callable[[], Any], poll_ms: int = 50, tries: int = 200
) -> TradeCallback:
    """A trade callback that shows the run's series in a chart window at the clicked trade.

    ``open_chart()`` returns the chart window (the tray's ``show_window("chart")``). The
    chart loads bars on a worker, so the trade markers and the focus are applied once it
    has finished loading (polled every ``poll_ms`` up to ``tries`` times).
    """

    def navigate(trades: pd.DataFrame, ts_ms: int) -> None:
        chart = open_chart()
        if not (hasattr(chart, "show_trades") and hasattr(chart, "focus_time")):
            window.status.setText("The Chart window cannot show trades yet.")
            return
        result = window.saved.result
        if getattr(chart, "symbol", None) != result.symbol or getattr(chart, "base", 0) is None:
            chart.open_symbol(result.symbol, result.timeframe)
        left = [tries]

        def apply() -> None:
            if getattr(chart, "loading", False) and left[0] > 0:
                left[0] -= 1
                QTimer.singleShot(poll_ms, apply)
                return
            chart.show_trades(trades)
            chart.focus_time(ts_ms)

        apply()

    return navigate


class _Progress(QObject):
    """Carries ``progress(fraction, text)`` from the worker thread to the GUI thread."""

    changed = pyqtSignal(float, str)


def _ms(day: QDate, end: bool = False) -> int:
    """Epoch ms of the start of ``day`` (UTC); ``end`` gives the next day's start (exclusive)."""
    moment = datetime.combine(day.toPyDate(), time(), tzinfo=UTC)
    if end:
        moment += timedelta(days=1)
    return int(moment.timestamp() * 1000)


def _qdate(ms: int) -> QDate:
    day = datetime.fromtimestamp(ms / 1000, tz=UTC).date()
    return QDate(day.year, day.month, day.day)


class BacktestWindow(QMainWindow):
    """Backtest, optimise and compare runs of one strategy on stored bars."""

    def __init__(
        self,
        ctx: Any,
        on_trade: TradeCallback | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.on_trade = on_trade
        self.saved: Any = None  # the SavedBacktest shown
        self.strategy_paths: dict[str, str] = {}  # combo text -> name or .py path
        self._token = 0
        self._busy = False
        self.setWindowTitle("STOM Desktop \u2014 Backtest")
        self.resize(1280, 800)
        self._progress = _Progress(self)
        self._progress.changed.connect(self._on_progress)

        self.strategy = QComboBox()
        self.strategy.currentIndexChanged.connect(self._strategy_changed)
        self.params = ParamForm()
        self.series = QComboBox()
        self.series.currentIndexChanged.connect(self._series_changed)
        self.start_date, self.end_date = QDateEdit(), QDateEdit()
        for edit in (self.start_date, self.end_date):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        defaults = getattr(getattr(ctx, "settings", None), "backtest", None)
        self.capital = QDoubleSpinBox()
        self.capital.setRange(1.0, 1e13)
        self.capital.setDecimals(0)
        self.capital.setGroupSeparatorShown(True)
        self.capital.setValue(float(getattr(defaults, "initial_capital", 1_000_000.0)))
        self.fee = QDoubleSpinBox()
        self.fee.setRange(0.0, 9.99)
        self.fee.setDecimals(3)
        self.fee.setSuffix(" %")
        self.fee.setValue(float(getattr(defaults, "fee_pct", 0.0)) * 100)
        self.slippage = QDoubleSpinBox()
        self.slippage.setRange(0.0, 999.0)
        self.slippage.setSuffix(" bps")
        self.slippage.setValue(float(getattr(defaults, "slippage_bps", 0.0)))
        self.run_button = QPushButton("Run backtest")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.status = QLabel("Choose a strategy and a series, then Run.")
        self.status.setWordWrap(True)

        form = QFormLayout()
        form.addRow("Strategy", self.strategy)
        self.download_button = QPushButton("Download data\u2026")
        self.download_button.setToolTip("Fetch OHLCV history from Binance or Upbit into the store")
        self.download_button.clicked.connect(self.open_download)
        self.download_dialog: Any = None
        form.addRow("Series", self.series)
        form.addRow("", self.download_button)
        form.addRow("From", self.start_date)
        form.addRow("To", self.end_date)
        form.addRow("Capital", self.capital)
        form.addRow("Fee", self.fee)
        form.addRow("Slippage", self.slippage)
        params_box = QGroupBox("Parameters")
        QVBoxLayout(params_box).addWidget(self.params)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.addLayout(form)
        side_layout.addWidget(params_box)
        side_layout.addLayout(buttons)
        side_layout.addWidget(self.progress)
        side_layout.addWidget(self.status)
        side_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(side)
        scroll.setMinimumWidth(300)

        self.tabs = QTabWidget()
        self.tabs.addTab(self._results_tab(), "Results")
        self.optimize = OptimizePanel(getattr(ctx, "optimizer", None), self.request)
        self.tabs.addTab(self.optimize, "Optimisation")
        self.walk_forward = WalkForwardPanel(
            getattr(ctx, "optimizer", None),
            self.request,
            lambda: (
                tuple(self.optimize.specs.text().split()),
                tuple(self.optimize.constraints.text().split()),
            ),
        )
        self.tabs.addTab(self.walk_forward, "Walk-forward")
        self.compare = ComparePanel(ctx)
        self.tabs.addTab(self.compare, "Compare runs")
        self.tabs.currentChanged.connect(self._tab_changed)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("backtest_main")
        split.addWidget(scroll)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setSizes([330, 950])
        split.setContentsMargins(6, 6, 6, 6)
        self.setCentralWidget(split)
        view = self.menuBar().addMenu("&View")  # type: ignore[union-attr]
        self.theme_action = theme_action(self)
        view.addAction(self.theme_action)  # type: ignore[union-attr]
        self.reload()
        remember(self, "backtest_window")

    def _results_tab(self) -> QWidget:
        self.metrics = QTableWidget()
        self.metrics.setAlternatingRowColors(True)
        self.chart = EquityChart()
        self.trades_model = FrameModel(self)
        self.trades_proxy = sortable(self.trades_model, self)
        self.trades = QTableView()
        self.trades.setModel(self.trades_proxy)
        self.trades.setSortingEnabled(True)
        self.trades.setAlternatingRowColors(True)
        self.trades.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.trades.setToolTip("Click a trade to open the chart at that trade")
        self.trades.clicked.connect(self.trade_clicked)
        self.export_csv = QPushButton("Export trades CSV\u2026")
        self.export_csv.clicked.connect(self.export_trades)
        self.export_report_button = QPushButton("Export report\u2026")
        self.export_report_button.clicked.connect(self.export_report)
        for button in (self.export_csv, self.export_report_button):
            button.setEnabled(False)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.setObjectName("results_top")
        top.addWidget(self.metrics)
        top.addWidget(self.chart)
        top.setSizes([280, 700])
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        export = QHBoxLayout()
        export.addWidget(QLabel("Trades"))
        export.addStretch(1)
        export.addWidget(self.export_csv)
        export.addWidget(self.export_report_button)
        bottom_layout.addLayout(export)
        bottom_layout.addWidget(self.trades, 1)
        vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.setObjectName("results_vertical")
        vertical.addWidget(top)
        vertical.addWidget(bottom)
        vertical.setSizes([460, 300])
        return vertical

    # -- choices ---------------------------------------------------------------------------
    def reload(self) -> None:
        """Re-read strategies and stored series from the services."""
        current = self.strategy.currentText()
        editor_entries = {k: v for k, v in self.strategy_paths.items() if k.endswith(EDITOR_TAG)}
        self.strategy.blockSignals(True)
        self.strategy.clear()
        self.strategy_paths = {}
        self._infos: dict[str, Any] = {}
        for info in self.ctx.strategies.list():
            if info.ok:
                self.strategy_paths[info.name] = info.name
                self._infos[info.name] = info
        self.strategy_paths.update(editor_entries)
        self.strategy.addItems(list(self.strategy_paths))
        self.strategy.blockSignals(False)
        if current in self.strategy_paths:
            self.strategy.setCurrentText(current)
        self._strategy_changed()
        self.series.blockSignals(True)
        self.series.clear()
        for info in self.ctx.data.list_series():
            self.series.addItem(f"{info.symbol} {info.timeframe} ({info.count:,} bars)", info)
        self.series.blockSignals(False)
        self._series_changed()

    def open_download(self) -> None:
        """Open the data download dialog; a download that stored bars refreshes the series."""
        from stom_desktop.gui.download_dialog import DownloadDialog, service_for

        if self.download_dialog is None:
            self.download_dialog = DownloadDialog(service_for(self.ctx.database), self)
            self.download_dialog.downloaded.connect(self.series_downloaded)
        self.download_dialog.show()
        self.download_dialog.raise_()

    def series_downloaded(self, symbol: str, timeframe: str) -> None:
        """Re-read the stored series and select the one just downloaded."""
        self.reload()
        for i in range(self.series.count()):
            info = self.series.itemData(i)
            if info.symbol == symbol and info.timeframe == timeframe:
                self.series.setCurrentIndex(i)
                break

    def _strategy_changed(self, _index: int = 0) -> None:
        name = self.strategy.currentText()
        target = self.strategy_paths.get(name)
        if target is None:
            self.params.set_params({})
            return
        try:
            cls = self.ctx.strategies.load_class(target)
        except StomError as exc:
            self.status.setText(f"Strategy {name}: {exc}")
            self.params.set_params({})
            return
        self.params.set_params(cls.declared_params())

    def _series_changed(self, _index: int = 0) -> None:
        info = self.series.currentData()
        if info is None:
            return
        for edit in (self.start_date, self.end_date):
            edit.setDateRange(_qdate(info.first_ts), _qdate(info.last_ts))
        self.start_date.setDate(_qdate(info.first_ts))
        self.end_date.setDate(_qdate(info.last_ts))

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.compare:
            self.compare.reload()

    def use_code(self, name: str, code: str) -> None:
        """Select strategy source from the editor (unsaved is fine) for the next run.

        The code is checked with ``load_from_code``, then written to a scratch file the
        backtest service loads by path (it loads strategies by name or file, not objects).
        """
        from stom_desktop.strategy import load_from_code

        cls = load_from_code(code, name)
        scratch = Path(tempfile.gettempdir()) / "stom-editor-strategies"
        scratch.mkdir(parents=True, exist_ok=True)
        path = scratch / f"{name}.py"
        path.write_text(code, encoding="utf-8")
        label = f"{name} {EDITOR_TAG}"
        if label not in self.strategy_paths:
            self.strategy_paths[label] = str(path)
            self.strategy.addItem(label)
        else:
            self.strategy_paths[label] = str(path)
        self.strategy.setCurrentText(label)
        self.params.set_params(cls.declared_params())
        self.status.setText(f"Loaded {name} from the editor; press Run.")

    # -- running ---------------------------------------------------------------------------
    def request(self) -> Any:
        """The ``BacktestRequest`` the form describes."""
        from stom_desktop.services.backtest_service import BacktestRequest

        target = self.strategy_paths.get(self.strategy.currentText())
        info = self.series.currentData()
        if target is None:
            raise ValueError("choose a strategy")
        if info is None:
            raise ValueError("no stored series: import or generate data first (stom data ...)")
        start, end = _ms(self.start_date.date()), _ms(self.end_date.date(), end=True)
        if end <= start:
            raise ValueError("the end date is before the start date")
        return BacktestRequest(
            strategy=target,
            symbol=info.symbol,
            timeframe=info.timeframe,
            start_ms=start,
            end_ms=end,
            params=self.params.values(),
            initial_capital=self.capital.value(),
            fee_pct=self.fee.value() / 100.0,
            slippage_bps=self.slippage.value(),
        )

    @property
    def busy(self) -> bool:
        """True while a backtest is running (and not cancelled)."""
        return self._busy

    def start(self) -> None:
        """Run the backtest the form describes on a worker."""
        try:
            request = self.request()
        except (StomError, ValueError) as exc:
            self.status.setText(f"Cannot run: {exc}")
            return
        self._token += 1
        token = self._token
        self._set_busy(True)
        self.progress.setValue(0)
        self.status.setText(f"Running {self.strategy.currentText()} on {request.symbol}\u2026")
        backtests, emit = self.ctx.backtests, self._progress.changed.emit
        run_in_worker(
            lambda: backtests.run(request, progress=emit),
            what="backtest",
            on_done=lambda saved: self._done(token, saved),
            on_error=lambda exc: self._failed(token, exc),
        )

    def cancel(self) -> None:
        """Return to idle now; the running backtest's result will be discarded."""
        if not self._busy:
            return
        self._token += 1  # the worker's result no longer matches: dropped in _done
        self._set_busy(False)
        self.progress.setValue(0)
        self.status.setText(
            "Cancelled. (The compiled run cannot be interrupted: it finishes in the "
            "background and its result is discarded.)"
        )

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _on_progress(self, fraction: float, text: str) -> None:
        if self._busy:
            self.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
            self.progress.setFormat(f"{text} %p%")

    def _failed(self, token: int, exc: BaseException) -> None:
        if token != self._token:
            return
        self._set_busy(False)
        self.status.setText(f"Backtest failed: {exc}")

    def _done(self, token: int, saved: Any) -> None:
        if token != self._token:
            log.info("backtest run %s finished after Cancel: result discarded", saved.run_id)
            return
        self._set_busy(False)
        self.progress.setValue(1000)
        self.show_result(saved)

    # -- results ---------------------------------------------------------------------------
    def show_result(self, saved: Any) -> None:
        """Show a ``SavedBacktest``: metrics, equity/drawdown and trades."""
        self.saved = saved
        result = saved.result
        metrics = result.metrics.as_dict()
        fill_metrics(self.metrics, ["value"], {k: [v] for k, v in metrics.items()})
        self.chart.show_result(
            f"run {saved.run_id}: {result.strategy}", result.equity_ts, result.equity
        )
        self.trades_model.set_frame(result.trades, TRADE_COLUMNS)
        self.trades.sortByColumn(0, Qt.SortOrder.AscendingOrder)  # by entry time
        self.trades.resizeColumnsToContents()
        for button in (self.export_csv, self.export_report_button):
            button.setEnabled(True)
        self.status.setText(
            f"Run {saved.run_id}: {metrics['num_trades']} trades, total return "
            f"{metrics['total_return'] * 100:+.2f}%, in {result.elapsed_s * 1000:.0f} ms."
        )
        self.tabs.setCurrentIndex(0)

    def trade_clicked(self, index: QModelIndex) -> None:
        """Open the chart at the clicked trade (its entry; the exit for the exit column)."""
        if self.saved is None or self.on_trade is None or not index.isValid():
            return
        source = self.trades_proxy.mapToSource(index)
        trades = self.saved.result.trades
        row = trades.iloc[source.row()]
        column = self.trades_model.column_name(source.column())
        moment = row["exit_time"] if column == "exit_time" else row["entry_time"]
        self.on_trade(trades, int(pd.Timestamp(moment).value // 1_000_000))

    def _save_path(self, title: str, suggested: str, filters: str) -> tuple[Path | None, str]:
        path, chosen = QFileDialog.getSaveFileName(self, title, suggested, filters)
        return (Path(path) if path else None), chosen

    def export_trades(self) -> Path | None:
        """Write the trades table as CSV where the user chooses."""
        if self.saved is None:
            return None
        result = self.saved.result
        path, _ = self._save_path(
            "Export trades",
            f"trades-{result.strategy}-{result.symbol}-run{self.saved.run_id}.csv",
            "CSV files (*.csv)",
        )
        if path is None:
            return None
        result.trades.to_csv(path, index=False)
        self.status.setText(f"Wrote {len(result.trades)} trades to {path}")
        return path

    def export_report(self) -> Path | None:
        """Write the report as markdown or JSON (by the chosen filter or the file suffix)."""
        if self.saved is None:
            return None
        result = self.saved.result
        path, chosen = self._save_path(
            "Export report",
            f"backtest-{result.strategy}-{result.symbol}-run{self.saved.run_id}.md",
            "Markdown (*.md);;JSON (*.json)",
        )
        if path is None:
            return None
        if path.suffix.lower() == ".json" or (path.suffix == "" and "json" in chosen.lower()):
            data = result.to_json_dict(include_equity=True)
            data["run_id"] = self.saved.run_id
            path.write_text(json.dumps(data, indent=2), encoding="utf-8")
        else:
            path.write_text(report_markdown(result, self.saved.run_id), encoding="utf-8")
        self.status.setText(f"Wrote the report to {path}")
        return path
