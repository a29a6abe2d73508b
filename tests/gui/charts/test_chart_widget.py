"""ChartWidget: auto-scroll, crosshair readout, Seoul time axis, markers and a real snapshot."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PyQt6 import QtCore, QtGui, QtWidgets

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import ConfigurationError, DataError
from stom_desktop.gui.charts import ChartWidget, OhlcvPyramid, TimeAxisItem
from stom_desktop.strategy import indicators

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture
def chart(qtbot, bars_5k: BarSeries) -> ChartWidget:  # type: ignore[no-untyped-def]
    widget = ChartWidget("Asia/Seoul", visible_bars=100)
    widget.resize(1000, 700)
    qtbot.addWidget(widget)
    widget.set_bars(bars_5k)
    widget.show()
    QtWidgets.QApplication.processEvents()
    return widget


def x_range(chart: ChartWidget) -> tuple[float, float]:
    left, right = chart.price_plot.vb.viewRange()[0]
    return left, right


def next_bar(chart: ChartWidget) -> tuple[int, float, float, float, float, float]:
    ts, _, _, _, c, _ = chart.store.bar(-1)
    return ts + 60_000, c, c * 1.01, c * 0.99, c * 1.005, 500.0


def test_auto_scroll_follows_stops_when_panned_back_and_resumes_at_the_end(
    chart: ChartWidget,
) -> None:
    assert chart.follow
    left, right = x_range(chart)
    assert right > len(chart.store) - 1  # the last bar is in view
    chart.append_bar(*next_bar(chart))
    assert x_range(chart) == pytest.approx((left + 1, right + 1))

    chart.price_plot.vb.translateBy(x=-500)  # what a mouse drag does
    assert not chart.follow
    panned = x_range(chart)
    chart.append_bar(*next_bar(chart))
    chart.update_last_bar(1.0, 2.0, 0.5, 1.5, 10.0)
    assert x_range(chart) == pytest.approx(panned)  # the user's view stays put
    assert len(chart.store) == 5002

    chart.price_plot.vb.translateBy(x=500)  # back to the end
    assert chart.follow
    back = x_range(chart)
    chart.append_bar(*next_bar(chart))
    assert x_range(chart) == pytest.approx((back[0] + 1, back[1] + 1))


def test_panes_share_the_x_axis_and_only_the_bottom_one_shows_time(chart: ChartWidget) -> None:
    rsi = chart.add_pane("rsi", levels=(30, 70), y_range=(0, 100))
    QtWidgets.QApplication.processEvents()  # lay the new pane out
    chart.show_range(1000, 1100)
    for pane in (chart.volume_plot, rsi):
        assert pane.vb.viewRange()[0] == pytest.approx(x_range(chart))
    assert rsi.getAxis("bottom").isVisible()
    assert not chart.price_plot.getAxis("bottom").isVisible()
    assert not chart.volume_plot.getAxis("bottom").isVisible()
    with pytest.raises(DataError, match="already exists"):
        chart.add_pane("rsi")
    with pytest.raises(DataError, match="no pane"):
        chart.set_line("macd", "MACD", np.zeros(3))


def move_mouse_to(qtbot, chart: ChartWidget, x: float, y: float) -> None:  # type: ignore[no-untyped-def]
    """Send a real mouse-move event to the graphics view at data point (x, y)."""
    qtbot.wait(30)  # pyqtgraph drops mouse moves closer than its rate limit
    scene_pos = chart.price_plot.vb.mapViewToScene(QtCore.QPointF(x, y))
    view_pos = QtCore.QPointF(chart.graphics.mapFromScene(scene_pos))
    event = QtGui.QMouseEvent(
        QtCore.QEvent.Type.MouseMove,
        view_pos,
        QtCore.QPointF(chart.graphics.viewport().mapToGlobal(view_pos.toPoint())),
        QtCore.Qt.MouseButton.NoButton,
        QtCore.Qt.MouseButton.NoButton,
        QtCore.Qt.KeyboardModifier.NoModifier,
    )
    QtWidgets.QApplication.sendEvent(chart.graphics.viewport(), event)


def test_crosshair_readout_shows_the_bar_under_the_cursor(
    qtbot,  # type: ignore[no-untyped-def]
    chart: ChartWidget,
    bars_5k: BarSeries,
) -> None:
    chart.set_overlay("SMA20", indicators.sma(bars_5k.close, 20), "#f0b90b")
    i = 4950
    move_mouse_to(qtbot, chart, i + 0.2, float(bars_5k.close[i]))
    assert chart.hover_index == i
    text = chart.readout_plain()
    when = datetime.fromtimestamp(bars_5k.ts[i] / 1000, SEOUL).strftime("%Y-%m-%d %H:%M:%S KST")
    assert when in text
    for name in ("open", "high", "low", "close"):
        assert f"{name[0].upper()} {float(getattr(bars_5k, name)[i]):,.2f}" in text
    assert f"V {float(bars_5k.volume[i]):,.0f}" in text
    sma = indicators.sma(bars_5k.close, 20)[i]
    assert f"SMA20 {sma:,.2f}" in text
    vline, hline = chart._crosshair["price"]
    assert vline.isVisible() and vline.value() == i
    assert hline.value() == pytest.approx(float(bars_5k.close[i]), rel=1e-3)

    move_mouse_to(qtbot, chart, i - 10, float(bars_5k.close[i - 10]))
    assert chart.hover_index == i - 10
    assert f"C {float(bars_5k.close[i - 10]):,.2f}" in chart.readout_plain()


def test_time_axis_labels_bars_in_seoul_time() -> None:
    store = OhlcvPyramid()
    n = 600  # 2024-01-01 00:00Z = 09:00 KST, one bar a minute
    ts = 1_704_067_200_000 + 60_000 * np.arange(n, dtype=np.int64)
    ones = np.ones(n)
    store.set_bars(ts, ones, ones, ones, ones, ones)
    ticks = TimeAxisItem(store, SEOUL).tick_times(-0.5, n - 0.5, 1000.0)
    assert ticks[:3] == [(0, "09:00"), (60, "10:00"), (120, "11:00")]
    assert all(label == f"{9 + i // 60:02d}:00" for i, label in ticks)
    utc = TimeAxisItem(store, ZoneInfo("UTC")).tick_times(-0.5, n - 0.5, 1000.0)
    assert utc[0] == (0, "00:00")


def test_time_axis_marks_the_new_day_and_skips_gaps() -> None:
    # Two sessions of 09:00-15:30 KST on consecutive days: the night is not on the axis.
    day = 86_400_000
    first = 1_704_067_200_000  # 09:00 KST
    session = first + 60_000 * np.arange(391, dtype=np.int64)
    ts = np.concatenate([session, session + day])
    ones = np.ones(ts.shape[0])
    store = OhlcvPyramid()
    store.set_bars(ts, ones, ones, ones, ones, ones)
    ticks = dict(TimeAxisItem(store, SEOUL).tick_times(-0.5, ts.shape[0] - 0.5, 1200.0))
    assert ticks[391] == "01-02 09:00"  # first bar of the second day, dated
    for i, label in ticks.items():
        moment = datetime.fromtimestamp(ts[i] / 1000, SEOUL)
        assert label.endswith(moment.strftime("%H:%M"))


def test_markers_land_on_the_bar_that_contains_the_fill(
    chart: ChartWidget, bars_5k: BarSeries
) -> None:
    chart.set_markers(
        entries=[(int(bars_5k.ts[10]) + 30_000, 101.0)],
        exits=[(int(bars_5k.ts[20]), 99.0), (int(bars_5k.ts[4999]) + 59_999, 98.0)],
    )
    ex, ey = chart._entries.getData()
    assert list(ex) == [10.0] and list(ey) == [101.0]
    xx, xy = chart._exits.getData()
    assert list(xx) == [20.0, 4999.0] and list(xy) == [99.0, 98.0]
    chart.set_markers()
    assert len(chart._entries.getData()[0]) == 0


def test_unknown_time_zone_is_a_configuration_error(qtbot) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigurationError, match="Mars/Olympus"):
        ChartWidget("Mars/Olympus")


def test_snapshot_has_up_and_down_candles(
    chart: ChartWidget, bars_5k: BarSeries, tmp_path: Path
) -> None:
    chart.add_pane("rsi", levels=(30, 70), y_range=(0, 100))
    chart.set_line("rsi", "RSI14", indicators.rsi(bars_5k.close, 14), "#ab47bc")
    path = tmp_path / "chart.png"
    assert chart.grab().save(str(path))
    image = QtGui.QImage(str(path)).convertToFormat(QtGui.QImage.Format.Format_RGB32)
    assert image.width() == 1000 and image.height() == 700
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    pixels = np.frombuffer(ptr, dtype=np.uint32).reshape(image.height(), -1) & 0xFFFFFF
    up = QtGui.QColor(chart.candles.up_color).rgb() & 0xFFFFFF
    down = QtGui.QColor(chart.candles.down_color).rgb() & 0xFFFFFF
    assert np.count_nonzero(pixels == up) > 1000
    assert np.count_nonzero(pixels == down) > 1000
    assert np.unique(pixels).size > 20  # axes, text, lines: not a blank picture


def test_upsert_updates_the_forming_bar_then_appends_the_next(chart: ChartWidget) -> None:
    ts, o, h, lo, c, v = next_bar(chart)
    chart.upsert_bar(ts, o, h, lo, c, v)
    chart.upsert_bar(ts, o, h * 1.01, lo, c * 1.002, v + 100)  # same minute: in place
    assert len(chart.store) == 5001
    assert chart.store.bar(-1) == (ts, o, h * 1.01, lo, c * 1.002, v + 100)
    assert f"C {c * 1.002:,.2f}" in chart.readout_plain()  # readout follows the last bar
    chart.upsert_bar(ts + 60_000, c, c, c, c, 1.0)
    assert len(chart.store) == 5002
    assert chart.candles.boundingRect().width() == 5002.0
    assert chart.volume.boundingRect().width() == 5002.0
