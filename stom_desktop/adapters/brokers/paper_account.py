"""The paper broker's own account: cash per currency and positions, moved by its fills."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from stom_desktop.core.fills import Fill

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class AccountView:
    """A copy of the paper account: totals, what open orders reserve, and fees paid."""

    cash: dict[str, Decimal]
    positions: dict[str, Decimal]
    reserved_cash: dict[str, Decimal]
    reserved_positions: dict[str, Decimal]
    fees_paid: dict[str, Decimal]

    def free(self) -> dict[str, Decimal]:
        """Free balance per currency and per held symbol (``Broker.balances``)."""
        out = {c: v - self.reserved_cash.get(c, _ZERO) for c, v in self.cash.items()}
        for symbol, qty in self.positions.items():
            if qty != 0:
                out[symbol] = qty - self.reserved_positions.get(symbol, _ZERO)
        return out


class PaperAccount:
    """Cash and signed positions of the simulated account.

    Each fill moves cash by ``-(signed quantity * price) - fee`` in the fill's currency
    (the fee includes the KRX sell tax, as ``core.fills.Fill`` documents) and the position
    by the signed quantity, so the account equals what a ``core.portfolio.Portfolio`` fed
    the same fills would hold.
    """

    __slots__ = ("_cash", "_fees", "_positions")

    def __init__(
        self,
        cash: Mapping[str, Decimal],
        positions: Mapping[str, Decimal] | None = None,
    ) -> None:
        for ccy, amount in cash.items():
            if not isinstance(amount, Decimal) or not amount.is_finite():
                raise TypeError(f"paper cash for {ccy!r} must be a finite Decimal, got {amount!r}")
        self._cash: dict[str, Decimal] = dict(cash)
        self._positions: dict[str, Decimal] = dict(positions or {})
        self._fees: dict[str, Decimal] = {}

    def cash(self, currency: str) -> Decimal:
        """Total cash in ``currency`` (0 if never held)."""
        return self._cash.get(currency, _ZERO)

    def position(self, symbol: str) -> Decimal:
        """Signed quantity held of ``symbol``."""
        return self._positions.get(symbol, _ZERO)

    def apply_fill(self, fill: Fill) -> None:
        """Book one execution."""
        signed = fill.signed_quantity
        ccy = fill.fee_currency
        self._cash[ccy] = self._cash.get(ccy, _ZERO) - signed * fill.price - fill.fee
        self._positions[fill.symbol] = self._positions.get(fill.symbol, _ZERO) + signed
        self._fees[ccy] = self._fees.get(ccy, _ZERO) + fill.fee

    def view(
        self,
        reserved_cash: Mapping[str, Decimal],
        reserved_positions: Mapping[str, Decimal],
    ) -> AccountView:
        """An immutable copy with the given reservations."""
        return AccountView(
            cash=dict(self._cash),
            positions={s: q for s, q in self._positions.items() if q != 0},
            reserved_cash=dict(reserved_cash),
            reserved_positions=dict(reserved_positions),
            fees_paid=dict(self._fees),
        )
