"""Submit-time valuation for the paper broker: reference and reserve prices, funds, lots."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from stom_desktop.adapters.brokers.paper_account import PaperAccount
from stom_desktop.adapters.brokers.paper_book import MarketState, to_decimal
from stom_desktop.adapters.brokers.paper_working import WorkingOrder
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import OrderRejected
from stom_desktop.core.instruments import Instrument
from stom_desktop.core.market_rules import (
    CryptoRules,
    FixedTickRules,
    KrxStockRules,
    MarketRules,
)
from stom_desktop.core.orders import Order, OrderType

_ZERO = Decimal(0)


def reference_price(order: Order, rules: MarketRules, market: MarketState | None) -> Decimal | None:
    """Best opposite price (else last trade) on the grid, for rule checks."""
    if market is None:
        return None
    px = market.reference_price(order.side)
    return None if px is None else rules.round_price(to_decimal(px))


def reserve_price(
    order: Order, rules: MarketRules, lot: Decimal | None, market: MarketState | None
) -> Decimal | None:
    """The price a buy reserves cash at: its limit, else the book walk for its size."""
    if order.side is Side.SELL:
        return None
    if order.order_type.needs_price:
        return order.price
    walk: Decimal | None = None
    if market is not None:
        levels = market.levels(Side.BUY, rules, lot)
        need = order.quantity
        for _, px, size in levels:
            walk = px
            need -= size
            if need <= 0:
                break
        if walk is None and market.last is not None:
            walk = rules.round_price(to_decimal(market.last))
    if order.order_type is OrderType.STOP:
        assert order.stop_price is not None  # Order validated it
        return order.stop_price if walk is None else max(walk, order.stop_price)
    if walk is None:
        raise OrderRejected(
            f"no quote for {order.symbol} yet: a market buy cannot be valued against cash",
            client_order_id=order.client_order_id,
            rule="paper.no_market_data",
            hint="send the order after the first quote or use a limit order",
        )
    return walk


def check_funds(
    order: Order,
    quantity: Decimal,
    reserve_price: Decimal | None,
    rules: MarketRules,
    currency: str,
    *,
    account: PaperAccount,
    open_orders: Collection[WorkingOrder],
    exclude: WorkingOrder | None,
    allow_short: bool,
) -> None:
    """Refuse a buy the free cash cannot pay or a sell of more than is held."""
    cid = order.client_order_id
    if order.side is Side.BUY:
        assert reserve_price is not None
        notional = quantity * reserve_price
        need = notional + rules.fee(Side.BUY, notional) + rules.tax(Side.BUY, notional)
        reserved = sum(
            (w.reserved_cash() for w in open_orders if w is not exclude and w.currency == currency),
            _ZERO,
        )
        cash = account.cash(currency)
        if need > cash - reserved:
            raise OrderRejected(
                f"buy needs {need} {currency} ({quantity} x {reserve_price} + fees) but "
                f"only {cash - reserved} is free (cash {cash}, reserved by open orders "
                f"{reserved})",
                client_order_id=cid,
                rule="paper.insufficient_funds",
            )
        return
    if allow_short:
        return
    sym = order.symbol
    held = account.position(sym)
    reserved_qty = sum(
        (
            w.order.remaining_quantity
            for w in open_orders
            if w is not exclude and w.order.side is Side.SELL and w.order.symbol == sym
        ),
        _ZERO,
    )
    if quantity > held - reserved_qty:
        raise OrderRejected(
            f"sell of {quantity} {sym} exceeds the free position {held - reserved_qty} "
            f"(held {held}, in open sells {reserved_qty}); short selling is disabled",
            client_order_id=cid,
            rule="paper.insufficient_funds",
            hint="construct PaperBroker(allow_short=True) to allow short sales",
        )


def lot_step(rules: MarketRules, instrument: Instrument | None) -> Decimal | None:
    """The quantity step book sizes are cut to (``None``: sizes used as displayed)."""
    if instrument is not None:
        return instrument.lot_size
    if isinstance(rules, KrxStockRules):
        return Decimal(1)
    if isinstance(rules, CryptoRules):
        return rules.amount_step
    if isinstance(rules, FixedTickRules):
        return rules.lot
    return None
