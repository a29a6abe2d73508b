"""Shared pieces of the order journal: its tables, status constants and fill arithmetic.

Used by both write paths of ``orders.OrderRepository`` (SQLAlchemy Core for every
database, and the raw-SQLite hot path in ``_orders_sqlite``), so the two store the same
rows from the same checks.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

from stom_desktop.persistence.column_types import to_money
from stom_desktop.persistence.models import FillRow, OrderEvent, OrderRow, table_of
from stom_desktop.persistence.repositories._common import aware

ORDERS = table_of(OrderRow)
EVENTS = table_of(OrderEvent)
FILLS = table_of(FillRow)
INITIAL_STATUS = "new"
# Orders in these states need nothing more from the venue; every other order is
# "unfinished" and is reconciled with the broker at start-up. Same values as the
# terminal states of core.order_state.OrderStatus (kept literal so storage does not
# depend on the engine's state machine).
FINAL_ORDER_STATUSES = frozenset({"filled", "cancelled", "rejected", "expired"})
#: One queued journal write: ``(method, client_order_id, keyword arguments)`` where
#: method is ``"transition"`` or ``"add_fill"`` (the same arguments as those methods).
JournalOp = tuple[str, str, dict[str, Any]]


def check_fill(
    cid: str, quantity: Any, price: Any, fee: Any, ts: datetime | None
) -> tuple[Decimal, Decimal, Decimal, datetime]:
    """Validated fill amounts (Decimal money) and its aware timestamp; raises naming the order."""
    amount, fill_price, fee_amount = to_money(quantity), to_money(price), to_money(fee)
    if amount <= 0:
        raise ValueError(f"order {cid}: fill quantity must be positive ({amount})")
    if fill_price < 0:
        raise ValueError(f"order {cid}: fill price is negative ({fill_price})")
    return amount, fill_price, fee_amount, aware(ts, f"order {cid} fill")


def average_price(
    old_avg: Decimal | None, old_qty: Decimal, price: Decimal, qty: Decimal
) -> Decimal:
    """The volume-weighted average fill price after adding ``qty`` at ``price``."""
    if old_avg is None or old_qty == 0:
        return price
    with localcontext() as ctx:
        ctx.prec = 60  # products of two 28-digit numbers, exact before rounding
        return to_money((old_avg * old_qty + price * qty) / (old_qty + qty))
