"""PaperBroker: a deterministic simulated venue that implements ``core.ports.Broker``.

Execution model (everything on the simulated clock and the market events' ``ts_ms``):

* **Submit** checks the market rules (``MarketRules.check``: tick size, KRX price limit
  against ``prev_close``, lots, crypto precision/minimum notional) and the paper account
  (``paper.insufficient_funds``: cash for buys at a reserve price, holdings for sells
  unless ``allow_short``), then returns the venue id. Rejections raise ``OrderRejected``
  naming the rule and nothing is stored. Re-submitting a known client id returns the
  same venue id (a retry after ``TemporaryBrokerError`` never makes a second order).
  A buy reserves cash at its limit (market: the worst level its size needs in the book
  at submit; stop: max of that and the stop); ``balances()`` is net of reservations. A
  market order that fills later, after the book moved, may cost more than it reserved.
* **Latency**: an order goes live ``latency_ms`` (+ a seeded jitter in
  ``0..latency_jitter_ms``) after submit; a cancel takes effect as long after it was
  asked. Market events with ``ts_ms`` before that do not touch it. Timers due at or
  before an event's ``ts_ms`` run before the event is applied, so an arriving order
  meets the book as it stood when it arrived. ``advance_to(now_ms)`` runs timers
  without an event (a quiet market's DAY close).
* **Arrival** (going live, or a stop triggering) is a taker match: a market order walks
  the merged 10-level book (``paper_book``), one fill per level at that level's price,
  so ``Order.avg_fill_price`` is the VWAP and the walk is the slippage; a limit order
  takes only levels at its limit or better. IOC cancels what the book could not give
  now, FOK fills all now or cancels, GTC/DAY keep the rest working.
* **Working**: a market remainder walks each new quote/book; a resting limit fills
  *at its limit* (maker) when a quote/book crosses it (buy: ask <= limit) up to the
  displayed size through the limit, or when a trade prints at or through it, up to the
  trade's size. Stops trigger on the last/trade price (buy: last >= stop; sell: last <=
  stop) and then arrive as market (stop) or limit (stop-limit) orders.
* **Expiry**: DAY orders expire at the venue's session close in the instrument's time
  zone (``paper_session``: KRX 15:30 Asia/Seoul); ``auto_cancel_after_s`` expires any
  order still open N seconds after submit (a sliced child: after its release).
* **Fees**: each fill's ``fee`` is ``rules.fee + rules.tax`` on its notional (KRX: broker
  fee both sides plus the sell tax, cut to whole won per fill), in the instrument's
  quote currency. The broker's own ``PaperAccount`` books every fill.
* **Sliced orders** (``submit_sliced``): the parent is released as N children every T
  seconds (``paper_slicing``); fills come under the *parent's* client id (fill ids name
  the child), so the caller sees one order that fills gradually.
* **Orders of one symbol** match in time priority (submission order; an amend moves an
  order to the back). There is no randomness except the seeded latency jitter.

Callbacks: the listener is only ever called from ``on_market``/``advance_to``, never from
inside ``submit``, ``cancel`` or ``amend``. ``submit``'s return value is the acceptance
(no update for it); fills arrive through ``on_fill`` only; ``on_order_update`` reports
what a fill does not explain: cancelled (IOC/FOK remainder, by request), expired (DAY,
auto-cancel). ``amend`` applies at once and reports nothing (returning is the ack).
The broker updates its own state before calling the listener; a listener exception
propagates to the caller of ``on_market`` with the broker consistent.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import cast

from stom_desktop.adapters.brokers.paper_account import AccountView, PaperAccount
from stom_desktop.adapters.brokers.paper_book import MarketState, floor_to_lot, to_decimal
from stom_desktop.adapters.brokers.paper_funds import (
    check_funds,
    lot_step,
    reference_price,
    reserve_price,
)
from stom_desktop.adapters.brokers.paper_session import (
    ms_to_datetime,
    next_close_ms,
    session_close_for,
)
from stom_desktop.adapters.brokers.paper_slicing import plan_slices
from stom_desktop.adapters.brokers.paper_timers import NEVER, TimerMixin
from stom_desktop.adapters.brokers.paper_working import TimerKind, WorkingOrder
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError, OrderRejected
from stom_desktop.core.events import BarEvent, OrderBookEvent, QuoteEvent, TradeTick
from stom_desktop.core.instruments import Instrument
from stom_desktop.core.market_rules import MarketRules
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import (
    Order,
    OrderOperationError,
    OrderSnapshot,
    TimeInForce,
)
from stom_desktop.core.ports import Clock, ExecutionListener

_ZERO = Decimal(0)
_BOOK_EVENTS = frozenset({QuoteEvent, OrderBookEvent, TradeTick})


class PaperBroker(TimerMixin):
    """A simulated venue with its own cash and positions (see the module doc for the model).

    ``rules_for`` is one ``MarketRules`` for every symbol or a function of the symbol;
    ``instruments`` (mapping or function, optional) supplies quote currency, lot size and
    time zone; without it the broker uses ``currency``, the rules' lot and KRX hours.
    ``cash`` is a ``Decimal`` in ``currency`` or a mapping currency -> amount.
    """

    def __init__(
        self,
        clock: Clock,
        rules_for: Callable[[str], MarketRules] | MarketRules,
        *,
        cash: Decimal | Mapping[str, Decimal] = Decimal(100_000_000),
        currency: str = "KRW",
        positions: Mapping[str, Decimal] | None = None,
        instruments: Callable[[str], Instrument | None] | Mapping[str, Instrument] | None = None,
        prev_close: Mapping[str, Decimal] | None = None,
        latency_ms: int = 0,
        latency_jitter_ms: int = 0,
        seed: int = 0,
        auto_cancel_after_s: float | None = None,
        allow_short: bool = False,
        venue_prefix: str = "P",
    ) -> None:
        if latency_ms < 0 or latency_jitter_ms < 0:
            raise ValueError("latency_ms and latency_jitter_ms must be >= 0")
        if auto_cancel_after_s is not None and auto_cancel_after_s <= 0:
            raise ValueError(f"auto_cancel_after_s must be > 0, got {auto_cancel_after_s}")
        self._clock = clock
        self._rules_source = rules_for
        self._rules_cache: dict[str, MarketRules] = {}
        self._instrument_source = instruments
        self._currency = currency
        self._account = PaperAccount(
            {currency: cash} if isinstance(cash, Decimal) else dict(cash), positions
        )
        self._prev_close: dict[str, Decimal] = dict(prev_close or {})
        self._latency_ms = latency_ms
        self._jitter_ms = latency_jitter_ms
        self._rng = random.Random(seed)
        self._auto_cancel_ms = (
            None if auto_cancel_after_s is None else round(auto_cancel_after_s * 1000)
        )
        self._allow_short = allow_short
        self._prefix = venue_prefix
        self._listener: ExecutionListener | None = None
        self._orders: dict[str, WorkingOrder] = {}  # every order and child ever accepted
        self._open: dict[str, WorkingOrder] = {}  # open top-level orders, in submit order
        self._markets: dict[str, MarketState] = {}
        self._active: dict[str, list[WorkingOrder]] = {}  # live matchable orders per symbol
        self._timers: list[tuple[int, int, TimerKind, WorkingOrder, int]] = []
        self._next_deadline = NEVER
        self._seq = 0
        self._timer_seq = 0
        self._trade_left = _ZERO

    # -- Broker port -------------------------------------------------------------------
    def set_listener(self, listener: ExecutionListener) -> None:
        """Where fills and order updates go."""
        self._listener = listener

    def submit(self, order: Order) -> str:
        """Accept a ``NEW`` order (rules and funds checked); returns the venue order id."""
        return self._accept(order, None)

    def submit_sliced(self, order: Order, *, slices: int, interval_s: float) -> str:
        """Accept ``order`` as a parent released in ``slices`` children every ``interval_s``.

        Every child is checked against the market rules now (a child below a minimum
        notional rejects the parent with that rule; a bad split with ``paper.slices``).
        The parent cannot be amended; cancelling it cancels the children.
        """
        return self._accept(order, (slices, interval_s))

    def cancel(self, client_order_id: str) -> None:
        """Request a cancel; it takes effect after the latency (reported as an update)."""
        w = self._lookup(client_order_id, "cancel")
        if not w.order.is_open:
            raise OrderRejected(
                f"cannot cancel: order is already {w.order.status.value}",
                client_order_id=client_order_id,
                rule="paper.not_open",
            )
        if w.cancel_pending:
            return  # the first request is on its way
        now = self._clock.now_ms()
        w.order.request_cancel(ms_to_datetime(now))
        w.cancel_pending = True
        self._schedule(now + self._latency(), TimerKind.CANCEL, w)

    def amend(
        self,
        client_order_id: str,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None:
        """Change quantity and/or limit price now, keeping the client id.

        The new values pass the same rule and funds checks as a submit. A quantity not
        above the filled quantity is refused (``paper.amend_below_filled``). The order
        loses time priority and is matched as a new arrival at the next market event.
        """
        w = self._lookup(client_order_id, "amend")
        o = w.order
        if w.sliced:
            raise OrderRejected(
                "a sliced order cannot be amended; cancel it and submit a new one",
                client_order_id=client_order_id,
                rule="paper.amend_sliced",
            )
        if not o.is_open or w.cancel_pending:
            state = "being cancelled" if o.is_open else f"already {o.status.value}"
            raise OrderRejected(
                f"cannot amend: order is {state}",
                client_order_id=client_order_id,
                rule="paper.not_open",
            )
        if quantity is not None and quantity <= o.filled_quantity:
            raise OrderRejected(
                f"cannot amend quantity to {quantity}: {o.filled_quantity} of {o.quantity} "
                "already filled; the new quantity must exceed the filled quantity "
                "(cancel to stop the rest)",
                client_order_id=client_order_id,
                rule="paper.amend_below_filled",
            )
        new_qty = o.quantity if quantity is None else quantity
        new_price = o.price if price is None else price
        probe = Order(
            o.client_order_id,
            o.symbol,
            o.side,
            new_qty,
            created_at=o.created_at,
            order_type=o.order_type,
            time_in_force=o.time_in_force,
            price=new_price,
            stop_price=o.stop_price,
        )
        market = self._markets.get(o.symbol)
        w.rules.check(
            probe,
            reference_price=reference_price(probe, w.rules, market),
            prev_close=self._prev_close.get(o.symbol),
        )
        reserve = new_price if o.side is Side.BUY and new_price is not None else w.reserve_price
        check_funds(
            probe,
            new_qty - o.filled_quantity,
            reserve,
            w.rules,
            w.currency,
            account=self._account,
            open_orders=self._open.values(),
            exclude=w,
            allow_short=self._allow_short,
        )
        try:
            o.amend(ms_to_datetime(self._clock.now_ms()), quantity=quantity, price=price)
        except OrderOperationError as exc:
            raise OrderRejected(
                exc.message, client_order_id=client_order_id, rule="paper.amend"
            ) from exc
        w.reserve_price = reserve
        w.set_limit()
        if w.live and w.triggered:
            w.arriving = True
            active = self._active[o.symbol]
            active.remove(w)
            active.append(w)

    def fetch_order(self, client_order_id: str) -> OrderSnapshot | None:
        """The broker's view of an order or a sliced child; ``None`` if never accepted."""
        w = self._orders.get(client_order_id)
        return None if w is None else w.order.snapshot()

    def open_orders(self, symbol: str | None = None) -> list[OrderSnapshot]:
        """Open top-level orders (children are inside their parent), in submit order."""
        return [
            w.order.snapshot()
            for w in self._open.values()
            if symbol is None or w.order.symbol == symbol
        ]

    def balances(self) -> dict[str, Decimal]:
        """Free cash per currency and free quantity per held symbol (net of open orders)."""
        return self.account().free()

    # -- extras ------------------------------------------------------------------------
    def account(self) -> AccountView:
        """Cash, positions, what open orders reserve, and fees paid."""
        reserved_cash: dict[str, Decimal] = {}
        reserved_pos: dict[str, Decimal] = {}
        for w in self._open.values():
            if w.order.side is Side.BUY:
                reserved_cash[w.currency] = reserved_cash.get(w.currency, _ZERO) + (
                    w.reserved_cash()
                )
            else:
                sym = w.order.symbol
                reserved_pos[sym] = reserved_pos.get(sym, _ZERO) + w.order.remaining_quantity
        return self._account.view(reserved_cash, reserved_pos)

    def children(self, client_order_id: str) -> list[OrderSnapshot]:
        """Snapshots of the released children of a sliced order, in release order."""
        w = self._lookup(client_order_id, "children")
        return [c.order.snapshot() for c in w.children]

    def set_prev_close(self, symbol: str, price: Decimal) -> None:
        """The previous close that bounds KRX daily price limits for ``symbol``."""
        self._prev_close[symbol] = price

    def advance_to(self, now_ms: int | None = None) -> None:
        """Run every timer due by ``now_ms`` (default: the clock) without a market event."""
        self._run_timers(self._clock.now_ms() if now_ms is None else now_ms)

    def on_market(self, event: QuoteEvent | TradeTick | OrderBookEvent | BarEvent) -> None:
        """Feed one market event (called by the kernel for every quote, book and trade).

        Cheap when the symbol has no working order: a few attribute writes. Bars are
        ignored (orders fill against quotes, books and trades only).
        """
        kind = type(event)
        if kind is QuoteEvent:
            # The quote path (every quote of every symbol): tuple indexing instead of the
            # NamedTuple properties; (symbol, ts_ms, bid, ask, last, ...) as QuoteEvent.
            # No ``typing.cast`` call here: it is a real function call per quote.
            quote: QuoteEvent = event  # type: ignore[assignment]
            sym, ts, _, _, last_q, _, _ = quote
            if ts >= self._next_deadline:
                self._run_timers(ts)
            m = self._markets.get(sym)
            if m is None:
                m = self._markets[sym] = MarketState(sym)
            m.quote = event  # type: ignore[assignment]
            m.taken = None
            if last_q > 0:
                m.last = last_q
            active = self._active.get(sym)
            if active:
                quote_last = last_q if last_q > 0 else None
                for w in tuple(active):
                    if w.live:
                        self._step(w, m, ts, quote_last, None)
            return
        ts = event.ts_ms
        if ts >= self._next_deadline:
            self._run_timers(ts)
        if kind not in _BOOK_EVENTS:
            if kind is BarEvent:
                return
            raise TypeError(f"PaperBroker.on_market: unsupported event {kind.__name__}")
        sym = event.symbol
        m = self._markets.get(sym)
        if m is None:
            m = self._markets[sym] = MarketState(sym)
        last: float | None = None
        trade: TradeTick | None = None
        if kind is QuoteEvent:
            m.quote = event  # type: ignore[assignment]
            m.taken = None
            if event.last > 0:  # type: ignore[union-attr]
                last = m.last = event.last  # type: ignore[union-attr]
        elif kind is OrderBookEvent:
            m.book = event  # type: ignore[assignment]
            m.quote = None
            m.taken = None
        else:
            trade = event  # type: ignore[assignment]
            last = m.last = event.price  # type: ignore[union-attr]
        active = self._active.get(sym)
        if active:
            if trade is not None:
                self._trade_left = floor_to_lot(to_decimal(trade.size), active[0].lot)
            for w in tuple(active):
                if w.live:
                    self._step(w, m, ts, last, trade)

    # -- submit internals ----------------------------------------------------------------
    def _accept(self, order: Order, slicing: tuple[int, float] | None) -> str:
        cid = order.client_order_id
        if self._listener is None:
            raise BrokerError(
                "no execution listener set (call set_listener first)", client_order_id=cid
            )
        known = self._orders.get(cid)
        if known is not None:
            venue_id = known.order.venue_order_id
            assert venue_id is not None  # set when the broker accepted it
            return venue_id
        if order.status is not OrderStatus.NEW:
            raise BrokerError(
                f"submit: order is {order.status.value}; only new orders can be sent",
                client_order_id=cid,
            )
        sym = order.symbol
        rules = self._rules(sym)
        instrument = self._instrument(sym)
        lot = lot_step(rules, instrument)
        currency = instrument.quote_currency if instrument is not None else self._currency
        market = self._markets.get(sym)
        prev_close = self._prev_close.get(sym)
        rules.check(
            order, reference_price=reference_price(order, rules, market), prev_close=prev_close
        )
        plan = []
        if slicing is not None:
            slices, interval_s = slicing
            try:
                plan = plan_slices(cid, order.quantity, slices, interval_s, lot)
            except ValueError as exc:
                raise OrderRejected(str(exc), client_order_id=cid, rule="paper.slices") from exc
            for qty in sorted({c.quantity for c in plan}):
                child = Order(
                    cid,
                    sym,
                    order.side,
                    qty,
                    created_at=order.created_at,
                    order_type=order.order_type,
                    time_in_force=order.time_in_force,
                    price=order.price,
                    stop_price=order.stop_price,
                )
                rules.check(
                    child,
                    reference_price=reference_price(child, rules, market),
                    prev_close=prev_close,
                )
        reserve = reserve_price(order, rules, lot, market)
        check_funds(
            order,
            order.quantity,
            reserve,
            rules,
            currency,
            account=self._account,
            open_orders=self._open.values(),
            exclude=None,
            allow_short=self._allow_short,
        )

        now = self._clock.now_ms()
        self._seq += 1
        # The broker's own copy (the caller's order is never touched); built directly,
        # not via snapshot()/restore(), which cost ~2x more on this hot path.
        own = Order(
            cid,
            sym,
            order.side,
            order.quantity,
            created_at=order.created_at,
            order_type=order.order_type,
            time_in_force=order.time_in_force,
            price=order.price,
            stop_price=order.stop_price,
            session_id=order.session_id,
            tag=order.tag,
            parent_id=order.parent_id,
        )
        venue_id = f"{self._prefix}{self._seq:08d}"
        own.submit(ms_to_datetime(now), venue_id)
        w = WorkingOrder(own, self._seq, rules, lot, currency, reserve)
        self._orders[cid] = w
        self._open[cid] = w
        if plan:
            w.sliced = True
            w.plan = plan
            w.slices_left = len(plan)
            for child_slice in plan:
                self._schedule(
                    now + child_slice.release_after_ms, TimerKind.RELEASE, w, child_slice.index
                )
        else:
            self._schedule(now + self._latency(), TimerKind.ACTIVATE, w)
            if self._auto_cancel_ms is not None:
                self._schedule(now + self._auto_cancel_ms, TimerKind.AUTO_CANCEL, w)
        if own.time_in_force is TimeInForce.DAY:
            zone, close = session_close_for(instrument)
            self._schedule(next_close_ms(now, zone, close), TimerKind.EXPIRE_DAY, w)
        return venue_id

    # -- lookups -------------------------------------------------------------------------
    def _lookup(self, client_order_id: str, operation: str) -> WorkingOrder:
        w = self._orders.get(client_order_id)
        if w is None:
            raise OrderRejected(
                f"{operation}: unknown order",
                client_order_id=client_order_id,
                rule="paper.unknown_order",
            )
        if w.parent is not None and operation != "children":
            raise OrderRejected(
                f"{operation}: this is a child of sliced order {w.parent.cid}; address the parent",
                client_order_id=client_order_id,
                rule="paper.child_order",
            )
        return w

    def _rules(self, symbol: str) -> MarketRules:
        rules = self._rules_cache.get(symbol)
        if rules is None:
            source = self._rules_source
            # A MarketRules value has check/fee; anything else is a function of the symbol.
            if hasattr(source, "check") and hasattr(source, "fee"):
                rules = cast("MarketRules", source)
            else:
                rules = source(symbol)
            self._rules_cache[symbol] = rules
        return rules

    def _instrument(self, symbol: str) -> Instrument | None:
        source = self._instrument_source
        if source is None:
            return None
        if isinstance(source, Mapping):
            return source.get(symbol)
        return source(symbol)
