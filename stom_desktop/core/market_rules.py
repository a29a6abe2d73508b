"""Venue trading rules: tick sizes, price limits, lots, minimum notional, fees and taxes.

The PaperBroker and the simulator apply these, and the backtester can take them as an
option. Every refusal is an ``OrderRejected`` whose ``rule`` names the rule
(``krx.tick_size``, ``krx.price_limit``, ``krx.lot``, ``crypto.tick_size``,
``crypto.amount_step``, ``crypto.min_notional``...).

Sources (checked November 2026):

* KRX tick sizes, KOSPI/KOSDAQ/KONEX unified since 2023-01-25 (KRX press release of
  2023-01-17, reported e.g. by etoday.co.kr/news/view/2213548): < 2,000: 1; < 5,000: 5;
  < 20,000: 10; < 50,000: 50; < 200,000: 100; < 500,000: 500; >= 500,000: 1,000 KRW.
  ETFs/ETNs/ELWs keep a flat 5 KRW tick: use a fixed-tick instrument for them.
* KRX daily price limit: +/-30 % of the previous close (base price).
* Securities transaction tax on KRX sells (seller pays; 증권거래세 + 농어촌특별세):
  2024: KOSPI 0.03 % + 0.15 %, KOSDAQ 0.18 %; 2025: KOSPI 0 % + 0.15 %, KOSDAQ 0.15 %
  (Hanyang Securities notice of 2024-12-26); from 2026-01-01: KOSPI 0.05 % + 0.15 %,
  KOSDAQ 0.20 % (Ministry of Economy and Finance decree, donga.com 2025-12-01); KONEX
  0.10 % throughout. ``KRX_SELL_TAX`` holds this table; the default is the 2026 rate.
* Upbit KRW market (docs.upbit.com/kr/docs/krw-market-info, policy of 2025-07-31): tick
  1,000 from 1,000,000 KRW, 500 from 500,000, 100 from 100,000, 50 from 50,000, 10 from
  10,000, 5 from 5,000, 1 from 100; below 100 KRW the table here keeps the earlier
  published tiers (0.01 from 10, 0.001 from 1, ... 0.00000001 below 0.0001) — the
  stored copy of the page was cut off there, so check ``GET /v1/orderbook/instruments``
  (per-pair ``tick_size``) before live trading sub-100 KRW coins. Minimum order 5,000 KRW.
  Default fee 0.05 %.
* Binance: tick size, step size and minimum notional come from ``exchangeInfo``
  (``PRICE_FILTER.tickSize``, ``LOT_SIZE.stepSize``, ``NOTIONAL.minNotional``); pass them
  to ``CryptoRules.binance``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import ConfigurationError, OrderRejected
from stom_desktop.core.instruments import Instrument, TickRule, Venue
from stom_desktop.core.orders import Order

Rounding = Literal["nearest", "down", "up"]
_ZERO = Decimal(0)
_DEC_MODE = {"nearest": ROUND_HALF_UP, "down": ROUND_FLOOR, "up": ROUND_CEILING}


@dataclass(frozen=True, slots=True)
class TickTable:
    """A tiered price grid: ``ticks[i]`` applies from ``lower_bounds[i]`` (inclusive) up.

    ``lower_bounds`` starts at 0 and increases. Every bound must be a multiple of its own
    tick, so rounding up inside a tier can only land on a valid price of the next tier.
    """

    lower_bounds: tuple[Decimal, ...]
    ticks: tuple[Decimal, ...]

    def __post_init__(self) -> None:
        bounds, ticks = self.lower_bounds, self.ticks
        if len(bounds) != len(ticks) or not bounds or bounds[0] != 0:
            raise ConfigurationError("tick table: bounds and ticks must pair up, starting at 0")
        for i, (bound, tick) in enumerate(zip(bounds, ticks, strict=True)):
            if tick <= 0 or (i and bound <= bounds[i - 1]) or bound % tick != 0:
                raise ConfigurationError(f"tick table: bad tier {i}: from {bound} tick {tick}")

    def tick_for(self, price: Decimal) -> Decimal:
        """The tick size that applies at ``price``."""
        tick = self.ticks[0]
        for bound, t in zip(self.lower_bounds, self.ticks, strict=True):
            if price < bound:
                break
            tick = t
        return tick

    def is_on_tick(self, price: Decimal) -> bool:
        """Whether ``price`` lies on the grid."""
        return price > 0 and price % self.tick_for(price) == 0

    def round(self, price: Decimal, mode: Rounding = "nearest") -> Decimal:
        """Round ``price`` onto the grid (``down``/``up`` are floor/ceiling)."""
        tick = self.tick_for(price)
        return (price / tick).quantize(Decimal(1), rounding=_DEC_MODE[mode]) * tick

    def round_array(
        self, prices: npt.ArrayLike, mode: Rounding = "nearest"
    ) -> npt.NDArray[np.float64]:
        """Vectorised ``round`` for float prices (backtests); tier chosen by each price.

        A relative tolerance of 1e-9 tick absorbs binary noise, so ``2004.9999999999``
        rounds down to 2000 only if it really is below 2005.
        """
        p = np.asarray(prices, dtype=np.float64)
        bounds = np.array([float(b) for b in self.lower_bounds])
        ticks = np.array([float(t) for t in self.ticks])
        tick = ticks[np.searchsorted(bounds, p, side="right") - 1]
        units = p / tick
        if mode == "nearest":
            out = np.floor(units + 0.5 + 1e-9)
        elif mode == "down":
            out = np.floor(units + 1e-9)
        else:
            out = np.ceil(units - 1e-9)
        result: npt.NDArray[np.float64] = out * tick
        return result


def _table(rows: list[tuple[str, str]]) -> TickTable:
    return TickTable(tuple(Decimal(b) for b, _ in rows), tuple(Decimal(t) for _, t in rows))


#: KRX KOSPI/KOSDAQ/KONEX share tick sizes since 2023-01-25.
KRX_TICKS = _table(
    [
        ("0", "1"),
        ("2000", "5"),
        ("5000", "10"),
        ("20000", "50"),
        ("50000", "100"),
        ("200000", "500"),
        ("500000", "1000"),
    ]
)

#: Upbit KRW-market tick sizes (policy of 2025-07-31; sub-100 KRW tiers: see module doc).
UPBIT_KRW_TICKS = _table(
    [
        ("0", "0.00000001"),
        ("0.0001", "0.0000001"),
        ("0.001", "0.000001"),
        ("0.01", "0.00001"),
        ("0.1", "0.0001"),
        ("1", "0.001"),
        ("10", "0.01"),
        ("100", "1"),
        ("5000", "5"),
        ("10000", "10"),
        ("50000", "50"),
        ("100000", "100"),
        ("500000", "500"),
        ("1000000", "1000"),
    ]
)

#: KRX sell-side tax (transaction tax + special rural tax) by (year, market).
KRX_SELL_TAX: dict[tuple[int, str], Decimal] = {
    (2024, "KOSPI"): Decimal("0.0018"),
    (2024, "KOSDAQ"): Decimal("0.0018"),
    (2025, "KOSPI"): Decimal("0.0015"),
    (2025, "KOSDAQ"): Decimal("0.0015"),
    (2026, "KOSPI"): Decimal("0.0020"),
    (2026, "KOSDAQ"): Decimal("0.0020"),
}
KONEX_SELL_TAX = Decimal("0.0010")


def krx_sell_tax_rate(year: int, market: str = "KOSPI") -> Decimal:
    """KRX sell tax rate for trades in ``year`` (years after the table: the latest rate)."""
    if market == "KONEX":
        return KONEX_SELL_TAX
    known = sorted(y for y, m in KRX_SELL_TAX if m == market)
    if not known:
        raise ConfigurationError(f"no KRX sell tax known for market {market!r}", key="market")
    if year < known[0]:
        raise ConfigurationError(f"no KRX sell tax table before {known[0]} (asked {year})")
    return KRX_SELL_TAX[(min(year, known[-1]), market)]


def round_to_tick_array(
    prices: npt.ArrayLike, mode: Rounding = "nearest"
) -> npt.NDArray[np.float64]:
    """Round float prices onto the KRX tick grid, vectorised (for the backtester)."""
    return KRX_TICKS.round_array(prices, mode)


class MarketRules(Protocol):
    """What the broker, simulator and backtester need from a venue's rules."""

    def check(
        self,
        order: Order,
        *,
        reference_price: Decimal | None = None,
        prev_close: Decimal | None = None,
    ) -> None:
        """Raise ``OrderRejected`` (with ``rule``) if ``order`` breaks a rule."""
        ...

    def tick_size(self, price: Decimal) -> Decimal:
        """Tick size at ``price``."""
        ...

    def round_price(self, price: Decimal, mode: Rounding = "nearest") -> Decimal:
        """Round ``price`` onto the venue's grid."""
        ...

    def fee(self, side: Side, notional: Decimal) -> Decimal:
        """Broker commission for a trade of ``notional``."""
        ...

    def tax(self, side: Side, notional: Decimal) -> Decimal:
        """Transaction tax for a trade of ``notional``."""
        ...


