"""NotionalCaps: the per-order and per-day notional limits of live trading (real money).

Checked by ``CcxtBroker.submit`` after the venue rules and before anything is sent. An
order's notional is ``quantity * price`` (limit/stop price, else the reference price of
the symbol for a market order). An order over ``per_order`` is rejected with rule
``live.per_order_notional_cap``; one that would take the UTC day's sent notional over
``per_day`` with ``live.per_day_notional_cap``; a market order with no reference price
with ``live.no_reference_price`` (it cannot be capped, so it is not sent).

Orders that flatten (engine tags in :data:`FLATTEN_TAGS`: the kill switch, liquidation,
forced liquidation) are counted but never refused: they only close what the session
holds, and a cap that blocked the kill switch would keep the risk it is meant to end.

An accepted order is counted once per client id (a resubmit after an unknown outcome is
not counted again) and stays counted even if the venue later rejects or cancels it:
the cap bounds what was *sent*, erring on the safe side. The day total lives in this
process; ``already_sent`` seeds it at start (e.g. from the journal).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

from stom_desktop.core.errors import OrderRejected
from stom_desktop.core.orders import Order

#: Tags of the order manager's flattening orders (``OrderManager.flatten``).
FLATTEN_TAGS = frozenset({"flatten", "kill_switch", "liquidate", "forced_liquidation"})


class NotionalCaps:
    """Per-order and per-day (UTC) notional caps in the quote currency."""

    def __init__(
        self,
        per_order: Decimal,
        per_day: Decimal,
        *,
        price_source: Callable[[str], Decimal | None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        already_sent: Decimal = Decimal(0),
    ) -> None:
        if not (per_order > 0 and per_day > 0):
            raise ValueError(f"caps must be > 0, got {per_order} / {per_day}")
        self.per_order = per_order
        self.per_day = per_day
        self._price_source = price_source
        self._now = now
        self._day: date = now().astimezone(UTC).date()
        self.sent_today = already_sent
        self._counted: set[str] = set()

    def seed(self, sent_before: Decimal) -> None:
        """Count what the account already sent today before this process (the journal)."""
        self.sent_today += sent_before

    def notional(self, order: Order) -> Decimal | None:
        """``quantity * price`` of ``order`` (None when no price is known)."""
        price = order.price if order.price is not None else order.stop_price
        if price is None and self._price_source is not None:
            price = self._price_source(order.symbol)
        return None if price is None else order.quantity * price

    def check(self, order: Order) -> None:
        """Raise ``OrderRejected`` naming the cap, or count the order as sent."""
        cid = order.client_order_id
        if cid in self._counted:
            return
        today = self._now().astimezone(UTC).date()
        if today != self._day:
            self._day, self.sent_today = today, Decimal(0)
        value = self.notional(order)
        if order.tag in FLATTEN_TAGS:
            self.sent_today += value or Decimal(0)
            self._counted.add(cid)
            return
        if value is None:
            raise OrderRejected(
                f"market order on {order.symbol} has no reference price to check the caps",
                client_order_id=cid,
                rule="live.no_reference_price",
            )
        if value > self.per_order:
            raise OrderRejected(
                f"notional {value} exceeds the per-order cap {self.per_order}",
                client_order_id=cid,
                rule="live.per_order_notional_cap",
                hint="Settings -> live.per_order_notional_cap",
            )
        if self.sent_today + value > self.per_day:
            raise OrderRejected(
                f"notional {value} would take today's sent total {self.sent_today} over "
                f"the per-day cap {self.per_day}",
                client_order_id=cid,
                rule="live.per_day_notional_cap",
                hint="Settings -> live.per_day_notional_cap",
            )
        self.sent_today += value
        self._counted.add(cid)
