"""Adopted venue holdings in the order journal, and the reconciliation line of the reports.

With ``live.on_venue_mismatch = adopt`` a live session starts holding what the venue
holds of its symbols. That holding is journaled like a trade, so everything that reads
the journal sees the same books as the live session had:

* one synthetic order per symbol, client id ``adopt-s<session>-<symbol>`` (never our
  ``stom-`` prefix, so no venue lookup or sweep ever touches it), status ``filled``,
  its creation event saying ``adopted from the venue``;
* one fill, venue fill id ``adopt:s<session>:<symbol>``, at the venue's last price, no
  fee.

``Portfolio.rebuild`` from the stored fills (crash recovery, the daily report) then
gives the live session's position and cash (the session's stored initial cash is the
venue's free balance plus the adopted value). For the next reconciliation of the
account an adoption is a *reset*: it says "at this moment the venue held this much and
this session took all of it", so the account's book for that asset becomes the adopted
quantity (``venue_reconcile.book_quantities``), whatever earlier sessions had booked.

A crash between the two journal writes (an adoption order without its fill) is the
one gap: recovery then rejects it as never sent and the books lack the holding; the
next start reports the difference again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from stom_desktop.core.enums import Side
from stom_desktop.core.fills import Fill
from stom_desktop.core.ports import OrderJournal

#: Client ids of adoption orders start with this (not our order prefix: never sent).
ADOPT_PREFIX = "adopt-"
#: The creation-event detail of an adoption order (how reports recognise it).
ADOPT_DETAIL = "adopted from the venue"
_ZERO = Decimal(0)


def adoption_client_id(db_id: int, symbol: str) -> str:
    """``adopt-s<db_id>-<symbol>``: unique per session and symbol, never a venue id."""
    return f"{ADOPT_PREFIX}s{db_id}-{symbol}"


def is_adoption(client_order_id: str) -> bool:
    """Whether a journaled order is an adoption (not an order sent to the venue)."""
    return client_order_id.startswith(ADOPT_PREFIX)


def adoption_fill(
    db_id: int, symbol: str, quantity: Decimal, price: Decimal, currency: str, ts: datetime
) -> Fill:
    """The fill that books a signed venue ``quantity`` of ``symbol`` at ``price`` (no fee)."""
    return Fill(
        fill_id=f"adopt:s{db_id}:{symbol}",
        client_order_id=adoption_client_id(db_id, symbol),
        symbol=symbol,
        side=Side.BUY if quantity > 0 else Side.SELL,
        quantity=abs(quantity),
        price=price,
        fee=_ZERO,
        fee_currency=currency,
        ts=ts,
    )


def journal_adoption(journal: OrderJournal, db_id: int, fill: Fill) -> None:
    """Store ``fill`` as a filled synthetic order of session ``db_id`` (module docstring)."""
    cid = fill.client_order_id
    journal.record_intent(
        cid, fill.symbol, fill.side.value, "market", fill.quantity,
        session_id=db_id, at=fill.ts, detail=ADOPT_DETAIL,
    )  # fmt: skip
    journal.add_fill(
        cid, fill.quantity, fill.price, fee=fill.fee, fee_currency=fill.fee_currency,
        venue_fill_id=fill.fill_id, ts=fill.ts, to_status="filled", detail=ADOPT_DETAIL,
    )  # fmt: skip


def signed(side: str, quantity: Decimal) -> Decimal:
    """A journaled fill's quantity with the sign of its order's side."""
    return quantity if side == "buy" else -quantity


# -- the reports' line ------------------------------------------------------------------
def reconciliation_note(stored: Mapping[str, Any] | None) -> str | None:
    """One line for the session/daily report from the stored reconciliation (or None).

    ``stored`` is what a live start keeps in the session's config under
    ``venue_reconciliation`` (``VenueStart.to_dict``).
    """
    if not isinstance(stored, Mapping):
        return None
    policy = stored.get("policy")
    head = f"venue reconciliation at start{f' ({policy})' if policy else ''}: "
    cash = f"free {stored.get('quote')} {stored.get('quote_free')}"
    if stored.get("matches"):
        text = head + f"the venue matched the journal; {cash}"
    else:
        diffs = [
            f"{a['asset']} venue {a['venue']} vs journal {a['book']}"
            for a in stored.get("assets", [])
            if not a.get("matches")
        ]
        diffs += [
            f"order {o['client_order_id']} {o['kind'].replace('_', ' ')}"
            for o in stored.get("orders", [])
        ]
        text = head + f"{len(diffs)} difference(s): {'; '.join(diffs)}; {cash}"
    adopted = stored.get("adopted") or {}
    if adopted:
        text += "; adopted from the venue: " + ", ".join(
            f"{symbol} {row['quantity']} at {row['price']}" for symbol, row in adopted.items()
        )
    return text
