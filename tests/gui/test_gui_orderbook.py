"""Order book window: ladder from an OrderBookEvent, tape, click-to-prefill, confirm and send."""

from __future__ import annotations

import threading
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from PyQt6.QtCore import QPoint, Qt

from stom_desktop.core.enums import Side
from stom_desktop.core.events import OrderBookEvent, QuoteEvent, TradeTick
from stom_desktop.engine.bus import EventBus
from stom_desktop.gui.orderbook_window import LEVELS, OrderBookWindow


class Trading:
    def __init__(self, ok: bool = True) -> None:
        self.placed: list[tuple[Any, ...]] = []
        self.ok = ok

    def sessions(self) -> list[Any]:
        return [SimpleNamespace(state="running", mode="paper", symbols=("SIM1", "SIM2"))]

    def place_order(
        self,
        symbol: str,
        side: str,
        quantity: Decimal,
        price: Decimal | None,
        *,
        order_type: str,
        intent_key: str,
    ) -> Any:
        self.placed.append((symbol, side, quantity, price, order_type, intent_key))
        if self.ok:
            return SimpleNamespace(
                ok=True, client_order_id="stom-s1-000007", reason=None, rule=None
            )
        return SimpleNamespace(
            ok=False,
            client_order_id=None,
            reason="price not on the tick grid",
            rule="krx.tick_size",
        )


class Prompts:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked: list[str] = []

    def confirm(self, parent: Any, title: str, text: str) -> bool:
        self.asked.append(text)
        return self.answer


def book(symbol: str = "SIM1", ts: int = 1_000) -> OrderBookEvent:
    bids = tuple(10_000.0 - 10 * i for i in range(LEVELS))
    asks = tuple(10_010.0 + 10 * i for i in range(LEVELS))
    return OrderBookEvent(
        symbol,
        ts,
        bids,
        tuple(100.0 * (i + 1) for i in range(LEVELS)),
        asks,
        tuple(50.0 * (i + 1) for i in range(LEVELS)),
    )


def make(
    qtbot: Any, trading: Trading, answer: bool = True
) -> tuple[OrderBookWindow, EventBus, Prompts]:
    bus = EventBus()
    prompts = Prompts(answer)
    win = OrderBookWindow(trading, bus, prompts=prompts)  # type: ignore[arg-type]
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.symbol == "SIM1")
    return win, bus, prompts


def publish(bus: EventBus, events: list[Any]) -> None:
    t = threading.Thread(target=lambda: [bus.publish(e) for e in events], name="engine")
    t.start()
    t.join()


def test_book_quote_and_trades_from_the_engine_thread_are_drawn(qtbot: Any) -> None:
    win, bus, _ = make(qtbot, Trading())
    assert [win.symbols.itemText(i) for i in range(win.symbols.count())] == ["SIM1", "SIM2"]
    trades = [TradeTick("SIM1", 2_000 + i, 10_010.0, 3.0 + i, Side.BUY) for i in range(80)]
    publish(bus, [book("SIM2"), book(), *trades, book("SIM2", 5_000)])
    qtbot.waitUntil(lambda: len(win.ladder.rows) == 2 * LEVELS)
    rows = win.ladder.rows
    assert rows[0] == ("ask", 10_100.0, 500.0)  # deepest ask on top
    assert rows[LEVELS - 1] == ("ask", 10_010.0, 50.0)  # best ask just above the spread
    assert rows[LEVELS] == ("bid", 10_000.0, 100.0)
    assert win.spread() == 10.0 and "spread 10" in win.header.text()
    qtbot.waitUntil(lambda: win.tape.rowCount() == 50)  # bounded tape, newest first
    assert win.tape.item(0, 2).text() == "82"
    # a quote newer than the book moves the header's top of book
    publish(bus, [QuoteEvent("SIM1", 9_000, 10_020.0, 10_025.0, 10_021.0, 5.0, 5.0)])
    qtbot.waitUntil(lambda: "10,025" in win.header.text())
    # rendering is coalesced: far fewer frames than events
    assert win.renders < 20


def test_clicking_a_price_prefills_the_ticket(qtbot: Any) -> None:
    win, bus, _ = make(qtbot, Trading())
    publish(bus, [book()])
    qtbot.waitUntil(lambda: len(win.ladder.rows) == 2 * LEVELS)
    assert win.ticket.price.value() == 10_010.0  # follows the best ask until a click
    ladder = win.ladder
    best_ask_y = int(ladder.row_y(LEVELS - 1))
    qtbot.mouseClick(ladder, Qt.MouseButton.LeftButton, pos=QPoint(ladder.width() // 2, best_ask_y))
    assert win.ticket.side.currentText() == "buy"
    assert win.ticket.price.value() == 10_010.0 and win.ticket.quantity.value() == 1.0
    third_bid_y = int(ladder.row_y(LEVELS + 2))
    qtbot.mouseClick(
        ladder,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ShiftModifier,
        QPoint(10, third_bid_y),
    )
    assert win.ticket.side.currentText() == "sell"
    assert (win.ticket.price.value(), win.ticket.quantity.value()) == (9_980.0, 300.0)
    publish(bus, [book(ts=9_000)._replace(ask_prices=tuple(range(20_000, 20_010)))])
    qtbot.waitUntil(lambda: win.ladder.rows[LEVELS - 1][1] == 20_000)
    assert win.ticket.price.value() == 9_980.0  # a clicked price stays


def test_confirmed_order_is_placed_and_the_result_shown(qtbot: Any) -> None:
    trading = Trading()
    win, _bus, prompts = make(qtbot, trading)
    win.ticket.prefill("buy", 10_010.0, 3)
    win.ticket.send_button.click()
    assert prompts.asked and "BUY 3 SIM1 @ limit 10,010 (paper session)" in prompts.asked[0]
    qtbot.waitUntil(lambda: "sent" in win.ticket.result.text())
    symbol, side, qty, price, kind, key = trading.placed[0]
    assert (symbol, side, qty, price, kind) == ("SIM1", "buy", Decimal(3), Decimal(10010), "limit")
    assert key.startswith("ticket-") and "stom-s1-000007" in win.ticket.result.text()


def test_the_ticket_takes_crypto_sized_quantities(qtbot: Any) -> None:
    trading = Trading()
    win, _bus, prompts = make(qtbot, trading)
    win.ticket.prefill("buy", 10_010.0, 0.00005)  # 5,000 satoshi: a real BTC order size
    win.ticket.send_button.click()
    assert "BUY 0.00005 SIM1" in prompts.asked[0]
    qtbot.waitUntil(lambda: "sent" in win.ticket.result.text())
    assert trading.placed[0][2] == Decimal("0.00005")


@pytest.mark.parametrize("answer", [False, True])
def test_declined_or_refused_orders(qtbot: Any, answer: bool) -> None:
    trading = Trading(ok=False)
    win, _bus, _prompts = make(qtbot, trading, answer)
    win.ticket.prefill("sell", 10_000.5, 1)
    win.ticket.send()
    if not answer:
        assert trading.placed == [] and win.ticket.result.text() == "not sent"
        return
    qtbot.waitUntil(lambda: "refused" in win.ticket.result.text())
    assert "price not on the tick grid [krx.tick_size]" in win.ticket.result.text()
