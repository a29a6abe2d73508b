"""Chart window: the View menu hides/shows the RSI and MACD panes, remembered across windows."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.synthetic import generate_bars
from stom_desktop.gui.chart_window import ChartWindow
from stom_desktop.gui.window_state import state_file
from stom_desktop.gui.workers import pending_tasks


class OneSeries:
    """One stored series, AAA 1m."""

    def __init__(self) -> None:
        self.bars = generate_bars("AAA", "1m", 500, 1)

    def list_series(self) -> list[Any]:
        return [SimpleNamespace(symbol="AAA", timeframe="1m", count=500, first_ts=0, last_ts=0)]

    def load(self, symbol: str, timeframe: str, *_: Any) -> BarSeries:
        return self.bars


def _open(qtbot: Any) -> ChartWindow:
    win = ChartWindow(OneSeries())
    qtbot.addWidget(win)
    win.resize(1000, 700)
    win.show()
    qtbot.waitUntil(lambda: win.base is not None and not win.loading)
    qtbot.waitUntil(lambda: pending_tasks() == 0)
    return win


def _heights(win: ChartWindow) -> dict[str, float]:
    return {name: plot.geometry().height() for name, plot in win.chart.panes.items()}


def _shown(win: ChartWindow, name: str) -> bool:
    return win.chart.panes[name].isVisible()


def test_toggling_hides_and_shows_a_pane_and_the_price_pane_grows(qtbot: Any) -> None:
    win = _open(qtbot)
    rsi, macd = win.panes.actions["rsi"], win.panes.actions["macd"]
    assert rsi.isChecked() and macd.isChecked() and _shown(win, "rsi") and _shown(win, "macd")
    before = _heights(win)["price"]
    assert win.chart.panes["macd"].getAxis("bottom").isVisible()  # time axis at the bottom

    macd.trigger()  # the View menu action
    qtbot.waitUntil(lambda: _heights(win)["price"] > before)
    assert not macd.isChecked() and not _shown(win, "macd") and _shown(win, "rsi")
    # the time axis moved to the lowest pane still shown
    assert win.chart.panes["rsi"].getAxis("bottom").isVisible()
    one_hidden = _heights(win)["price"]

    rsi.trigger()
    qtbot.waitUntil(lambda: _heights(win)["price"] > one_hidden)
    assert not _shown(win, "rsi") and win.chart.panes["volume"].getAxis("bottom").isVisible()
    assert not win.chart.panes["price"].getAxis("bottom").isVisible()

    rsi.trigger()
    macd.trigger()
    # The price pane gives the space back (not compared with ``before`` to the pixel: on a
    # busy machine the first layout may not have settled when it was measured).
    qtbot.waitUntil(lambda: _heights(win)["price"] < one_hidden - 10)
    assert _shown(win, "rsi") and _shown(win, "macd")
    assert win.chart.panes["macd"].getAxis("bottom").isVisible()
    assert not win.chart.panes["rsi"].getAxis("bottom").isVisible()


def test_hidden_panes_survive_closing_and_reopening(qtbot: Any) -> None:
    first = _open(qtbot)
    first.panes.actions["rsi"].trigger()
    assert not first.panes.is_visible("rsi")
    first.close()
    assert state_file().exists()

    second = _open(qtbot)
    assert not second.panes.actions["rsi"].isChecked() and not second.panes.is_visible("rsi")
    assert not _shown(second, "rsi") and _shown(second, "macd")
    # the restored window still draws RSI values into the hidden pane and can show it again
    assert second.chart.readout_values(100)
    second.panes.actions["rsi"].trigger()
    assert _shown(second, "rsi")
    second.close()

    third = _open(qtbot)
    assert third.panes.is_visible("rsi") and _shown(third, "rsi")
