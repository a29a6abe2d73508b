"""Portfolio: cash and signed positions, updated fill by fill, rebuildable from fills.

Accounting (all ``Decimal``, one currency per portfolio):

* a position keeps its signed ``quantity`` and its signed ``cost`` (the price paid for what
  is still held: ``quantity * avg_price``); ``avg_price = cost / quantity``;
* adding to a position adds ``quantity * price`` to ``cost``;
* reducing removes the matching share of ``cost`` and books
  ``realized = proceeds - cost removed`` (for shorts the signs flip); closing the whole
  position removes all of ``cost`` exactly; a fill that crosses zero closes and re-opens;
* fees (commission and tax: ``Fill.fee``) come out of cash and are counted in
  ``fees_paid``, not in realized P&L.

Because the same ``cost removed`` enters both cash-side and position-side sums,
``cash + sum(cost) == initial_cash - fees_paid + realized_pnl`` holds exactly, and
``Portfolio.rebuild`` with the same fills in the same order reproduces the live portfolio
bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError, DataError
from stom_desktop.core.fills import Fill

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Position:
    """A signed holding of one symbol: ``quantity`` > 0 long, < 0 short."""

    symbol: str
    quantity: Decimal = _ZERO
    cost: Decimal = _ZERO  # signed: quantity * avg_price
    realized_pnl: Decimal = _ZERO  # over the life of the portfolio, fees excluded

    @property
    def avg_price(self) -> Decimal:
        """Average entry price of what is held (0 when flat)."""
        return _ZERO if self.quantity == 0 else self.cost / self.quantity

    @property
    def is_flat(self) -> bool:
        """No holding."""
        return self.quantity == 0

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        """Profit if the holding were closed at ``mark`` (fees excluded)."""
        return self.quantity * mark - self.cost

    def with_fill(self, signed_qty: Decimal, price: Decimal) -> tuple[Position, Decimal]:
        """The position after trading ``signed_qty`` at ``price``, and the P&L it realized."""
        qty, cost = self.quantity, self.cost
        realized = _ZERO
        if qty == 0 or (qty > 0) == (signed_qty > 0):
            # Opening or adding: cost grows by exactly what was paid (or received, short).
            qty, cost = qty + signed_qty, cost + signed_qty * price
        else:
            closing = min(abs(signed_qty), abs(qty))
            # Whole close removes all cost (no division, so no rounding); partial close
            # removes the proportional share.
            removed = cost if closing == abs(qty) else cost * closing / abs(qty)
            direction = Decimal(1) if qty > 0 else Decimal(-1)
            # Long: sold `closing` at price -> proceeds closing*price minus cost removed.
            # Short: bought back -> removed (negative) minus closing*price, i.e. same formula
            # with the sign of the position.
            realized = direction * closing * price - removed
            qty += direction * -closing
            cost -= removed
            rest = abs(signed_qty) - closing
            if rest > 0:  # flipped through zero: open the remainder the other way
                opened = rest if signed_qty > 0 else -rest
                qty, cost = opened, opened * price
        return (
            Position(self.symbol, qty, cost, self.realized_pnl + realized),
            realized,
        )


@dataclass(slots=True)
class Portfolio:
    """Cash plus positions in one currency, changed only by ``apply_fill``.

    Fills are idempotent by ``fill_id``: a fill seen before is ignored and ``apply_fill``
    returns ``False`` (brokers and recovery may report an execution twice).
    """

    initial_cash: Decimal
    currency: str = "KRW"
    cash: Decimal = field(init=False)
    positions: dict[str, Position] = field(default_factory=dict, init=False)
    realized_pnl: Decimal = field(default=_ZERO, init=False)
    fees_paid: Decimal = field(default=_ZERO, init=False)
    fill_count: int = field(default=0, init=False)
    _fill_ids: set[str] = field(default_factory=set, init=False, repr=False)
    # The non-flat positions, kept by apply_fill: open_positions() is asked on every order
    # (risk, sizing) and must not scan every symbol ever traded.
    _open: dict[str, Position] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.initial_cash, Decimal) or not self.initial_cash.is_finite():
            raise TypeError(f"initial_cash must be a finite Decimal, got {self.initial_cash!r}")
        self.cash = self.initial_cash

    def position(self, symbol: str) -> Position:
        """The position in ``symbol`` (flat if never traded)."""
        return self.positions.get(symbol) or Position(symbol)

    def apply_fill(self, fill: Fill) -> bool:
        """Book one fill; returns ``False`` if this ``fill_id`` was already booked."""
        if fill.fill_id in self._fill_ids:
            return False
        if fill.fee != 0 and fill.fee_currency != self.currency:
            raise BrokerError(
                f"fill {fill.fill_id}: fee in {fill.fee_currency} but the portfolio "
                f"counts {self.currency}",
                client_order_id=fill.client_order_id,
                hint="convert the fee to the quote currency in the broker adapter",
            )
        signed = fill.signed_quantity
        new_pos, realized = self.position(fill.symbol).with_fill(signed, fill.price)
        if new_pos.is_flat and new_pos.realized_pnl == 0:
            self.positions.pop(fill.symbol, None)
        else:
            self.positions[fill.symbol] = new_pos
        if new_pos.is_flat:
            self._open.pop(fill.symbol, None)
        else:
            self._open[fill.symbol] = new_pos
        self.cash -= signed * fill.price + fill.fee
        self.fees_paid += fill.fee
        self.realized_pnl += realized
        self.fill_count += 1
        self._fill_ids.add(fill.fill_id)
        return True

    def open_positions(self) -> dict[str, Position]:
        """Positions with a non-zero quantity (a new dict, in the order they were opened)."""
        return dict(self._open)

    def cost_basis(self) -> Decimal:
        """Sum of signed position costs (what the holdings cost at entry)."""
        return sum((p.cost for p in self.positions.values()), _ZERO)

    def unrealized_pnl(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Sum of open positions' unrealized P&L at ``marks`` (fees excluded)."""
        return sum(
            (p.unrealized_pnl(self._mark(marks, s)) for s, p in self.open_positions().items()),
            _ZERO,
        )

    def market_value(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Signed value of open positions at ``marks`` (shorts count negative)."""
        return sum(
            (p.quantity * self._mark(marks, s) for s, p in self.open_positions().items()), _ZERO
        )

    def equity(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Cash plus the marked value of open positions."""
        return self.cash + self.market_value(marks)

    @classmethod
    def rebuild(
        cls, initial_cash: Decimal, fills: Iterable[Fill], *, currency: str = "KRW"
    ) -> Portfolio:
        """Replay stored fills (in the order they were booked) into a fresh portfolio.

        Used after a crash: the result equals the live portfolio exactly when the fills
        are the same and come in the same order (the journal's insertion order).
        """
        portfolio = cls(initial_cash, currency)
        for fill in fills:
            portfolio.apply_fill(fill)
        return portfolio

    @staticmethod
    def _mark(marks: Mapping[str, Decimal], symbol: str) -> Decimal:
        try:
            return marks[symbol]
        except KeyError:
            raise DataError(
                f"no mark price for open position {symbol!r}", source="portfolio.marks"
            ) from None


def side_of(signed_quantity: Decimal) -> Side:
    """The order side that produces a signed quantity change (for flattening)."""
    return Side.BUY if signed_quantity > 0 else Side.SELL
