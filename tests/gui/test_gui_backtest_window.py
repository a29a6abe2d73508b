"""Backtest window on the real services (tmp STOM_HOME, generated bars): run, cancel, optimise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QFileDialog

from stom_desktop.gui.backtest_optimize import heatmap_matrix
from stom_desktop.gui.backtest_window import BacktestWindow
from stom_desktop.gui.workers import pending_tasks

N_BARS = 400


@pytest.fixture()
def app() -> Iterator[Any]:
    from stom_desktop.bootstrap import build_app

    ctx = build_app()
    ctx.data.generate("SIM1", "1d", N_BARS, 7)
    yield ctx
    ctx.close()


@pytest.fixture()
def clicks() -> list[tuple[pd.DataFrame, int]]:
    return []


@pytest.fixture()
def window(qtbot: Any, app: Any, clicks: list[Any]) -> BacktestWindow:
    win = BacktestWindow(app, on_trade=lambda trades, ts: clicks.append((trades, ts)))
    qtbot.addWidget(win)
    win.show()
    win.strategy.setCurrentText("sma_cross")
    return win


def _run(qtbot: Any, win: BacktestWindow) -> Any:
    win.run_button.click()
    assert win.busy and not win.run_button.isEnabled() and win.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: win.saved is not None, timeout=60_000)
    assert not win.busy
    return win.saved


def test_form_offers_strategies_series_and_declared_params(window: BacktestWindow) -> None:
    names = [window.strategy.itemText(i) for i in range(window.strategy.count())]
    assert {"sma_cross", "rsi_reversion", "donchian_breakout"} <= set(names)
    assert window.series.count() == 1 and "SIM1 1d" in window.series.currentText()
    assert window.params.ranges()["fast"] == (2, 50)
    assert window.params.ranges()["slow"] == (10, 200)
    assert window.params.values()["stop_loss"] is None  # optional exit: off by default
    assert window.start_date.date() < window.end_date.date()


def test_run_shows_metrics_equity_and_trades(
    qtbot: Any, window: BacktestWindow, clicks: list[Any]
) -> None:
    window.params.widgets["fast"].setValue(6)  # type: ignore[union-attr]
    window.params.widgets["slow"].setValue(20)  # type: ignore[union-attr]
    saved = _run(qtbot, window)
    result = saved.result
    assert result.params["fast"] == 6 and result.params["slow"] == 20
    assert result.metrics.num_trades > 0
    assert window.progress.value() == 1000
    labels = [window.metrics.verticalHeaderItem(r).text() for r in range(window.metrics.rowCount())]  # type: ignore[union-attr]
    row = labels.index("num_trades")
    assert window.metrics.item(row, 0).text() == str(result.metrics.num_trades)  # type: ignore[union-attr]
    assert window.trades_proxy.rowCount() == len(result.trades)
    curve = window.chart.curves[next(iter(window.chart.curves))][0]
    assert len(curve.getData()[1]) == N_BARS

    # sorting by pnl orders the rows numerically, and a click maps back to the right trade
    pnl_col = list(window.trades_model._columns).index("pnl")
    window.trades.sortByColumn(pnl_col, Qt.SortOrder.DescendingOrder)
    shown = [
        float(window.trades_proxy.index(r, pnl_col).data(window.trades_proxy.sortRole()))
        for r in range(window.trades_proxy.rowCount())
    ]
    assert shown == sorted(shown, reverse=True)
    top = window.trades_proxy.index(0, 0)
    window.trade_clicked(top)
    best = result.trades.sort_values("pnl", ascending=False).iloc[0]
    trades, ts = clicks[-1]
    assert trades is result.trades
    assert ts == int(best["entry_time"].value // 1_000_000)
    exit_col = list(window.trades_model._columns).index("exit_time")
    window.trade_clicked(window.trades_proxy.index(0, exit_col))
    assert clicks[-1][1] == int(best["exit_time"].value // 1_000_000)


def test_cancel_returns_to_idle_and_discards_the_result(qtbot: Any, window: BacktestWindow) -> None:
    window.run_button.click()
    assert window.busy
    window.cancel_button.click()
    assert (
        not window.busy and window.run_button.isEnabled() and not window.cancel_button.isEnabled()
    )
    assert "Cancelled" in window.status.text()
    qtbot.waitUntil(lambda: pending_tasks() == 0, timeout=60_000)
    qtbot.wait(50)  # let the queued done-signal arrive
    assert window.saved is None and window.trades_proxy.rowCount() == 0
    assert window.metrics.rowCount() == 0


def test_export_trades_csv_and_reports(
    qtbot: Any, window: BacktestWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = _run(qtbot, window)
    answers = iter(
        [
            (str(tmp_path / "t.csv"), "CSV files (*.csv)"),
            (str(tmp_path / "r.md"), "Markdown (*.md)"),
            (str(tmp_path / "r.json"), "JSON (*.json)"),
            ("", ""),  # the user cancels the dialog
        ]
    )
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: next(answers))
    assert window.export_trades() == tmp_path / "t.csv"
    assert len(pd.read_csv(tmp_path / "t.csv")) == len(saved.result.trades)
    assert window.export_report() == tmp_path / "r.md"
    text = (tmp_path / "r.md").read_text()
    assert "# Backtest: sma_cross on SIM1 1d" in text and "| num_trades |" in text
    assert window.export_report() == tmp_path / "r.json"
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["run_id"] == saved.run_id and len(data["trades"]) == len(saved.result.trades)
    assert window.export_trades() is None


def test_optimisation_fills_table_and_heatmap(qtbot: Any, window: BacktestWindow) -> None:
    panel = window.optimize
    panel.specs.setText("fast=4:10:2 slow=20:40:10")
    panel.start()
    assert panel.running and not panel.run_button.isEnabled()
    qtbot.waitUntil(lambda: panel.saved is not None, timeout=60_000)
    grid = panel.saved.grid
    assert grid.n_evaluated == 12 and panel.proxy.rowCount() == 12
    assert panel.heat_x.currentText() == "fast" and panel.heat_y.currentText() == "slow"
    assert panel.heatmap.matrix.shape == (4, 3)
    assert panel.heatmap.x_values == [4, 6, 8, 10] and panel.heatmap.y_values == [20, 30, 40]
    best = grid.table.iloc[0]
    sharpe_col = panel.model._columns.index("sharpe")
    first = panel.proxy.index(0, sharpe_col).data(panel.proxy.sortRole())
    assert first == pytest.approx(best["sharpe"])  # best first, as the service ranked them
    panel.table.sortByColumn(sharpe_col, Qt.SortOrder.AscendingOrder)
    column = [panel.proxy.index(r, sharpe_col).data(panel.proxy.sortRole()) for r in range(12)]
    assert column == sorted(column)
    i, j = [4, 6, 8, 10].index(best["fast"]), [20, 30, 40].index(best["slow"])
    assert panel.heatmap.matrix[i, j] == pytest.approx(best["sharpe"])
    assert panel.heatmap.image.image is not None and panel.heatmap.image.image.shape == (4, 3)


def test_optimisation_cancel_sets_the_event_and_goes_idle(
    qtbot: Any, window: BacktestWindow
) -> None:
    panel = window.optimize
    panel.specs.setText("fast=2:50:2 slow=10:200:10")
    panel.start()
    event = panel.cancel_event
    panel.cancel()
    assert event is not None and event.is_set()
    assert not panel.running and panel.run_button.isEnabled()
    qtbot.waitUntil(lambda: pending_tasks() == 0, timeout=60_000)
    qtbot.wait(50)
    assert panel.saved is None and panel.proxy.rowCount() == 0


def test_compare_two_runs(qtbot: Any, window: BacktestWindow) -> None:
    first = _run(qtbot, window)
    window.saved = None
    window.params.widgets["fast"].setValue(4)  # type: ignore[union-attr]
    second = _run(qtbot, window)
    window.tabs.setCurrentWidget(window.compare)
    panel = window.compare
    assert panel.run_a.currentData() == second.run_id and panel.run_b.currentData() == first.run_id
    panel.compare_button.click()
    headers = [panel.metrics.horizontalHeaderItem(c).text() for c in range(3)]  # type: ignore[union-attr]
    assert headers[0] == f"A #{second.run_id}" and headers[1] == f"B #{first.run_id}"
    assert len(panel.chart.curves) == 2


def test_heatmap_matrix_keeps_the_best_row_per_cell() -> None:
    table = pd.DataFrame(
        {
            "a": [1, 1, 2, 2, 1],
            "b": [5, 6, 5, 6, 5],
            "c": [0, 0, 0, 0, 1],
            "m": [1.0, 2.0, 3.0, np.nan, 9.0],
        }
    )
    xs, ys, matrix = heatmap_matrix(table, "a", "b", "m")
    assert xs == [1, 2] and ys == [5, 6]
    assert matrix[0, 0] == 9.0 and matrix[0, 1] == 2.0 and matrix[1, 0] == 3.0
    assert np.isnan(matrix[1, 1])
    with pytest.raises(ValueError, match="two different"):
        heatmap_matrix(table, "a", "a", "m")


class FakeChart:
    """Records what the navigator asks of a chart window; loads 'asynchronously'."""

    def __init__(self) -> None:
        self.symbol: str | None = None
        self.base: object | None = None
        self.loading = False
        self.calls: list[tuple[str, Any]] = []

    def open_symbol(self, symbol: str, timeframe: str | None = None) -> None:
        self.calls.append(("open", (symbol, timeframe)))
        self.symbol, self.loading = symbol, True

    def show_trades(self, trades: pd.DataFrame) -> None:
        self.calls.append(("trades", len(trades)))

    def focus_time(self, ts_ms: int) -> int:
        self.calls.append(("focus", ts_ms))
        return 0


def test_chart_navigator_opens_the_series_then_focuses_the_trade(
    qtbot: Any, window: BacktestWindow
) -> None:
    from stom_desktop.gui.backtest_window import chart_navigator

    saved = _run(qtbot, window)
    chart = FakeChart()
    window.on_trade = chart_navigator(window, lambda: chart, poll_ms=5)
    window.trade_clicked(window.trades_proxy.index(0, 0))
    assert chart.calls == [("open", ("SIM1", "1d"))]  # waits for the load
    chart.loading, chart.base = False, object()
    qtbot.waitUntil(lambda: len(chart.calls) == 3)
    first = window.trades_proxy.mapToSource(window.trades_proxy.index(0, 0)).row()
    entry_ms = int(saved.result.trades.iloc[first]["entry_time"].value // 1_000_000)
    assert chart.calls[1:] == [("trades", len(saved.result.trades)), ("focus", entry_ms)]


def test_tray_routes_backtest_and_strategies_to_the_windows(qtbot: Any, app: Any) -> None:
    from stom_desktop.gui.strategy_editor import StrategyEditorWindow
    from stom_desktop.gui.tray import TrayController

    ctl = TrayController(tray_available=True)
    ctl.attach(ctx=app)
    try:
        ctl.actions["strategies"].trigger()
        editor = ctl.windows["strategies"]
        assert isinstance(editor, StrategyEditorWindow) and editor.isVisible()
        editor.open_code(
            "sma_copy", (Path(__file__).parents[2] / "strategies/sma_cross.py").read_text()
        )
        backtest = editor.backtest()
        assert backtest is ctl.windows["backtest"] and isinstance(backtest, BacktestWindow)
        assert backtest.isVisible() and backtest.strategy.currentText() == "sma_copy (editor)"
    finally:
        ctl.shutdown()
