"""CandlestickItem / VolumeItem: visible-range clipping, LOD in paint, incremental updates."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from chart_data import random_ohlcv

from stom_desktop.gui.charts import CandlestickItem, OhlcvPyramid, VolumeItem

COLS = ("open", "high", "low", "close", "volume")


@pytest.fixture
def plot(qtbot):  # type: ignore[no-untyped-def]
    widget = pg.PlotWidget()
    widget.resize(800, 400)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def filled(n: int, seed: int = 1) -> tuple[CandlestickItem, dict[str, np.ndarray]]:
    cols = random_ohlcv(n, seed)
    item = CandlestickItem()
    item.set_bars(cols["ts"], *(cols[c] for c in COLS))
    return item, cols


def test_zoomed_in_paint_draws_only_the_visible_candles(plot: pg.PlotWidget) -> None:
    item, _ = filled(100_000)
    plot.addItem(item)
    plot.getViewBox().setXRange(1000, 1200, padding=0)
    plan = item.draw_plan()
    assert plan.level == 0
    assert plan.first <= 1000 and plan.stop >= 1201
    assert len(plan) <= 203  # 201 candles in view, at most one partly visible each side
    plot.grab()
    assert item.last_paint_count == len(plan)
    assert item.last_paint_level == 0


def test_zoomed_out_paint_merges_to_about_one_bucket_per_pixel(plot: pg.PlotWidget) -> None:
    item, _ = filled(100_000)
    plot.addItem(item)
    plot.getViewBox().setXRange(-0.5, 99_999.5, padding=0)
    plot.grab()
    width_px = plot.getViewBox().width()
    plan = item.draw_plan()
    assert plan.level >= 7  # 100k bars over < 800 px: at least 128 bars per bucket
    assert plan.size >= 100_000 / width_px  # each bucket at least one pixel wide
    assert len(plan) <= width_px + 2
    assert item.last_paint_count == len(plan)
    assert item.last_paint_level == plan.level


def test_draw_plan_with_explicit_range_and_pixel_size() -> None:
    item, _ = filled(1000)
    plan = item.draw_plan(x_range=(9.6, 20.2), pixel_width=0.1)
    assert (plan.level, plan.first, plan.stop) == (0, 10, 21)
    plan = item.draw_plan(x_range=(-100.0, 2000.0), pixel_width=3.0)
    assert (plan.level, plan.first, plan.stop) == (2, 0, 250)


def test_append_and_update_last_change_data_and_bounds(plot: pg.PlotWidget) -> None:
    item, cols = filled(500)
    plot.addItem(item)
    rect = item.boundingRect()
    assert (rect.left(), rect.width()) == (-0.5, 500.0)
    assert rect.top() == pytest.approx(cols["low"].min())
    assert rect.bottom() == pytest.approx(cols["high"].max())

    top = float(cols["high"].max()) * 1.5
    ts = int(cols["ts"][-1]) + 60_000
    item.append_bar(ts, 100.0, 101.0, 99.0, 100.5, 10.0)
    assert len(item.store) == 501
    assert item.boundingRect().width() == 501.0
    item.update_last_bar(100.0, top, 99.0, 100.5, 20.0)
    assert item.store.bar(-1) == (ts, 100.0, top, 99.0, 100.5, 20.0)
    assert item.boundingRect().bottom() == pytest.approx(top)
    assert item.dataBounds(1, orthoRange=(499.6, 500.4)) == (99.0, top)
    assert item.dataBounds(0) == (-0.5, 500.5)
    plot.getViewBox().setXRange(480, 501, padding=0)
    plot.grab()
    assert item.last_paint_count == len(item.draw_plan()) > 0


def test_y_bounds_follow_the_visible_bars_only() -> None:
    item, cols = filled(20_000)
    lo, hi = item.dataBounds(1, orthoRange=(1000.0, 5000.0))
    assert lo == cols["low"][1000:5001].min()
    assert hi == cols["high"][1000:5001].max()
    assert item.dataBounds(1) == (cols["low"].min(), cols["high"].max())
    assert CandlestickItem().dataBounds(1) == (None, None)


def test_volume_item_shares_the_store_and_fits_visible_volume(plot: pg.PlotWidget) -> None:
    candles, cols = filled(3000)
    volume = VolumeItem(candles.store)
    volume.data_changed()
    plot.addItem(volume)
    assert volume.dataBounds(1, orthoRange=(100.0, 200.0)) == (0.0, cols["volume"][100:201].max())
    assert volume.boundingRect().height() == pytest.approx(cols["volume"].max())
    plot.getViewBox().setXRange(100, 200, padding=0)
    plot.grab()
    assert volume.last_paint_count == len(volume.draw_plan()) > 0


def test_empty_item_paints_nothing(plot: pg.PlotWidget) -> None:
    item = CandlestickItem(OhlcvPyramid())
    plot.addItem(item)
    plot.grab()
    assert item.last_paint_count == 0
    assert item.boundingRect().isNull()
