"""Fills: one execution of (part of) an order, immutable once made."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from stom_desktop.core.enums import Side


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution reported by a broker.

    ``fee`` is everything the execution cost on top of ``quantity * price``, in
    ``fee_currency``: the broker commission plus any transaction tax (the KRX sell-side
    tax). One number, because that is what the journal stores and what ``Portfolio.rebuild``
    must reproduce after a crash; ``MarketRules.fee``/``tax`` split it for reports.
    ``fill_id`` is unique per venue execution; applying the same fill twice is detected
    by it.
    """

    fill_id: str
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    ts: datetime

    def __post_init__(self) -> None:
        where = f"fill {self.fill_id!r} of order {self.client_order_id!r}"
        for name in ("quantity", "price", "fee"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise TypeError(f"{where}: {name} must be a finite Decimal, got {value!r}")
        if self.quantity <= 0 or self.price <= 0:
            raise ValueError(f"{where}: quantity and price must be > 0")
        if self.fee < 0:
            raise ValueError(f"{where}: fee must be >= 0")
        if self.ts.tzinfo is None or self.ts.utcoffset() is None:
            raise ValueError(f"{where}: ts must be timezone-aware")
        if not isinstance(self.side, Side):
            object.__setattr__(self, "side", Side(self.side))

    @property
    def notional(self) -> Decimal:
        """``quantity * price`` in the quote currency."""
        return self.quantity * self.price

    @property
    def signed_quantity(self) -> Decimal:
        """``+quantity`` for a buy, ``-quantity`` for a sell."""
        return self.quantity if self.side is Side.BUY else -self.quantity
