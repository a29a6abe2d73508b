"""Binance USDT-M futures specifics: reduce-only exits, rules, positions, account settings.

The venue is ccxt's ``binanceusdm`` (exchange id ``binanceusdm``, symbols like
``BTC/USDT:USDT``). What differs from spot, and lives here:

* **Reduce-only**: an order whose engine tag marks it as closing (:func:`is_closing`:
  ``exit:*`` from strategies, ``flatten``/``flatten:*``, ``kill_switch``,
  ``forced_liquidation``, ``liquidate``, ``reduce:*``) goes out with
  ``reduceOnly=true``, so it can shrink a position but never open or flip one. The venue
  waives the minimum notional for such orders; :class:`FuturesRules` does too.
* **Rejections** by futures error code (:data:`FUTURES_REJECTIONS`): ``-2019`` margin is
  insufficient -> ``venue.insufficient_funds``, ``-4164`` -> ``venue.min_notional``,
  ``-1111`` -> ``venue.precision``, ``-2022`` -> ``venue.reduce_only``...
* **Positions**: :func:`signed_positions` reads ``positionRisk`` (``fetch_positions``)
  as one signed ``Decimal`` per symbol (long > 0, short < 0, flat symbols absent).
* **Account settings** are read, never changed: :func:`read_account_settings` returns
  leverage and margin mode per symbol and the position mode. Hedge mode is refused
  (:meth:`FuturesAccountSettings.require_one_way`): our orders carry no ``positionSide``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import ccxt

from stom_desktop.core.errors import (
    BrokerAuthError,
    BrokerError,
    ConfigurationError,
    OrderRejected,
    TemporaryBrokerError,
)
from stom_desktop.core.market_rules import CryptoRules
from stom_desktop.core.orders import Order

#: The ccxt exchange id of Binance USDT-M futures.
USDM = "binanceusdm"
_ZERO = Decimal(0)

#: Engine order tags that only ever close a position (OrderManager.flatten, the kill
#: switch, forced liquidation, the service's liquidate, strategy exits).
CLOSING_TAGS = frozenset({"flatten", "kill_switch", "forced_liquidation", "liquidate"})
#: Tag prefixes that close: strategy exits ``exit:<why>``; ``flatten:<why>`` and
#: ``reduce:<why>`` for any other closing path (e.g. reconciliation).
CLOSING_PREFIXES = ("exit:", "flatten:", "reduce:")

#: Binance futures error code -> our rejection rule (docs: USDS-M futures error codes).
FUTURES_REJECTIONS = {
    -2019: "venue.insufficient_funds",  # Margin is insufficient.
    -2018: "venue.insufficient_funds",  # Balance is insufficient.
    -2024: "venue.insufficient_funds",  # Position is not sufficient.
    -4164: "venue.min_notional",  # Order's notional must be no smaller than ...
    -1111: "venue.precision",  # Precision is over the maximum defined for this asset.
    -4014: "venue.tick_size",  # Price not increased by tick size.
    -4003: "venue.lot",  # Quantity less than or equal to zero.
    -4005: "venue.lot",  # Quantity greater than max quantity.
    -2022: "venue.reduce_only",  # ReduceOnly Order is rejected.
    -4061: "venue.position_mode",  # Order's position side does not match user's setting.
    -4116: "venue.duplicate_client_id",  # ClientOrderId is duplicated.
    -4131: "venue.price_band",  # The counterparty's best price does not meet PERCENT_PRICE.
}
_CODE = re.compile(r'"code"\s*:\s*(-\d+)')


def is_closing(tag: str | None) -> bool:
    """Whether an order with engine ``tag`` only reduces a position (sent reduce-only)."""
    if tag is None:
        return False
    return tag in CLOSING_TAGS or tag.startswith(CLOSING_PREFIXES)


def futures_rejection(exc: BrokerError) -> BrokerError:
    """``exc`` re-labelled by the futures error code in its text (unchanged if none).

    A code in :data:`FUTURES_REJECTIONS` makes an ``OrderRejected`` with that rule, even
    when ccxt raised a plain exchange error (e.g. ``-4061``). Temporary and
    authentication failures are never re-labelled.
    """
    if isinstance(exc, TemporaryBrokerError | BrokerAuthError):
        return exc
    text = exc.reason if isinstance(exc, OrderRejected) else exc.message
    match = _CODE.search(text)
    rule = None if match is None else FUTURES_REJECTIONS.get(int(match.group(1)))
    if rule is None:
        return exc
    reason = text.removeprefix(f"order {exc.client_order_id}: ")
    return OrderRejected(reason, client_order_id=exc.client_order_id, rule=rule, hint=exc.hint)


@dataclass(frozen=True, slots=True)
class FuturesRules(CryptoRules):
    """``CryptoRules`` of a USDT-M contract; closing orders skip the minimum notional.

    Binance accepts a reduce-only order below ``MIN_NOTIONAL.notional`` ("unless you
    choose reduce only"): flattening a small remainder must not be refused here.
    """

    def check(
        self,
        order: Order,
        *,
        reference_price: Decimal | None = None,
        prev_close: Decimal | None = None,
    ) -> None:
        """Tick, step, minimum quantity; minimum notional only for orders that can open."""
        rules: CryptoRules = replace(self, min_notional=_ZERO) if is_closing(order.tag) else self
        CryptoRules.check(rules, order, reference_price=reference_price, prev_close=prev_close)


def futures_rules(market: dict[str, Any], base: CryptoRules) -> FuturesRules:
    """:class:`FuturesRules` for a ccxt ``binanceusdm`` market (perpetual, USDT only)."""
    info = market.get("info") or {}
    symbol = market.get("symbol", "?")
    if info.get("contractType") != "PERPETUAL" or market.get("settle") != "USDT":
        raise OrderRejected(
            f"{symbol}: only USDT-margined perpetual contracts are supported "
            f"(contractType {info.get('contractType')!r}, settle {market.get('settle')!r})",
            rule="venue.market",
        )
    # USDT-M default VIP0 taker fee; the fills carry the real commission.
    return FuturesRules(
        base.ticks,
        base.amount_step,
        base.min_notional,
        base.min_amount,
        Decimal("0.0005"),
        venue=USDM,
    )


def _num(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(value) if isinstance(value, str) else Decimal(repr(value))


def signed_positions(ex: ccxt.Exchange, symbols: Sequence[str] | None) -> dict[str, Decimal]:
    """Signed position per symbol from ``fetch_positions`` (positionRisk); flat ones absent.

    Uses the venue's exact ``positionAmt`` string (negative for a short in one-way mode);
    hedge-mode legs of one symbol are summed into the net amount.
    """
    rows = ex.fetch_positions(list(symbols) if symbols else None)
    out: dict[str, Decimal] = {}
    for row in rows:
        info = row.get("info") or {}
        amount = _num(info.get("positionAmt"))
        if amount is None:  # fall back on ccxt's unsigned contracts + side
            contracts = _num(row.get("contracts")) or _ZERO
            amount = contracts if row.get("side") == "long" else -contracts
        if amount == 0:
            continue
        symbol = str(row["symbol"])
        out[symbol] = out.get(symbol, _ZERO) + amount
    return {s: q for s, q in out.items() if q != 0}


@dataclass(frozen=True)
class FuturesAccountSettings:
    """The account's futures settings as read at session start (never changed by us)."""

    hedge_mode: bool
    leverage: dict[str, int]  # symbol -> leverage (x)
    margin_mode: dict[str, str]  # symbol -> "cross" | "isolated"

    def describe(self) -> str:
        """One line for the log: mode, then leverage and margin per symbol."""
        per_symbol = ", ".join(
            f"{s} {self.leverage.get(s, '?')}x {self.margin_mode.get(s, '?')}"
            for s in sorted(set(self.leverage) | set(self.margin_mode))
        )
        mode = "hedge" if self.hedge_mode else "one-way"
        return f"position mode {mode}; {per_symbol or 'no symbols'}"

    def require_one_way(self) -> None:
        """Refuse hedge mode: our orders carry no ``positionSide`` (the venue says -4061)."""
        if self.hedge_mode:
            raise ConfigurationError(
                "the Binance USDT-M account is in hedge mode (dual-side positions); "
                "STOM trades one-way positions only",
                key="exchange",
                hint="switch Position Mode to One-way in Binance Futures preferences "
                "(with no open positions), then start again",
            )


def read_account_settings(ex: ccxt.Exchange, symbols: Sequence[str]) -> FuturesAccountSettings:
    """Position mode (``positionSide/dual``), leverage and margin mode (``symbolConfig``)."""
    ex.load_markets()
    dual = ex.fapiPrivateGetPositionSideDual()
    hedge = str(dual.get("dualSidePosition", "false")).lower() == "true"
    wanted = {ex.market(s)["id"]: s for s in symbols}
    leverage: dict[str, int] = {}
    margin: dict[str, str] = {}
    for row in ex.fapiPrivateGetSymbolConfig():
        symbol = wanted.get(str(row.get("symbol")))
        if symbol is None:
            continue
        if row.get("leverage") is not None:
            leverage[symbol] = int(row["leverage"])
        kind = str(row.get("marginType") or "").upper()
        if kind:
            margin[symbol] = "cross" if kind == "CROSSED" else "isolated"
    return FuturesAccountSettings(hedge, leverage, margin)
