"""Fakes for the engine-core tests: a list feed, a recording router/broker, strategies."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.events import FillEvent, MarketEvent, OrderUpdateEvent, TradeTick
from stom_desktop.core.fills import Fill
from stom_desktop.core.orders import Order, OrderType
from stom_desktop.engine.bus import EventBus
from stom_desktop.engine.requests import OrderRequest, PlaceResult
from stom_desktop.strategy import Indicators, Param, Signals, Strategy

T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
MINUTE = 60_000


class ListFeed:
    """A feed over a fixed list of events, ``batch`` per poll; ``fail_after`` polls raise."""

    def __init__(
        self, events: Sequence[MarketEvent], batch: int = 100, fail_after: int | None = None
    ) -> None:
        self.events = list(events)
        self.pos = 0
        self.batch = batch
        self.polls = 0
        self.fail_after = fail_after
        self.subscribed: list[str] = []
        self.closed = False

    def subscribe(self, symbols: Sequence[str]) -> None:
        self.subscribed.extend(symbols)

    def poll(self, max_events: int = 1024) -> Sequence[MarketEvent]:
        self.polls += 1
        if self.fail_after is not None and self.polls > self.fail_after:
            raise OSError("feed connection lost")
        out = self.events[self.pos : self.pos + min(max_events, self.batch)]
        self.pos += len(out)
        return out

    @property
    def finished(self) -> bool:
        return self.pos >= len(self.events)

    def close(self) -> None:
        self.closed = True


def ticks_for_closes(
    symbol: str, closes: Sequence[float], *, start_ms: int = T0, per_bar: int = 2
) -> list[TradeTick]:
    """``per_bar`` ticks per minute at each close price (open == close bars)."""
    out = []
    for i, price in enumerate(closes):
        for k in range(per_bar):
            out.append(TradeTick(symbol, start_ms + i * MINUTE + k * 1000, float(price), 1.0))
    return out


class FakeRouter:
    """Order router + broker: market orders fill at once at ``price_of``; others rest.

    Publishes ``FillEvent``/``OrderUpdateEvent`` on the bus like the real order manager.
    ``trigger(cid, price)`` fills a resting order; ``refuse`` makes ``place`` say no.
    """

    def __init__(
        self, bus: EventBus, clock: SimulatedClock, price_of: Callable[[str], float | None]
    ) -> None:
        self.bus = bus
        self.clock = clock
        self.price_of = price_of
        self.requests: list[OrderRequest] = []
        self.cancelled: list[str] = []
        self.resting: dict[str, tuple[Order, str]] = {}
        self.refuse: str | None = None
        self._ids = itertools.count(1)

    def place(self, request: OrderRequest) -> PlaceResult:
        self.requests.append(request)
        if self.refuse is not None:
            return PlaceResult(False, None, reason=self.refuse, rule="test.refuse")
        cid = f"C{next(self._ids)}"
        order = Order(
            cid,
            request.symbol,
            request.side,
            request.quantity,
            created_at=self.clock.now(),
            order_type=request.order_type,
            price=request.price,
            stop_price=request.stop_price,
            session_id=request.session_id,
            tag=request.tag,
        )
        order.submit(self.clock.now(), cid)
        self.resting[cid] = (order, request.session_id)
        if request.order_type is OrderType.MARKET:
            price = self.price_of(request.symbol)
            assert price is not None
            self.trigger(cid, price)
        return PlaceResult(True, cid, status=order.status)

    def cancel(self, client_order_id: str) -> None:
        self.cancelled.append(client_order_id)
        entry = self.resting.pop(client_order_id, None)
        if entry is not None:
            order, session = entry
            order.cancel(self.clock.now())
            self.bus.publish(OrderUpdateEvent(session, order.snapshot(), self.clock.now_ms()))

    def trigger(self, cid: str, price: float) -> None:
        order, session = self.resting.pop(cid)
        now = self.clock.now()
        px = Decimal(price)
        order.apply_fill(order.quantity, px, now)
        fill = Fill(
            f"F{cid}", cid, order.symbol, order.side, order.quantity, px, Decimal(0), "KRW", now
        )
        self.bus.publish(FillEvent(session, fill, self.clock.now_ms()))
        self.bus.publish(OrderUpdateEvent(session, order.snapshot(), self.clock.now_ms()))

    def by_type(self, kind: OrderType) -> list[OrderRequest]:
        return [r for r in self.requests if r.order_type is kind]


class Scripted(Strategy):
    """Enters on bars listed in ``ENTRIES`` (by open time), exits on ``EXITS``.

    Causal by construction: element i depends only on bar i's timestamp.
    """

    name = "scripted"
    period = Param(3, 1, 50, 1, doc="declared warm-up")
    ENTRIES: frozenset[int] = frozenset()
    EXITS: frozenset[int] = frozenset()

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        ts = bars.ts
        entries = np.isin(ts, np.fromiter(self.ENTRIES, dtype=np.int64, count=len(self.ENTRIES)))
        exits = np.isin(ts, np.fromiter(self.EXITS, dtype=np.int64, count=len(self.EXITS)))
        return Signals(entries=entries, exits=exits)


def scripted(
    entries: Sequence[int] = (),
    exits: Sequence[int] = (),
    **params: Any,
) -> Strategy:
    """A ``Scripted`` subclass instance entering/exiting on the given bar indexes."""
    cls = type(
        "ScriptedX",
        (Scripted,),
        {
            "ENTRIES": frozenset(T0 + i * MINUTE for i in entries),
            "EXITS": frozenset(T0 + i * MINUTE for i in exits),
            **{
                k: v
                for k, v in params.items()
                if k in ("stop_loss", "take_profit", "trailing_stop")
            },
        },
    )
    strategy: Strategy = cls()
    return strategy


class Exploding(Strategy):
    """Raises inside ``signals`` once ``boom_at`` bars exist."""

    name = "exploding"
    boom_at = Param(5, 1, 1000, 1, doc="history length that triggers the crash")

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        if len(bars) >= self.p.boom_at:
            raise ZeroDivisionError("strategy bug")
        return Signals(entries=np.zeros(len(bars), dtype=np.bool_))


class MemoryStore:
    """A ``SessionStore`` recording every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, str, datetime | None, str | None]] = []

    def set_status(
        self, session_id: int, status: str, *, at: datetime | None = None, error: str | None = None
    ) -> None:
        self.calls.append((session_id, status, at, error))
