"""The order manager's shared state and the primitives every part of it uses.

:class:`OrderBooks` owns what the order manager knows: the registered sessions
(:class:`OrderSession`: id generator, portfolio, intent keys), every order it tracks, the
ids that may still be open, the submits whose outcome is unknown, the venue fill ids
already booked, and the journal (directly, or through the background
``JournalWriter``). It answers the read-side queries (sessions, orders, equity), reports
background journal failures, and holds the one way a tracked order changes: try the
transition on a *copy* (the state machine refuses illegal moves before anything is
written), journal it, swap it in, publish it (``_change``; ``_sync`` for the venue's
view; ``_book_fill`` for fills into the portfolio).

``OrderManager`` (``engine/order_manager.py``) is this class plus the place/cancel/amend
path and the mixins for execution reports (``engine/order_execution.py``),
reconciliation (``engine/order_reconcile.py``) and the kill switch
(``engine/order_safety.py``). Everything shares one re-entrant lock, ``_lock``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from stom_desktop.core.errors import BrokerAuthError, BrokerError
from stom_desktop.core.events import ErrorEvent, FillEvent, OrderUpdateEvent, PositionEvent
from stom_desktop.core.fills import Fill
from stom_desktop.core.market_rules import MarketRules
from stom_desktop.core.orders import ClientOrderIdGenerator, Order, OrderSnapshot
from stom_desktop.core.portfolio import Portfolio
from stom_desktop.core.ports import Broker, Clock, EventSink, ExecutionListener, OrderJournal
from stom_desktop.engine import recovery
from stom_desktop.engine.journal_writer import JournalWriter, supports_batches
from stom_desktop.engine.risk import RiskManager

if TYPE_CHECKING:
    from stom_desktop.engine.requests import OrderRequest, PlaceResult

# One logger for the whole order manager, whichever module the code lives in (the name it
# always had, so log filters and configuration keep matching).
log = logging.getLogger("stom_desktop.engine.order_manager")
PriceSource = Callable[[str], Decimal | None]
#: ``handler(session_id, message)``: a journal write of that session's order failed.
JournalFailureHandler = Callable[[str, str], None]


@dataclass(slots=True)
class OrderSession:
    """One session's order book-keeping: id generator, portfolio, intent keys."""

    session_id: str
    ids: ClientOrderIdGenerator
    portfolio: Portfolio
    journal_session_id: int | None
    initial_cash: Decimal = field(init=False)
    intents: dict[str, str] = field(default_factory=dict)  # intent key -> client id

    def __post_init__(self) -> None:
        self.initial_cash = self.portfolio.initial_cash


def clone_order(order: Order) -> Order:
    """An independent copy of ``order`` (same slots), to try a transition on.

    ``Order.restore(order.snapshot())`` would recompute the filled notional from the
    rounded average price; a slot-by-slot copy keeps the order bit-identical.
    """
    copy = object.__new__(Order)
    for name in Order.__slots__:
        object.__setattr__(copy, name, getattr(order, name))
    return copy


