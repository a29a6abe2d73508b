"""The paper broker's bookkeeping of one order it holds, and its timer kinds."""

from __future__ import annotations

from decimal import Decimal
from enum import IntEnum

from stom_desktop.adapters.brokers.paper_slicing import ChildSlice
from stom_desktop.core.enums import Side
from stom_desktop.core.market_rules import MarketRules
from stom_desktop.core.orders import Order, OrderType, TimeInForce

_ZERO = Decimal(0)


class TimerKind(IntEnum):
    """What a scheduled broker action does when its time comes."""

    ACTIVATE = 1  # latency elapsed: the order reaches the simulated venue
    CANCEL = 2  # a requested cancel takes effect (after the latency)
    EXPIRE_DAY = 3  # DAY order: the venue's session closed
    AUTO_CANCEL = 4  # unfilled N seconds after submit (or after a child's release)
    RELEASE = 5  # the next child of a sliced order is released


class WorkingOrder:
    """The broker's own copy of an order plus its execution state.

    ``order`` is a private ``Order`` (the caller's object is never touched): the core state
    machine guards every change. A sliced parent holds ``children`` and never matches
    itself; a child points at its ``parent`` and reports its fills under the parent's id.
    """

    __slots__ = (
        "arriving",
        "cancel_pending",
        "children",
        "closing",
        "currency",
        "fill_seq",
        "limit_f",
        "live",
        "lot",
        "order",
        "parent",
        "plan",
        "reserve_price",
        "rules",
        "seq",
        "sliced",
        "slices_left",
        "stop_f",
        "triggered",
    )

    def __init__(
        self,
        order: Order,
        seq: int,
        rules: MarketRules,
        lot: Decimal | None,
        currency: str,
        reserve_price: Decimal | None,
        parent: WorkingOrder | None = None,
    ) -> None:
        self.order = order
        self.seq = seq
        self.rules = rules
        self.lot = lot
        self.currency = currency
        self.reserve_price = reserve_price
        self.parent = parent
        self.children: list[WorkingOrder] = []
        self.sliced = False  # a sliced parent: matches only through its children
        self.plan: list[ChildSlice] = []
        self.slices_left = 0  # children of a parent not yet released
        self.live = False
        # The next match is this order's arrival at the venue (taker; IOC/FOK decide).
        self.arriving = False
        self.triggered = order.order_type not in {OrderType.STOP, OrderType.STOP_LIMIT}
        self.cancel_pending = False
        self.closing = False  # a parent being cancelled/expired as a whole
        self.fill_seq = 0
        # Float copies of the prices for cheap "nothing to do" checks on every update.
        self.limit_f: float | None = None
        self.stop_f = 0.0 if order.stop_price is None else float(order.stop_price)
        self.set_limit()

    def set_limit(self) -> None:
        """Refresh ``limit_f`` after the order's limit price changed (amend)."""
        price = self.order.price
        self.limit_f = None if price is None else float(price)

    @property
    def cid(self) -> str:
        """Client order id."""
        return self.order.client_order_id

    @property
    def side(self) -> Side:
        """Order side."""
        return self.order.side

    @property
    def limit(self) -> Decimal | None:
        """Limit price once working (limit and stop-limit), ``None`` for market/stop."""
        return self.order.price

    @property
    def tif(self) -> TimeInForce:
        """Time in force."""
        return self.order.time_in_force

    def reserved_cash(self) -> Decimal:
        """Cash an open buy keeps aside: remaining quantity at its reserve price + fees."""
        if self.order.side is not Side.BUY or self.reserve_price is None:
            return _ZERO
        notional = self.order.remaining_quantity * self.reserve_price
        return notional + self.rules.fee(Side.BUY, notional) + self.rules.tax(Side.BUY, notional)
