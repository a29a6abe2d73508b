"""Order requests into the order manager and the result it answers with.

``OrderRequest`` is what a strategy runner, the order ticket, the CLI and tests hand to
``OrderManager.place``: the one entry point for every order. ``PlaceResult`` says whether
the order was accepted into the system (journaled and sent, or pending reconciliation)
and, when refused, why and by which rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from stom_desktop.core.enums import Side
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import OrderType, TimeInForce, as_decimal


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """An intent to trade, before risk, market rules and the journal have seen it.

    ``intent_key`` makes the request idempotent: two requests with the same key in one
    session never become two orders (a strategy that re-decides on the same bar after a
    restart, a manual order clicked twice). ``reference_price`` is the price the decision
    was made at (the last quote); risk values market orders with it.
    """

    session_id: str
    symbol: str
    side: Side
    quantity: Decimal
    order_type: OrderType = OrderType.MARKET
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    tag: str | None = None
    reason_text: str | None = None
    intent_key: str | None = None
    reference_price: Decimal | None = None

    def __post_init__(self) -> None:
        # Exact numbers only at this edge: a float quantity would carry binary noise into
        # the journal's Numeric columns and the venue's lot checks.
        object.__setattr__(self, "side", Side(self.side))
        object.__setattr__(self, "order_type", OrderType(self.order_type))
        object.__setattr__(self, "time_in_force", TimeInForce(self.time_in_force))
        object.__setattr__(self, "quantity", as_decimal(self.quantity, what="quantity"))
        for name in ("price", "stop_price", "reference_price"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, as_decimal(value, what=name))

    @property
    def limit_or_reference_price(self) -> Decimal | None:
        """The price to value the order at: limit, else stop, else the decision's quote."""
        if self.price is not None:
            return self.price
        if self.stop_price is not None:
            return self.stop_price
        return self.reference_price


@dataclass(frozen=True, slots=True)
class PlaceResult:
    """What ``place`` did with a request.

    ``ok`` is True when the order was journaled and sent (or, after a temporary broker
    failure, is pending reconciliation under the same client id: ``reason`` says so).
    ``ok`` is False when risk, a market rule or the venue refused it: ``reason`` explains
    and ``rule`` names the check (``risk.max_order_notional``, ``krx.tick_size``...).
    ``duplicate`` is True when the intent key was seen before: nothing new was sent and
    ``client_order_id`` is the existing order's.
    """

    ok: bool
    client_order_id: str | None
    reason: str | None = None
    rule: str | None = None
    status: OrderStatus | None = None
    duplicate: bool = False

    @property
    def success(self) -> bool:
        """Alias of ``ok`` (the name the service layer uses)."""
        return self.ok
