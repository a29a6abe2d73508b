"""Order book window (호가창): 10-level bid/ask ladder, depth bars, spread, trade tape, ticket.

Market data does not go through the bridge's per-event signals: a busy simulator sends
thousands of quotes a second. The window subscribes to the bus directly; its handlers run
on the engine thread and only keep the newest book and quote of the chosen symbol and
append trades to a bounded deque (single attribute stores and ``deque.append`` are atomic
under the GIL). A timer on the GUI thread draws at most :data:`RENDER_MS` apart, so the
cost is bounded however fast the feed is.

The ladder shows the last ``OrderBookEvent``; the header shows the newer of the last quote
and the book's top of book (quotes arrive between books). Clicking an ask prefills a buy
at that price, clicking a bid a sell (shift-click also takes the level's size).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from PyQt6.QtCore import QRectF, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QMouseEvent, QPainter, QPaintEvent
from PyQt6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.core.enums import Side
from stom_desktop.core.events import OrderBookEvent, QuoteEvent, TradeTick
from stom_desktop.gui.order_ticket import OrderTicket
from stom_desktop.gui.prompts import Prompts
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)

LEVELS = 10
RENDER_MS = 100  # at most 10 redraws a second, whatever the feed rate
TAPE_ROWS = 50
_ASK = QColor("#ef5350")
_BID = QColor("#26a69a")
_ASK_BAR = QColor(239, 83, 80, 70)
_BID_BAR = QColor(38, 166, 154, 70)


def _price(value: float) -> str:
    # Every decimal the venue uses (up to 8, crypto's finest step): a BTC/USDT level at
    # 30,000.5 or a 0.25 BTC trade must not round to a neighbouring level or to "0".
    return f"{value:,.8f}".rstrip("0").rstrip(".")


def _size(value: float) -> str:
    # Fractional on crypto venues (0.25 BTC), whole shares on stock venues.
    return _price(value)


class LadderWidget(QWidget):
    """Asks above (best ask lowest), bids below; sizes left/right of the price column."""

    #: side to prefill ("buy" for an ask, "sell" for a bid), price, level size, shift held
    priceClicked = pyqtSignal(str, float, float, bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        #: rows top to bottom: (book side "ask"/"bid", price, size); empty slots are skipped
        self.rows: list[tuple[str, float, float]] = []
        self.setMinimumSize(360, 20 * 2 * LEVELS)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)

    def set_book(self, book: OrderBookEvent | None) -> None:
        """Show ``book`` (None clears)."""
        rows: list[tuple[str, float, float]] = []
        if book is not None:
            asks = list(zip(book.ask_prices[:LEVELS], book.ask_sizes[:LEVELS], strict=False))
            bids = list(zip(book.bid_prices[:LEVELS], book.bid_sizes[:LEVELS], strict=False))
            rows += [("ask", p, s) for p, s in reversed(asks)]
            rows += [("bid", p, s) for p, s in bids]
        self.rows = rows
        self.update()

    def row_height(self) -> float:
        """Height of one level's row in pixels."""
        return self.height() / max(1, 2 * LEVELS)

    def row_at(self, y: float) -> int | None:
        """Index into :attr:`rows` of the row at ``y`` (None outside)."""
        if not self.rows:
            return None
        # Asks fill the top half from its bottom, bids the bottom half from its top.
        half = LEVELS * self.row_height()
        n_ask = sum(1 for r in self.rows if r[0] == "ask")
        slot = int(y // self.row_height())
        index = slot - (LEVELS - n_ask) if y < half else n_ask + (slot - LEVELS)
        return index if 0 <= index < len(self.rows) and (y < half) == (index < n_ask) else None

    def row_y(self, index: int) -> float:
        """Centre y of row ``index`` (tests click there)."""
        n_ask = sum(1 for r in self.rows if r[0] == "ask")
        slot = (LEVELS - n_ask) + index if index < n_ask else LEVELS + (index - n_ask)
        return (slot + 0.5) * self.row_height()

    def paintEvent(self, _event: QPaintEvent | None) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#131722"))
        w, rh = float(self.width()), self.row_height()
        col = w / 3.0
        biggest = max((s for _, _, s in self.rows), default=0.0) or 1.0
        font = QFont(self.font())
        font.setPointSizeF(max(8.0, min(12.0, rh * 0.45)))
        painter.setFont(font)
        n_ask = sum(1 for r in self.rows if r[0] == "ask")
        for i, (side, price, size) in enumerate(self.rows):
            top = self.row_y(i) - rh / 2
            length = (col - 4) * size / biggest  # depth bar proportional to size
            if side == "ask":
                bar = QRectF(col - length, top + 1, length, rh - 2)
                painter.fillRect(bar, _ASK_BAR)
                text_rect = QRectF(4, top, col - 8, rh)
                align = Qt.AlignmentFlag.AlignRight
            else:
                bar = QRectF(2 * col, top + 1, length, rh - 2)
                painter.fillRect(bar, _BID_BAR)
                text_rect = QRectF(2 * col + 4, top, col - 8, rh)
                align = Qt.AlignmentFlag.AlignLeft
            painter.setPen(QColor("#d1d4dc"))
            painter.drawText(text_rect, align | Qt.AlignmentFlag.AlignVCenter, _size(size))
            painter.setPen(_ASK if side == "ask" else _BID)
            painter.drawText(QRectF(col, top, col, rh), Qt.AlignmentFlag.AlignCenter, _price(price))
            if i == n_ask - 1:  # the spread line between best ask and best bid
                painter.setPen(QColor("#787b86"))
                painter.drawLine(0, int(top + rh), int(w), int(top + rh))
        painter.setPen(QColor("#363a45"))
        painter.drawLine(int(col), 0, int(col), self.height())
        painter.drawLine(int(2 * col), 0, int(2 * col), self.height())
        painter.end()

    def mousePressEvent(self, event: QMouseEvent | None) -> None:
        if event is None:
            return
        index = self.row_at(event.position().y())
        if index is None:
            return
        side, price, size = self.rows[index]
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        self.priceClicked.emit("buy" if side == "ask" else "sell", price, size, shift)


class OrderBookWindow(QMainWindow):
    """Ladder + header (last, bid, ask, spread) + trade tape + order ticket for one symbol."""

    def __init__(
        self,
        trading: Any,
        bus: Any = None,
        *,
        prompts: Prompts | None = None,
        symbol: str | None = None,
        tz: ZoneInfo | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("STOM Desktop — Order book")
        self.resize(820, 640)
        self.trading = trading
        self.tz = tz or ZoneInfo("UTC")
        self.symbol: str | None = None
        self._modes: dict[str, str] = {}
        self._book: OrderBookEvent | None = None
        self._quote: QuoteEvent | None = None
        self._trades: deque[TradeTick] = deque(maxlen=TAPE_ROWS)
        self._trade_count = 0
        self._shown_trades = 0
        self._dirty = False
        self._unsubscribe: list[Callable[[], None]] = []
        self._bus: Any = None
        self._price_chosen = False  # the ticket's price follows the book until a click
        self.renders = 0

        self.symbols = QComboBox()
        self.symbols.setMinimumWidth(140)
        self.symbols.activated.connect(lambda _i: self.set_symbol(self.symbols.currentText()))
        self.header = QLabel("no book yet")
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.ladder = LadderWidget()
        self.ladder.priceClicked.connect(self._on_price_clicked)
        self.tape = QTableWidget(0, 3)
        self.tape.setHorizontalHeaderLabels(["Time", "Price", "Size"])
        self.tape.verticalHeader().setVisible(False)
        self.tape.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.tape.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.ticket = OrderTicket(trading, prompts)
        self.ticket.price.editingFinished.connect(lambda: setattr(self, "_price_chosen", True))
        top = QHBoxLayout()
        top.addWidget(QLabel("Symbol"))
        top.addWidget(self.symbols)
        top.addWidget(self.header, 1)
        right = QVBoxLayout()
        right.addWidget(QLabel("Last trades"))
        right.addWidget(self.tape, 1)
        right.addWidget(self.ticket)
        middle = QHBoxLayout()
        middle.addWidget(self.ladder, 3)
        middle.addLayout(right, 2)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addLayout(top)
        layout.addLayout(middle, 1)
        self.setCentralWidget(body)

        self._timer = QTimer(self)
        self._timer.setInterval(RENDER_MS)
        self._timer.timeout.connect(self.render)
        self._timer.start()
        if bus is not None:
            self.attach(bus)
        if symbol is not None:
            self.set_symbol(symbol)
        self.refresh_symbols()

    # -- wiring -----------------------------------------------------------------------------
    def attach(self, bus: Any) -> None:
        """Subscribe to the bus's books, quotes and trades (handlers run on the engine thread)."""
        self.detach()
        self._bus = bus
        self._unsubscribe = [
            bus.subscribe(OrderBookEvent, self._on_book),
            bus.subscribe(QuoteEvent, self._on_quote),
            bus.subscribe(TradeTick, self._on_trade),
        ]

    def detach(self) -> None:
        """Unsubscribe from the bus."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    def refresh_symbols(self) -> None:
        """Offer the symbols of running and paused sessions (read on a worker)."""
        trading = self.trading
        if trading is None:
            return

        def read() -> dict[str, str]:
            modes: dict[str, str] = {}
            for s in trading.sessions():
                if str(getattr(s, "state", "")) in ("running", "paused"):
                    for sym in s.symbols:
                        modes.setdefault(sym, str(getattr(s, "mode", "paper")))
            return modes

        run_in_worker(read, what="order book symbols", on_done=self._set_symbols)

    def _set_symbols(self, modes: dict[str, str]) -> None:
        self._modes = modes
        self.symbols.clear()
        self.symbols.addItems(list(modes))
        if self.symbol is None and modes:
            self.set_symbol(next(iter(modes)))
        elif self.symbol is not None:
            self.symbols.setCurrentText(self.symbol)
            self.ticket.set_symbol(self.symbol, modes.get(self.symbol, "paper"))

    def set_symbol(self, symbol: str) -> None:
        """Show ``symbol``'s book from now on (clears what was shown)."""
        self.symbol = symbol
        self._book, self._quote = None, None
        self._trades.clear()
        self._shown_trades = self._trade_count = 0
        self.setWindowTitle(f"STOM Desktop — Order book — {symbol}")
        if self.symbols.findText(symbol) < 0:
            self.symbols.addItem(symbol)
        self.symbols.setCurrentText(symbol)
        self.ticket.set_symbol(symbol, self._modes.get(symbol, "paper"))
        self._dirty = True
        self.render()

    # -- engine thread --------------------------------------------------------------------
    def _on_book(self, event: OrderBookEvent) -> None:
        if event.symbol == self.symbol:
            self._book = event
            self._dirty = True

    def _on_quote(self, event: QuoteEvent) -> None:
        if event.symbol == self.symbol:
            self._quote = event
            self._dirty = True

    def _on_trade(self, event: TradeTick) -> None:
        if event.symbol == self.symbol:
            self._trades.append(event)
            self._trade_count += 1
            self._dirty = True

    # -- GUI thread -----------------------------------------------------------------------
    def render(self) -> None:
        """Draw what arrived since the last frame (nothing when nothing did)."""
        if not self._dirty:
            return
        self._dirty = False
        self.renders += 1
        book, quote = self._book, self._quote
        self.ladder.set_book(book)
        ticket = self.ticket
        # Until a price is clicked (or typed), the ticket follows the touch for its side.
        follow = book is not None and book.ask_prices and book.bid_prices
        if follow and not self._price_chosen and not ticket.price.hasFocus():
            assert book is not None
            buy = ticket.side.currentText() == "buy"
            ticket.price.setValue(book.ask_prices[0] if buy else book.bid_prices[0])
        bid = ask = last = None
        if book is not None and book.bid_prices and book.ask_prices:
            bid, ask = book.bid_prices[0], book.ask_prices[0]
        if quote is not None and (book is None or quote.ts_ms >= book.ts_ms):
            bid, ask, last = quote.bid, quote.ask, quote.last
        if self._trades and (quote is None or self._trades[-1].ts_ms >= quote.ts_ms):
            last = self._trades[-1].price
        self.header.setText(self._header(bid, ask, last))
        if self._trade_count != self._shown_trades:
            self._shown_trades = self._trade_count
            self._fill_tape(list(self._trades))

    def _header(self, bid: float | None, ask: float | None, last: float | None) -> str:
        if bid is None or ask is None:
            return f"{self.symbol or ''}: no book yet"
        spread = ask - bid
        mid = (ask + bid) / 2
        bps = spread / mid * 1e4 if mid else 0.0
        parts = [
            f"<b>{self.symbol}</b>",
            f"last <b>{_price(last)}</b>" if last is not None else "last -",
            f"bid <span style='color:{_BID.name()}'>{_price(bid)}</span>",
            f"ask <span style='color:{_ASK.name()}'>{_price(ask)}</span>",
            f"spread {_price(spread)} ({bps:.1f} bp)",
        ]
        return "&nbsp;&nbsp;".join(parts)

    def spread(self) -> float | None:
        """Best ask minus best bid of the shown book (None without a book)."""
        rows = self.ladder.rows
        asks = [p for s, p, _ in rows if s == "ask"]
        bids = [p for s, p, _ in rows if s == "bid"]
        return min(asks) - max(bids) if asks and bids else None

    def _fill_tape(self, trades: list[TradeTick]) -> None:
        self.tape.setRowCount(len(trades))
        for row, t in enumerate(reversed(trades)):  # newest on top
            when = datetime.fromtimestamp(t.ts_ms / 1000, tz=UTC).astimezone(self.tz)
            color = _BID if t.aggressor is Side.BUY else _ASK if t.aggressor is Side.SELL else None
            for col, text in enumerate((when.strftime("%H:%M:%S"), _price(t.price), _size(t.size))):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                if color is not None and col == 1:
                    item.setForeground(color)
                self.tape.setItem(row, col, item)

    def _on_price_clicked(self, side: str, price: float, size: float, shift: bool) -> None:
        self._price_chosen = True
        self.ticket.prefill(side, price, size if shift else None)

    def showEvent(self, event: Any) -> None:
        """Shown again after a close: subscribe and draw again."""
        if self._bus is not None and not self._unsubscribe:
            self.attach(self._bus)
        self._timer.start()
        super().showEvent(event)

    def closeEvent(self, event: Any) -> None:
        """Unsubscribe and stop drawing while closed (the tray may show it again)."""
        bus = self._bus
        self.detach()
        self._bus = bus
        self._timer.stop()
        super().closeEvent(event)
