"""The paper broker's view of one symbol's market: merged quote/book levels, last price.

The kernel hands the broker every ``QuoteEvent``, ``OrderBookEvent`` and ``TradeTick``;
``MarketState`` keeps only references to the latest ones (a few attribute writes per
event, so a symbol without working orders costs next to nothing) and builds ``Decimal``
levels only when an order of that symbol needs them.

Merge rule (documented for determinism): an ``OrderBookEvent`` replaces the whole book
and supersedes any earlier quote; a later ``QuoteEvent`` replaces the top level of each
side, and the deeper levels of the last book stay only where they are strictly worse
than the new top (a buy walks asks upward from the quoted ask). Liquidity the paper
broker's own orders took is remembered per price level until the next quote or book
for the symbol replaces it, so two orders (or a waiting market remainder) cannot
consume the same displayed size twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_FLOOR, Decimal

from stom_desktop.core.enums import Side
from stom_desktop.core.events import OrderBookEvent, QuoteEvent
from stom_desktop.core.market_rules import MarketRules

_ZERO = Decimal(0)
_ONE = Decimal(1)
_CACHE_LIMIT = 4096

#: One level an order can trade against: raw float price (the key for taken liquidity),
#: the price on the venue's grid, and the size still available (on the lot grid).
Level = tuple[float, Decimal, Decimal]


def to_decimal(value: float) -> Decimal:
    """The shortest exact decimal for a float (``70100.0`` -> ``70100.0``, not binary noise)."""
    return Decimal(repr(value))


def floor_to_lot(size: Decimal, lot: Decimal | None) -> Decimal:
    """Cut ``size`` down to a multiple of ``lot`` (never offer more than displayed)."""
    if lot is None:
        return size
    return (size / lot).quantize(_ONE, rounding=ROUND_FLOOR) * lot


def is_through(side: Side, level_price: Decimal, limit: Decimal) -> bool:
    """Whether a level at ``level_price`` is at or better than ``limit`` for ``side``."""
    return level_price <= limit if side is Side.BUY else level_price >= limit


def surely_not_through(side: Side, raw_price: float, limit: float) -> bool:
    """Float pre-check: ``raw_price`` is clearly worse than ``limit`` (beyond 1e-9 relative).

    Lets a resting order skip every ``Decimal`` conversion on the common "no cross"
    update; anything closer than the tolerance goes on to the exact check.
    """
    margin = abs(limit) * 1e-9
    return raw_price > limit + margin if side is Side.BUY else raw_price < limit - margin


class MarketState:
    """Latest market data of one symbol and the liquidity paper orders took from it."""

    __slots__ = ("_prices", "_sizes", "book", "last", "quote", "symbol", "taken")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.book: OrderBookEvent | None = None
        self.quote: QuoteEvent | None = None
        self.last: float | None = None
        # (is_ask_side, raw price) -> quantity already taken; None = nothing taken since
        # the last quote/book (reset by the broker's event hook without a dict clear).
        self.taken: dict[tuple[bool, float], Decimal] | None = None
        self._prices: dict[float, Decimal] = {}  # raw price -> price on the grid
        self._sizes: dict[float, Decimal] = {}  # raw size -> size on the lot grid

    @property
    def has_book(self) -> bool:
        """Whether any quote or book has been seen."""
        return self.book is not None or self.quote is not None

    def raw_levels(self, ask_side: bool) -> list[tuple[float, float]]:
        """Merged (price, size) levels of one side, best first, before taken liquidity."""
        quote, book = self.quote, self.book
        levels: list[tuple[float, float]] = []
        top: float | None = None
        if quote is not None:
            px, size = (quote.ask, quote.ask_size) if ask_side else (quote.bid, quote.bid_size)
            if px > 0 and size > 0:  # also false for NaN
                levels.append((px, size))
                top = px
            elif px > 0:
                top = px  # a quoted price without size still bounds the deeper levels
        if book is not None:
            prices = book.ask_prices if ask_side else book.bid_prices
            sizes = book.ask_sizes if ask_side else book.bid_sizes
            for px, size in zip(prices, sizes, strict=False):
                if not (px > 0 and size > 0):
                    continue
                if top is not None and (px <= top if ask_side else px >= top):
                    continue  # superseded by the newer quote
                levels.append((px, size))
        return levels

    def levels(self, side: Side, rules: MarketRules, lot: Decimal | None) -> Iterator[Level]:
        """Levels an order of ``side`` trades against (asks for a buy), best first.

        Prices are rounded onto the venue's grid, sizes cut to the lot, and what paper
        orders already took at a level since the last update is subtracted. Lazy: a walk
        that stops early converts only the levels it used (conversions are cached per
        float value; a symbol's rules and lot never change).
        """
        ask_side = side is Side.BUY
        taken = self.taken
        prices, sizes = self._prices, self._sizes
        if len(prices) > _CACHE_LIMIT or len(sizes) > _CACHE_LIMIT:
            prices.clear()
            sizes.clear()
        for raw_px, raw_size in self.raw_levels(ask_side):
            size = sizes.get(raw_size)
            if size is None:
                size = sizes[raw_size] = floor_to_lot(to_decimal(raw_size), lot)
            if taken is not None:
                size -= taken.get((ask_side, raw_px), _ZERO)
            if size > 0:
                px = prices.get(raw_px)
                if px is None:
                    px = prices[raw_px] = rules.round_price(to_decimal(raw_px))
                yield raw_px, px, size

    def best_raw(self, side: Side) -> float | None:
        """Best raw price an order of ``side`` meets, without building the level list."""
        quote = self.quote
        if quote is not None:
            px = quote.ask if side is Side.BUY else quote.bid
            if px > 0:
                return px
        book = self.book
        if book is not None:
            prices = book.ask_prices if side is Side.BUY else book.bid_prices
            sizes = book.ask_sizes if side is Side.BUY else book.bid_sizes
            for px, size in zip(prices, sizes, strict=False):
                if px > 0 and size > 0:
                    return px
        return None

    def take(self, side: Side, raw_price: float, quantity: Decimal) -> None:
        """Record that a paper order of ``side`` took ``quantity`` at ``raw_price``."""
        if self.taken is None:
            self.taken = {}
        key = (side is Side.BUY, raw_price)
        self.taken[key] = self.taken.get(key, _ZERO) + quantity

    def reference_price(self, side: Side) -> float | None:
        """Best opposite price, else the last trade, else ``None`` (no data yet)."""
        best = self.best_raw(side)
        return best if best is not None else self.last