class OrderBooks:
    """The order manager's state, read-side queries and state-change primitives.

    Not used on its own: ``OrderManager`` is the class to construct (its arguments are
    this ``__init__``'s).
    """

    def __init__(
        self,
        broker: Broker,
        journal: OrderJournal,
        clock: Clock,
        bus: EventSink,
        *,
        rules_for: Callable[[str], MarketRules | None] | None = None,
        risk: RiskManager | None = None,
        price_source: PriceSource | None = None,
        prefix: str = "stom",
        journal_writes: str = "sync",
    ) -> None:
        if journal_writes not in ("auto", "async", "sync"):
            raise ValueError(f"journal_writes must be auto, async or sync, got {journal_writes!r}")
        self._broker = broker
        self._writer: JournalWriter | None = None
        if journal_writes == "async" or (journal_writes == "auto" and supports_batches(journal)):
            # "async" with a journal lacking write_batch fails here, naming the type
            self._writer = JournalWriter(journal)
        # The writer answers transition/add_fill with placeholders (nothing here uses the
        # stored records they return), hence the cast.
        self._journal: OrderJournal = (
            cast(OrderJournal, self._writer) if self._writer is not None else journal
        )
        self._on_journal_failure: JournalFailureHandler | None = None
        self._clock = clock
        self._bus = bus
        self._rules_for = rules_for
        self.risk = risk
        self._price_source = price_source
        self.prefix = prefix
        self._sessions: dict[str, OrderSession] = {}  # by engine session id
        self._by_id_session: dict[str, OrderSession] = {}  # by the id's session part
        self._orders: dict[str, Order] = {}
        # Ids of orders that may still be open (a superset: pruned when read). Risk asks
        # for the open entry orders on every placement; scanning every order ever placed
        # made placing O(orders). An order never reopens, so pruning is safe.
        self._maybe_open: dict[str, None] = {}
        self._pending: set[str] = set()  # new, submit outcome unknown
        self._fill_ids: set[str] = set()
        self.unknown_reports: list[OrderSnapshot | Fill] = []  # reports for no known order
        #: Set when the venue refused our credentials: every session is halted.
        self.fatal_error: BrokerAuthError | None = None
        # Re-entrant: a paper broker calls on_fill from inside submit, on this thread.
        self._lock = threading.RLock()
        # The concrete OrderManager implements ExecutionListener (order_execution.py).
        broker.set_listener(cast(ExecutionListener, self))

    if TYPE_CHECKING:
        # Implemented by OrderManager and its mixins; declared so each part type-checks.
        def _place(self, request: OrderRequest, *, check_risk: bool) -> PlaceResult: ...
        def _submit(self, cid: str) -> PlaceResult: ...
        def cancel_all(self, session_id: str | None = None) -> list[str]: ...
        def reconcile_pending(self) -> list[str]: ...

    # -- journal ---------------------------------------------------------------------
    def set_journal_failure_handler(self, handler: JournalFailureHandler | None) -> None:
        """Called (on the engine thread) with the session id when its journal write failed."""
        self._on_journal_failure = handler

    def check_journal(self) -> int:
        """Report failed background journal writes; returns how many were reported.

        Each becomes an ``ErrorEvent`` naming the order; the order is queued for
        reconciliation with the venue (which rewrites what the journal lacks) and the
        failure handler is called with its session.
        """
        writer = self._writer
        if writer is None or not writer.failed:
            return 0
        failures = writer.take_errors()
        with self._lock:
            for failure in failures:
                cid = failure.client_order_id
                order = self._orders.get(cid)
                session_id = (order.session_id or "") if order is not None else ""
                if order is not None:
                    self._pending.add(cid)
                message = (
                    f"order {cid}: journal {failure.operation} failed ({failure.error}); "
                    "memory is ahead of the journal, reconciling with the venue"
                )
                log.error("%s", message)
                self._bus.publish(ErrorEvent(session_id, message, None, self._clock.now_ms()))
                if self._on_journal_failure is not None:
                    self._on_journal_failure(session_id, message)
        return len(failures)

    def flush_journal(self, timeout: float = 30.0) -> bool:
        """Wait until every queued journal write is committed; reports failures. True if done."""
        done = True if self._writer is None else self._writer.flush(timeout)
        self.check_journal()
        return done

    def close(self, timeout: float = 30.0) -> bool:
        """Commit what is queued and stop the journal writer thread (reports failures)."""
        done = True if self._writer is None else self._writer.close(timeout)
        self.check_journal()
        return done

    # -- sessions --------------------------------------------------------------------
    def register_session(
        self,
        session_id: str,
        *,
        initial_cash: Decimal,
        currency: str = "KRW",
        client_id_session: str | None = None,
        journal_session_id: int | None = None,
    ) -> OrderSession:
        """Add a session: its own id generator, portfolio and intent keys.

        ``client_id_session`` (default: ``session_id``) is the middle of its client ids;
        it must be unique per run and 1-20 of ``[A-Za-z0-9_]``.
        """
        with self._lock:
            id_session = client_id_session or session_id
            ids = ClientOrderIdGenerator(id_session, prefix=self.prefix)
            book = OrderSession(
                session_id, ids, Portfolio(initial_cash, currency), journal_session_id
            )
            self._sessions[session_id] = book
            self._by_id_session[id_session] = book
            if self.risk is not None:
                self.risk.observe_equity(session_id, initial_cash, self._clock.now())
            return book

    def session(self, session_id: str) -> OrderSession:
        """The registered session (``KeyError`` naming it otherwise)."""
        try:
            return self._sessions[session_id]
        except KeyError:
            raise KeyError(f"order manager: session {session_id!r} is not registered") from None

    def portfolio(self, session_id: str) -> Portfolio:
        """The session's live portfolio (read-only use, please)."""
        return self.session(session_id).portfolio

    def order(self, client_order_id: str) -> OrderSnapshot | None:
        """The order's current state, or ``None`` if this manager does not know it."""
        order = self._orders.get(client_order_id)
        return None if order is None else order.snapshot()

    def orders(
        self, session_id: str | None = None, *, open_only: bool = False
    ) -> list[OrderSnapshot]:
        """Known orders (optionally one session's, optionally only open ones), oldest first."""
        with self._lock:
            return [
                o.snapshot()
                for o in self._orders.values()
                if (session_id is None or o.session_id == session_id)
                and (not open_only or o.is_open)
            ]

    def equity(self, session_id: str) -> Decimal:
        """Cash plus positions at the price source's marks (cost when no mark is known)."""
        portfolio = self.session(session_id).portfolio
        total = portfolio.cash
        for symbol, position in portfolio.open_positions().items():
            mark = self._price_source(symbol) if self._price_source is not None else None
            total += position.cost if mark is None else position.quantity * mark
        return total

    # -- state-change primitives -----------------------------------------------------
    def _retag(self, order: Order) -> Order:
        """A recovered order carries its id's session part; use the engine session id."""
        parsed = recovery.sessions_of([order.client_order_id], self.prefix)
        owner = self._by_id_session.get(next(iter(parsed), ""))
        if owner is None or owner.session_id == order.session_id:
            return order
        return Order.restore(replace(order.snapshot(), session_id=owner.session_id))

    def _known(self, cid: str) -> Order:
        order = self._orders.get(cid)
        if order is None:
            # Finished orders of earlier runs are not kept in memory: ask the journal.
            stored = self._journal.by_client_id(cid)
            if stored is None:
                raise BrokerError(
                    "unknown order (not in memory or the journal)", client_order_id=cid
                )
            order = self._orders[cid] = self._retag(recovery.restore_order(stored))
            self._maybe_open[cid] = None
        return order

    def _change(
        self,
        cid: str,
        mutate: Callable[[Order], None],
        to_status: str,
        *,
        reason: str | None = None,
        venue_order_id: str | None = None,
        detail: str | None = None,
    ) -> Order:
        trial = clone_order(self._orders[cid])
        mutate(trial)  # the state machine refuses here, before anything is written
        self._journal.transition(
            cid,
            to_status,
            at=trial.updated_at,
            detail=detail,
            venue_order_id=venue_order_id,
            reason=reason,
        )
        self._orders[cid] = trial
        self._publish_order(trial)
        return trial

    def _mark_submitted(self, cid: str, venue_id: str | None, detail: str) -> None:
        self._change(
            cid,
            lambda o: o.submit(self._clock.now(), venue_id),
            "submitted",
            venue_order_id=venue_id,
            detail=detail,
        )

    def _sync(self, cid: str, venue: OrderSnapshot, detail: str) -> None:
        trial = clone_order(self._orders[cid])
        try:
            added = recovery.sync_with_venue(
                trial,
                venue,
                broker=self._broker,
                journal=self._journal,
                now=self._clock.now(),
                known_fill_ids=self._fill_ids,
                detail=detail,
            )
        except Exception:
            # Some steps may be journaled: reload the order from the journal so memory
            # keeps matching it, then let the error reach the caller.
            stored = self._journal.by_client_id(cid)
            if stored is not None:
                self._orders[cid] = recovery.restore_order(stored)
            raise
        self._orders[cid] = trial
        for fill in added:
            self._book_fill(trial, fill)
        self._publish_order(trial)

    def _book_fill(self, order: Order, fill: Fill) -> None:
        book = self._book_of(order)
        if book is None:
            log.warning(
                "fill %s: order %s belongs to no registered session",
                fill.fill_id,
                order.client_order_id,
            )
            return
        before = book.portfolio.position(fill.symbol).quantity
        book.portfolio.apply_fill(fill)
        position = book.portfolio.position(fill.symbol)
        if self.risk is not None:
            self.risk.on_position_change(
                book.session_id, fill.symbol, before, position.quantity, fill.ts
            )
        ts_ms = self._clock.now_ms()
        self._publish_order(order)
        self._bus.publish(FillEvent(book.session_id, fill, ts_ms))
        self._bus.publish(
            PositionEvent(
                book.session_id,
                fill.symbol,
                position.quantity,
                position.avg_price,
                position.realized_pnl,
                ts_ms,
            )
        )

    def _book_of(self, order: Order) -> OrderSession | None:
        if order.session_id is not None and order.session_id in self._sessions:
            return self._sessions[order.session_id]
        parsed = recovery.sessions_of([order.client_order_id], self.prefix)
        return self._by_id_session.get(next(iter(parsed), ""))

    def _publish_order(self, order: Order) -> None:
        book = self._book_of(order)
        session_id = book.session_id if book is not None else (order.session_id or "")
        self._bus.publish(OrderUpdateEvent(session_id, order.snapshot(), self._clock.now_ms()))
