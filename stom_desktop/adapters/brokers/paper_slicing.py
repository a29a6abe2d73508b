"""Sliced (split) orders: child ids derived from the parent's, quantities, release times.

A parent of quantity Q split into N slices becomes N child orders released every T
seconds, the first at once. Child ``k`` (1-based) gets the client id
``f"{parent_id}.{k:02d}"`` (``stom-s1-000042`` -> ``stom-s1-000042.01`` ... ``.99``): the
parent's id plus a dot and two digits, so a child always names its parent
(``parent_order_id``), sorts in release order, and fits the 36-character limit of
venue client ids whenever the parent id is at most 33 characters (our generator's ids
are at most 32). ``-`` is not used because ``core.orders.parse_client_order_id`` splits on
it. Quantities are whole lots: ``Q / lot`` lots shared out as evenly as possible, the
first children taking one lot more when it does not divide (10 in 3 -> 4, 3, 3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from stom_desktop.core.orders import MAX_CLIENT_ID_LENGTH

MAX_SLICES = 99
_CHILD_RE = re.compile(r"^(?P<parent>.+)\.(?P<index>\d{2})$")


def child_order_id(parent_id: str, index: int) -> str:
    """The client id of child ``index`` (1..99) of ``parent_id``."""
    if not 1 <= index <= MAX_SLICES:
        raise ValueError(f"child index must be 1..{MAX_SLICES}, got {index}")
    cid = f"{parent_id}.{index:02d}"
    if len(cid) > MAX_CLIENT_ID_LENGTH:
        raise ValueError(
            f"child id {cid!r} exceeds {MAX_CLIENT_ID_LENGTH} characters "
            f"(parent id {parent_id!r} is too long to slice)"
        )
    return cid


def parent_order_id(client_order_id: str) -> str | None:
    """The parent id of a child id made by ``child_order_id``; ``None`` otherwise."""
    match = _CHILD_RE.match(client_order_id)
    return None if match is None else match.group("parent")


def lot_unit(quantity: Decimal) -> Decimal:
    """The smallest step ``quantity`` is written in (``10`` -> 1, ``0.25`` -> 0.01)."""
    exponent = quantity.normalize().as_tuple().exponent
    if not isinstance(exponent, int):  # NaN/Inf have no exponent
        raise ValueError(f"quantity must be finite, got {quantity}")
    return Decimal(1).scaleb(min(exponent, 0))


def split_quantity(total: Decimal, slices: int, lot: Decimal | None = None) -> list[Decimal]:
    """Split ``total`` into ``slices`` whole-lot parts, larger parts first.

    ``lot`` defaults to the finest step ``total`` is written in. Raises ``ValueError``
    when ``total`` is not whole lots or has fewer lots than ``slices``.
    """
    if not 1 <= slices <= MAX_SLICES:
        raise ValueError(f"slices must be 1..{MAX_SLICES}, got {slices}")
    step = lot_unit(total) if lot is None else lot
    if step <= 0:
        raise ValueError(f"lot must be > 0, got {step}")
    lots = total / step
    if lots != lots.to_integral_value() or lots <= 0:
        raise ValueError(f"quantity {total} is not a positive whole number of lots of {step}")
    units = int(lots)
    if units < slices:
        raise ValueError(f"quantity {total} has only {units} lots of {step}: cannot make {slices}")
    base, extra = divmod(units, slices)
    return [(base + (1 if i < extra else 0)) * step for i in range(slices)]


@dataclass(frozen=True, slots=True)
class ChildSlice:
    """One planned child: its id, quantity and release offset from the parent's submit."""

    index: int
    client_order_id: str
    quantity: Decimal
    release_after_ms: int


def plan_slices(
    parent_id: str,
    total: Decimal,
    slices: int,
    interval_s: float,
    lot: Decimal | None = None,
) -> list[ChildSlice]:
    """The children of a sliced order, released every ``interval_s`` seconds (first at 0)."""
    if interval_s < 0:
        raise ValueError(f"slice interval must be >= 0 s, got {interval_s}")
    step_ms = round(interval_s * 1000)
    return [
        ChildSlice(k, child_order_id(parent_id, k), qty, (k - 1) * step_ms)
        for k, qty in enumerate(split_quantity(total, slices, lot), start=1)
    ]