def _reject(order: Order, rule: str, reason: str) -> OrderRejected:
    return OrderRejected(reason, client_order_id=order.client_order_id, rule=rule)


def _order_prices(order: Order) -> list[tuple[str, Decimal]]:
    out = []
    if order.price is not None:
        out.append(("price", order.price))
    if order.stop_price is not None:
        out.append(("stop price", order.stop_price))
    return out


@dataclass(frozen=True, slots=True)
class KrxStockRules:
    """KRX share rules: tick tiers, +/-30 % limit, whole shares, sell tax, broker fee.

    Fees and taxes are cut to whole won (``ROUND_DOWN``), as brokers bill them.
    """

    sell_tax_rate: Decimal = KRX_SELL_TAX[(2026, "KOSPI")]
    fee_rate: Decimal = Decimal("0.00015")
    price_limit: Decimal = Decimal("0.30")
    ticks: TickTable = KRX_TICKS
    cash_unit: Decimal = Decimal(1)

    def tick_size(self, price: Decimal) -> Decimal:
        """KRX tick at ``price``."""
        return self.ticks.tick_for(price)

    def round_price(self, price: Decimal, mode: Rounding = "nearest") -> Decimal:
        """Round onto the KRX grid."""
        return self.ticks.round(price, mode)

    def price_limits(self, prev_close: Decimal) -> tuple[Decimal, Decimal]:
        """Lower and upper daily limit, each rounded to a tick toward the inside."""
        upper = self.ticks.round(prev_close * (1 + self.price_limit), "down")
        lower = self.ticks.round(prev_close * (1 - self.price_limit), "up")
        return max(lower, self.ticks.ticks[0]), upper

    def check(
        self,
        order: Order,
        *,
        reference_price: Decimal | None = None,
        prev_close: Decimal | None = None,
    ) -> None:
        """Whole shares, prices on the tick grid and inside the daily limit."""
        if order.quantity != order.quantity.to_integral_value():
            raise _reject(order, "krx.lot", f"quantity {order.quantity} is not whole shares")
        for name, px in _order_prices(order):
            if not self.ticks.is_on_tick(px):
                raise _reject(
                    order,
                    "krx.tick_size",
                    f"{name} {px} is not a multiple of the {self.tick_size(px)} KRW tick "
                    f"(nearest valid: {self.round_price(px)})",
                )
            if prev_close is not None:
                lower, upper = self.price_limits(prev_close)
                if not lower <= px <= upper:
                    raise _reject(
                        order,
                        "krx.price_limit",
                        f"{name} {px} is outside the daily limit {lower}..{upper} "
                        f"(previous close {prev_close})",
                    )

    def fee(self, side: Side, notional: Decimal) -> Decimal:
        """Broker commission on both sides."""
        return (notional * self.fee_rate).quantize(self.cash_unit, rounding=ROUND_DOWN)

    def tax(self, side: Side, notional: Decimal) -> Decimal:
        """Transaction tax, sells only."""
        if side is Side.BUY:
            return _ZERO
        return (notional * self.sell_tax_rate).quantize(self.cash_unit, rounding=ROUND_DOWN)

    @classmethod
    def for_market(
        cls, market: str, *, year: int = 2026, fee_rate: Decimal = Decimal("0.00015")
    ) -> KrxStockRules:
        """Rules with the sell tax of ``market`` (KOSPI/KOSDAQ/KONEX) in ``year``."""
        return cls(sell_tax_rate=krx_sell_tax_rate(year, market), fee_rate=fee_rate)


