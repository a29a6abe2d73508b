"""A live session's websocket market data reaches the order book, the chart and the strategy.

Issue 7 item 4: "the chart, order book and strategies consume it exactly like the simulator
feed". A real ``TradingService`` starts a ``mode="live"`` session on BTC/USDT against the
local fake Binance (REST on pytest-httpserver, streams on ``FakeBinanceStream``) with
``live.feed="websocket"``: the real ccxt.pro client feeds ``CcxtWebsocketFeed``, whose
events go through the session's engine onto the service's bus. The real windows are
built on that service exactly as the tray builds them (order book on ``service.events``,
chart on an ``EngineBridge`` attached to it). The values pushed on the websocket differ
from what the fake's REST endpoints answer (depth snapshot, 24h ticker), so what the
windows show can only have come through the websocket streams.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fake_exchanges import FakeBinance
from fake_ws_exchange import FakeBinanceStream
from live_venues import live_service

from stom_desktop.bootstrap import App
from stom_desktop.core.events import BarEvent
from stom_desktop.engine.strategy_runner import SignalEvent
from stom_desktop.gui.bridge import EngineBridge
from stom_desktop.gui.chart_window import ChartWindow
from stom_desktop.gui.charts.lod import CLOSE, HIGH, VOLUME
from stom_desktop.gui.orderbook_window import LEVELS, OrderBookWindow
from stom_desktop.services.trading_service import TradingService
from stom_desktop.services.trading_spec import SessionSpec

SYM, MID = "BTC/USDT", "BTCUSDT"
STREAMS = ("btcusdt@ticker", "btcusdt@trade", "btcusdt@depth@100ms")
#: The probe strategy signals an exit on every closed bar whose close is at least this:
#: above the REST ticker's 30,000, so only websocket prices can trigger it.
THRESHOLD = 30_100.0
PROBE = f'''"""Test probe: an exit signal on each bar closing at or above {THRESHOLD}."""

from stom_desktop.core import BarSeries
from stom_desktop.strategy import Indicators, Signals, Strategy


class WsProbe(Strategy):
    """Long only and never enters: its exits only show which bars it saw."""

    direction = "long"

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        return Signals(exits=bars.close >= {THRESHOLD})
'''


@pytest.fixture
def binance(server: Any) -> FakeBinance:
    venue = FakeBinance(server)
    venue.balances["BTC"] = Decimal(0)  # matches the empty journal (else the start halts)
    return venue


@pytest.fixture
def stream(binance: FakeBinance) -> Iterator[FakeBinanceStream]:
    fake = FakeBinanceStream(binance).start()
    bids = [(30_000.0 - i, 1.0 + i) for i in range(1, 13)]  # REST snapshot: 12 levels a side
    asks = [(30_000.0 + i, 2.0 + i) for i in range(1, 13)]
    fake.set_book(MID, bids, asks)
    fake.push_ticker(MID, bid=29_999.0, ask=30_001.0, last=30_000.0, send=False)  # REST only
    yield fake
    fake.stop()


@pytest.fixture
def service(
    app: App,
    tmp_path: Path,
    binance: FakeBinance,
    stream: FakeBinanceStream,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TradingService]:
    """A live TradingService whose sessions read the fake's websocket streams."""
    monkeypatch.setenv("STOM_EXCHANGE_WS_URL", stream.ws_base)
    folder = app.settings.resolved_strategies_dir(app.paths)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ws_probe.py").write_text(PROBE, encoding="utf-8")
    svc = live_service(app, tmp_path, binance.base_url, feed="websocket", poll_interval_s=0.2)
    yield svc
    svc.shutdown()  # before the stream stops (fixture order): the feed closes cleanly


