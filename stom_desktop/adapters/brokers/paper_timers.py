"""The paper broker's timers: latency arrival, cancel landing, DAY close, auto-cancel, slices.

Timers live in one heap ordered by (time, insertion), so equal times fire in the order
they were scheduled; ``PaperBroker.on_market`` runs every timer due at or before an
event's ``ts_ms`` before applying the event.
"""

from __future__ import annotations

import heapq
import random

from stom_desktop.adapters.brokers.paper_book import MarketState
from stom_desktop.adapters.brokers.paper_matching import MatchingMixin
from stom_desktop.adapters.brokers.paper_session import ms_to_datetime, session_close_for
from stom_desktop.adapters.brokers.paper_working import TimerKind, WorkingOrder
from stom_desktop.core.instruments import Instrument
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order

NEVER = 2**63


class TimerMixin(MatchingMixin):
    """Scheduling and firing of the broker's timed actions (state lives on the broker)."""

    _timers: list[tuple[int, int, TimerKind, WorkingOrder, int]]
    _timer_seq: int
    _next_deadline: int
    _seq: int
    _latency_ms: int
    _jitter_ms: int
    _rng: random.Random
    _auto_cancel_ms: int | None
    _orders: dict[str, WorkingOrder]
    _markets: dict[str, MarketState]

    def _instrument(self, symbol: str) -> Instrument | None:
        raise NotImplementedError("PaperBroker provides _instrument")

    def _latency(self) -> int:
        if self._jitter_ms == 0:
            return self._latency_ms
        return self._latency_ms + self._rng.randint(0, self._jitter_ms)

    def _schedule(self, at_ms: int, kind: TimerKind, w: WorkingOrder, arg: int = 0) -> None:
        self._timer_seq += 1
        heapq.heappush(self._timers, (at_ms, self._timer_seq, kind, w, arg))
        self._next_deadline = min(self._next_deadline, at_ms)

    def _run_timers(self, now_ms: int) -> None:
        timers = self._timers
        while timers and timers[0][0] <= now_ms:
            at, _, kind, w, arg = heapq.heappop(timers)
            self._next_deadline = timers[0][0] if timers else NEVER
            if w.order.is_open:
                self._fire(at, kind, w, arg)
        self._next_deadline = timers[0][0] if timers else NEVER

    def _fire(self, at: int, kind: TimerKind, w: WorkingOrder, arg: int) -> None:
        if kind is TimerKind.ACTIVATE:
            self._activate(w, at)
        elif kind is TimerKind.CANCEL:
            self._close(w, at, OrderStatus.CANCELLED, "cancelled on request")
        elif kind is TimerKind.EXPIRE_DAY:
            zone, close = session_close_for(self._instrument(w.order.symbol))
            self._close(
                w,
                at,
                OrderStatus.EXPIRED,
                f"day order expired at the session close {close:%H:%M} {zone.key}",
            )
        elif kind is TimerKind.AUTO_CANCEL:
            assert self._auto_cancel_ms is not None
            self._close(
                w,
                at,
                OrderStatus.EXPIRED,
                f"auto-cancel: still open {self._auto_cancel_ms / 1000:g} s after submit",
            )
        else:
            self._release(w, at, arg)

    def _activate(self, w: WorkingOrder, at: int) -> None:
        w.live = True
        w.arriving = w.triggered
        sym = w.order.symbol
        self._active.setdefault(sym, []).append(w)
        m = self._markets.get(sym)
        if m is None:
            m = self._markets[sym] = MarketState(sym)
        self._step(w, m, at, m.last, None)

    def _release(self, parent: WorkingOrder, at: int, index: int) -> None:
        if parent.closing:
            return
        plan = parent.plan[index - 1]
        p = parent.order
        when = ms_to_datetime(at)
        child = Order(
            plan.client_order_id,
            p.symbol,
            p.side,
            plan.quantity,
            created_at=when,
            order_type=p.order_type,
            time_in_force=p.time_in_force,
            price=p.price,
            stop_price=p.stop_price,
            session_id=p.session_id,
            tag=p.tag,
            parent_id=p.client_order_id,
        )
        child.submit(when, f"{p.venue_order_id}.{index:02d}")
        self._seq += 1
        cw = WorkingOrder(
            child, self._seq, parent.rules, parent.lot, parent.currency, None, parent=parent
        )
        parent.children.append(cw)
        parent.slices_left -= 1
        self._orders[child.client_order_id] = cw
        self._schedule(at + self._latency(), TimerKind.ACTIVATE, cw)
        if self._auto_cancel_ms is not None:
            self._schedule(at + self._auto_cancel_ms, TimerKind.AUTO_CANCEL, cw)