@dataclass(frozen=True, slots=True)
class CryptoRules:
    """Crypto spot rules: price grid, amount step, minimum amount and notional, fee."""

    ticks: TickTable
    amount_step: Decimal
    min_notional: Decimal = _ZERO
    min_amount: Decimal = _ZERO
    fee_rate: Decimal = Decimal("0.001")
    venue: str = "crypto"

    def __post_init__(self) -> None:
        if self.amount_step <= 0 or self.min_notional < 0 or self.fee_rate < 0:
            raise ConfigurationError("crypto rules: amount_step > 0, min_notional/fee >= 0")

    def tick_size(self, price: Decimal) -> Decimal:
        """Tick at ``price``."""
        return self.ticks.tick_for(price)

    def round_price(self, price: Decimal, mode: Rounding = "nearest") -> Decimal:
        """Round onto the price grid."""
        return self.ticks.round(price, mode)

    def round_amount(self, amount: Decimal) -> Decimal:
        """Cut an amount down to the step (never buy more than asked)."""
        return (amount / self.amount_step).quantize(Decimal(1), rounding=ROUND_DOWN) * (
            self.amount_step
        )

    def check(
        self,
        order: Order,
        *,
        reference_price: Decimal | None = None,
        prev_close: Decimal | None = None,
    ) -> None:
        """Amount on the step and above the minimum, prices on the grid, notional >= min.

        Market orders are checked for minimum notional at ``reference_price`` (the quote
        the engine decided on); without one that check is skipped.
        """
        qty = order.quantity
        if qty % self.amount_step != 0:
            raise _reject(
                order,
                "crypto.amount_step",
                f"amount {qty} is not a multiple of the step {self.amount_step}",
            )
        if qty < self.min_amount:
            raise _reject(order, "crypto.min_amount", f"amount {qty} < minimum {self.min_amount}")
        for name, px in _order_prices(order):
            if not self.ticks.is_on_tick(px):
                raise _reject(
                    order,
                    "crypto.tick_size",
                    f"{name} {px} is not a multiple of the tick {self.tick_size(px)}",
                )
        at: Decimal | None = order.price
        if at is None:
            at = order.stop_price if order.stop_price is not None else reference_price
        if at is not None and qty * at < self.min_notional:
            raise _reject(
                order,
                "crypto.min_notional",
                f"notional {qty * at} ({qty} x {at}) < minimum {self.min_notional}",
            )

    def fee(self, side: Side, notional: Decimal) -> Decimal:
        """Commission (taker rate) on both sides, unrounded."""
        return notional * self.fee_rate

    def tax(self, side: Side, notional: Decimal) -> Decimal:
        """No transaction tax on crypto spot."""
        return _ZERO

    @classmethod
    def upbit_krw(
        cls, *, fee_rate: Decimal = Decimal("0.0005"), amount_step: Decimal = Decimal("1e-8")
    ) -> CryptoRules:
        """Upbit KRW market: tiered ticks, 5,000 KRW minimum, 0.05 % fee."""
        return cls(UPBIT_KRW_TICKS, amount_step, Decimal(5000), fee_rate=fee_rate, venue="upbit")

    @classmethod
    def binance(
        cls,
        *,
        tick_size: Decimal,
        step_size: Decimal,
        min_notional: Decimal,
        min_qty: Decimal = _ZERO,
        fee_rate: Decimal = Decimal("0.001"),
    ) -> CryptoRules:
        """Binance spot pair from its ``exchangeInfo`` filters (fixed tick)."""
        table = TickTable((_ZERO,), (tick_size,))
        return cls(table, step_size, min_notional, min_qty, fee_rate, venue="binance")


