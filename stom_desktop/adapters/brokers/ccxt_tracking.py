"""What ``CcxtBroker`` knows about each engine order, and how it reads that back.

One engine order may live at the venue as several *generations*: amend is
cancel-replace, so the remainder goes out as ``<cid>.a1``, ``<cid>.a2``...
(:func:`~stom_desktop.adapters.brokers.ccxt_venues.amended_client_id`).
:class:`TrackedOrder` keeps those generations, the venue ids, the finished generations
with their trades and the last status reported. :class:`CcxtOrderTracking` (a base of
``CcxtBroker``) owns the bookkeeping over them:

* finding an order by our client id, probing ``<cid>.a1``, ``.a2``... after a restart
  (``_lookup``), and adopting a venue order we did not place in this process (``_adopt``);
* reading the working generation (``_read_current``) and freezing a finished one with its
  trades (``_close_generation``);
* the engine's one view over all generations: filled quantity summed (``_filled_total``),
  fills (``_fills``) and the ``OrderSnapshot`` under the original id (``_snapshot``).

The state it works on is created in ``CcxtBroker.__init__`` (``ccxt_broker``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial

import ccxt

from stom_desktop.adapters.brokers.ccxt_errors import VenueCaller
from stom_desktop.adapters.brokers.ccxt_poll import trades_in_order
from stom_desktop.adapters.brokers.ccxt_venues import (
    CcxtOrder,
    VenueDialect,
    amended_client_id,
    dec,
    fill_from_trade,
    status_of,
    stop_price_of,
    tif_of,
    ts_of,
    type_of,
)
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError
from stom_desktop.core.fills import Fill
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import OrderSnapshot, OrderType, is_own_order_id

_ZERO = Decimal(0)


@dataclass
class TrackedOrder:
    """What the broker knows about one engine order (all its venue generations)."""

    cid: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal  # the engine's total quantity
    price: Decimal | None
    created_at: datetime
    generations: list[str] = field(default_factory=list)  # venue client ids, oldest first
    venue_ids: dict[str, str] = field(default_factory=dict)  # venue client id -> venue id
    closed: dict[str, CcxtOrder] = field(default_factory=dict)  # finished generations
    closed_trades: list[CcxtOrder] = field(default_factory=list)
    status: OrderStatus = OrderStatus.NEW  # last status reported to the listener
    filled_seen: Decimal = _ZERO
    tag: str | None = None  # the engine's tag: futures send closing tags reduce-only
    stop_price: Decimal | None = None  # trigger price of a stop / stop-limit order

    @property
    def current(self) -> str:
        """The venue client id of the working (latest) generation."""
        return self.generations[-1]


class CcxtOrderTracking:
    """Tracked orders of ``CcxtBroker``: lookup by client id, generations, snapshots."""

    # Set by CcxtBroker.__init__; declared here so this part type-checks on its own.
    exchange_id: str
    _ex: ccxt.Exchange
    _caller: VenueCaller
    _dialect: VenueDialect
    _symbols: list[str]
    _prefix: str
    _orders: dict[str, TrackedOrder]
    _uncertain: set[str]  # submits whose outcome is unknown
    last_poll_requests: int

    def _require(self, cid: str, what: str) -> TrackedOrder:
        tracked = self._orders.get(cid)
        if tracked is None and self._lookup(cid, None, what) is not None:
            tracked = self._orders[cid]
        if tracked is None:
            raise BrokerError(f"{what}: unknown at {self.exchange_id}", client_order_id=cid)
        return tracked

    def _lookup(self, cid: str, symbol: str | None, what: str) -> CcxtOrder | None:
        """Find an order by our client id (all amend generations) and track it."""
        symbols: list[str | None]
        if not self._dialect.needs_symbol:
            symbols = [None]
        else:
            symbols = [symbol] if symbol is not None else list(self._symbols)
        for sym in symbols:
            first = self._caller.read(
                what, partial(self._dialect.fetch_by_client_id, self._ex, sym, cid), cid=cid
            )
            if first is None:
                continue
            tracked = self._orders.get(cid) or self._adopt(cid, first)
            self._orders[cid] = tracked  # asked for by id: tracked even if not our prefix
            tracked.venue_ids[cid] = str(first["id"])
            latest = first
            generation = len(tracked.generations)
            while True:  # probe replacements <cid>.a1, .a2 ... made by amend
                venue_cid = amended_client_id(cid, generation)
                fetch = partial(
                    self._dialect.fetch_by_client_id, self._ex, first["symbol"], venue_cid
                )
                nxt = self._caller.read(what, fetch, cid=cid)
                if nxt is None:
                    break
                self._close_generation(tracked, latest)
                tracked.generations.append(venue_cid)
                tracked.venue_ids[venue_cid] = str(nxt["id"])
                latest = nxt
                generation += 1
            return latest
        return None

    def _adopt(self, cid: str, row: CcxtOrder) -> TrackedOrder:
        amount = dec(row.get("amount")) or _ZERO
        venue_cid = row.get("clientOrderId") or cid
        kind = type_of(row)
        tracked = TrackedOrder(
            cid,
            str(row["symbol"]),
            Side(row["side"]),
            kind,
            amount,
            dec(row.get("price")) if kind.needs_price else None,
            ts_of(row.get("timestamp"), datetime.now(UTC)),
            [venue_cid],
            {venue_cid: str(row["id"])},
            tag="reduce:adopted" if row.get("reduceOnly") else None,
            stop_price=stop_price_of(row),
        )
        if is_own_order_id(cid, prefix=self._prefix) or cid in self._uncertain:
            self._orders[cid] = tracked
        return tracked

    def _read_current(self, tracked: TrackedOrder) -> CcxtOrder | None:
        venue_cid = tracked.current
        if venue_cid in tracked.closed:
            return tracked.closed[venue_cid]
        order = self._caller.read(
            "fetch_order",
            lambda: self._dialect.fetch_by_client_id(self._ex, tracked.symbol, venue_cid),
            cid=tracked.cid,
        )
        if order is not None:
            tracked.venue_ids[venue_cid] = str(order["id"])
        return order

    def _close_generation(self, tracked: TrackedOrder, order: CcxtOrder) -> None:
        venue_cid = order.get("clientOrderId") or tracked.current
        tracked.closed[venue_cid] = order
        tracked.closed_trades.extend(
            self._caller.read(
                "fetch_my_trades", lambda: self._dialect.trades(self._ex, order), cid=tracked.cid
            )
        )

    def _filled_total(self, tracked: TrackedOrder, current: CcxtOrder | None) -> Decimal:
        total = sum(
            (
                dec(o.get("filled")) or _ZERO
                for k, o in tracked.closed.items()
                if k != tracked.current
            ),
            _ZERO,
        )
        return total + (dec((current or {}).get("filled")) or _ZERO)

    def _fills(self, tracked: TrackedOrder, current: CcxtOrder | None) -> list[Fill]:
        trades = list(tracked.closed_trades)
        if current is not None and tracked.current not in tracked.closed:
            trades += self._current_trades(tracked, current)
        return self._as_fills(tracked, trades)

    def _current_trades(self, tracked: TrackedOrder, current: CcxtOrder) -> list[CcxtOrder]:
        """The trades of the working generation (no request when nothing is filled)."""
        if (current.get("filled") or 0) and not trades_in_order(self.exchange_id):
            self.last_poll_requests += 1
        return list(
            self._caller.read(
                "fetch_my_trades", lambda: self._dialect.trades(self._ex, current), cid=tracked.cid
            )
        )

    def _as_fills(self, tracked: TrackedOrder, trades: list[CcxtOrder]) -> list[Fill]:
        quote = tracked.symbol.split("/")[-1].split(":")[0]
        now = datetime.now(UTC)
        out = []
        for trade in trades:
            fill = fill_from_trade(
                self.exchange_id, trade, tracked.cid, tracked.symbol, tracked.side, quote, now
            )
            if fill is not None:
                out.append(fill)
        return out

    def _snapshot(self, tracked: TrackedOrder, current: CcxtOrder | None) -> OrderSnapshot:
        filled = self._filled_total(tracked, current)
        notional = _ZERO
        for key, order in tracked.closed.items():
            if key != tracked.current:
                notional += (dec(order.get("filled")) or _ZERO) * (
                    dec(order.get("average")) or _ZERO
                )
        if current is not None:
            cur_filled = dec(current.get("filled")) or _ZERO
            avg = dec(current.get("average")) or dec(current.get("price")) or _ZERO
            notional += cur_filled * avg
            status = status_of(current, tracked.quantity, filled)
            updated = ts_of(
                current.get("lastUpdateTimestamp") or current.get("timestamp"), tracked.created_at
            )
            reason = None if status.is_open else f"{self.exchange_id}: {current.get('status')}"
        else:  # the replacement of an amend never reached the venue
            status = OrderStatus.FILLED if filled >= tracked.quantity else OrderStatus.CANCELLED
            updated = datetime.now(UTC)
            reason = "amend: the replacement order is not at the venue"
        if status is OrderStatus.REJECTED and filled > 0:
            status = OrderStatus.CANCELLED
        return OrderSnapshot(
            client_order_id=tracked.cid,
            symbol=tracked.symbol,
            side=tracked.side,
            order_type=tracked.order_type,
            time_in_force=tif_of(current or {}),
            quantity=tracked.quantity,
            price=tracked.price,
            stop_price=tracked.stop_price,
            filled_quantity=filled,
            avg_fill_price=(notional / filled) if filled > 0 else None,
            status=status,
            venue_order_id=tracked.venue_ids.get(tracked.current),
            created_at=tracked.created_at,
            updated_at=max(updated, tracked.created_at),
            reason=reason,
            session_id=None,
            tag=None,
            parent_id=None,
            cancel_requested=False,
        )
