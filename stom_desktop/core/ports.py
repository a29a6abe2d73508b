"""Ports: the ``Protocol`` interfaces the engine needs from the outside world.

Adapters (paper/ccxt brokers, simulator/replay feeds, notifiers), persistence (the order
journal) and the event bus implement these; the engine and services depend only on them.
All amounts are ``Decimal``; all times timezone-aware UTC (or int ms for events).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Protocol, runtime_checkable

from stom_desktop.core.events import Event, MarketEvent
from stom_desktop.core.fills import Fill
from stom_desktop.core.orders import Order, OrderSnapshot, StoredOrder


@runtime_checkable
class Clock(Protocol):
    """Source of the current time (``SystemClock`` live, ``SimulatedClock`` in replays)."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...

    def now_ms(self) -> int:
        """Current time in ms since the epoch, UTC."""
        ...


class ExecutionListener(Protocol):
    """Receives what a broker reports asynchronously (set with ``Broker.set_listener``)."""

    def on_order_update(self, order: OrderSnapshot) -> None:
        """The venue's view of an order changed (accepted, cancelled, expired...)."""
        ...

    def on_fill(self, fill: Fill) -> None:
        """An execution happened."""
        ...


@runtime_checkable
class Broker(Protocol):
    """Sends orders to a venue (paper or live) and answers questions about them.

    Every call identifies orders by the client order id we chose, never by a venue id,
    so a crash between sending and recording can be reconciled (NOTES.md).
    ``submit`` raises ``OrderRejected`` (with ``rule`` when a market rule refused) or
    ``TemporaryBrokerError`` (retry with the *same* client id).
    """

    def set_listener(self, listener: ExecutionListener) -> None:
        """Where fills and order updates go."""
        ...

    def submit(self, order: Order) -> str:
        """Send ``order``; returns the venue order id once the venue accepted it."""
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask the venue to cancel; confirmation arrives as an order update."""
        ...

    def amend(
        self,
        client_order_id: str,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None:
        """Change an open order's quantity and/or limit price."""
        ...

    def fetch_order(self, client_order_id: str) -> OrderSnapshot | None:
        """The venue's view of the order; ``None`` if the venue never received it."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[OrderSnapshot]:
        """Orders the venue considers open (optionally for one symbol)."""
        ...

    def balances(self) -> dict[str, Decimal]:
        """Free balance per currency/asset."""
        ...


@runtime_checkable
class Feed(Protocol):
    """A source of market events (simulator, replay, exchange websocket)."""

    def subscribe(self, symbols: Sequence[str]) -> None:
        """Start delivering events for ``symbols``."""
        ...

    def poll(self, max_events: int = 1024) -> Sequence[MarketEvent]:
        """Up to ``max_events`` events in time order; empty when none are ready now.

        The engine loop calls this between control commands, so a batch must come back
        promptly (a real-time feed returns what it has, it does not wait for more).
        """
        ...

    @property
    def finished(self) -> bool:
        """True when the feed will never deliver another event (end of a replay)."""
        ...

    def close(self) -> None:
        """Release connections and threads."""
        ...


class StoredFillOutcome(Protocol):
    """What ``OrderJournal.add_fill`` returns: the order after the fill, and whether the
    fill was a duplicate (already stored under the same venue fill id; nothing written)."""

    @property
    def order(self) -> StoredOrder: ...
    @property
    def duplicate(self) -> bool: ...


@runtime_checkable
class OrderJournal(Protocol):
    """Durable record of orders, their status changes and fills.

    ``persistence.OrderRepository`` implements it (same names and parameters). Write-ahead:
    the intent is committed *before* the order is sent, with the one client order id it
    keeps for life; each call is one transaction. On restart ``unfinished`` lists what must
    be reconciled with the broker (``orders.snapshot_from_stored`` + ``Order.restore``).
    Statuses and sides are passed as strings (``OrderStatus``/``Side`` are ``StrEnum``).
    The journal records transitions without judging them: ``Order`` enforces the state
    machine before anything is journaled.
    """

    def record_intent(
        self,
        client_order_id: str,
        symbol: str,
        side: str,
        order_type: str,
        quantity: Decimal | int | str,
        *,
        price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
        time_in_force: str = "gtc",
        session_id: int | None = None,
        at: datetime | None = None,
        detail: str | None = None,
    ) -> StoredOrder:
        """Store a ``new`` order; a client id already recorded raises ``PersistenceError``."""
        ...

    def transition(
        self,
        client_order_id: str,
        to_status: str,
        *,
        at: datetime | None = None,
        detail: str | None = None,
        venue_order_id: str | None = None,
        reason: str | None = None,
    ) -> StoredOrder:
        """Record a status change (and the venue id / reason once known)."""
        ...

    def add_fill(
        self,
        client_order_id: str,
        quantity: Decimal | int | str,
        price: Decimal | int | str,
        *,
        fee: Decimal | int | str = 0,
        fee_currency: str | None = None,
        venue_fill_id: str | None = None,
        ts: datetime | None = None,
        to_status: str | None = None,
        detail: str | None = None,
    ) -> StoredFillOutcome:
        """Store a fill, update filled quantity/average (and status) in one transaction."""
        ...

    def amend(
        self,
        client_order_id: str,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        at: datetime | None = None,
    ) -> StoredOrder:
        """Store an open order's new terms (status unchanged) and journal the change."""
        ...

    def unfinished(self, session_id: int | None = None) -> Sequence[StoredOrder]:
        """Orders not in a terminal status, oldest first."""
        ...

    def by_client_id(self, client_order_id: str) -> StoredOrder | None:
        """One order by its client id, ``None`` if unknown."""
        ...


@runtime_checkable
class Notifier(Protocol):
    """Desktop/e-mail/messenger notifications."""

    def notify(self, kind: str, title: str, text: str) -> None:
        """Show or send one notification; ``kind`` is e.g. ``fill``, ``error``, ``report``."""
        ...


@runtime_checkable
class EventSink(Protocol):
    """Where the engine publishes events (the in-process bus, Redis pub/sub...)."""

    def publish(self, event: Event) -> None:
        """Deliver ``event`` to subscribers; must not raise because a subscriber failed."""
        ...


EventHandler = Callable[[Event], None]


@runtime_checkable
class EventBus(EventSink, Protocol):
    """An ``EventSink`` that also lets parts of the app subscribe by event type."""

    def subscribe(self, event_type: type, handler: EventHandler) -> Callable[[], None]:
        """Call ``handler`` for every event of ``event_type``; returns an unsubscribe."""
        ...
