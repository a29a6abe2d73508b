"""Orders: types, time in force, the mutable ``Order`` guarded by the state machine.

An ``Order`` changes only through its methods (``submit``, ``apply_fill``, ``cancel``,
``reject``, ``expire``, ``amend``, ``request_cancel``); each checks everything first and
then mutates, so a refused call leaves the order exactly as it was. ``snapshot()`` gives an
immutable copy for events and the journal; ``Order.restore`` rebuilds an order from one
after a restart. ``ClientOrderIdGenerator`` makes the client order ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError, OrderRejected
from stom_desktop.core.order_state import OrderStatus, check_transition

_ZERO = Decimal(0)


class OrderType(StrEnum):
    """How an order prices itself."""

    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"  # becomes a market order when the stop price trades
    STOP_LIMIT = "stop_limit"  # becomes a limit order at ``price`` when ``stop_price`` trades

    @property
    def needs_price(self) -> bool:
        """Whether a limit ``price`` is required."""
        return self in {OrderType.LIMIT, OrderType.STOP_LIMIT}

    @property
    def needs_stop_price(self) -> bool:
        """Whether a ``stop_price`` is required."""
        return self in {OrderType.STOP, OrderType.STOP_LIMIT}


class TimeInForce(StrEnum):
    """How long an order stays working."""

    GTC = "gtc"  # good till cancelled
    IOC = "ioc"  # immediate or cancel: fill what you can now, cancel the rest
    FOK = "fok"  # fill or kill: all now or nothing
    DAY = "day"  # expires at the end of the trading day


class OrderOperationError(BrokerError):
    """An operation on an order was refused (bad fill, amend of a closed order, ...).

    ``operation`` names the method; the order is unchanged.
    """

    def __init__(self, client_order_id: str, operation: str, message: str) -> None:
        self.operation = operation
        super().__init__(f"{operation}: {message}", client_order_id=client_order_id)


class OverfillError(OrderOperationError):
    """A fill would take the filled quantity above the order quantity."""


def utc(ts: datetime, *, what: str = "timestamp") -> datetime:
    """Return ``ts`` in UTC; a naive datetime is refused (its zone would be a guess)."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {ts.isoformat()}")
    return ts.astimezone(UTC)


def as_decimal(value: Decimal | int | str, *, what: str) -> Decimal:
    """Convert an exact number to ``Decimal``; floats are refused (binary rounding)."""
    if isinstance(value, float):
        raise TypeError(f"{what} must be Decimal, int or str, not float ({value!r})")
    result = value if isinstance(value, Decimal) else Decimal(value)
    if not result.is_finite():
        raise ValueError(f"{what} must be finite, got {result}")
    return result


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """An immutable copy of an order's full state (for events, journal and recovery)."""

    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    filled_quantity: Decimal
    avg_fill_price: Decimal | None
    status: OrderStatus
    venue_order_id: str | None
    created_at: datetime
    updated_at: datetime
    reason: str | None
    session_id: str | None
    tag: str | None
    parent_id: str | None
    cancel_requested: bool


