"""A real venue for one session: the ccxt client, REST quote feed, market rules, broker.

Kept apart from ``trading_runtime`` so that importing the trading service does not load
ccxt (about 60 MB and half a second): this module is imported only when a live or
venue dry-run session starts, or when an interrupted live session is reconciled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

import ccxt

from stom_desktop.adapters.brokers.ccxt_broker import CcxtBroker
from stom_desktop.adapters.brokers.ccxt_caps import NotionalCaps
from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.adapters.brokers.ccxt_feed import CcxtPollingFeed
from stom_desktop.adapters.brokers.ccxt_markets import rules_from_market
from stom_desktop.config.settings import Settings
from stom_desktop.core.errors import BrokerError, ConfigurationError, StomError
from stom_desktop.core.market_rules import MarketRules
from stom_desktop.core.ports import Feed
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.services.trading_spec import SessionSpec

log = logging.getLogger(__name__)

#: Makes a ccxt client: (exchange id, api key, secret) -> client. Tests inject one with a
#: short timeout; the default is ``ccxt_client.make_exchange``.
ExchangeFactory = Callable[[str, str | None, str | None], ccxt.Exchange]


def default_exchange_factory(
    exchange_id: str, api_key: str | None, secret: str | None
) -> ccxt.Exchange:
    """A rate-limited ccxt client on the real venue (or ``STOM_EXCHANGE_BASE_URL``)."""
    return make_exchange(exchange_id, api_key=api_key, secret=secret)


class LiveVenue:
    """A real venue for one session: REST quote feed, market rules and (live) the broker.

    Built before the engine: markets are loaded here, so a bad symbol or refused keys
    fail the start instead of the first order. A dry run has no broker (nothing is sent).
    """

    def __init__(
        self,
        spec: SessionSpec,
        settings: Settings,
        *,
        credentials: tuple[str, str] | None,
        factory: ExchangeFactory = default_exchange_factory,
        feed: Feed | None = None,
    ) -> None:
        assert spec.exchange is not None  # SessionSpec requires it for a venue feed
        self.exchange_id = spec.exchange
        self._price: Callable[[str], Decimal | None] | None = None
        live = settings.live
        if feed is None:
            # Its own client: the feed thread must not share ccxt state with the broker.
            feed = CcxtPollingFeed(
                factory(self.exchange_id, None, None), interval_s=live.poll_interval_s
            )
        self.feed: Feed = feed
        quotes = {symbol.split("/")[-1].split(":")[0] for symbol in spec.symbols}
        if len(quotes) != 1:
            raise ConfigurationError(
                f"a live session's symbols must share one quote currency, got {sorted(quotes)}",
                key="symbols",
            )
        #: The account currency of the session's books (USDT, KRW...).
        self.quote_currency = quotes.pop()
        self.broker: CcxtBroker | None = None
        markets = factory(self.exchange_id, *(credentials or (None, None)))
        if credentials is not None:
            self.broker = CcxtBroker(
                markets,
                self.exchange_id,
                symbols=spec.symbols,
                price_source=self.price,
                caps=NotionalCaps(
                    Decimal(str(live.per_order_notional_cap)),
                    Decimal(str(live.per_day_notional_cap)),
                    price_source=self.price,
                ),
            )
            self.broker.load_markets()
            self._rules = {s: self.broker.rules(s) for s in spec.symbols}
        else:
            try:
                markets.load_markets()
            except ccxt.BaseError as exc:
                raise StomError(f"{self.exchange_id}: could not load markets: {exc}") from None
            self._rules = {}
            for symbol in spec.symbols:
                if symbol not in markets.markets:
                    raise ConfigurationError(
                        f"{self.exchange_id} has no market {symbol!r}", key="symbols"
                    )
                self._rules[symbol] = rules_from_market(self.exchange_id, markets.market(symbol))

    def bind_prices(self, price: Callable[[str], Decimal | None]) -> None:
        """Where reference prices come from (the engine's last price)."""
        self._price = price

    def price(self, symbol: str) -> Decimal | None:
        """The reference price of ``symbol`` (market-order caps, Upbit market buys)."""
        return None if self._price is None else self._price(symbol)

    def rules(self, symbol: str) -> MarketRules:
        """The venue's rules for a session symbol."""
        try:
            return self._rules[symbol]
        except KeyError:
            raise ConfigurationError(
                f"{symbol!r} is not a symbol of this session", key="symbols"
            ) from None

    def lot_size(self, symbol: str) -> Decimal:
        """The quantity step of ``symbol`` (for sizing entries)."""
        return self._rules[symbol].amount_step

    def settle(self, om: OrderManager) -> None:
        """One last poll and reconciliation so the journal ends with the venue's states."""
        if self.broker is None:
            return
        try:
            self.broker.poll()
            om.tick()
        except BrokerError as exc:
            log.error("%s: final poll at stop failed: %s", self.exchange_id, exc)
