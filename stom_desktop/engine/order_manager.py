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

Where the code lives (``OrderManager`` is one class assembled from these parts, sharing
one re-entrant lock and one set of books):

* this module: ``OrderManager`` itself, the place path (idempotency, risk, market
  rules, intent, submit) and cancel/amend;
* ``engine/order_books.py``: the shared state, sessions, read-side queries, journal
  failure reporting and the copy-journal-swap-publish primitives;
* ``engine/order_execution.py``: the ``ExecutionListener`` side (``on_order_update``,
  ``on_fill``);
* ``engine/order_reconcile.py``: ``reconcile_pending``, ``resync_open_orders``,
  ``recover``;
* ``engine/order_safety.py``: ``flatten``, the kill switch and ``tick``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from stom_desktop.core.errors import (
    BrokerAuthError,
    BrokerError,
    OrderRejected,
    PersistenceError,
    TemporaryBrokerError,
)
from stom_desktop.core.events import ErrorEvent
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order
from stom_desktop.engine import recovery
from stom_desktop.engine.order_books import (
    JournalFailureHandler,
    OrderSession,
    PriceSource,
    clone_order,
    log,
)
from stom_desktop.engine.order_execution import ExecutionListenerMixin
from stom_desktop.engine.order_reconcile import ReconcileMixin
from stom_desktop.engine.order_safety import KillSwitchReport, SafetyMixin
from stom_desktop.engine.requests import OrderRequest, PlaceResult
from stom_desktop.engine.risk import RiskContext, RiskVerdict, is_entry

__all__ = [
    "JournalFailureHandler",
    "KillSwitchReport",
    "OrderManager",
    "OrderSession",
    "PriceSource",
    "clone_order",
]


class OrderManager(ExecutionListenerMixin, ReconcileMixin, SafetyMixin):
    """Places, tracks, journals and reconciles orders; implements ``ExecutionListener``.

    Constructed as ``OrderManager(broker, journal, clock, bus, *, rules_for=None,
    risk=None, price_source=None, prefix="stom", journal_writes="sync")`` (see
    ``OrderBooks.__init__`` and the module doc).
    """

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
