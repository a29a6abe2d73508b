"""Walk-forward tab of the Backtest window on the real services (tmp STOM_HOME, generated bars)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from stom_desktop.gui.backtest_window import BacktestWindow
from stom_desktop.gui.workers import pending_tasks

N_BARS = 400  # daily bars; 100b/50b gives OOS windows starting at 100, 150, ..., 350: six


@pytest.fixture()
def app() -> Iterator[Any]:
    from stom_desktop.bootstrap import build_app

    ctx = build_app()
    ctx.data.generate("SIM1", "1d", N_BARS, 7)
    yield ctx
    ctx.close()


@pytest.fixture()
def window(qtbot: Any, app: Any) -> BacktestWindow:
    win = BacktestWindow(app)
    qtbot.addWidget(win)
    win.show()
    win.strategy.setCurrentText("sma_cross")
    win.tabs.setCurrentWidget(win.walk_forward)
    return win


def _bars_form(panel: Any, train: int, test: int) -> None:
    panel.unit.setCurrentText("bars")
    panel.train.setValue(train)
    panel.test.setValue(test)


def test_walk_forward_table_and_stitched_curve_match_the_service(
    qtbot: Any, window: BacktestWindow, app: Any
) -> None:
    panel = window.walk_forward
    _bars_form(panel, 100, 50)
    panel.specs.setText("fast=4,8 slow=20,40")
    panel.metric.setCurrentText("total_return")
    assert panel.spec() == "100b/50b"
    panel.start()
    assert panel.running and not panel.run_button.isEnabled() and panel.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: panel.saved is not None, timeout=60_000)
    assert not panel.running and panel.run_button.isEnabled()
    assert panel.progress.value() == 1000
    wf = panel.saved.walk_forward
    assert panel.proxy.rowCount() == 6 == len(wf.windows)
    columns = panel.model._columns
    assert columns[:3] == ["window", "train", "test"]
    assert {"fast", "slow", "is_total_return", "oos_return", "oos_sharpe"} <= set(columns)
    # the first row shows the first window's spans and the service's chosen parameters
    first = wf.windows.iloc[0]
    test_col, fast_col = columns.index("test"), columns.index("fast")
    assert panel.proxy.index(0, test_col).data() == (
        f"{first['oos_start']:%Y-%m-%d} \u2026 {first['oos_end']:%Y-%m-%d}"
    )
    assert panel.proxy.index(0, fast_col).data() == str(first["fast"])

    # the same request straight through the service gives the same stitched result
    ref = app.optimizer.run(panel.request()).walk_forward
    assert np.array_equal(ref.equity, wf.equity) and np.array_equal(ref.equity_ts, wf.equity_ts)
    assert ref.metrics == wf.metrics
    assert ref.windows[["fast", "slow", "oos_return"]].equals(
        wf.windows[["fast", "slow", "oos_return"]]
    )
    # ...and that is what the chart draws
    curve = panel.chart.curves["stitched out-of-sample"][0]
    xs, ys = curve.getData()
    assert np.array_equal(ys, wf.equity) and len(xs) == N_BARS - 100
    labels = [panel.summary.verticalHeaderItem(r).text() for r in range(panel.summary.rowCount())]  # type: ignore[union-attr]
    assert panel.summary.item(labels.index("num_trades"), 0).text() == str(wf.metrics.num_trades)  # type: ignore[union-attr]
    assert "6 windows" in panel.status.text()


def test_walk_forward_borrows_the_optimisation_grid(window: BacktestWindow) -> None:
    window.optimize.specs.setText("fast=5,10 slow=30")
    window.optimize.constraints.setText("fast<slow")
    request = window.walk_forward.request()
    assert request.specs == ("fast=5,10", "slow=30")
    assert request.constraints == ("fast<slow",)
    assert request.walk_forward == "6m/1m"


def test_walk_forward_errors_are_shown(qtbot: Any, window: BacktestWindow) -> None:
    panel = window.walk_forward
    panel.start()  # no grid anywhere
    assert not panel.running and "enter a grid" in panel.status.text()
    _bars_form(panel, 1000, 50)  # longer than the data
    panel.specs.setText("fast=4 slow=20")
    panel.start()
    qtbot.waitUntil(lambda: not panel.running, timeout=60_000)
    assert "Walk-forward failed" in panel.status.text()
    assert "too little data" in panel.status.text()
    assert "ef5350" in panel.status.styleSheet()  # shown as an error
    assert panel.saved is None and panel.run_button.isEnabled()


def test_walk_forward_cancel_sets_the_event_and_discards(
    qtbot: Any, window: BacktestWindow
) -> None:
    panel = window.walk_forward
    _bars_form(panel, 60, 20)
    panel.specs.setText("fast=2:50:2 slow=10:200:10")
    panel.start()
    event = panel.cancel_event
    panel.cancel()
    assert event is not None and event.is_set()
    assert not panel.running and panel.run_button.isEnabled()
    assert not panel.cancel_button.isEnabled() and "cancelled" in panel.status.text()
    qtbot.waitUntil(lambda: pending_tasks() == 0, timeout=60_000)
    qtbot.wait(50)  # let the queued done/failed signal arrive
    assert panel.saved is None and panel.proxy.rowCount() == 0
    assert "cancelled" in panel.status.text()
