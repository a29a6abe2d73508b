"""The order manager: the one way orders enter the system, journal-first, state-machine-checked.

``place(request)`` runs: idempotency (intent key) -> risk -> market rules ->
``journal.record_intent`` (committed before the broker sees anything) -> ``broker.submit``.
Every later change (acceptance, fill, cancel, expiry, rejection) is first applied to a
*copy* of the ``Order`` (so the state machine refuses illegal moves without touching the
live order), then journaled, then swapped in and published. Fills also update the
session's ``Portfolio`` and risk cooldowns.

Durability contract with ``journal_writes="async"`` (what the trading service runs; the
journal must have ``write_batch``, e.g. ``OrderRepository``; see ``engine/journal_writer.py``):

* **The intent is durable before the order is sent**: ``record_intent`` commits
  synchronously (SQLite ``synchronous=FULL``) on the calling thread, before
  ``broker.submit``; the client order id it stores is the order's id for life.
* **State changes and fills are durable at the next group commit**: they are queued to the
  journal writer thread, which commits everything queued in one transaction, normally
  within about one commit time (~1 ms on an SSD, up to a few ms on a slow disk) of the
  change, and always before :meth:`OrderManager.flush_journal` / :meth:`close` return
  (the engine calls ``flush_journal`` when its loop ends). Memory (and what is published)
  may therefore be ahead of the journal by that much. On SQLite a group commit survives a
  process crash at once and a power loss from the next fsync (the next intent commit or
  WAL checkpoint): ``OrderRepository`` commits batches with ``synchronous=NORMAL``.
* **A crash in between is repaired by reconciliation with the venue**: on restart
  ``recover()`` asks the venue about every unfinished journaled order and adopts its
  status and any fills the journal missed (deduplicated by venue fill id). Nothing the
  venue executed can be lost, because the order it belongs to was journaled first.
* **A journal write failure is never swallowed**: the writer keeps it; on the engine
  thread (``check_journal``, run by ``place``, ``tick`` and every engine step) it becomes
  an ``ErrorEvent``, the order is queued for reconciliation, and the failure handler
  (the engine pauses the order's session) is called.

With ``journal_writes="sync"`` (the default) every change is its own transaction on the
calling thread before it is applied and published, and a journal failure leaves memory as
it was. ``"auto"`` picks async when the journal has ``write_batch``.

A ``TemporaryBrokerError`` (or any broker failure of unknown outcome) on submit leaves the
order ``new`` under the same client id; ``reconcile_pending`` (called by ``tick``) asks the
venue by that id and adopts what it finds, or resends the *same* id. Never a new id.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import cast

from stom_desktop.core.errors import (
    BrokerAuthError,
    BrokerError,
    OrderRejected,
    PersistenceError,
    TemporaryBrokerError,
)
from stom_desktop.core.events import ErrorEvent, FillEvent, OrderUpdateEvent, PositionEvent
from stom_desktop.core.fills import Fill
from stom_desktop.core.market_rules import MarketRules
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import ClientOrderIdGenerator, Order, OrderSnapshot, OrderType
from stom_desktop.core.portfolio import Portfolio, side_of
from stom_desktop.core.ports import Broker, Clock, EventSink, OrderJournal
from stom_desktop.engine import recovery
from stom_desktop.engine.journal_writer import JournalWriter, supports_batches
from stom_desktop.engine.requests import OrderRequest, PlaceResult
from stom_desktop.engine.risk import RiskContext, RiskManager, RiskVerdict, is_entry

log = logging.getLogger(__name__)
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


@dataclass(frozen=True, slots=True)
class KillSwitchReport:
    """What engaging the kill switch did."""

    cancel_requested: list[str]
    flatten: list[PlaceResult]


class OrderManager:
    """Places, tracks, journals and reconciles orders; implements ``ExecutionListener``."""

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
        broker.set_listener(self)

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

    # -- placing ---------------------------------------------------------------------
    def place(self, request: OrderRequest) -> PlaceResult:
        """The single entry point for strategy, manual and internal orders."""
        return self._place(request, check_risk=True)

    def _place(self, request: OrderRequest, *, check_risk: bool) -> PlaceResult:
        if self._writer is not None and self._writer.failed:
            self.check_journal()
        with self._lock:
            book = self._sessions.get(request.session_id)
            if book is None:
                return PlaceResult(
                    False, None, f"session {request.session_id!r} is not registered", "session"
                )
            if request.intent_key is not None:
                known = book.intents.get(request.intent_key)
                if known is not None and known in self._orders:
                    prior = self._orders[known]
                    return PlaceResult(
                        prior.status is not OrderStatus.REJECTED,
                        known,
                        f"duplicate intent {request.intent_key!r}: already order {known}",
                        None,
                        prior.status,
                        duplicate=True,
                    )
            if request.reference_price is None and self._price_source is not None:
                request = replace(request, reference_price=self._price_source(request.symbol))
            if check_risk and self.risk is not None:
                verdict = self.risk.check(request, self._risk_context(book, request))
                if verdict is not None:
                    return self._refuse(book, request, verdict, None)
            cid = (
                book.ids.id_for(request.intent_key)
                if request.intent_key is not None
                else book.ids.next_id()
            )
            now = self._clock.now()
            try:
                order = Order(
                    cid,
                    request.symbol,
                    request.side,
                    request.quantity,
                    created_at=now,
                    order_type=request.order_type,
                    time_in_force=request.time_in_force,
                    price=request.price,
                    stop_price=request.stop_price,
                    session_id=request.session_id,
                    tag=request.tag,
                )
                rules = self._rules_for(request.symbol) if self._rules_for is not None else None
                if rules is not None:
                    rules.check(order, reference_price=request.reference_price)
            except OrderRejected as exc:
                verdict = RiskVerdict(exc.rule or "order.invalid", exc.reason)
                return self._refuse(book, request, verdict, cid)
            detail = (
                recovery.INTENT_PREFIX + request.intent_key
                if request.intent_key is not None
                else request.reason_text
            )
            # Write-ahead: a crash after this line leaves a 'new' order recovery resolves.
            try:
                self._record_intent(book, order, detail, now)
            except PersistenceError as exc:
                log.error("order %s not sent: the journal refused the intent: %s", cid, exc)
                return PlaceResult(False, cid, f"journal unavailable, not sent: {exc}", "journal")
            self._orders[cid] = order
            self._maybe_open[cid] = None
            if request.intent_key is not None:
                book.intents[request.intent_key] = cid
            self._publish_order(order)
            return self._submit(cid)

    def _record_intent(
        self, book: OrderSession, order: Order, detail: str | None, now: datetime
    ) -> None:
        self._journal.record_intent(
            order.client_order_id,
            order.symbol,
            order.side.value,
            order.order_type.value,
            order.quantity,
            price=order.price,
            stop_price=order.stop_price,
            time_in_force=order.time_in_force.value,
            session_id=book.journal_session_id,
            at=now,
            detail=detail,
        )

    def _submit(self, cid: str) -> PlaceResult:
        order = self._orders[cid]
        try:
            venue_id = self._broker.submit(order)
        except OrderRejected as exc:
            reason = exc.reason if exc.rule is None else f"{exc.rule}: {exc.reason}"
            current = self._orders[cid]
            if current.status is OrderStatus.NEW:
                self._change(
                    cid, lambda o: o.reject(self._clock.now(), reason), "rejected", reason=reason
                )
            return PlaceResult(False, cid, exc.reason, exc.rule, self._orders[cid].status)
        except BrokerAuthError as exc:
            # Not an unknown outcome: the venue refused the request itself. Retrying cannot
            # help, so the order is rejected and the session halted (fatal_error).
            return self._auth_failed(cid, exc)
        except BrokerError as exc:
            # Unknown outcome (timeout, 5xx, dropped connection): the venue may or may not
            # have the order. Keep it 'new' under the same id; reconciliation decides.
            self._pending.add(cid)
            kind = "temporary" if isinstance(exc, TemporaryBrokerError) else "unexpected"
            log.warning("submit of %s failed (%s): %s; will reconcile", cid, kind, exc)
            return PlaceResult(
                True,
                cid,
                f"pending: broker {kind} failure ({exc}); reconciling by client id",
                None,
                OrderStatus.NEW,
            )
        self._pending.discard(cid)
        current = self._orders[cid]
        if current.status is OrderStatus.NEW:
            self._mark_submitted(cid, venue_id, "submitted")
        elif current.venue_order_id is None and venue_id:
            # Fills arrived inside submit (before the ack): record the venue id now.
            self._journal.transition(
                cid,
                current.status.value,
                at=self._clock.now(),
                detail="venue id",
                venue_order_id=venue_id,
            )
            self._orders[cid] = Order.restore(replace(current.snapshot(), venue_order_id=venue_id))
        final = self._orders[cid]
        return PlaceResult(True, cid, None, None, final.status)

    def _auth_failed(self, cid: str, exc: BrokerAuthError) -> PlaceResult:
        """Reject ``cid`` with rule ``venue.auth``, halt trading and report the error."""
        reason = f"venue.auth: {exc}"
        if self._orders[cid].status is OrderStatus.NEW:
            self._change(
                cid, lambda o: o.reject(self._clock.now(), reason), "rejected", reason=reason
            )
        self.fatal_error = exc
        if self.risk is not None:
            self.risk.engage_kill_switch(f"credentials refused by the venue: {exc}")
        log.error("submit of %s: credentials refused, session halted: %s", cid, exc)
        book = self._book_of(self._orders[cid])
        self._bus.publish(
            ErrorEvent(
                book.session_id if book is not None else "engine",
                f"credentials refused, trading halted: {exc}",
                exc.hint,
                self._clock.now_ms(),
            )
        )
        return PlaceResult(False, cid, str(exc), "venue.auth", self._orders[cid].status)

    def _refuse(
        self, book: OrderSession, request: OrderRequest, verdict: RiskVerdict, cid: str | None
    ) -> PlaceResult:
        if self.risk is not None:
            self.risk.reject(
                request, verdict, journal_session_id=book.journal_session_id, client_order_id=cid
            )
        else:
            log.info("refused %s %s: %s", request.symbol, verdict.rule, verdict.reason)
        return PlaceResult(False, cid, verdict.reason, verdict.rule)

    def _risk_context(self, book: OrderSession, request: OrderRequest) -> RiskContext:
        portfolio = book.portfolio
        open_symbols = set(portfolio.open_positions())
        orders = self._orders
        for cid in list(self._maybe_open):
            order = orders[cid]
            if not order.is_open:
                del self._maybe_open[cid]
                continue
            if (
                order.is_open
                and order.session_id == book.session_id
                and is_entry(
                    order.side, order.remaining_quantity, portfolio.position(order.symbol).quantity
                )
            ):
                open_symbols.add(order.symbol)
        return RiskContext(
            position=portfolio.position(request.symbol).quantity,
            open_symbols=frozenset(open_symbols),
            equity=self.equity(book.session_id),
            now=self._clock.now(),
        )

    def equity(self, session_id: str) -> Decimal:
        """Cash plus positions at the price source's marks (cost when no mark is known)."""
        portfolio = self.session(session_id).portfolio
        total = portfolio.cash
        for symbol, position in portfolio.open_positions().items():
            mark = self._price_source(symbol) if self._price_source is not None else None
            total += position.cost if mark is None else position.quantity * mark
        return total

    # -- cancel / amend --------------------------------------------------------------
    def cancel(self, client_order_id: str) -> None:
        """Ask the venue to cancel; the status changes when the venue confirms."""
        with self._lock:
            order = self._known(client_order_id)
            if not order.is_open:
                return
            if order.status is OrderStatus.NEW and client_order_id in self._pending:
                self.reconcile_pending()
                order = self._orders[client_order_id]
                if order.status is OrderStatus.NEW:  # still unresolved: cannot cancel safely
                    raise TemporaryBrokerError(
                        "cancel: submit outcome still unknown", client_order_id=client_order_id
                    )
                if not order.is_open:
                    return
            self._orders[client_order_id] = trial = clone_order(order)
            trial.request_cancel(self._clock.now())
            self._broker.cancel(client_order_id)

    def cancel_all(self, session_id: str | None = None) -> list[str]:
        """Request a cancel of every open order (of one session); returns their ids."""
        with self._lock:
            ids = [o.client_order_id for o in self.orders(session_id, open_only=True)]
            done = []
            for cid in ids:
                try:
                    self.cancel(cid)
                    done.append(cid)
                except BrokerError as exc:
                    log.error("cancel_all: %s", exc)
            return done

    def amend(
        self, client_order_id: str, *, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        """Change an open order's quantity/limit price; the new terms are journaled."""
        with self._lock:
            order = self._known(client_order_id)
            trial = clone_order(order)
            now = self._clock.now()
            trial.amend(now, quantity=quantity, price=price)  # validates first
            self._broker.amend(client_order_id, quantity=quantity, price=price)
            self._journal.amend(client_order_id, quantity=trial.quantity, price=trial.price, at=now)
            self._orders[client_order_id] = trial
            self._publish_order(trial)

    # -- kill switch, liquidation, periodic work -------------------------------------
    def flatten(self, session_id: str | None = None, *, tag: str = "flatten") -> list[PlaceResult]:
        """Market orders closing every open position (bypassing risk: they only reduce)."""
        with self._lock:
            results = []
            books = self._sessions.values() if session_id is None else [self.session(session_id)]
            for book in books:
                for symbol, position in book.portfolio.open_positions().items():
                    request = OrderRequest(
                        session_id=book.session_id,
                        symbol=symbol,
                        side=side_of(-position.quantity),
                        quantity=abs(position.quantity),
                        order_type=OrderType.MARKET,
                        tag=tag,
                        reason_text=tag,
                        reference_price=position.avg_price,
                    )
                    results.append(self._place(request, check_risk=False))
            return results

    def engage_kill_switch(self, reason: str = "manual kill switch") -> KillSwitchReport:
        """Halt all trading: refuse new orders, cancel every open order, flatten everything."""
        with self._lock:
            if self.risk is None:
                raise RuntimeError("kill switch needs a RiskManager (OrderManager(risk=...))")
            self.risk.engage_kill_switch(reason)
            for book in self._sessions.values():
                self.risk.record(
                    "risk.kill_switch",
                    f"engaged: {reason}",
                    session_id=book.session_id,
                    journal_session_id=book.journal_session_id,
                )
            return KillSwitchReport(self.cancel_all(), self.flatten(tag="kill_switch"))

    def release_kill_switch(self) -> None:
        """Allow new orders again, without a restart."""
        with self._lock:
            if self.risk is None:
                return
            self.risk.release_kill_switch()
            for book in self._sessions.values():
                self.risk.record(
                    "risk.kill_switch",
                    "released",
                    session_id=book.session_id,
                    journal_session_id=book.journal_session_id,
                )

    def tick(self, now: datetime | None = None) -> None:
        """Periodic work for the kernel loop: forced liquidation and pending reconciliation."""
        self.check_journal()
        with self._lock:
            when = now or self._clock.now()
            if self.risk is not None:
                for book in list(self._sessions.values()):
                    if self.risk.liquidation_due(book.session_id, when):
                        self.risk.record(
                            "risk.forced_liquidation",
                            f"liquidation time reached at {when.isoformat()}",
                            session_id=book.session_id,
                            journal_session_id=book.journal_session_id,
                        )
                        self.cancel_all(book.session_id)
                        self.flatten(book.session_id, tag="forced_liquidation")
            if self._pending:
                self.reconcile_pending()

    def reconcile_pending(self) -> list[str]:
        """Resolve orders whose submit outcome was unknown; returns the resolved ids."""
        with self._lock:
            resolved = []
            for cid in sorted(self._pending):
                try:
                    venue = self._broker.fetch_order(cid)
                except BrokerError as exc:
                    log.warning("reconcile %s: broker still unavailable: %s", cid, exc)
                    continue
                if venue is None:
                    if self._orders[cid].status is not OrderStatus.NEW:
                        log.error("reconcile %s: acknowledged once, unknown at the venue now", cid)
                        continue
                    result = self._submit(cid)  # the venue never got it: resend, SAME id
                    if cid not in self._pending:
                        resolved.append(cid)
                    log.info("reconcile %s: resent, %s", cid, result)
                    continue
                self._sync(cid, venue, "reconciled")
                self._pending.discard(cid)
                resolved.append(cid)
            return resolved

    def resync_open_orders(self) -> list[str]:
        """Ask the venue about every open order (after a dropped stream or a reconnect).

        Adopts what the listener missed: acceptances, fills (by fill id, once), cancels and
        expiries. Returns the ids whose state changed.
        """
        with self._lock:
            changed = []
            for cid in [c for c, o in self._orders.items() if o.is_open]:
                before = self._orders[cid].snapshot()
                try:
                    venue = self._broker.fetch_order(cid)
                except BrokerError as exc:
                    log.warning("resync %s: broker unavailable: %s", cid, exc)
                    continue
                if venue is None:
                    continue  # never reached the venue: reconcile_pending decides
                self._sync(cid, venue, "resync")
                self._pending.discard(cid)
                after = self._orders[cid]
                if (after.status, after.filled_quantity) != (before.status, before.filled_quantity):
                    changed.append(cid)
            return changed

    # -- ExecutionListener -----------------------------------------------------------
    def on_order_update(self, order: OrderSnapshot) -> None:
        """The venue's view changed: adopt acceptance and terminal states (fills via on_fill).

        A report that cannot be applied or journaled never raises into the broker: it is
        logged, published as an ``ErrorEvent``, and the order is queued for
        reconciliation with the venue (``tick``/``reconcile_pending``).
        """
        with self._lock, self._guard(order.client_order_id, "order update"):
            cid = order.client_order_id
            current = self._orders.get(cid)
            if current is None:
                log.warning("order update for unknown order %s (%s)", cid, order.status.value)
                self.unknown_reports.append(order)
                return
            if not current.is_open:
                return  # a late or repeated report about a finished order
            if order.status is OrderStatus.NEW:
                return
            if order.status.is_terminal and order.status is not OrderStatus.FILLED:
                self._sync(
                    cid,
                    replace(
                        order,
                        filled_quantity=current.filled_quantity,
                        avg_fill_price=current.avg_fill_price,
                    ),
                    "venue update",
                )
            elif current.status is OrderStatus.NEW:
                self._mark_submitted(cid, order.venue_order_id, "venue accepted")

    def on_fill(self, fill: Fill) -> None:
        """An execution: journal it, then book it into the order and the portfolio.

        Failures are handled like in ``on_order_update``: the fill stays at the venue and
        reconciliation books it (deduplicated by fill id).
        """
        with self._lock, self._guard(fill.client_order_id, f"fill {fill.fill_id}"):
            if fill.fill_id in self._fill_ids:
                return
            cid = fill.client_order_id
            order = self._orders.get(cid)
            if order is None:
                log.warning("fill %s for unknown order %s", fill.fill_id, cid)
                self.unknown_reports.append(fill)
                return
            if fill.symbol != order.symbol or fill.side is not order.side:
                raise BrokerError(
                    f"fill {fill.fill_id} is {fill.side} {fill.symbol}, "
                    f"the order is {order.side} {order.symbol}",
                    client_order_id=cid,
                )
            if order.status is OrderStatus.NEW:
                self._mark_submitted(cid, None, "filled before the ack")
            trial = clone_order(self._orders[cid])
            status = trial.apply_fill(fill.quantity, fill.price, fill.ts)
            outcome = self._journal.add_fill(
                cid,
                fill.quantity,
                fill.price,
                fee=fill.fee,
                fee_currency=fill.fee_currency or None,
                venue_fill_id=fill.fill_id,
                ts=fill.ts,
                to_status=status.value,
            )
            self._fill_ids.add(fill.fill_id)
            if outcome.duplicate:
                log.warning(
                    "fill %s of %s was already journaled; not booked twice", fill.fill_id, cid
                )
                return
            self._orders[cid] = trial
            self._book_fill(trial, fill)

    # -- recovery --------------------------------------------------------------------
    def recover(
        self, orphan_policy: recovery.OrphanPolicy = recovery.OrphanPolicy.ADOPT
    ) -> recovery.RecoveryReport:
        """Reconcile with the venue after a restart and rebuild every registered session.

        Call after ``register_session`` and before the first ``place``. The journal must
        be a ``recovery.JournalHistory``.
        """
        if not isinstance(self._journal, recovery.JournalHistory):
            raise TypeError(
                "recover() needs a journal that can list orders and fills, "
                f"got {type(self._journal).__name__}"
            )
        with self._lock:
            cash = {k: b.initial_cash for k, b in self._by_id_session.items()}
            currency = (
                next(iter(self._sessions.values())).portfolio.currency if self._sessions else "KRW"
            )
            report = recovery.recover(
                self._broker,
                self._journal,
                clock=self._clock,
                prefix=self.prefix,
                orphan_policy=orphan_policy,
                initial_cash=cash,
                currency=currency,
            )
            self._fill_ids |= report.fill_ids
            for id_session, book in self._by_id_session.items():
                book.ids.resume_after(report.client_ids)
                book.intents.update(report.intents.get(id_session, {}))
                book.portfolio = report.portfolios.get(id_session, book.portfolio)
            for cid, restored in report.open_orders.items():
                self._orders[cid] = self._retag(restored)
                self._maybe_open[cid] = None
            for key_map in report.intents.values():
                for cid in key_map.values():
                    if cid not in self._orders:  # finished: keep a stub for idempotency
                        stored = self._journal.by_client_id(cid)
                        if stored is not None:
                            self._orders[cid] = self._retag(recovery.restore_order(stored))
            self._pending |= set(report.unresolved)
            return report

    # -- internals -------------------------------------------------------------------
    @contextmanager
    def _guard(self, cid: str, what: str) -> Iterator[None]:
        try:
            yield
        except (BrokerError, PersistenceError) as exc:
            log.error("could not apply %s of order %s: %s; will reconcile", what, cid, exc)
            if cid in self._orders:
                self._pending.add(cid)
            order = self._orders.get(cid)
            self._bus.publish(
                ErrorEvent(
                    session_id=(order.session_id or "") if order is not None else "",
                    message=f"order {cid}: {what} not applied ({exc}); reconciling with the venue",
                    traceback_text=None,
                    ts_ms=self._clock.now_ms(),
                )
            )

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
