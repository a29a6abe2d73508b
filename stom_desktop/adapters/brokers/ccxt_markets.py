"""Venue trading rules from ccxt market info, checked before an order is sent.

Binance: ``PRICE_FILTER.tickSize``, ``LOT_SIZE.stepSize``/``minQty`` and
``NOTIONAL``/``MIN_NOTIONAL.minNotional`` from the raw ``exchangeInfo`` filters (exact
strings, not ccxt's floats). Upbit: ccxt knows neither the KRW tick table nor the
5,000 KRW minimum (NOTES.md), so KRW markets use ``CryptoRules.upbit_krw()``.
Binance USDT-M (``binanceusdm``): the same filters from ``/fapi/v1/exchangeInfo``
(minimum notional is ``MIN_NOTIONAL.notional``), as ``FuturesRules`` that waive it for
reduce-only orders; only USDT-margined perpetuals are accepted.
The stop price of a stop order is held to the same tick grid as the limit price.
A stop must sit on the far side of the market (:func:`check_stop_side`): Binance spot
refuses a stop that would trigger at once ("Stop price would trigger immediately").
Refusals are re-labelled ``venue.*`` (``venue.tick_size``, ``venue.lot``,
``venue.min_notional``) so a journal reader sees the venue's rule, not the simulator's.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from stom_desktop.adapters.brokers.ccxt_futures import USDM, futures_rules
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import OrderRejected
from stom_desktop.core.market_rules import CryptoRules
from stom_desktop.core.orders import Order

_RULE_NAMES = {
    "crypto.tick_size": "venue.tick_size",
    "crypto.amount_step": "venue.lot",
    "crypto.min_amount": "venue.lot",
    "crypto.min_notional": "venue.min_notional",
}


def _filters(market: dict[str, Any]) -> dict[str, dict[str, Any]]:
    info = market.get("info") or {}
    return {f.get("filterType", ""): f for f in info.get("filters", [])}


def rules_from_market(exchange_id: str, market: dict[str, Any]) -> CryptoRules:
    """``CryptoRules`` for one ccxt market of ``exchange_id``."""
    symbol = market.get("symbol", "?")
    if exchange_id == "upbit":
        if market.get("quote") != "KRW":
            raise OrderRejected(
                f"{symbol}: only Upbit KRW markets are supported", rule="venue.market"
            )
        return CryptoRules.upbit_krw()
    filters = _filters(market)
    price = filters.get("PRICE_FILTER", {})
    lot = filters.get("LOT_SIZE", {})
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
    if not price.get("tickSize") or not lot.get("stepSize"):
        raise OrderRejected(
            f"{symbol}: the venue's market info has no tick/step size", rule="venue.market"
        )
    # Futures call it ``notional``; spot ``minNotional``.
    min_notional = notional.get("minNotional") or notional.get("notional") or "0"
    rules = CryptoRules.binance(
        tick_size=Decimal(price["tickSize"]).normalize(),
        step_size=Decimal(lot["stepSize"]).normalize(),
        min_notional=Decimal(min_notional),
        min_qty=Decimal(lot.get("minQty") or "0"),
    )
    return futures_rules(market, rules) if exchange_id == USDM else rules


def check_order(rules: CryptoRules, order: Order) -> None:
    """Raise ``OrderRejected`` with a ``venue.*`` rule if ``order`` breaks ``rules``."""
    try:
        rules.check(order)
    except OrderRejected as exc:
        rule = _RULE_NAMES.get(exc.rule or "", exc.rule)
        raise OrderRejected(exc.reason, client_order_id=order.client_order_id, rule=rule) from None


def check_stop_side(exchange_id: str, order: Order, reference_price: Decimal | None) -> None:
    """Refuse a stop on the wrong side of ``reference_price`` (``venue.stop_side``).

    A sell stop triggers when the price falls to it, so it must be *below* the last
    price; a buy stop *above*. At or through the market the venue would trigger it at
    once (Binance refuses it). Without a reference price nothing is checked here and the
    venue's own refusal comes back as a rejection.
    """
    stop = order.stop_price
    if stop is None or reference_price is None:
        return
    wrong = stop >= reference_price if order.side is Side.SELL else stop <= reference_price
    if wrong:
        where = "below" if order.side is Side.SELL else "above"
        raise OrderRejected(
            f"{order.side.value} stop {stop} on {order.symbol} is not {where} the last price "
            f"{reference_price}: {exchange_id} would trigger it at once "
            f"(a {order.side.value} stop must be {where} the market)",
            client_order_id=order.client_order_id,
            rule="venue.stop_side",
        )
