"""Chart window: loading, timeframes, strategy overlays, live bars from an engine thread, trades."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.enums import Side
from stom_desktop.core.events import BarEvent, FillEvent
from stom_desktop.core.fills import Fill
from stom_desktop.core.synthetic import generate_bars
from stom_desktop.engine.bus import EventBus
from stom_desktop.gui.bridge import EngineBridge
from stom_desktop.gui.chart_window import ChartWindow, strategy_overlays
from stom_desktop.gui.charts.lod import CLOSE
from stom_desktop.gui.workers import pending_tasks
from stom_desktop.strategy import Param


class FakeData:
    """Stored series: AAA 1m (3,000 bars, UTC-hour aligned) and BBB 1d."""

    def __init__(self) -> None:
        self.series = {
            ("AAA", "1m"): generate_bars("AAA", "1m", 3_000, 1),
            ("BBB", "1d"): generate_bars("BBB", "1d", 300, 2),
        }
        self.loads: list[tuple[str, str]] = []

    def list_series(self) -> list[Any]:
        return [
            SimpleNamespace(symbol=s, timeframe=t, count=len(v), first_ts=0, last_ts=0)
            for (s, t), v in self.series.items()
        ]

    def load(self, symbol: str, timeframe: str, *_: Any) -> BarSeries:
        self.loads.append((symbol, timeframe))
        return self.series[(symbol, timeframe)]


class FakeStrategies:
    def list(self) -> list[Any]:
        return [
            SimpleNamespace(
                name="sma_cross",
                error=None,
                params={"fast": Param(10, 2, 50), "slow": Param(30, 10, 200)},
            )
        ]


class FakeTrading:
    def sessions(self) -> list[Any]:
        return [SimpleNamespace(state="running", symbols=("AAA", "LIVE1"))]

    def recent_fills(self, limit: int = 50) -> list[Any]:
        """One fill booked before the window opened: a buy of AAA in bar 100."""
        bars = generate_bars("AAA", "1m", 3_000, 1)
        when = datetime.fromtimestamp((int(bars.ts[100]) + 5_000) / 1000, tz=UTC)
        return [SimpleNamespace(symbol="AAA", side=Side.BUY, price=Decimal(99), ts=when)]


@pytest.fixture()
def bus_bridge(qtbot: Any) -> tuple[EventBus, EngineBridge]:
    bus = EventBus()
    bridge = EngineBridge()
    bridge.attach(bus)
    return bus, bridge


@pytest.fixture()
def window(qtbot: Any, bus_bridge: tuple[EventBus, EngineBridge]) -> ChartWindow:
    data = FakeData()
    win = ChartWindow(data, FakeTrading(), bus_bridge[1], FakeStrategies(), tz="Asia/Seoul")
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.symbol == "AAA" and win.base is not None and not win.loading)
    qtbot.waitUntil(lambda: pending_tasks() == 0)  # strategies and earlier fills read too
    return win


def test_symbol_picker_lists_stored_and_live_symbols(window: ChartWindow) -> None:
    texts = [window.symbols.itemText(i) for i in range(window.symbols.count())]
    assert texts == ["AAA · 1m stored + live", "BBB · 1d stored", "LIVE1 · live"]
    assert len(window.chart.store) == 3_000 and window.timeframe == "1m"


def test_switching_timeframe_resamples_the_stored_bars(qtbot: Any, window: ChartWindow) -> None:
    base = window.base
    assert base is not None
    window.timeframes.buttons["5m"].click()
    assert window.timeframe == "5m"
    expected = -(-3_000 // 5) + (1 if base.ts[0] % 300_000 else 0)
    assert len(window.chart.store) == len(np.unique(base.ts - base.ts % 300_000)) == expected
    np.testing.assert_array_equal(
        window.chart.store.column(CLOSE)[:2], [base.close[4], base.close[9]]
    )
    window.set_timeframe("1h")
    assert len(window.chart.store) == len(np.unique(base.ts // 3_600_000))
    # 1s cannot be built from 1m bars: the button is disabled, the call refused
    assert not window.timeframes.buttons["1s"].isEnabled()
    window.set_timeframe("1s")
    assert window.timeframe == "1m" and "cannot be built" in window.status.text()


def test_picking_another_symbol_loads_it(qtbot: Any, window: ChartWindow) -> None:
    index = next(i for i in range(window.symbols.count()) if "BBB" in window.symbols.itemText(i))
    window.symbols.setCurrentIndex(index)
    window.symbols.activated.emit(index)
    qtbot.waitUntil(lambda: window.base is not None and window.base.symbol == "BBB")
    assert window.timeframe == "1d" and len(window.chart.store) == 300
    assert not window.timeframes.buttons["1h"].isEnabled()


def test_strategy_params_become_overlays(qtbot: Any, window: ChartWindow) -> None:
    qtbot.waitUntil(lambda: window.strategy_box.findText("sma_cross") >= 0)
    window.set_strategy("sma_cross")
    assert [o.label for o in window.overlays] == ["SMA(10)", "SMA(30)"]
    close = window.chart.store.column(CLOSE)
    values = window.chart.readout_values(100)
    assert values["SMA(10)"] == pytest.approx(close[91:101].mean())
    assert "RSI(14)" in values and "MACD" in values
    window.set_strategy("sma_cross", {"fast": 5})
    assert [o.label for o in window.overlays] == ["SMA(5)", "SMA(30)"]
    assert "SMA(10)" not in window.chart.readout_values(100)
    window.set_strategy("(no strategy)")
    assert window.overlays == []
    assert [
        o.label
        for o in strategy_overlays("donchian_breakout", {"entry_period": 20, "exit_period": 10})
    ] == ["DC(20) high", "DC(10) low"]


def _bar(ts: int, close: float, closed: bool, tf: str = "1m", symbol: str = "AAA") -> BarEvent:
    return BarEvent(symbol, tf, ts, close, close + 1, close - 1, close, 10.0, closed)


def _publish_from_thread(bus: EventBus, events: list[Any]) -> None:
    thread = threading.Thread(target=lambda: [bus.publish(e) for e in events], name="engine")
    thread.start()
    thread.join()


def test_live_bars_from_an_engine_thread_update_then_append(
    qtbot: Any, window: ChartWindow, bus_bridge: tuple[EventBus, EngineBridge]
) -> None:
    bus = bus_bridge[0]
    last_ts = int(window.chart.store.bar(-1)[0])
    nxt = last_ts + 60_000
    # the last stored bar updated in place, then a new minute forming, other symbols ignored
    _publish_from_thread(
        bus,
        [
            _bar(last_ts, 555.0, True),
            _bar(nxt, 600.0, False),
            _bar(nxt, 601.0, False),
            _bar(nxt, 1.0, False, symbol="ZZZ"),
        ],
    )
    qtbot.waitUntil(lambda: len(window.chart.store) == 3_001)
    assert window.chart.store.bar(-2)[4] == 555.0
    assert window.chart.store.bar(-1) == (nxt, 601.0, 602.0, 600.0, 601.0, 10.0)
    assert window.chart.follow
    # on 5m the forming minute folds into the last 5m bucket
    window.set_timeframe("5m")
    n5 = len(window.chart.store)
    bucket = nxt - nxt % 300_000
    assert window.chart.store.bar(-1)[0] == bucket
    _publish_from_thread(bus, [_bar(nxt, 650.0, True), _bar(nxt + 60_000, 700.0, False)])
    expected_last = 700.0
    qtbot.waitUntil(lambda: window.chart.store.bar(-1)[4] == expected_last)
    grew = 1 if (nxt + 60_000) % 300_000 == 0 else 0
    assert len(window.chart.store) == n5 + grew
    assert window.chart.store.bar(-1)[2] == 701.0  # max high of the bucket so far


def test_panning_back_stops_auto_scroll(
    qtbot: Any, window: ChartWindow, bus_bridge: tuple[EventBus, EngineBridge]
) -> None:
    window.chart.show_range(100, 300)
    assert not window.chart.follow and "paused" in window.follow_label.text()
    before = window.chart.price_plot.vb.viewRange()[0]
    last_ts = int(window.chart.store.bar(-1)[0])
    _publish_from_thread(bus_bridge[0], [_bar(last_ts + 60_000, 500.0, True)])
    qtbot.waitUntil(lambda: len(window.chart.store) == 3_001)
    assert window.chart.price_plot.vb.viewRange()[0] == pytest.approx(before)


def test_show_trades_and_focus_time_navigate(window: ChartWindow) -> None:
    ts = window.chart.store
    t_in, t_out = int(ts.bar(400)[0]), int(ts.bar(450)[0])
    trades = pd.DataFrame(
        {
            "entry_time": pd.to_datetime([t_in, t_out + 60_000], unit="ms", utc=True),
            "exit_time": pd.to_datetime([t_out, t_out + 120_000], unit="ms", utc=True),
            "entry_price": [100.0, 101.0],
            "exit_price": [110.0, 99.0],
            "is_open": [False, True],
        }
    )
    window.show_trades(trades)
    xs = window.chart._entries.getData()[0]
    assert list(xs) == [400.0, 451.0]
    assert list(window.chart._exits.getData()[0]) == [450.0]  # the open trade has no exit
    index = window.focus_time(t_in + 30_000)
    assert index == 400
    left, right = window.chart.price_plot.vb.viewRange()[0]
    assert left < 400 < right and right < 2_999 and not window.chart.follow


def test_live_fills_of_the_symbol_become_markers(
    qtbot: Any, window: ChartWindow, bus_bridge: tuple[EventBus, EngineBridge]
) -> None:
    when = datetime.fromtimestamp(int(window.chart.store.bar(2_000)[0]) / 1000, tz=UTC)
    fill = Fill("f1", "c1", "AAA", Side.SELL, Decimal(1), Decimal("123.5"), Decimal(0), "KRW", when)
    other = Fill("f2", "c2", "ZZZ", Side.BUY, Decimal(1), Decimal(1), Decimal(0), "KRW", when)
    _publish_from_thread(bus_bridge[0], [FillEvent("s1", fill, 0), FillEvent("s1", other, 0)])
    qtbot.waitUntil(lambda: len(window.chart._exits.getData()[0]) == 1)
    assert window.chart._exits.getData()[1][0] == 123.5
    assert list(window.chart._exits.getData()[0]) == [2_000.0]
    # the fill booked before the window opened was read from the service
    assert list(window.chart._entries.getData()[0]) == [100.0]


def test_a_live_only_symbol_builds_its_chart_from_bars(
    qtbot: Any, window: ChartWindow, bus_bridge: tuple[EventBus, EngineBridge]
) -> None:
    window.open_symbol("LIVE1")
    assert len(window.chart.store) == 0
    t0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
    _publish_from_thread(
        bus_bridge[0], [_bar(t0 + 60_000 * i, 100.0 + i, True, symbol="LIVE1") for i in range(12)]
    )
    qtbot.waitUntil(lambda: len(window.chart.store) == 12)
    left, right = window.chart.price_plot.vb.viewRange()[0]
    assert left < 0 and right > 11  # every live bar in view, not scrolled off to the left
    window.set_timeframe("5m")  # rebuilt from the live minutes kept by the window
    assert len(window.chart.store) == 3
    assert window.chart.store.bar(-1) == (t0 + 600_000, 110.0, 112.0, 109.0, 111.0, 20.0)


def test_a_strategy_chosen_before_its_params_are_read_gets_its_overlays(qtbot: Any) -> None:
    win = ChartWindow(None, None, None, FakeStrategies())
    qtbot.addWidget(win)
    win.set_strategy("sma_cross")  # the strategies are still being read on a worker
    assert win.overlays == []
    qtbot.waitUntil(lambda: [o.label for o in win.overlays] == ["SMA(10)", "SMA(30)"])