@dataclass(frozen=True, slots=True)
class FixedTickRules:
    """A single tick and lot with a flat fee: the simulator's instruments, no limits."""

    tick: Decimal = Decimal(1)
    lot: Decimal = Decimal(1)
    fee_rate: Decimal = _ZERO

    def tick_size(self, price: Decimal) -> Decimal:
        """The one tick."""
        return self.tick

    def round_price(self, price: Decimal, mode: Rounding = "nearest") -> Decimal:
        """Round to the tick."""
        return (price / self.tick).quantize(Decimal(1), rounding=_DEC_MODE[mode]) * self.tick

    def check(
        self,
        order: Order,
        *,
        reference_price: Decimal | None = None,
        prev_close: Decimal | None = None,
    ) -> None:
        """Quantity on the lot, prices on the tick."""
        if order.quantity % self.lot != 0:
            raise _reject(
                order, "sim.lot", f"quantity {order.quantity} not a multiple of {self.lot}"
            )
        for name, px in _order_prices(order):
            if px % self.tick != 0:
                raise _reject(order, "sim.tick_size", f"{name} {px} not a multiple of {self.tick}")

    def fee(self, side: Side, notional: Decimal) -> Decimal:
        """Flat-rate commission."""
        return notional * self.fee_rate

    def tax(self, side: Side, notional: Decimal) -> Decimal:
        """No tax."""
        return _ZERO


def rules_for(instrument: Instrument) -> MarketRules:
    """Default rules for an instrument (KRX by market, Upbit KRW, fixed tick for SIM)."""
    if instrument.tick_rule is TickRule.KRX:
        return KrxStockRules.for_market(instrument.market or "KOSPI")
    if instrument.tick_rule is TickRule.UPBIT_KRW:
        return CryptoRules.upbit_krw(amount_step=instrument.lot_size)
    tick = instrument.tick_size if instrument.tick_size is not None else Decimal(1)
    if instrument.venue is Venue.BINANCE:
        return CryptoRules.binance(
            tick_size=tick, step_size=instrument.lot_size, min_notional=instrument.min_notional
        )
    return FixedTickRules(tick=tick, lot=instrument.lot_size)
