"""What an account already sent today: seeds the live per-day notional cap at session start.

The per-day cap (``live.per_day_notional_cap``) is a limit on the *account's* day, not on
one process: without this, a restart (or a second live session on the same account)
would start counting from zero. The journal knows every order this account's live
sessions sent on the current UTC day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

_ZERO = Decimal(0)


class OrderReader(Protocol):
    """The journal query used here (``OrderRepository`` implements it)."""

    def orders(self, session_id: int | None = None) -> Sequence[Any]:
        """Stored orders of one session."""
        ...


def sent_notional_on(journal: OrderReader, session_ids: Iterable[int], day: date) -> Decimal:
    """Notional of the orders these sessions sent on UTC ``day``.

    Counted like the live cap counts (quantity x limit/stop price, else the average fill
    price): every order that reached the venue; orders rejected without a fill count
    nothing (refused before or by the venue: no money moved), and adoptions of venue
    holdings (``adopt-...``) were never sent.
    """
    total = _ZERO
    for sid in session_ids:
        for order in journal.orders(sid):
            created: datetime = order.created_at
            if created.astimezone(UTC).date() != day:
                continue
            if str(order.client_order_id).startswith("adopt-"):
                continue
            if order.status == "rejected" and not order.filled_quantity:
                continue
            price = order.price or order.stop_price or order.avg_fill_price
            if price is not None:
                total += order.quantity * price
    return total
