"""Restart recovery: reconcile the journal with the venue, then rebuild portfolios from fills.

The design that survived 50 random kills here (NOTES.md): the intent is journaled before
the broker sees the order, the order keeps one client id for life, and on restart every
unfinished journaled order and every venue order carrying our id prefix is reconciled by
client id. ``recover`` does that:

1. every unfinished journaled order is looked up with ``broker.fetch_order``: if the venue
   has it, its state and any fills not yet journaled are adopted (fills deduplicated by
   venue fill id); if the venue never got it, it is rejected with
   ``never sent (recovered after restart)`` - but see "requests still in flight" below;
2. ``broker.open_orders()`` is scanned for orders with our prefix that the journal does
   not know (orphans): they are journaled and adopted, and with ``OrphanPolicy.CANCEL``
   also cancelled;
3. positions and cash are rebuilt with ``Portfolio.rebuild`` from the stored fills.

**Requests still in flight at the kill.** A dead process's last HTTP request can still
reach a real venue *after* the restart looked the order up (bytes in flight, in the
kernel's send buffer, in a proxy). Rejecting a ``new`` order the venue does not show yet
would then leave an order the journal calls rejected trading at the venue. A broker
that declares ``arrival_window_s`` (how long after a request was sent the venue could
still accept it; Binance: its ``recvWindow`` plus a clock-skew margin, see
``adapters/brokers/ccxt_arrival``) gets those orders decided only after one wait: every
send happened before the crash, and the crash before recovery started, so at
``recovery start + window`` an in-flight request has either landed (the order is adopted
like any found order and listed in ``arrived_late``) or can no longer be accepted (it
is rejected as never sent). Orders whose lookup failed are retried after the same wait,
so the order manager's later resend (same client id) also happens after the window.
Brokers without the attribute (paper, the local venues) have window 0: no wait.

Fills come from ``broker.fetch_fills(client_order_id)`` when the broker has it (the paper
and live brokers should); otherwise a missing quantity is booked as one synthetic fill at
the price implied by the venue's average (fee unknown: 0).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import TemporaryBrokerError
from stom_desktop.core.fills import Fill
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import (
    Order,
    OrderSnapshot,
    StoredOrder,
    is_own_order_id,
    parse_client_order_id,
    snapshot_from_stored,
)
from stom_desktop.core.portfolio import Portfolio
from stom_desktop.core.ports import Broker, Clock, OrderJournal

log = logging.getLogger(__name__)
NEVER_SENT = "never sent (recovered after restart)"
UNKNOWN_AT_VENUE = "unknown at the venue (recovered after restart)"
#: Creation-event detail that carries the order's idempotency key.
INTENT_PREFIX = "intent="
_ZERO = Decimal(0)


class OrphanPolicy(StrEnum):
    """What to do with a venue order carrying our prefix that the journal does not know."""

    ADOPT = "adopt"  # journal it and manage it like any other order
    CANCEL = "cancel"  # journal it, then cancel it at the venue


class StoredFill(Protocol):
    """A journaled fill (``persistence.FillRecord`` has this shape)."""

    @property
    def client_order_id(self) -> str: ...
    @property
    def venue_fill_id(self) -> str | None: ...
    @property
    def quantity(self) -> Decimal: ...
    @property
    def price(self) -> Decimal: ...
    @property
    def fee(self) -> Decimal: ...
    @property
    def fee_currency(self) -> str | None: ...
    @property
    def ts(self) -> datetime: ...


@runtime_checkable
class JournalHistory(OrderJournal, Protocol):
    """An ``OrderJournal`` that can also list what it stored (needed to rebuild).

    ``OrderRepository`` has ``fills``; ``orders``, ``all_fills`` and ``creation_details``
    are the additions recovery needs (see the engine-orders report for their SQL).
    """

    def orders(self, session_id: int | None = None) -> Sequence[StoredOrder]:
        """Every order (``StoredOrder``), oldest first."""
        ...

    def all_fills(self, session_id: int | None = None) -> Sequence[StoredFill]:
        """Every fill in booking order (the order ``Portfolio.rebuild`` must replay)."""
        ...

    def fills(self, client_order_id: str) -> Sequence[StoredFill]:
        """One order's fills, oldest first."""
        ...

    def creation_details(self, session_id: int | None = None) -> Mapping[str, str | None]:
        """``client_order_id -> detail`` of each order's creation event."""
        ...


class FillSource(Protocol):
    """A broker that can list an order's executions (for recovery's fill catch-up)."""

    def fetch_fills(self, client_order_id: str) -> Sequence[Fill]:
        """Every fill of the order, as the venue reports them."""
        ...