def test_websocket_data_reaches_order_book_chart_and_strategy(
    qtbot: Any, app: App, service: TradingService, stream: FakeBinanceStream
) -> None:
    signals: list[SignalEvent] = []
    bars: list[BarEvent] = []
    service.events.subscribe(SignalEvent, signals.append)
    service.events.subscribe(BarEvent, bars.append)
    spec = SessionSpec(
        name="ws-live", strategy="ws_probe", symbols=(SYM,), mode="live", timeframe="1s"
    )
    sid = service.start_session(spec)
    assert service.sessions()[0].mode == "live"

    # The windows, wired to the real service as the tray wires them.
    book_win = OrderBookWindow(service, service.events)
    bridge = EngineBridge()
    bridge.attach(service.events)
    chart = ChartWindow(app.data, service, bridge, app.strategies)
    for win in (book_win, chart):
        qtbot.addWidget(win)
        win.show()
    qtbot.waitUntil(lambda: book_win.symbol == SYM and chart.symbol == SYM, timeout=5_000)

    stream.wait_subscribed(*STREAMS)
    while time.time() % 60 > 58.5:  # keep the pushes inside one chart minute
        time.sleep(0.1)
    # A diff on the REST snapshot: a new best bid, the best ask taken away.
    stream.push_depth(MID, bids=[(30_000.5, 0.75)], asks=[(30_001.0, 0)])
    stream.push_trade(MID, price=30_123.5, size=0.25, buyer_maker=False)
    stream.push_trade(MID, price=30_120.25, size=1.5, buyer_maker=True)
    stream.push_ticker(MID, bid=30_120.0, ask=30_125.0, last=30_120.25, bid_size=0.5, ask_size=2)

    # Order book: the websocket book (snapshot + diff) on the ladder, trades on the tape.
    def ladder_has_diff() -> bool:
        return ("bid", 30_000.5, 0.75) in book_win.ladder.rows

    qtbot.waitUntil(ladder_has_diff, timeout=10_000)
    rows = book_win.ladder.rows
    assert len(rows) == 2 * LEVELS
    assert rows[LEVELS - 1] == ("ask", 30_002.0, 4.0)  # best ask: 30,001 was removed
    assert rows[LEVELS] == ("bid", 30_000.5, 0.75)
    assert rows[LEVELS + 1] == ("bid", 29_999.0, 2.0)
    assert book_win.spread() == pytest.approx(1.5)
    qtbot.waitUntil(lambda: book_win.tape.rowCount() == 2, timeout=5_000)
    tape = [[book_win.tape.item(r, c).text() for c in (1, 2)] for r in range(2)]
    assert tape == [["30,120.25", "1.5"], ["30,123.5", "0.25"]]  # newest first
    qtbot.waitUntil(lambda: "last <b>30,120.25</b>" in book_win.header.text(), timeout=5_000)
    assert book_win.ticket.mode == "live"  # the ticket knows it would send real orders

    # Chart: the engine's 1s bars from those prices, folded into one 1m candle.
    store = chart.chart.store
    qtbot.waitUntil(lambda: chart.frames > 0 and store.column(VOLUME).sum() > 1.7, timeout=10_000)
    assert len(store) == 1 and store.column(HIGH)[-1] == 30_123.5
    assert store.column(CLOSE)[-1] == 30_120.25
    assert store.column(VOLUME)[-1] == pytest.approx(1.75)  # volume only from trades
    readout = chart.chart.readout_plain()
    assert "C 30,120.25" in readout and "V 1.75 " in readout, readout  # not "V 2"
    assert int(store.bar(-1)[0]) % 60_000 == 0 and "live 1s" in chart.status.text()
    assert "BTC/USDT" in chart.symbols.currentText() and "live" in chart.symbols.currentText()

    # Strategy: evaluated on the closed bars built from the websocket prices.
    qtbot.waitUntil(lambda: any(s.session_id == f"s{sid}" for s in signals), timeout=5_000)
    closed = {b.ts_ms: b for b in bars if b.closed and b.symbol == SYM and b.timeframe == "1s"}
    assert all(closed[s.bar_ts_ms].close >= THRESHOLD for s in signals)
    assert closed[signals[-1].bar_ts_ms].close == 30_120.25
    assert service.last_price(SYM) == Decimal("30120.25")

    report = service.stop_session(sid)
    assert report.error is None
    qtbot.waitUntil(lambda: stream.open_connections() == 0, timeout=10_000)  # feed closed


def test_a_venue_session_publishes_its_forming_bar_between_closes(
    service: TradingService, stream: FakeBinanceStream
) -> None:
    # The chart of a real venue must move inside a minute, not only when it closes.
    bars: list[BarEvent] = []
    service.events.subscribe(BarEvent, bars.append)
    spec = SessionSpec(
        name="ws-1m", strategy="ws_probe", symbols=(SYM,), mode="live", timeframe="1m"
    )
    sid = service.start_session(spec)
    stream.wait_subscribed(*STREAMS)
    while time.time() % 60 > 50:  # stay inside one minute
        time.sleep(0.2)
    stream.push_trade(MID, price=30_211.5, size=0.5, buyer_maker=False)
    stream.push_ticker(MID, bid=30_211.0, ask=30_212.0, last=30_211.5, bid_size=1, ask_size=1)
    deadline = time.monotonic() + 8
    while not any(not b.closed and b.close == 30_211.5 for b in list(bars)):
        assert time.monotonic() < deadline, f"no forming 1m bar published: {bars}"
        time.sleep(0.05)
    forming = [b for b in bars if not b.closed and b.symbol == SYM]
    assert all(b.timeframe == "1m" and b.ts_ms % 60_000 == 0 for b in forming)
    assert service.stop_session(sid).error is None
