"""Order ticket: side, type, price and quantity for one symbol; confirm, then send on a worker.

The order goes through ``TradingService.place_order`` to the session trading the symbol,
so the session's mode decides where it lands (paper sessions are the default; a live
session is named in capitals in the confirmation). The result (``PlaceResult``: ok,
client order id or the refusal's reason and rule) is shown under the button.
"""

from __future__ import annotations

import logging
import uuid
from decimal import Decimal
from typing import Any

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QPushButton,
    QWidget,
)

from stom_desktop.gui.prompts import Prompts
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)


def _decimal(value: float, decimals: int) -> Decimal:
    """A spin box's float as the Decimal the user saw (no binary-float tail)."""
    return Decimal(f"{value:.{decimals}f}").normalize()


class OrderTicket(QGroupBox):
    """A small order form; :meth:`prefill` is what a click in the order book calls."""

    #: Emitted with the ``PlaceResult`` (or the exception) once the service answered.
    placed = pyqtSignal(object)

    PRICE_DECIMALS = 4
    QTY_DECIMALS = 8  # crypto lots go down to 1e-8 (BTC); venue rules check the step

    def __init__(
        self,
        trading: Any,
        prompts: Prompts | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Order ticket", parent)
        self.trading = trading
        self.prompts = prompts or Prompts()
        self.symbol: str | None = None
        self.mode = "paper"
        self.sending = False
        self.side = QComboBox()
        self.side.addItems(["buy", "sell"])
        self.order_type = QComboBox()
        self.order_type.addItems(["limit", "market"])
        self.order_type.currentTextChanged.connect(lambda t: self.price.setEnabled(t == "limit"))
        self.price = QDoubleSpinBox()
        self.price.setDecimals(self.PRICE_DECIMALS)
        self.price.setRange(0, 1e12)
        self.price.setGroupSeparatorShown(True)
        self.quantity = QDoubleSpinBox()
        self.quantity.setDecimals(self.QTY_DECIMALS)
        self.quantity.setRange(0, 1e12)
        self.quantity.setValue(1)
        self.mode_label = QLabel()
        self.send_button = QPushButton("Send\u2026")
        self.send_button.clicked.connect(self.send)
        self.result = QLabel()
        self.result.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Symbol / mode", self.mode_label)
        form.addRow("Side", self.side)
        form.addRow("Type", self.order_type)
        form.addRow("Price", self.price)
        form.addRow("Quantity", self.quantity)
        form.addRow(self.send_button)
        form.addRow(self.result)
        self.set_symbol(None)

    def set_symbol(self, symbol: str | None, mode: str = "paper") -> None:
        """The symbol the ticket trades and the mode of the session that trades it."""
        self.symbol, self.mode = symbol, mode
        shown = mode.upper() if mode == "live" else mode
        self.mode_label.setText(f"{symbol or '-'} \u00b7 {shown}")
        self.send_button.setEnabled(symbol is not None and self.trading is not None)

    def prefill(self, side: str, price: float, quantity: float | None = None) -> None:
        """Set side and limit price (and quantity when given), as a click on a price does."""
        self.side.setCurrentText(side)
        self.order_type.setCurrentText("limit")
        self.price.setValue(price)
        if quantity is not None:
            self.quantity.setValue(quantity)
        self.result.setText("")

    def order_text(self) -> str:
        """The order in words (the confirmation shows it)."""
        qty = _decimal(self.quantity.value(), self.QTY_DECIMALS)
        kind = self.order_type.currentText()
        where = "LIVE account" if self.mode == "live" else f"{self.mode} session"
        at = (
            f"limit {_decimal(self.price.value(), self.PRICE_DECIMALS):,f}"
            if kind == "limit"
            else "market"
        )
        return f"{self.side.currentText().upper()} {qty:f} {self.symbol} @ {at} ({where})"

    def send(self) -> None:
        """Ask for confirmation, then place the order on a worker."""
        if self.symbol is None or self.trading is None or self.sending:
            return
        if self.quantity.value() <= 0:
            self.result.setText("quantity must be > 0")
            return
        text = self.order_text()
        if not self.prompts.confirm(self, "Send order", f"Send this order?\n\n{text}"):
            self.result.setText("not sent")
            return
        trading, symbol = self.trading, self.symbol
        side = self.side.currentText()
        qty = _decimal(self.quantity.value(), self.QTY_DECIMALS)
        kind = self.order_type.currentText()
        price = _decimal(self.price.value(), self.PRICE_DECIMALS) if kind == "limit" else None
        # One intent key per confirmed order: a retry of this call cannot place it twice.
        key = f"ticket-{uuid.uuid4().hex[:16]}"
        self.sending = True
        self.send_button.setEnabled(False)
        self.result.setText(f"sending {text}\u2026")
        run_in_worker(
            lambda: trading.place_order(symbol, side, qty, price, order_type=kind, intent_key=key),
            what=f"order ticket {text}",
            on_done=self._done,
            on_error=self._done,
        )

    def _done(self, result: Any) -> None:
        self.sending = False
        self.send_button.setEnabled(self.symbol is not None)
        if isinstance(result, BaseException):
            self.result.setText(f"<span style='color:#ef5350'>failed: {result}</span>")
        elif getattr(result, "ok", False):
            self.result.setText(
                f"<span style='color:#26a69a'>sent: order {result.client_order_id}</span>"
                + (f" ({result.reason})" if getattr(result, "reason", None) else "")
            )
        else:
            rule = getattr(result, "rule", None)
            self.result.setText(
                f"<span style='color:#ef5350'>refused: {getattr(result, 'reason', result)}"
                + (f" [{rule}]" if rule else "")
                + "</span>"
            )
        self.placed.emit(result)
