"""``FakeBroker``: a small in-memory venue implementing ``core.ports.Broker`` for engine tests.

The venue keeps its own copy of every order as a core ``Order`` (so its statuses obey the
same state machine) and its own list of fills. It fills market orders immediately when
``auto_fill`` is set, otherwise on demand (``fill``). Failures are injected per call:
``fail_next_submit = "before"`` raises ``TemporaryBrokerError`` without accepting (the
request was lost), ``"after"`` accepts and then raises (the acknowledgement was lost);
``reject_next_submit`` raises ``OrderRejected``. ``deliver = False`` drops callbacks to the
listener (a broken stream), so only reconciliation can learn what happened.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

from stom_desktop.core.errors import BrokerError, OrderRejected, TemporaryBrokerError
from stom_desktop.core.fills import Fill
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderSnapshot, OrderType
from stom_desktop.core.ports import ExecutionListener

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


class FakeBroker:
    """In-memory venue; see the module docstring for the knobs."""

    def __init__(
        self,
        *,
        auto_fill: bool = False,
        market_price: Decimal = Decimal(100),
        fee_rate: Decimal = Decimal(0),
        currency: str = "KRW",
    ) -> None:
        self.auto_fill = auto_fill
        self.market_price = market_price
        self.fee_rate = fee_rate
        self.currency = currency
        self.deliver = True
        self.fail_next_submit: str | None = None
        self.reject_next_submit: str | None = None
        self.orders: dict[str, Order] = {}
        self.fills: list[Fill] = []
        self.submit_calls: list[str] = []
        self._listener: ExecutionListener | None = None
        self._venue_ids = itertools.count(1)
        self._fill_ids = itertools.count(1)

    # -- Broker ----------------------------------------------------------------------
    def set_listener(self, listener: ExecutionListener) -> None:
        """Where fills and updates go."""
        self._listener = listener

    def submit(self, order: Order) -> str:
        """Accept ``order`` (a duplicate client id is refused, as real venues do)."""
        cid = order.client_order_id
        self.submit_calls.append(cid)
        if self.reject_next_submit is not None:
            reason, self.reject_next_submit = self.reject_next_submit, None
            raise OrderRejected(reason, client_order_id=cid, rule="venue.test")
        mode, self.fail_next_submit = self.fail_next_submit, None
        if mode == "before":
            raise TemporaryBrokerError("timeout (request lost)", client_order_id=cid)
        if cid in self.orders:
            raise OrderRejected("duplicate client order id", client_order_id=cid, rule="venue.dup")
        venue = Order.restore(replace(order.snapshot(), status=OrderStatus.NEW))
        venue_id = f"V{next(self._venue_ids)}"
        venue.submit(order.created_at, venue_id)
        self.orders[cid] = venue
        if mode == "after":
            raise TemporaryBrokerError("timeout (ack lost)", client_order_id=cid)
        self._update(venue)
        if self.auto_fill and order.order_type is OrderType.MARKET:
            self.fill(cid)
        return venue_id

    def cancel(self, client_order_id: str) -> None:
        """Cancel an open order now and report it."""
        venue = self._get(client_order_id)
        if venue.is_open:
            venue.cancel(T0, "cancelled by request")
            self._update(venue)

    def amend(
        self,
        client_order_id: str,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None:
        """Change an open order's terms."""
        self._get(client_order_id).amend(T0, quantity=quantity, price=price)

    def fetch_order(self, client_order_id: str) -> OrderSnapshot | None:
        """The venue's view, ``None`` if never received."""
        venue = self.orders.get(client_order_id)
        return None if venue is None else venue.snapshot()

    def fetch_fills(self, client_order_id: str) -> list[Fill]:
        """Every fill of the order."""
        return [f for f in self.fills if f.client_order_id == client_order_id]

    def open_orders(self, symbol: str | None = None) -> list[OrderSnapshot]:
        """Open orders (optionally of one symbol)."""
        return [
            o.snapshot()
            for o in self.orders.values()
            if o.is_open and (symbol is None or o.symbol == symbol)
        ]

    def balances(self) -> dict[str, Decimal]:
        """Not tracked by the fake."""
        return {}

    # -- test controls ---------------------------------------------------------------
    def fill(
        self, client_order_id: str, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> Fill:
        """Execute (part of) an open order and report the fill."""
        venue = self._get(client_order_id)
        qty = venue.remaining_quantity if quantity is None else quantity
        px = price if price is not None else (venue.price or self.market_price)
        fill = Fill(
            fill_id=f"F{next(self._fill_ids)}",
            client_order_id=client_order_id,
            symbol=venue.symbol,
            side=venue.side,
            quantity=qty,
            price=px,
            fee=(qty * px * self.fee_rate).quantize(Decimal(1)),
            fee_currency=self.currency,
            ts=T0,
        )
        venue.apply_fill(qty, px, T0)
        self.fills.append(fill)
        if self.deliver and self._listener is not None:
            self._listener.on_fill(fill)
        return fill

    def expire(self, client_order_id: str) -> None:
        """The venue expires an open order (DAY at the close)."""
        venue = self._get(client_order_id)
        venue.expire(T0, "day order expired")
        self._update(venue)

    def _update(self, venue: Order) -> None:
        if self.deliver and self._listener is not None:
            self._listener.on_order_update(venue.snapshot())

    def _get(self, client_order_id: str) -> Order:
        try:
            return self.orders[client_order_id]
        except KeyError:
            raise BrokerError(
                "unknown at the fake venue", client_order_id=client_order_id
            ) from None


class RecordingBus:
    """An ``EventSink`` that keeps every published event (in order)."""

    def __init__(self) -> None:
        self.events: list[object] = []

    def publish(self, event: object) -> None:
        """Keep ``event``."""
        self.events.append(event)

    def of(self, kind: type) -> list[object]:
        """Events of one type."""
        return [e for e in self.events if isinstance(e, kind)]
