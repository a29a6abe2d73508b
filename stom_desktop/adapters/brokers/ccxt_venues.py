"""Per-venue differences behind ccxt: client-id lookup, cancel, trades; ccxt -> our types.

* Binance: ``params={'clientOrderId': X}`` becomes ``newClientOrderId``; lookup by our id
  is ``fetch_order(None, symbol, {'clientOrderId': X})`` (``origClientOrderId``); trades
  of an order come from ``fetch_my_trades(symbol, params={'orderId': id})``.
* Upbit: ``clientOrderId`` becomes ``identifier``; ccxt's ``fetch_order`` by identifier is
  broken (sends ``uuid=None``), so ``private_get_order({'identifier': X})`` +
  ``parse_order``; that answer embeds the order's trades. A cancel answers ``wait``:
  confirming it means reading the order again until it says ``cancel``.

* Stop orders: Binance spot only, as ``STOP_LOSS`` (stop-market) and
  ``STOP_LOSS_LIMIT`` (``triggerPrice`` -> ``stopPrice``); Upbit has none and USDT-M
  stops live in Binance's Algo Order API: both refused (:meth:`VenueDialect.unsupported_type`).

* Binance USDT-M (``binanceusdm``): as Binance spot on ``/fapi``, plus ``reduceOnly``
  for closing orders (by engine tag), futures error codes re-labelled as rejections,
  and positions from ``positionRisk`` (``ccxt_futures``).

Amended orders (cancel-replace) carry a derived client id ``<cid>.a<n>`` at the venue;
:func:`base_client_id` maps it back to the engine's id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ccxt

from stom_desktop.adapters.brokers.ccxt_futures import (
    USDM,
    futures_rejection,
    is_closing,
    signed_positions,
)
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError
from stom_desktop.core.fills import Fill
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import OrderType, TimeInForce

_AMEND_RE = re.compile(r"^(?P<base>.+)\.a(?P<n>\d+)$")
_ZERO = Decimal(0)

CcxtOrder = dict[str, Any]


def amended_client_id(client_order_id: str, generation: int) -> str:
    """The venue client id of the ``generation``-th replacement (1, 2, ...) of an order."""
    return f"{client_order_id}.a{generation}"


def base_client_id(venue_client_id: str) -> str:
    """The engine's client id behind a venue client id (strips ``.a<n>``)."""
    match = _AMEND_RE.match(venue_client_id)
    return venue_client_id if match is None else match.group("base")


def dec(value: Any) -> Decimal | None:
    """A ccxt number (float/str/None) as ``Decimal`` via its shortest repr."""
    if value is None:
        return None
    return Decimal(value) if isinstance(value, str) else Decimal(repr(value))


def status_of(order: CcxtOrder, quantity: Decimal, filled: Decimal) -> OrderStatus:
    """Our status for a ccxt order with ``filled`` of ``quantity`` done."""
    state = order.get("status")
    if state == "closed":
        return OrderStatus.FILLED if filled >= quantity else OrderStatus.CANCELLED
    if state == "canceled":
        return OrderStatus.FILLED if filled >= quantity else OrderStatus.CANCELLED
    if state == "expired":
        return OrderStatus.EXPIRED
    if state == "rejected":
        return OrderStatus.REJECTED
    return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.SUBMITTED


#: Raw Binance order types that are stops (ccxt reports spot ``STOP_LOSS`` as
#: ``market`` and ``STOP_LOSS_LIMIT`` as ``limit``, so the raw type decides).
_RAW_STOP_TYPES = {
    "STOP_LOSS": OrderType.STOP,  # spot stop-market
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,  # spot stop-limit
    "STOP_MARKET": OrderType.STOP,  # USDT-M stop-market
    "STOP": OrderType.STOP_LIMIT,  # USDT-M stop-limit
}


def type_of(order: CcxtOrder) -> OrderType:
    """Our order type for a ccxt order (the venue's raw type first; unknown is limit)."""
    raw = str((order.get("info") or {}).get("type") or "").upper()
    if raw in _RAW_STOP_TYPES:
        return _RAW_STOP_TYPES[raw]
    kind = str(order.get("type") or "limit").lower()
    if kind == "market":
        return OrderType.MARKET
    if "stop" in kind and "limit" in kind:
        return OrderType.STOP_LIMIT
    if "stop" in kind:
        return OrderType.STOP
    return OrderType.LIMIT


def stop_price_of(order: CcxtOrder) -> Decimal | None:
    """The trigger price of a stop order (``None`` for other types; 0 means none)."""
    if not type_of(order).needs_stop_price:
        return None
    info = order.get("info") or {}
    for value in (order.get("triggerPrice"), order.get("stopPrice"), info.get("stopPrice")):
        price = dec(value)
        if price is not None and price > 0:
            return price
    return None


def tif_of(order: CcxtOrder) -> TimeInForce:
    """Our time in force for ccxt's ``timeInForce`` (post-only is GTC)."""
    tif = str(order.get("timeInForce") or "GTC").upper()
    return {"IOC": TimeInForce.IOC, "FOK": TimeInForce.FOK}.get(tif, TimeInForce.GTC)


def ts_of(ms: Any, fallback: datetime) -> datetime:
    """A ccxt millisecond timestamp as aware UTC (``fallback`` when missing)."""
    return fallback if ms is None else datetime.fromtimestamp(int(ms) / 1000, UTC)


