"""Pieces of the cheap ``CcxtBroker.poll``: one open-orders read, looked up per order.

A poll runs on the engine thread, so it reads the venue's open orders once per symbol
(Upbit: once for every market) instead of each order by id. An order found in that
list whose filled quantity did not move needs nothing more; the rest get per-order
reads (their trades; their final state once they left the list).
"""

from __future__ import annotations

from decimal import Decimal

from stom_desktop.adapters.brokers.ccxt_venues import CcxtOrder, dec

_ZERO = Decimal(0)


class OpenOrders:
    """One open-orders answer, found by venue client id (``<cid>.aN`` too) or venue id."""

    def __init__(self, rows: list[CcxtOrder]) -> None:
        self._by_cid = {str(r["clientOrderId"]): r for r in rows if r.get("clientOrderId")}
        self._by_id = {str(r.get("id")): r for r in rows}

    def find(self, venue_cid: str, venue_id: str | None) -> CcxtOrder | None:
        """The listed order with our venue client id (or, lacking it, the venue id)."""
        row = self._by_cid.get(venue_cid)
        if row is None and venue_id is not None:
            row = self._by_id.get(venue_id)
        return row


def trades_in_order(exchange_id: str) -> bool:
    """Whether a read of one order carries its trades (Upbit); else they are a separate read.

    Upbit's open-orders list carries no trades: an order whose fill moved is read alone.
    """
    return exchange_id == "upbit"


def trades_cover(trades: list[CcxtOrder], order: CcxtOrder) -> bool:
    """Whether ``trades`` add up to the order's ``filled`` (a venue may list them late)."""
    got = sum((dec(t.get("amount")) or _ZERO for t in trades), _ZERO)
    return got >= (dec(order.get("filled")) or _ZERO)