@dataclass(slots=True)
class RecoveryReport:
    """What ``recover`` found and did, plus the rebuilt state for the order manager."""

    adopted: list[str] = field(default_factory=list)  # venue had them: state adopted
    finished: list[str] = field(default_factory=list)  # of those, terminal now
    never_sent: list[str] = field(default_factory=list)  # rejected: venue never got them
    missing_at_venue: list[str] = field(default_factory=list)  # acked once, venue forgot
    orphans: list[str] = field(default_factory=list)  # venue-only orders, now journaled
    orphans_cancelled: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)  # broker unreachable: retry later
    arrived_late: list[str] = field(default_factory=list)  # unknown at first, there after the wait
    waited_s: float = 0.0  # the arrival wait (0 when none was needed)
    fills_added: int = 0
    positions: dict[str, dict[str, Decimal]] = field(default_factory=dict)  # by id session
    cash: dict[str, Decimal] = field(default_factory=dict)
    portfolios: dict[str, Portfolio] = field(default_factory=dict)
    open_orders: dict[str, Order] = field(default_factory=dict)
    intents: dict[str, dict[str, str]] = field(default_factory=dict)  # session -> key -> cid
    client_ids: list[str] = field(default_factory=list)  # every journaled id
    fill_ids: set[str] = field(default_factory=set)

    @property
    def clean(self) -> bool:
        """True when nothing had to be repaired (no crash window was hit)."""
        return not (
            self.finished
            or self.arrived_late
            or self.never_sent
            or self.missing_at_venue
            or self.orphans
            or self.unresolved
            or self.fills_added
        )


def restore_order(stored: StoredOrder) -> Order:
    """An ``Order`` from a journaled record."""
    snap = snapshot_from_stored(stored)
    parsed = parse_client_order_id(snap.client_order_id)
    if parsed is not None:  # the client-id session is the best session name we have
        snap = replace(snap, session_id=parsed[0])
    return Order.restore(snap)


def venue_fills(broker: Broker, order: Order, venue: OrderSnapshot) -> list[Fill]:
    """The venue's fills of ``order``: ``fetch_fills`` if the broker has it, else one
    synthetic fill for the quantity the venue filled beyond what ``order`` knows."""
    fetch = getattr(broker, "fetch_fills", None)
    if callable(fetch):
        return list(fetch(order.client_order_id))
    missing = venue.filled_quantity - order.filled_quantity
    if missing <= 0 or venue.avg_fill_price is None:
        return []
    known = order.filled_quantity * (order.avg_fill_price or _ZERO)
    price = (venue.filled_quantity * venue.avg_fill_price - known) / missing
    return [
        Fill(
            fill_id=f"{order.client_order_id}:recovered:{venue.filled_quantity}",
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=missing,
            price=price,
            fee=_ZERO,
            fee_currency="",
            ts=venue.updated_at,
        )
    ]


def sync_with_venue(
    order: Order,
    venue: OrderSnapshot,
    *,
    broker: Broker,
    journal: OrderJournal,
    now: datetime,
    known_fill_ids: set[str],
    detail: str,
    currency: str = "KRW",
) -> list[Fill]:
    """Bring ``order`` (mutated in place) and the journal up to the venue's state.

    Each step is checked by the ``Order`` state machine first, then journaled. Returns
    the fills that were new to the journal (the caller books them into its portfolio).
    """
    cid = order.client_order_id
    if order.status is OrderStatus.NEW and venue.status is not OrderStatus.REJECTED:
        order.submit(now, venue.venue_order_id)
        journal.transition(
            cid, order.status.value, at=now, detail=detail, venue_order_id=venue.venue_order_id
        )
    added: list[Fill] = []
    for reported in venue_fills(broker, order, venue):
        if reported.fill_id in known_fill_ids:
            continue
        fill = _with_currency(reported, currency)
        status = order.apply_fill(fill.quantity, fill.price, fill.ts)
        outcome = journal.add_fill(
            cid,
            fill.quantity,
            fill.price,
            fee=fill.fee,
            fee_currency=fill.fee_currency,
            venue_fill_id=fill.fill_id,
            ts=fill.ts,
            to_status=status.value,
            detail=detail,
        )
        known_fill_ids.add(fill.fill_id)
        if not outcome.duplicate:
            added.append(fill)
    if order.is_open and venue.status.is_terminal and venue.status is not OrderStatus.FILLED:
        reason = venue.reason or f"{venue.status.value} at the venue"
        if venue.status is OrderStatus.EXPIRED:
            order.expire(now, reason)
        elif venue.status is OrderStatus.REJECTED and order.status is not (
            OrderStatus.PARTIALLY_FILLED
        ):
            order.reject(now, reason)
        else:  # cancelled, or "rejected" after a partial fill (ends like a cancel)
            order.cancel(now, reason)
        journal.transition(cid, order.status.value, at=now, detail=detail, reason=reason)
    return added


