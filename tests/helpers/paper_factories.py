"""Factories for the PaperBroker tests: a recording listener, market events, a harness."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from stom_desktop.adapters.brokers.paper import PaperBroker
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.events import OrderBookEvent, QuoteEvent, TradeTick
from stom_desktop.core.fills import Fill
from stom_desktop.core.market_rules import KrxStockRules, MarketRules
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderSnapshot, OrderType, TimeInForce

#: Monday 2026-01-05 09:00 in Seoul (00:00 UTC): KRX is open until 15:30 local.
T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)
SYM = "005930"

D = Decimal
DEFAULT_CASH = D(100_000_000)


@dataclass
class Recorder:
    """An ExecutionListener that keeps everything it is told, in order."""

    fills: list[Fill] = field(default_factory=list)
    updates: list[OrderSnapshot] = field(default_factory=list)
    log: list[tuple[str, Any]] = field(default_factory=list)

    def on_fill(self, fill: Fill) -> None:
        self.fills.append(fill)
        self.log.append(("fill", fill))

    def on_order_update(self, order: OrderSnapshot) -> None:
        self.updates.append(order)
        self.log.append(("update", order))

    def fills_of(self, cid: str) -> list[tuple[Decimal, Decimal]]:
        """(quantity, price) of the fills reported for ``cid``."""
        return [(f.quantity, f.price) for f in self.fills if f.client_order_id == cid]

    def last_update(self, cid: str) -> OrderSnapshot:
        return [u for u in self.updates if u.client_order_id == cid][-1]


class Harness:
    """A PaperBroker on a simulated clock with a recorder, plus event helpers."""

    def __init__(
        self,
        rules: MarketRules | None = None,
        *,
        start_ms: int = T0_MS,
        cash: Decimal = DEFAULT_CASH,
        **kwargs: Any,
    ) -> None:
        self.clock = SimulatedClock(start_ms)
        self.rec = Recorder()
        self.broker = PaperBroker(
            self.clock, rules if rules is not None else KrxStockRules(), cash=cash, **kwargs
        )
        self.broker.set_listener(self.rec)
        self._n = 0

    @property
    def now(self) -> int:
        return self.clock.now_ms()

    def at(self, ms: int) -> None:
        """Move the clock to ``T0 + ms``."""
        self.clock.set_ms(T0_MS + ms)

    def order(
        self,
        side: Side | str = Side.BUY,
        qty: Decimal | int | str = 10,
        *,
        symbol: str = SYM,
        order_type: OrderType = OrderType.MARKET,
        tif: TimeInForce = TimeInForce.GTC,
        price: Decimal | int | str | None = None,
        stop: Decimal | int | str | None = None,
        cid: str | None = None,
    ) -> Order:
        self._n += 1
        return Order(
            cid or f"stom-t1-{self._n:06d}",
            symbol,
            Side(side),
            qty,
            created_at=self.clock.now(),
            order_type=order_type,
            time_in_force=tif,
            price=price,
            stop_price=stop,
        )

    def submit(self, *args: Any, **kwargs: Any) -> str:
        """Build and submit an order; returns its client id."""
        order = self.order(*args, **kwargs)
        self.broker.submit(order)
        return order.client_order_id

    def book(
        self,
        asks: Sequence[tuple[float, float]] = (),
        bids: Sequence[tuple[float, float]] = (),
        *,
        symbol: str = SYM,
    ) -> None:
        """Send an order book at the current clock time."""
        self.broker.on_market(
            OrderBookEvent(
                symbol,
                self.now,
                tuple(p for p, _ in bids),
                tuple(s for _, s in bids),
                tuple(p for p, _ in asks),
                tuple(s for _, s in asks),
            )
        )

    def quote(
        self,
        bid: float,
        ask: float,
        *,
        last: float = 0.0,
        bid_size: float = 100.0,
        ask_size: float = 100.0,
        symbol: str = SYM,
    ) -> None:
        self.broker.on_market(QuoteEvent(symbol, self.now, bid, ask, last, bid_size, ask_size))

    def trade(self, price: float, size: float = 1.0, *, symbol: str = SYM) -> None:
        self.broker.on_market(TradeTick(symbol, self.now, price, size))

    def status(self, cid: str) -> OrderStatus:
        snap = self.broker.fetch_order(cid)
        assert snap is not None
        return snap.status

    def snap(self, cid: str) -> OrderSnapshot:
        snap = self.broker.fetch_order(cid)
        assert snap is not None
        return snap


#: A deep KRX book around 70,000 (tick 100): five asks of 10 shares, five bids of 10.
ASKS = [(70100.0, 10.0), (70200.0, 10.0), (70300.0, 10.0), (70400.0, 10.0), (70500.0, 10.0)]
BIDS = [(70000.0, 10.0), (69900.0, 10.0), (69800.0, 10.0), (69700.0, 10.0), (69600.0, 10.0)]
