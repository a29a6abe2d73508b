"""VenueOrderManager: the order manager of a real venue, whose exits are sized by the venue.

On a paper venue the books and the venue are one thing; on a real one they can drift (a
fee taken in the base asset, a coin sold by hand, an order of ours this process never
saw). So on a real venue :meth:`VenueOrderManager.flatten` (used by the kill switch,
``liquidate`` and the forced liquidation) first *sweeps* the venue: every open order of
ours on the session symbols is cancelled, including orders this process does not know
(an earlier run's orphans, read with ``broker.open_orders``). Kill switch: every order
with our prefix; a liquidation: only this manager's sessions' orders. Then the broker is
polled so fills that happened meanwhile are booked, and each position is closed by a
market order of

* spot, long: ``min(book position, venue free base balance)`` (what the session bought
  and the venue still holds), cut down to the lot step;
* otherwise (futures, shorts): the book position (futures exits go out reduce-only).

A quantity the market rules refuse (below the minimum amount or notional) is *dust*: it
is not sent, and :attr:`VenueOrderManager.last_exits` reports it with the rule, so the
caller can say what was left. Exits bypass risk like ``OrderManager.flatten`` (they only
reduce). Nothing here knows ccxt: the broker is the ``Broker`` port (``open_orders``,
``cancel``, ``balances``) plus an optional ``poll()``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from stom_desktop.core.errors import BrokerError, OrderRejected
from stom_desktop.core.orders import Order, OrderType, is_own_order_id
from stom_desktop.core.portfolio import side_of
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.requests import OrderRequest, PlaceResult

log = logging.getLogger(__name__)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ExitPlan:
    """How one position was closed: what was sent, and what was left and why."""

    session_id: str
    symbol: str
    position: Decimal  # the book's signed position before the exit
    venue_free: Decimal | None  # free base asset at the venue (None: not read / not spot)
    quantity: Decimal  # what the exit order closes (0: nothing sent)
    shortfall: Decimal = _ZERO  # booked, but not at the venue (nothing there to sell)
    note: str | None = None  # why less than the whole position

    @property
    def left(self) -> Decimal:
        """What the book still holds after this exit fills (dust plus shortfall)."""
        return abs(self.position) - self.quantity

    @property
    def dust(self) -> Decimal:
        """What the venue holds but its lot/minimum rules forbid selling."""
        return self.left - self.shortfall


def base_asset(symbol: str) -> str:
    """``BTC`` of ``BTC/USDT`` (and of ``BTC/USDT:USDT``)."""
    return symbol.split("/", maxsplit=1)[0]


def is_spot(symbol: str) -> bool:
    """Spot symbols have no settlement part (``BTC/USDT``, not ``BTC/USDT:USDT``)."""
    return ":" not in symbol


class VenueOrderManager(OrderManager):
    """An ``OrderManager`` whose flattening sweeps and reads the venue (see module doc).

    ``symbols`` are the venue symbols whose open orders a sweep reads.
    """

    def __init__(self, *args: Any, symbols: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.venue_symbols = tuple(symbols)
        #: Client ids the last sweep asked the venue to cancel.
        self.last_sweep: list[str] = []
        #: How each position was closed by the last ``flatten``.
        self.last_exits: list[ExitPlan] = []

    # -- venue sweep -------------------------------------------------------------------
    def sweep_venue(self, *, all_ours: bool = True) -> list[str]:
        """Cancel open venue orders of ours on the session symbols; returns their ids.

        ``all_ours``: every id with our prefix (kill switch); else only this manager's
        sessions' ids. Orders this manager tracks go through :meth:`cancel` (journaled);
        others are cancelled at the broker directly. Failures are logged, not raised.
        """
        mine = set(self._by_id_session)
        cancelled = []
        with self._lock:
            for symbol in self.venue_symbols:
                try:
                    rows = self._broker.open_orders(symbol)
                except BrokerError as exc:
                    log.error("sweep %s: cannot read the venue's open orders: %s", symbol, exc)
                    continue
                for row in rows:
                    cid = row.client_order_id
                    if not is_own_order_id(cid, prefix=self.prefix):
                        continue  # someone else's order: never touched
                    if not all_ours and not any(
                        is_own_order_id(cid, prefix=self.prefix, session_id=s) for s in mine
                    ):
                        continue
                    known = self._orders.get(cid)
                    try:
                        if known is not None and known.is_open and not known.cancel_requested:
                            self.cancel(cid)
                        else:
                            self._broker.cancel(cid)
                        cancelled.append(cid)
                    except BrokerError as exc:
                        log.error("sweep: cancel of %s at the venue failed: %s", cid, exc)
        return cancelled

    def refresh_from_venue(self) -> None:
        """Poll the broker (fills, cancels) and resolve pending submits; errors are logged."""
        poll = getattr(self._broker, "poll", None)
        with self._lock:
            try:
                if poll is not None:
                    poll()
                if self._pending:
                    self.reconcile_pending()
            except BrokerError as exc:
                log.error("refresh from the venue failed: %s", exc)

    # -- flatten -----------------------------------------------------------------------
    def flatten(self, session_id: str | None = None, *, tag: str = "flatten") -> list[PlaceResult]:
        """Sweep the venue, book what happened, then close each position sized by the venue."""
        with self._lock:
            self.last_sweep = self.sweep_venue(all_ours=tag == "kill_switch")
            self.refresh_from_venue()
            free = self._free_balances()
            books = self._sessions.values() if session_id is None else [self.session(session_id)]
            results: list[PlaceResult] = []
            plans: list[ExitPlan] = []
            for book in list(books):
                for symbol, position in book.portfolio.open_positions().items():
                    plan = self._plan(book.session_id, symbol, position.quantity, free)
                    plans.append(plan)
                    if plan.note is not None:
                        log.warning("%s exit of %s: %s", tag, symbol, plan.note)
                    if plan.quantity <= 0:
                        continue
                    request = OrderRequest(
                        session_id=book.session_id,
                        symbol=symbol,
                        side=side_of(-position.quantity),
                        quantity=plan.quantity,
                        order_type=OrderType.MARKET,
                        tag=tag,
                        reason_text=tag,
                        reference_price=self._mark(symbol, position.avg_price),
                    )
                    results.append(self._place(request, check_risk=False))
                    if free is not None and is_spot(symbol) and position.quantity > 0:
                        asset = base_asset(symbol)
                        free[asset] = free.get(asset, _ZERO) - plan.quantity
            self.last_exits = plans
            return results

    # -- internals ---------------------------------------------------------------------
    def _free_balances(self) -> dict[str, Decimal] | None:
        try:
            return dict(self._broker.balances())
        except BrokerError as exc:
            log.error("flatten: cannot read venue balances (%s); sizing from the books", exc)
            return None

    def _mark(self, symbol: str, fallback: Decimal) -> Decimal:
        price = self._price_source(symbol) if self._price_source is not None else None
        return fallback if price is None or price <= 0 else price

    def _plan(
        self, session_id: str, symbol: str, position: Decimal, free: dict[str, Decimal] | None
    ) -> ExitPlan:
        held = abs(position)
        venue_free: Decimal | None = None
        qty, shortfall, note = held, _ZERO, None
        if free is not None and is_spot(symbol) and position > 0:
            venue_free = max(free.get(base_asset(symbol), _ZERO), _ZERO)
            if venue_free < held:
                qty, shortfall = venue_free, held - venue_free
                note = (
                    f"the venue holds {venue_free} {base_asset(symbol)} free, less than the "
                    f"{held} the session bought; selling what is there"
                )
        available = qty
        rules = self._rules_for(symbol) if self._rules_for is not None else None
        round_amount = getattr(rules, "round_amount", None)
        if callable(round_amount):
            qty = round_amount(qty)
        if rules is not None and qty > 0:
            probe = Order(
                "probe",
                symbol,
                side_of(-position),
                qty,
                created_at=self._clock.now(),
                order_type=OrderType.MARKET,
            )
            mark = self._mark(symbol, _ZERO)
            try:
                rules.check(probe, reference_price=mark if mark > 0 else None)
            except OrderRejected as exc:
                note = f"dust left ({qty} {symbol}): {exc.rule}: {exc.reason}"
                qty = _ZERO
        if qty < available and note is None:
            note = f"dust left ({available - qty} {symbol}): below the lot step"
        return ExitPlan(session_id, symbol, position, venue_free, qty, shortfall, note)