class StoredOrder(Protocol):
    """An order as a journal returns it (``persistence.OrderRecord`` has this shape).

    Enumerations come back as their string values; ``from_stored`` turns one into an
    ``OrderSnapshot`` that ``Order.restore`` accepts.
    """

    @property
    def client_order_id(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> str: ...
    @property
    def order_type(self) -> str: ...
    @property
    def time_in_force(self) -> str: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def price(self) -> Decimal | None: ...
    @property
    def stop_price(self) -> Decimal | None: ...
    @property
    def filled_quantity(self) -> Decimal: ...
    @property
    def avg_fill_price(self) -> Decimal | None: ...
    @property
    def status(self) -> str: ...
    @property
    def venue_order_id(self) -> str | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


def snapshot_from_stored(
    stored: StoredOrder,
    *,
    session_id: str | None = None,
    tag: str | None = None,
    parent_id: str | None = None,
) -> OrderSnapshot:
    """Convert a journaled order into a snapshot (unknown enum values raise ``ValueError``)."""
    return OrderSnapshot(
        client_order_id=stored.client_order_id,
        symbol=stored.symbol,
        side=Side(stored.side),
        order_type=OrderType(stored.order_type),
        time_in_force=TimeInForce(stored.time_in_force),
        quantity=stored.quantity,
        price=stored.price,
        stop_price=stored.stop_price,
        filled_quantity=stored.filled_quantity,
        avg_fill_price=stored.avg_fill_price,
        status=OrderStatus(stored.status),
        venue_order_id=stored.venue_order_id,
        created_at=stored.created_at,
        updated_at=stored.updated_at,
        reason=stored.reason,
        session_id=session_id,
        tag=tag,
        parent_id=parent_id,
        cancel_requested=False,
    )


class Order:
    """One order through its whole life, with one client order id.

    Construct with the intent; the order starts ``NEW``. Invalid intents (quantity <= 0,
    a limit without price, a market order with a price...) raise ``OrderRejected`` with
    ``rule='order.*'``. All quantities and prices are ``Decimal``.
    """

    __slots__ = (
        "_avg_fill_price",
        "_cancel_requested",
        "_filled_notional",
        "_filled_quantity",
        "_price",
        "_quantity",
        "_reason",
        "_status",
        "_stop_price",
        "_updated_at",
        "_venue_order_id",
        "client_order_id",
        "created_at",
        "order_type",
        "parent_id",
        "session_id",
        "side",
        "symbol",
        "tag",
        "time_in_force",
    )
    # Declared for type checkers: __init__ fills the slots with object.__setattr__.
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    time_in_force: TimeInForce
    created_at: datetime
    session_id: str | None
    tag: str | None
    parent_id: str | None
    _quantity: Decimal
    _price: Decimal | None
    _stop_price: Decimal | None
    _filled_quantity: Decimal
    _filled_notional: Decimal
    _avg_fill_price: Decimal | None
    _status: OrderStatus
    _venue_order_id: str | None
    _reason: str | None
    _updated_at: datetime
    _cancel_requested: bool

    def __init__(
        self,
        client_order_id: str,
        symbol: str,
        side: Side,
        quantity: Decimal | int | str,
        *,
        created_at: datetime,
        order_type: OrderType = OrderType.MARKET,
        time_in_force: TimeInForce = TimeInForce.GTC,
        price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
        session_id: str | None = None,
        tag: str | None = None,
        parent_id: str | None = None,
    ) -> None:
        if not client_order_id:
            raise OrderRejected("client order id is empty", rule="order.client_id")
        # Straight slot writes: our ``__setattr__`` guard (a ``hasattr`` per field) made
        # construction ~50 us; nothing outside __init__ can see the half-built order.
        put = object.__setattr__
        created = utc(created_at, what="created_at")
        put(self, "client_order_id", client_order_id)
        put(self, "symbol", symbol)
        put(self, "side", Side(side))
        put(self, "order_type", OrderType(order_type))
        put(self, "time_in_force", TimeInForce(time_in_force))
        put(self, "created_at", created)
        put(self, "session_id", session_id)
        put(self, "tag", tag)
        put(self, "parent_id", parent_id)
        qty = as_decimal(quantity, what="quantity")
        px = None if price is None else as_decimal(price, what="price")
        stop = None if stop_price is None else as_decimal(stop_price, what="stop_price")
        self._validate_intent(qty, px, stop)
        put(self, "_quantity", qty)
        put(self, "_price", px)
        put(self, "_stop_price", stop)
        put(self, "_filled_quantity", _ZERO)
        put(self, "_filled_notional", _ZERO)
        put(self, "_avg_fill_price", None)
        put(self, "_venue_order_id", None)
        put(self, "_reason", None)
        put(self, "_updated_at", created)
        put(self, "_cancel_requested", False)
        put(self, "_status", OrderStatus.NEW)  # last: from here on identity is read-only

    def __setattr__(self, name: str, value: object) -> None:
        # Identity fields are set once in __init__ (before ``_status`` exists); after that
        # only the methods change state, through the private slots.
        if not name.startswith("_") and hasattr(self, "_status"):
            raise AttributeError(
                f"Order.{name} is read-only (order {self.client_order_id}); "
                "use submit/apply_fill/cancel/reject/expire/amend"
            )
        object.__setattr__(self, name, value)

    # -- read-only state -------------------------------------------------------------
    @property
    def quantity(self) -> Decimal:
        """Ordered quantity (changes only through ``amend``)."""
        return self._quantity

    @property
    def price(self) -> Decimal | None:
        """Limit price, ``None`` for market and stop orders."""
        return self._price

    @property
    def stop_price(self) -> Decimal | None:
        """Trigger price of stop and stop-limit orders."""
        return self._stop_price

    @property
    def filled_quantity(self) -> Decimal:
        """Quantity filled so far (0 <= filled <= quantity)."""
        return self._filled_quantity

    @property
    def remaining_quantity(self) -> Decimal:
        """Quantity still to fill."""
        return self._quantity - self._filled_quantity

    @property
    def avg_fill_price(self) -> Decimal | None:
        """Volume-weighted average fill price; ``None`` before the first fill."""
        return self._avg_fill_price

    @property
    def status(self) -> OrderStatus:
        """Current status."""
        return self._status

    @property
    def is_open(self) -> bool:
        """True until the order reaches a terminal status."""
        return self._status.is_open

    @property
    def venue_order_id(self) -> str | None:
        """The broker's own id, known after ``submit``."""
        return self._venue_order_id

    @property
    def reason(self) -> str | None:
        """Why the order was cancelled, rejected or expired (``None`` otherwise)."""
        return self._reason

    @property
    def updated_at(self) -> datetime:
        """Time of the last change (UTC)."""
        return self._updated_at

    @property
    def cancel_requested(self) -> bool:
        """A cancel was sent and not yet confirmed (see ``order_state`` on why no status)."""
        return self._cancel_requested

    # -- transitions -----------------------------------------------------------------
    def submit(self, ts: datetime, venue_order_id: str | None = None) -> None:
        """The broker accepted the order: ``NEW -> SUBMITTED``."""
        when = utc(ts)
        check_transition(self.client_order_id, self._status, OrderStatus.SUBMITTED)
        self._status = OrderStatus.SUBMITTED
        if venue_order_id is not None:
            self._venue_order_id = venue_order_id
        self._updated_at = when

    def apply_fill(
        self, quantity: Decimal | int | str, price: Decimal | int | str, ts: datetime
    ) -> OrderStatus:
        """Record an execution; returns the new status (partially filled or filled).

        Raises ``OverfillError`` if ``filled + quantity > order quantity`` and
        ``OrderOperationError`` for a non-positive quantity or price.
        """
        when = utc(ts)
        qty = as_decimal(quantity, what="fill quantity")
        px = as_decimal(price, what="fill price")
        if qty <= 0 or px <= 0:
            raise OrderOperationError(
                self.client_order_id,
                "apply_fill",
                f"fill quantity and price must be > 0, got {qty} @ {px}",
            )
        new_filled = self._filled_quantity + qty
        if new_filled > self._quantity:
            raise OverfillError(
                self.client_order_id,
                "apply_fill",
                f"fill of {qty} would take filled quantity to {new_filled} "
                f"above order quantity {self._quantity}",
            )
        target = (
            OrderStatus.FILLED if new_filled == self._quantity else OrderStatus.PARTIALLY_FILLED
        )
        check_transition(self.client_order_id, self._status, target)
        # The exact notional is kept so the average is one division, not a running mean.
        self._filled_notional += qty * px
        self._filled_quantity = new_filled
        self._avg_fill_price = self._filled_notional / new_filled
        self._status = target
        self._updated_at = when
        return target

    def request_cancel(self, ts: datetime) -> None:
        """Mark that a cancel was sent to the venue; the status waits for confirmation."""
        when = utc(ts)
        if not self._status.is_open:
            raise OrderOperationError(
                self.client_order_id, "request_cancel", f"order is {self._status.value}"
            )
        self._cancel_requested = True
        self._updated_at = when

    def cancel(self, ts: datetime, reason: str = "cancelled") -> None:
        """The venue confirmed the cancel (or the order was withdrawn before sending)."""
        self._close(OrderStatus.CANCELLED, ts, reason)

    def reject(self, ts: datetime, reason: str) -> None:
        """The broker, a market rule or risk refused the order."""
        self._close(OrderStatus.REJECTED, ts, reason)

    def expire(self, ts: datetime, reason: str = "expired") -> None:
        """Time in force ran out (DAY at the close, auto-cancel after N seconds...)."""
        self._close(OrderStatus.EXPIRED, ts, reason)

    def amend(
        self,
        ts: datetime,
        *,
        quantity: Decimal | int | str | None = None,
        price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
    ) -> None:
        """Change quantity and/or prices of an open order.

        The new quantity must stay strictly above the filled quantity: amending down to
        exactly the filled amount is a cancel, and must go through ``cancel`` so the
        journal records it as one. A price may only be changed on types that have one.
        """
        when = utc(ts)
        cid = self.client_order_id
        if not self._status.is_open:
            raise OrderOperationError(cid, "amend", f"order is {self._status.value}")
        if quantity is None and price is None and stop_price is None:
            raise OrderOperationError(cid, "amend", "nothing to change")
        new_qty = self._quantity if quantity is None else as_decimal(quantity, what="quantity")
        if new_qty <= self._filled_quantity:
            raise OrderOperationError(
                cid,
                "amend",
                f"new quantity {new_qty} must exceed the filled quantity "
                f"{self._filled_quantity} (use cancel to stop the rest)",
            )
        new_px = self._price
        if price is not None:
            if not self.order_type.needs_price:
                raise OrderOperationError(cid, "amend", f"a {self.order_type} order has no price")
            new_px = as_decimal(price, what="price")
        new_stop = self._stop_price
        if stop_price is not None:
            if not self.order_type.needs_stop_price:
                raise OrderOperationError(
                    cid, "amend", f"a {self.order_type} order has no stop price"
                )
            new_stop = as_decimal(stop_price, what="stop_price")
        for name, value in (("price", new_px), ("stop_price", new_stop)):
            if value is not None and value <= 0:
                raise OrderOperationError(cid, "amend", f"{name} must be > 0, got {value}")
        self._quantity = new_qty
        self._price = new_px
        self._stop_price = new_stop
        self._updated_at = when

    # -- copies ----------------------------------------------------------------------
    def snapshot(self) -> OrderSnapshot:
        """An immutable copy of the whole state."""
        return OrderSnapshot(
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            side=self.side,
            order_type=self.order_type,
            time_in_force=self.time_in_force,
            quantity=self._quantity,
            price=self._price,
            stop_price=self._stop_price,
            filled_quantity=self._filled_quantity,
            avg_fill_price=self._avg_fill_price,
            status=self._status,
            venue_order_id=self._venue_order_id,
            created_at=self.created_at,
            updated_at=self._updated_at,
            reason=self._reason,
            session_id=self.session_id,
            tag=self.tag,
            parent_id=self.parent_id,
            cancel_requested=self._cancel_requested,
        )

    @classmethod
    def restore(cls, snap: OrderSnapshot) -> Order:
        """Rebuild an order from a stored snapshot, checking that the state is coherent."""
        order = cls(
            snap.client_order_id,
            snap.symbol,
            snap.side,
            snap.quantity,
            created_at=snap.created_at,
            order_type=snap.order_type,
            time_in_force=snap.time_in_force,
            price=snap.price,
            stop_price=snap.stop_price,
            session_id=snap.session_id,
            tag=snap.tag,
            parent_id=snap.parent_id,
        )
        filled, status = snap.filled_quantity, snap.status
        coherent = _ZERO <= filled <= snap.quantity and (
            (
                status in {OrderStatus.NEW, OrderStatus.SUBMITTED, OrderStatus.REJECTED}
                and filled == 0
            )
            or (status is OrderStatus.PARTIALLY_FILLED and 0 < filled < snap.quantity)
            or (status is OrderStatus.FILLED and filled == snap.quantity)
            or (status in {OrderStatus.CANCELLED, OrderStatus.EXPIRED} and filled < snap.quantity)
        )
        if not coherent or (filled > 0) != (snap.avg_fill_price is not None):
            raise OrderOperationError(
                snap.client_order_id,
                "restore",
                f"stored state is incoherent: status {status.value}, filled {filled} of "
                f"{snap.quantity}, avg price {snap.avg_fill_price}",
            )
        order._status = status
        order._filled_quantity = filled
        order._avg_fill_price = snap.avg_fill_price
        order._filled_notional = (
            _ZERO if snap.avg_fill_price is None else (snap.avg_fill_price * filled)
        )
        order._venue_order_id = snap.venue_order_id
        order._reason = snap.reason
        order._updated_at = utc(snap.updated_at, what="updated_at")
        order._cancel_requested = snap.cancel_requested
        return order

    def __repr__(self) -> str:
        price = "" if self._price is None else f" @ {self._price}"
        return (
            f"Order({self.client_order_id} {self.side.value} {self._quantity} {self.symbol}"
            f"{price} {self.order_type.value}/{self.time_in_force.value} "
            f"{self._status.value} filled={self._filled_quantity})"
        )

    # -- internals -------------------------------------------------------------------
    def _close(self, to: OrderStatus, ts: datetime, reason: str) -> None:
        when = utc(ts)
        check_transition(self.client_order_id, self._status, to)
        self._status = to
        self._reason = reason
        self._cancel_requested = False
        self._updated_at = when

    def _validate_intent(self, qty: Decimal, px: Decimal | None, stop: Decimal | None) -> None:
        cid = self.client_order_id
        if qty <= 0:
            raise OrderRejected(
                f"quantity must be > 0, got {qty}", client_order_id=cid, rule="order.quantity"
            )
        kind = self.order_type
        if kind.needs_price and px is None:
            raise OrderRejected(
                f"a {kind} order needs a price", client_order_id=cid, rule="order.price"
            )
        if not kind.needs_price and px is not None:
            raise OrderRejected(
                f"a {kind} order takes no limit price (got {px})",
                client_order_id=cid,
                rule="order.price",
            )
        if kind.needs_stop_price and stop is None:
            raise OrderRejected(
                f"a {kind} order needs a stop price", client_order_id=cid, rule="order.stop_price"
            )
        if not kind.needs_stop_price and stop is not None:
            raise OrderRejected(
                f"a {kind} order takes no stop price (got {stop})",
                client_order_id=cid,
                rule="order.stop_price",
            )
        for name, value in (("price", px), ("stop price", stop)):
            if value is not None and value <= 0:
                raise OrderRejected(
                    f"{name} must be > 0, got {value}", client_order_id=cid, rule="order.price"
                )


# -- client order ids ----------------------------------------------------------------
#: Session ids carry no ``-`` so an id splits unambiguously into prefix, session and seq.
_SESSION_RE = re.compile(r"^[A-Za-z0-9_]{1,20}$")
_PREFIX_RE = re.compile(r"^[a-z]{1,8}$")
#: Binance ``newClientOrderId`` allows at most 36 characters; Upbit ``identifier`` more.
MAX_CLIENT_ID_LENGTH = 36


class ClientOrderIdGenerator:
    """Makes client order ids ``<prefix>-<session>-<seq>``, e.g. ``stom-s20260105a-000042``.

    * Unique: ``seq`` only grows; after a restart call ``resume_after`` with the ids already
      journaled for the session so new ids never collide with old ones. The session id must
      itself be unique per run (e.g. a date plus a counter), because venues such as Upbit
      refuse an ``identifier`` that was ever used before.
    * Idempotent: ``id_for(intent_key)`` returns the same id for the same intent, so a
      retried strategy signal or a re-sent manual order cannot become a second order.
    * One id per order for its whole life (NOTES.md: retrying with a new id duplicated
      orders); on restart every venue order whose id starts with ``session_prefix`` (or
      ``<prefix>-`` for any session) is ours and is reconciled against the journal.
    """

    __slots__ = ("_by_intent", "_seq", "prefix", "session_id")

    def __init__(self, session_id: str, *, prefix: str = "stom", start: int = 1) -> None:
        if _SESSION_RE.match(session_id) is None:
            raise ValueError(
                f"session id {session_id!r} must be 1-20 characters of A-Z, a-z, 0-9 or _"
            )
        if _PREFIX_RE.match(prefix) is None:
            raise ValueError(f"client id prefix {prefix!r} must be 1-8 lowercase letters")
        if start < 1:
            raise ValueError(f"start must be >= 1, got {start}")
        self.session_id = session_id
        self.prefix = prefix
        self._seq = start - 1
        self._by_intent: dict[str, str] = {}

    @property
    def session_prefix(self) -> str:
        """The prefix every id of this session starts with (for reconciling by prefix)."""
        return f"{self.prefix}-{self.session_id}-"

    def next_id(self) -> str:
        """A fresh id, never returned before by this generator."""
        self._seq += 1
        cid = f"{self.session_prefix}{self._seq:06d}"
        if len(cid) > MAX_CLIENT_ID_LENGTH:
            raise ValueError(f"client order id {cid!r} exceeds {MAX_CLIENT_ID_LENGTH} characters")
        return cid

    def id_for(self, intent_key: str) -> str:
        """The id of the order for ``intent_key``; the same key always gets the same id."""
        cid = self._by_intent.get(intent_key)
        if cid is None:
            cid = self.next_id()
            self._by_intent[intent_key] = cid
        return cid

    def resume_after(self, existing_ids: Iterable[str]) -> None:
        """Continue numbering after the highest journaled id of this session."""
        for cid in existing_ids:
            parsed = parse_client_order_id(cid, prefix=self.prefix)
            if parsed is not None and parsed[0] == self.session_id:
                self._seq = max(self._seq, parsed[1])


def parse_client_order_id(client_order_id: str, *, prefix: str = "stom") -> tuple[str, int] | None:
    """Split one of our ids into ``(session_id, seq)``; ``None`` if it is not ours."""
    parts = client_order_id.split("-")
    if len(parts) != 3 or parts[0] != prefix or not parts[2].isdigit():
        return None
    if _SESSION_RE.match(parts[1]) is None:
        return None
    return parts[1], int(parts[2])


def is_own_order_id(
    client_order_id: str, *, prefix: str = "stom", session_id: str | None = None
) -> bool:
    """Whether a venue order id was made by us (optionally: by this session)."""
    parsed = parse_client_order_id(client_order_id, prefix=prefix)
    return parsed is not None and (session_id is None or parsed[0] == session_id)
