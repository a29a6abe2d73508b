"""Tradable instruments: what a symbol is, where it trades and its static trading limits."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stom_desktop.core.errors import ConfigurationError


class Venue(StrEnum):
    """Where an instrument trades."""

    KRX = "KRX"  # Korea Exchange (KOSPI, KOSDAQ)
    UPBIT = "UPBIT"
    BINANCE = "BINANCE"
    SIM = "SIM"  # the built-in market simulator


class AssetClass(StrEnum):
    """Broad kind of instrument; decides which market rules apply."""

    STOCK = "stock"
    CRYPTO = "crypto"


class TickRule(StrEnum):
    """Which price grid an instrument uses (the tables live in ``market_rules``)."""

    KRX = "krx"  # KRX tiered tick sizes (1..1,000 KRW by price band)
    UPBIT_KRW = "upbit_krw"  # Upbit KRW-market tiered tick sizes
    FIXED = "fixed"  # one tick for every price: ``Instrument.tick_size``


@dataclass(frozen=True, slots=True)
class Instrument:
    """A tradable symbol with its venue and static trading limits.

    Money and size fields are ``Decimal``: they are compared exactly against order
    prices and quantities. ``lot_size`` is the quantity step (1 for KRX shares, e.g.
    ``0.00001`` for a crypto pair); ``min_notional`` is the smallest accepted
    ``quantity * price`` in ``quote_currency`` (0 when the venue has none).
    """

    symbol: str
    venue: Venue
    asset_class: AssetClass
    quote_currency: str
    timezone: str
    tick_rule: TickRule
    lot_size: Decimal
    min_notional: Decimal = Decimal(0)
    tick_size: Decimal | None = None  # only for TickRule.FIXED
    market: str | None = None  # e.g. "KOSPI" / "KOSDAQ" (decides KRX sell tax)
    name: str | None = None

    def __post_init__(self) -> None:
        where = f"instrument {self.symbol!r}"
        if not self.symbol or self.symbol.strip() != self.symbol:
            raise ConfigurationError(f"{where}: symbol must be non-empty without spaces")
        if self.lot_size <= 0:
            raise ConfigurationError(f"{where}: lot_size must be > 0, got {self.lot_size}")
        if self.min_notional < 0:
            raise ConfigurationError(f"{where}: min_notional must be >= 0")
        if self.tick_rule is TickRule.FIXED:
            if self.tick_size is None or self.tick_size <= 0:
                raise ConfigurationError(f"{where}: a fixed tick rule needs tick_size > 0")
        elif self.tick_size is not None:
            raise ConfigurationError(f"{where}: tick_size is only used with TickRule.FIXED")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError(f"{where}: unknown time zone {self.timezone!r}") from exc

    @property
    def zone(self) -> ZoneInfo:
        """The exchange's time zone (for display and trading hours; storage stays UTC)."""
        return ZoneInfo(self.timezone)

    @classmethod
    def krx_stock(
        cls, symbol: str, *, market: str = "KOSPI", name: str | None = None
    ) -> Instrument:
        """A KRX-listed share: KRW, Asia/Seoul, KRX tick tiers, whole-share lots."""
        if market not in {"KOSPI", "KOSDAQ", "KONEX"}:
            raise ConfigurationError(
                f"instrument {symbol!r}: unknown KRX market {market!r}",
                hint="use KOSPI, KOSDAQ or KONEX",
            )
        return cls(
            symbol=symbol,
            venue=Venue.KRX,
            asset_class=AssetClass.STOCK,
            quote_currency="KRW",
            timezone="Asia/Seoul",
            tick_rule=TickRule.KRX,
            lot_size=Decimal(1),
            market=market,
            name=name,
        )

    @classmethod
    def upbit_krw(cls, symbol: str, *, lot_size: Decimal = Decimal("0.00000001")) -> Instrument:
        """An Upbit KRW-market pair such as ``KRW-BTC``: tiered ticks, 5,000 KRW minimum."""
        return cls(
            symbol=symbol,
            venue=Venue.UPBIT,
            asset_class=AssetClass.CRYPTO,
            quote_currency="KRW",
            timezone="Asia/Seoul",
            tick_rule=TickRule.UPBIT_KRW,
            lot_size=lot_size,
            min_notional=Decimal(5000),
        )

    @classmethod
    def simulated(
        cls,
        symbol: str,
        *,
        tick_size: Decimal = Decimal(1),
        lot_size: Decimal = Decimal(1),
        quote_currency: str = "KRW",
    ) -> Instrument:
        """A symbol of the built-in simulator with a fixed tick (``SIM1``, ``SIM2``...)."""
        return cls(
            symbol=symbol,
            venue=Venue.SIM,
            asset_class=AssetClass.STOCK,
            quote_currency=quote_currency,
            timezone="Asia/Seoul",
            tick_rule=TickRule.FIXED,
            lot_size=lot_size,
            tick_size=tick_size,
        )
