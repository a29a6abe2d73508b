"""How ``CcxtBroker`` reports fills and order updates: :meth:`CcxtPolling.poll`.

Fills and updates come only from ``poll`` (the kernel calls it periodically on the
engine thread); nothing calls the listener from ``submit``/``cancel``/``amend``. A poll
reads the venue's open orders once per symbol with open orders (Upbit: once for all
markets; the stateless pieces are in ``ccxt_poll``), reads the trades only of an order
whose filled quantity moved, and reads by client id only an order gone from the list.
New trades are reported once each (deduplicated by venue trade id), then terminal
states. ``last_poll_requests`` counts the venue reads; a temporary failure is kept in
``last_poll_error`` and the orders it hid are read again next poll.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import partial

from stom_desktop.adapters.brokers.ccxt_poll import OpenOrders, trades_cover, trades_in_order
from stom_desktop.adapters.brokers.ccxt_tracking import CcxtOrderTracking, TrackedOrder
from stom_desktop.adapters.brokers.ccxt_venues import CcxtOrder
from stom_desktop.core.errors import BrokerError, TemporaryBrokerError
from stom_desktop.core.fills import Fill
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.ports import ExecutionListener

log = logging.getLogger(__name__)


class CcxtPolling(CcxtOrderTracking):
    """The polling half of ``CcxtBroker``: venue reads turned into listener events."""

    # Set by CcxtBroker.__init__; declared here so this part type-checks on its own.
    _listener: ExecutionListener | None
    _fill_ids: set[str]
    last_poll_error: BrokerError | None

    def poll(self) -> int:
        """Report new fills and status changes of our open orders; returns events sent.

        Cheap on purpose (it runs on the engine thread): one open-orders read per symbol
        with open orders (Upbit: one for all markets). Only an order whose filled
        quantity moved since the last poll gets its trades read, and only an order gone
        from the list (filled, cancelled, expired) is read by client id for its final
        state. ``last_poll_requests`` counts the venue reads the poll made.

        A temporary venue failure is logged and kept in ``last_poll_error`` (the orders
        it hid are read again next poll); an authentication failure raises.
        """
        sent = 0
        self.last_poll_error = None
        self.last_poll_requests = 0
        # Submits of unknown outcome: the order manager reconciles them via fetch_order.
        due = [
            t for t in self._orders.values() if t.status.is_open and t.cid not in self._uncertain
        ]
        listed = self._list_open(due)
        for tracked in due:
            try:
                read = self._poll_read(tracked, listed)
            except TemporaryBrokerError as exc:
                self.last_poll_error = exc
                log.warning("poll %s: %s", tracked.cid, exc)
                continue
            if read is not None:
                sent += self._report(tracked, *read)
        return sent

    def _list_key(self, tracked: TrackedOrder) -> str | None:
        """Which open-orders read covers ``tracked``: its symbol, or all (Upbit)."""
        return tracked.symbol if self._dialect.needs_symbol else None

    def _list_open(self, due: list[TrackedOrder]) -> dict[str | None, OpenOrders]:
        """The venue's open orders per list key; a key whose read failed is missing."""
        out: dict[str | None, OpenOrders] = {}
        for key in dict.fromkeys(self._list_key(t) for t in due):
            self.last_poll_requests += 1
            try:
                rows: list[CcxtOrder] = self._caller.read(
                    "fetch_open_orders", partial(self._ex.fetch_open_orders, key)
                )
            except TemporaryBrokerError as exc:
                self.last_poll_error = exc
                log.warning("poll open orders %s: %s", key or "(all)", exc)
                continue  # its orders wait for the next poll
            out[key] = OpenOrders(rows)
        return out

    def _poll_read(
        self, tracked: TrackedOrder, listed: dict[str | None, OpenOrders]
    ) -> tuple[CcxtOrder | None, list[Fill]] | None:
        """``(current, fills)`` of one order for :meth:`_report`; ``None``: not read now."""
        venue_cid = tracked.current
        if venue_cid in tracked.closed:  # finished during an amend: nothing to read
            current: CcxtOrder | None = tracked.closed[venue_cid]
            return current, self._fills(tracked, current)
        index = listed.get(self._list_key(tracked))
        if index is None:
            return None  # its open-orders read failed (``last_poll_error`` says why)
        row = index.find(venue_cid, tracked.venue_ids.get(venue_cid))
        if row is not None:
            tracked.venue_ids[venue_cid] = str(row["id"])
            if self._filled_total(tracked, row) == tracked.filled_seen:
                return row, self._as_fills(tracked, tracked.closed_trades)  # nothing moved
            # Upbit's list has no trades: they come embedded in a read of the order.
            current = self._read_counted(tracked) if trades_in_order(self.exchange_id) else row
        else:  # gone from the list (or not listed yet): its final state by client id
            current = self._read_counted(tracked)
        if current is None:
            return None, self._as_fills(tracked, tracked.closed_trades)
        if self._filled_total(tracked, current) == tracked.filled_seen:
            return current, self._as_fills(tracked, tracked.closed_trades)
        trades = self._current_trades(tracked, current)
        if trades_cover(trades, current):  # else a late trade list: read again next poll
            tracked.filled_seen = self._filled_total(tracked, current)
        return current, self._as_fills(tracked, tracked.closed_trades + trades)

    def _read_counted(self, tracked: TrackedOrder) -> CcxtOrder | None:
        self.last_poll_requests += 1
        return self._read_current(tracked)

    def _report(self, tracked: TrackedOrder, current: CcxtOrder | None, fills: list[Fill]) -> int:
        snap = self._snapshot(tracked, current)
        listener = self._listener
        sent = 0
        if tracked.status is OrderStatus.NEW and snap.status is not OrderStatus.NEW:
            tracked.status = OrderStatus.SUBMITTED
            if listener is not None:
                listener.on_order_update(replace(snap, status=OrderStatus.SUBMITTED))
                sent += 1
        for fill in fills:
            if fill.fill_id in self._fill_ids:
                continue
            self._fill_ids.add(fill.fill_id)
            if listener is not None:
                listener.on_fill(fill)
                sent += 1
        if snap.status is not tracked.status:
            tracked.status = snap.status
            if snap.status.is_terminal and listener is not None:
                listener.on_order_update(snap)
                sent += 1
        return sent
