"""Audit a fake Binance against an order journal: nothing lost, doubled or orphaned.

Used by the live crash tests (``test_crash_safety_ccxt``, ``test_live_cli_subprocess``).
:class:`TrackingBinance` is ``FakeBinance`` plus two counters the audit needs; and
:func:`audit` compares the venue's orders and trades with the journal's orders and fills
and fails naming the first offenders.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

from fake_exchanges import BINANCE_STATUS_OPEN, FakeBinance
from pytest_httpserver import HTTPServer
from werkzeug import Response

from stom_desktop.engine.recovery import INTENT_PREFIX
from stom_desktop.persistence import OrderRepository, create_database

#: Binance order status -> journal status of the same order.
STATUS = {
    "NEW": "submitted",
    "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled",
    "CANCELED": "cancelled",
}
Executions = dict[str, dict[str, tuple[Decimal, Decimal]]]  # cid -> fill id -> (qty, price)


class TrackingBinance(FakeBinance):
    """FakeBinance that counts the orders it took and every resend of a known client id.

    The fake refuses a known ``newClientOrderId``; real Binance refuses it only while the
    first order is open, so a resend of a finished order would be a real duplicate.
    """

    def __init__(self, server: HTTPServer) -> None:
        super().__init__(server)
        self.created = 0
        self.resent_ids: list[str] = []

    def _create(self, params: dict[str, str]) -> Response:
        with self.lock:
            cid = params.get("newClientOrderId")
            if cid is not None and cid in self.by_client:
                self.resent_ids.append(cid)
            else:
                self.created += 1
            return super()._create(params)


@dataclass(frozen=True)
class Audit:
    """What the venue and the journal hold (after :func:`audit` found them equal)."""

    orders: int  # at the venue
    open: int  # at the venue, still working
    fills: int  # venue trades of those orders
    rejected: int  # journaled orders the venue never took
    journaled: int  # every journaled order


def venue_state(venue: TrackingBinance) -> tuple[dict[str, dict[str, object]], Executions]:
    """The venue's orders by client id and their trades (one consistent read)."""
    with venue.lock:
        orders = {o["clientOrderId"]: dict(o) for o in venue.orders.values()}
        cid_of = {o["orderId"]: o["clientOrderId"] for o in venue.orders.values()}
        trades: Executions = defaultdict(dict)
        for t in venue.trades:
            trades[cid_of[t["orderId"]]][f"binance:{t['id']}"] = (
                Decimal(t["qty"]),
                Decimal(t["price"]),
            )
    return orders, trades


def audit(venue: TrackingBinance, journal_url: str) -> Audit:
    """Assert the journal equals the venue; returns the counts.

    * lost: a venue order missing from the journal;
    * doubled: an intent key with two venue orders, or a client id sent again after the
      venue had it;
    * orphaned: a journaled order whose status, filled quantity or fills (by venue trade
      id) differ from the venue's, or that the venue never took but is not ``rejected``.
    """
    at_venue, trades = venue_state(venue)
    with venue.lock:
        resent = list(venue.resent_ids)
    db = create_database(journal_url)
    try:
        journal = OrderRepository(db)
        stored = {o.client_order_id: o for o in journal.orders()}
        details = journal.creation_details()
        fills: Executions = defaultdict(dict)
        for f in journal.all_fills():
            fills[f.client_order_id][str(f.venue_fill_id)] = (f.quantity, f.price)
    finally:
        db.dispose()
    lost = sorted(set(at_venue) - set(stored))
    keys = {
        cid: detail[len(INTENT_PREFIX) :]
        for cid, detail in details.items()
        if detail and detail.startswith(INTENT_PREFIX)
    }
    per_key = Counter(keys.get(cid, cid) for cid in at_venue)
    doubled = sorted(k for k, n in per_key.items() if n > 1)
    orphaned = []
    for cid, order in stored.items():
        row = at_venue.get(cid)
        if row is None:
            if order.status != "rejected":
                orphaned.append(f"{cid}: journal {order.status}, the venue never took it")
            continue
        want = (STATUS[str(row["status"])], Decimal(str(row["executedQty"])), row["origQty"])
        have = (order.status, order.filled_quantity, order.quantity)
        if have[:2] != want[:2] or have[2] != Decimal(str(want[2])):
            orphaned.append(f"{cid}: journal {have}, venue {want}")
        elif fills[cid] != trades[cid]:
            orphaned.append(f"{cid}: fills {fills[cid]} != venue trades {trades[cid]}")
    assert not lost, f"venue orders missing from the journal: {lost[:5]}"
    assert not doubled, f"intents that reached the venue twice: {doubled[:5]}"
    assert not resent, f"client ids sent again for an order the venue had: {resent[:5]}"
    assert not orphaned, f"journal and venue disagree: {orphaned[:5]}"
    return Audit(
        orders=len(at_venue),
        open=sum(o["status"] in BINANCE_STATUS_OPEN for o in at_venue.values()),
        fills=sum(len(t) for t in trades.values()),
        rejected=sum(o.status == "rejected" for o in stored.values()),
        journaled=len(stored),
    )
