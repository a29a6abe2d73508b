"""The paper broker's matching: arrival (taker), working orders, fills and closing.

Split from ``paper.py`` (which owns submit, timers and the port); the rules are described
in ``paper``'s module docstring. Every method here changes the broker's own state first
and calls the listener last.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from itertools import takewhile

from stom_desktop.adapters.brokers.paper_account import PaperAccount
from stom_desktop.adapters.brokers.paper_book import (
    Level,
    MarketState,
    is_through,
    surely_not_through,
    to_decimal,
)
from stom_desktop.adapters.brokers.paper_session import ms_to_datetime
from stom_desktop.adapters.brokers.paper_working import WorkingOrder
from stom_desktop.core.enums import Side
from stom_desktop.core.events import TradeTick
from stom_desktop.core.fills import Fill
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import TimeInForce
from stom_desktop.core.ports import ExecutionListener

_ZERO = Decimal(0)


class MatchingMixin:
    """Matching steps of ``PaperBroker`` (state lives on the broker)."""

    _listener: ExecutionListener | None
    _account: PaperAccount
    _active: dict[str, list[WorkingOrder]]
    _open: dict[str, WorkingOrder]
    _trade_left: Decimal

    def _step(
        self,
        w: WorkingOrder,
        m: MarketState,
        ts: int,
        last: float | None,
        trade: TradeTick | None,
    ) -> None:
        """Advance one live order on one market update (or on its arrival)."""
        if not w.triggered:
            stop = w.order.stop_price
            assert stop is not None  # only stop orders start untriggered
            # A buy stop waits while last < stop; a float check first, Decimal when close.
            # (A stop is "through" from the other side: the buy stop's trigger is a
            # sell limit's fill condition, last >= stop.)
            waiting_side = Side.SELL if w.side is Side.BUY else Side.BUY
            if last is None or surely_not_through(waiting_side, last, w.stop_f):
                return
            last_px = to_decimal(last)
            if not (last_px >= stop if w.side is Side.BUY else last_px <= stop):
                return
            w.triggered = True
            w.arriving = True  # a triggered stop arrives as a market/limit order now
        if w.arriving:
            w.arriving = False
            self._take(w, m, ts, arrival=True)
        elif trade is not None:
            if w.limit is not None:
                self._trade_fill(w, trade, ts)
        elif w.limit is None:
            self._take(w, m, ts, arrival=False)  # market remainder walks the new book
        else:
            self._rest_fill(w, m, ts)

    def _take(self, w: WorkingOrder, m: MarketState, ts: int, *, arrival: bool) -> None:
        """Taker match: walk the book (within the limit, if any) at each level's price."""
        o = w.order
        side, limit = o.side, w.limit
        levels: Iterable[Level] = m.levels(side, w.rules, w.lot)
        if limit is not None:  # levels come best first: stop at the first beyond the limit
            levels = takewhile(lambda lv: is_through(side, lv[1], limit), levels)
        need = o.remaining_quantity
        tif = o.time_in_force
        if arrival and tif is TimeInForce.FOK:
            levels = list(levels)
            available = sum((lv[2] for lv in levels), _ZERO)
            if available < need:
                where = "in the book" if limit is None else f"at {limit} or better"
                self._close(
                    w,
                    ts,
                    OrderStatus.CANCELLED,
                    f"fok: only {available} of {need} available {where}",
                )
                return
        for raw_px, px, size in levels:
            qty = min(need, size)
            m.take(side, raw_px, qty)
            need -= qty
            self._fill(w, qty, px, ts)
            if need <= 0 or not o.is_open:
                break
        if arrival and tif is TimeInForce.IOC and o.is_open:
            self._close(
                w,
                ts,
                OrderStatus.CANCELLED,
                f"ioc: {o.remaining_quantity} of {o.quantity} not available now",
            )

    def _rest_fill(self, w: WorkingOrder, m: MarketState, ts: int) -> None:
        """A resting limit crossed by the book fills at its limit, up to the size through it."""
        o = w.order
        side, limit = o.side, w.limit
        assert limit is not None and w.limit_f is not None
        best = m.best_raw(side)
        if best is None or surely_not_through(side, best, w.limit_f):
            return  # the usual case: the market is not at the limit
        need = o.remaining_quantity
        total = _ZERO
        for raw_px, px, size in m.levels(side, w.rules, w.lot):
            if not is_through(side, px, limit):
                break
            qty = min(need - total, size)
            m.take(side, raw_px, qty)
            total += qty
            if total >= need:
                break
        if total > 0:
            self._fill(w, total, limit, ts)

    def _trade_fill(self, w: WorkingOrder, trade: TradeTick, ts: int) -> None:
        """A resting limit fills at its limit when a trade prints at or through it."""
        limit = w.limit
        assert limit is not None and w.limit_f is not None
        if surely_not_through(w.side, trade.price, w.limit_f):
            return
        if not is_through(w.side, w.rules.round_price(to_decimal(trade.price)), limit):
            return
        qty = min(w.order.remaining_quantity, self._trade_left)
        if qty <= 0:
            return
        self._trade_left -= qty
        self._fill(w, qty, limit, ts)

    def _fill(self, w: WorkingOrder, qty: Decimal, price: Decimal, ts: int) -> None:
        """Book one execution on the order (and its parent) and the account, then report."""
        o = w.order
        when = ms_to_datetime(ts)
        notional = qty * price
        fee = w.rules.fee(o.side, notional) + w.rules.tax(o.side, notional)
        w.fill_seq += 1
        parent = w.parent
        top = w if parent is None else parent
        fill = Fill(
            fill_id=f"{o.venue_order_id}-{w.fill_seq}",
            client_order_id=top.order.client_order_id,
            symbol=o.symbol,
            side=o.side,
            quantity=qty,
            price=price,
            fee=fee,
            fee_currency=w.currency,
            ts=when,
        )
        o.apply_fill(qty, price, when)
        if parent is not None:
            parent.order.apply_fill(qty, price, when)
        self._account.apply_fill(fill)
        if not o.is_open:
            self._deactivate(w)
        if not top.order.is_open:
            self._open.pop(top.order.client_order_id, None)
        assert self._listener is not None  # submit refuses orders without one
        self._listener.on_fill(fill)
        if parent is not None and not o.is_open:
            self._child_done(parent, ts)

    def _close(self, w: WorkingOrder, ts: int, status: OrderStatus, reason: str) -> None:
        """Cancel or expire an open order (a parent with all its children) and report it."""
        o = w.order
        if not o.is_open:
            return
        when = ms_to_datetime(ts)
        if w.sliced:
            w.closing = True
            w.slices_left = 0
            for child in w.children:
                self._close(child, ts, status, reason)
        if status is OrderStatus.CANCELLED:
            o.cancel(when, reason)
        else:
            o.expire(when, reason)
        w.cancel_pending = False
        self._deactivate(w)
        parent = w.parent
        if parent is not None:  # children are internal: the parent reports
            if not parent.closing:
                self._child_done(parent, ts)
            return
        self._open.pop(o.client_order_id, None)
        assert self._listener is not None
        self._listener.on_order_update(o.snapshot())

    def _child_done(self, parent: WorkingOrder, ts: int) -> None:
        """Close a sliced parent once no child is left to release or working."""
        p = parent.order
        if not p.is_open or parent.slices_left > 0:
            return
        if any(c.order.is_open for c in parent.children):
            return
        expired = any(c.order.status is OrderStatus.EXPIRED for c in parent.children)
        last = parent.children[-1].order
        self._close(
            parent,
            ts,
            OrderStatus.EXPIRED if expired else OrderStatus.CANCELLED,
            f"sliced order ended with {p.filled_quantity} of {p.quantity} filled "
            f"(last child {last.client_order_id}: {last.status.value}, {last.reason})",
        )

    def _deactivate(self, w: WorkingOrder) -> None:
        if not w.live:
            return
        w.live = False
        active = self._active.get(w.order.symbol)
        if active is not None:
            active.remove(w)
            if not active:
                del self._active[w.order.symbol]