def fill_from_trade(
    venue: str, trade: CcxtOrder, cid: str, symbol: str, side: Side, quote: str, now: datetime
) -> Fill | None:
    """A ``Fill`` from a ccxt trade (``None`` for a trade without id, size or price)."""
    qty, price = dec(trade.get("amount")), dec(trade.get("price"))
    trade_id = trade.get("id")
    if trade_id is None or qty is None or price is None or qty <= 0 or price <= 0:
        return None
    fee = trade.get("fee") or {}
    cost = dec(fee.get("cost")) or _ZERO
    return Fill(
        fill_id=f"{venue}:{trade_id}",
        client_order_id=cid,
        symbol=symbol,
        side=side,
        quantity=qty,
        price=price,
        fee=abs(cost),
        fee_currency=str(fee.get("currency") or quote),
        ts=ts_of(trade.get("timestamp"), now),
    )


@dataclass(frozen=True)
class VenueDialect:
    """How one venue does the calls that differ (Binance spot/USDT-M, Upbit)."""

    exchange_id: str

    @property
    def needs_symbol(self) -> bool:
        """Whether a lookup by client id needs the symbol (Binance yes, Upbit no)."""
        return self.exchange_id != "upbit"

    @property
    def cancel_is_async(self) -> bool:
        """Whether a cancel must be confirmed by reading the order again (Upbit)."""
        return self.exchange_id == "upbit"

    @property
    def is_futures(self) -> bool:
        """Whether the venue is Binance USDT-M futures (positions, reduce-only)."""
        return self.exchange_id == USDM

    def reduce_only(self, tag: str | None) -> bool:
        """Whether an order with engine ``tag`` goes out reduce-only (futures exits)."""
        return self.is_futures and is_closing(tag)

    def unsupported_type(self, order_type: OrderType) -> str | None:
        """Why the venue cannot take ``order_type`` through this broker (``None``: it can)."""
        if order_type in (OrderType.MARKET, OrderType.LIMIT):
            return None
        if self.exchange_id == "upbit":
            return (
                f"Upbit has no {order_type} orders (its API takes limit, market and best "
                "orders only): use an engine-side stop instead (the strategy's stop_loss)"
            )
        if self.is_futures:
            # ccxt routes USDT-M conditional orders to /fapi/v1/algoOrder (Binance moved
            # them there); a triggered algo order spawns a separate order with a new id,
            # which our lookup/fill tracking by client id does not follow.
            return (
                f"Binance USDT-M {order_type} orders live in Binance's separate Algo Order "
                "API, which this broker does not support: use an engine-side stop instead "
                "(the strategy's stop_loss)"
            )
        if self.exchange_id == "binance":
            return None  # STOP_LOSS / STOP_LOSS_LIMIT
        return f"{order_type} orders are not supported on {self.exchange_id}"

    @staticmethod
    def ccxt_type(order_type: OrderType) -> str:
        """ccxt's ``type`` for ``order_type``: a stop is a market/limit with a trigger price."""
        return "market" if order_type in (OrderType.MARKET, OrderType.STOP) else "limit"

    def create_params(
        self,
        venue_client_id: str,
        *,
        reduce_only: bool = False,
        stop_price: Decimal | None = None,
    ) -> dict[str, Any]:
        """Extra ``create_order`` params: our client order id, reduce-only, trigger price.

        Binance spot: ``triggerPrice`` turns ccxt's ``market`` into ``STOP_LOSS`` and
        ``limit`` into ``STOP_LOSS_LIMIT`` (sent as ``stopPrice``). The exact decimal
        string is passed, so no float rounding moves it off the tick grid.
        """
        params: dict[str, Any] = {"clientOrderId": venue_client_id}
        if reduce_only:
            params["reduceOnly"] = True
        if stop_price is not None:
            params["triggerPrice"] = str(stop_price)
        return params

    def refine(self, exc: BrokerError) -> BrokerError:
        """A venue refusal re-labelled by the venue's own error code where we know it."""
        return futures_rejection(exc) if self.is_futures else exc

    def positions(self, ex: ccxt.Exchange, symbols: list[str]) -> dict[str, Decimal]:
        """Signed holdings per symbol (see ``CcxtBroker.positions``)."""
        if self.is_futures:
            return signed_positions(ex, symbols or None)
        totals = ex.fetch_balance().get("total") or {}
        out: dict[str, Decimal] = {}
        for symbol in symbols:
            amount = dec(totals.get(ex.market(symbol)["base"]))
            if amount is not None and amount != 0:
                out[symbol] = amount
        return out

    def fetch_by_client_id(
        self, ex: ccxt.Exchange, symbol: str | None, venue_client_id: str
    ) -> CcxtOrder | None:
        """The venue's order with our client id, ``None`` if it has none (ccxt errors raise)."""
        try:
            if self.exchange_id == "upbit":
                raw = ex.private_get_order({"identifier": venue_client_id})
                order: CcxtOrder = ex.parse_order(raw)
                order.setdefault("clientOrderId", venue_client_id)
                return order
            return ex.fetch_order(None, symbol, {"clientOrderId": venue_client_id})
        except ccxt.OrderNotFound:
            return None

    def trades(self, ex: ccxt.Exchange, order: CcxtOrder) -> list[CcxtOrder]:
        """The executions of ``order`` (Upbit: embedded in the order read)."""
        if not (order.get("filled") or 0):
            return []
        if self.exchange_id == "upbit":
            return list(order.get("trades") or [])
        return list(ex.fetch_my_trades(order["symbol"], params={"orderId": order["id"]}))

    def cancel(self, ex: ccxt.Exchange, order: CcxtOrder) -> CcxtOrder:
        """Ask the venue to cancel ``order`` (by venue id)."""
        if self.exchange_id == "upbit":
            return ex.cancel_order(order["id"])
        return ex.cancel_order(order["id"], order["symbol"])