def arrival_window_s(broker: object) -> float:
    """How long after sending a request ``broker``'s venue may still accept it (0: none).

    Read from the broker's optional ``arrival_window_s`` attribute; brokers without one
    (paper, simulated venues) answer at once, so they get 0.
    """
    window = getattr(broker, "arrival_window_s", 0.0)
    return max(0.0, float(window)) if isinstance(window, int | float) else 0.0


def recover(
    broker: Broker,
    journal: JournalHistory,
    *,
    clock: Clock,
    prefix: str = "stom",
    orphan_policy: OrphanPolicy = OrphanPolicy.ADOPT,
    initial_cash: Mapping[str, Decimal] | None = None,
    currency: str = "KRW",
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> RecoveryReport:
    """Reconcile every unfinished journaled order and every orphan, then rebuild portfolios.

    ``initial_cash`` maps a client-id session (the middle part of ``stom-<session>-<seq>``)
    to its starting cash; sessions not listed start from 0 (positions are still right).
    With a broker ``arrival_window_s`` > 0, ``new`` orders the venue does not show (or
    could not be asked about) are decided after waiting until ``start + window`` (the
    module doc explains why); ``sleep`` and ``monotonic`` are injectable for tests.
    """
    started = monotonic()
    window = arrival_window_s(broker)
    report = RecoveryReport()
    known_fill_ids = {f.venue_fill_id for f in journal.all_fills() if f.venue_fill_id}
    undecided: list[tuple[Order, bool]] = []  # (order, was it unknown at the venue)
    for stored in journal.unfinished():
        order = restore_order(stored)
        outcome = _reconcile_one(
            order, broker, journal, clock, known_fill_ids, report, currency, defer=window > 0
        )
        if outcome is not None:
            undecided.append((order, outcome))
    if undecided:
        left = started + window - monotonic()
        if left > 0:
            log.info(
                "recovery: %d new order(s) not confirmed by the venue; waiting %.2fs for "
                "requests still in flight before deciding them",
                len(undecided),
                left,
            )
            sleep(left)
            report.waited_s = left
        for order, unknown in undecided:
            adopted = len(report.adopted)
            _reconcile_one(order, broker, journal, clock, known_fill_ids, report, currency)
            if unknown and len(report.adopted) > adopted:
                log.warning(
                    "recovery: %s reached the venue after the restart looked; adopted",
                    order.client_order_id,
                )
                report.arrived_late.append(order.client_order_id)
    for venue in broker.open_orders():
        cid = venue.client_order_id
        if not is_own_order_id(cid, prefix=prefix) or journal.by_client_id(cid) is not None:
            continue
        _adopt_orphan(venue, broker, journal, clock, known_fill_ids, report, orphan_policy)
    _load_history(journal, report, prefix, initial_cash or {}, currency)
    return report


def _reconcile_one(
    order: Order,
    broker: Broker,
    journal: OrderJournal,
    clock: Clock,
    known_fill_ids: set[str],
    report: RecoveryReport,
    currency: str,
    *,
    defer: bool = False,
) -> bool | None:
    """Reconcile one order; with ``defer``, a ``new`` order the venue does not show (or
    that could not be looked up) is left alone: returns True (unknown at the venue) or
    False (lookup failed) for the caller to retry after the arrival wait, else None."""
    cid, now = order.client_order_id, clock.now()
    pending = defer and order.status is OrderStatus.NEW
    try:
        venue = broker.fetch_order(cid)
    except TemporaryBrokerError as exc:
        if pending:
            log.info("recovery: cannot ask the broker about %s yet (%s); retried later", cid, exc)
            return False
        log.warning("recovery: cannot ask the broker about %s yet: %s", cid, exc)
        report.unresolved.append(cid)
        return None
    if venue is None:
        if pending:
            return True
        if order.status is OrderStatus.NEW:
            order.reject(now, NEVER_SENT)
            journal.transition(cid, "rejected", at=now, detail="recovery", reason=NEVER_SENT)
            report.never_sent.append(cid)
        else:
            order.cancel(now, UNKNOWN_AT_VENUE)
            journal.transition(cid, "cancelled", at=now, detail="recovery", reason=UNKNOWN_AT_VENUE)
            report.missing_at_venue.append(cid)
        return None
    before = order.status
    added = sync_with_venue(
        order,
        venue,
        broker=broker,
        journal=journal,
        now=now,
        known_fill_ids=known_fill_ids,
        detail="recovery",
        currency=currency,
    )
    report.fills_added += len(added)
    report.adopted.append(cid)
    if order.status.is_terminal and not before.is_terminal:
        report.finished.append(cid)
    return None


def _adopt_orphan(
    venue: OrderSnapshot,
    broker: Broker,
    journal: OrderJournal,
    clock: Clock,
    known_fill_ids: set[str],
    report: RecoveryReport,
    policy: OrphanPolicy,
) -> None:
    cid, now = venue.client_order_id, clock.now()
    log.warning("recovery: venue order %s is not in the journal (orphan); %s", cid, policy.value)
    journal.record_intent(
        cid,
        venue.symbol,
        venue.side.value,
        venue.order_type.value,
        venue.quantity,
        price=venue.price,
        stop_price=venue.stop_price,
        time_in_force=venue.time_in_force.value,
        at=now,
        detail="orphan adopted after restart",
    )
    order = Order(
        cid,
        venue.symbol,
        venue.side,
        venue.quantity,
        created_at=venue.created_at,
        order_type=venue.order_type,
        time_in_force=venue.time_in_force,
        price=venue.price,
        stop_price=venue.stop_price,
    )
    added = sync_with_venue(
        order,
        venue,
        broker=broker,
        journal=journal,
        now=now,
        known_fill_ids=known_fill_ids,
        detail="orphan",
    )
    report.fills_added += len(added)
    report.orphans.append(cid)
    if policy is OrphanPolicy.CANCEL and order.is_open:
        broker.cancel(cid)
        after = broker.fetch_order(cid)
        if after is not None:  # a venue that confirms later is caught by the next sync
            sync_with_venue(
                order,
                after,
                broker=broker,
                journal=journal,
                now=clock.now(),
                known_fill_ids=known_fill_ids,
                detail="orphan cancelled",
            )
        report.orphans_cancelled.append(cid)


def _load_history(
    journal: JournalHistory,
    report: RecoveryReport,
    prefix: str,
    initial_cash: Mapping[str, Decimal],
    currency: str,
) -> None:
    orders = {o.client_order_id: o for o in journal.orders()}
    report.client_ids = list(orders)
    for cid, detail in journal.creation_details().items():
        parsed = parse_client_order_id(cid, prefix=prefix)
        if parsed is not None and detail and detail.startswith(INTENT_PREFIX):
            report.intents.setdefault(parsed[0], {})[detail[len(INTENT_PREFIX) :]] = cid
    for cid, stored in orders.items():
        if stored.status not in _FINAL:
            report.open_orders[cid] = restore_order(stored)
    by_session: dict[str, list[Fill]] = defaultdict(list)
    for row in journal.all_fills():
        stored = orders[row.client_order_id]
        parsed = parse_client_order_id(row.client_order_id, prefix=prefix)
        fill = fill_from_stored(row, stored.symbol, stored.side, currency)
        report.fill_ids.add(fill.fill_id)
        by_session[parsed[0] if parsed else ""].append(fill)
    for session in set(by_session) | set(initial_cash):
        portfolio = Portfolio.rebuild(
            initial_cash.get(session, _ZERO), by_session.get(session, []), currency=currency
        )
        report.portfolios[session] = portfolio
        report.positions[session] = {s: p.quantity for s, p in portfolio.open_positions().items()}
        report.cash[session] = portfolio.cash


_FINAL = frozenset(s.value for s in OrderStatus if s.is_terminal)


def fill_from_stored(row: StoredFill, symbol: str, side: str, currency: str) -> Fill:
    """A core ``Fill`` from a journaled fill of an order on ``symbol``/``side``."""
    return Fill(
        fill_id=row.venue_fill_id or f"journal:{row.client_order_id}:{row.ts.isoformat()}",
        client_order_id=row.client_order_id,
        symbol=symbol,
        side=Side(side),
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        fee_currency=row.fee_currency or currency,
        ts=row.ts,
    )


def _with_currency(fill: Fill, currency: str) -> Fill:
    if fill.fee_currency:
        return fill
    return replace(fill, fee_currency=currency)


def sessions_of(client_ids: Iterable[str], prefix: str = "stom") -> dict[str, list[str]]:
    """Group client ids by their session part (ids that are not ours are skipped)."""
    out: dict[str, list[str]] = defaultdict(list)
    for cid in client_ids:
        parsed = parse_client_order_id(cid, prefix=prefix)
        if parsed is not None:
            out[parsed[0]].append(cid)
    return dict(out)
