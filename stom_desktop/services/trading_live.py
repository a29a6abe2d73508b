"""A real venue for one session: the ccxt client, REST quote feed, market rules, broker.

Binance USDT-M futures (``binanceusdm``): at a live start the account's position mode,
leverage and margin mode are read and logged, never changed; a hedge-mode account is
refused (our orders are one-way). The session's books are kept in USDT.

Live sessions are reconciled with the account before they start (``venue_reconcile``:
differences reported, never silently overwritten; the session's cash is the venue's
free quote balance) and the kill switch is checked against the venue (``venue_kill``).

Kept apart from ``trading_runtime`` so that importing the trading service does not load
ccxt (about 60 MB and half a second): this module is imported only when a live or
venue dry-run session starts, or when an interrupted live session is reconciled.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import ccxt

from stom_desktop.adapters.brokers.ccxt_broker import CcxtBroker
from stom_desktop.adapters.brokers.ccxt_caps import NotionalCaps
from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.adapters.brokers.ccxt_feed import CcxtPollingFeed
from stom_desktop.adapters.brokers.ccxt_futures import USDM, FuturesAccountSettings
from stom_desktop.adapters.brokers.ccxt_markets import rules_from_market
from stom_desktop.config.settings import Settings
from stom_desktop.core.errors import BrokerError, ConfigurationError, StomError
from stom_desktop.core.events import ErrorEvent, PositionEvent
from stom_desktop.core.market_rules import MarketRules
from stom_desktop.core.ports import Feed, OrderJournal
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.venue_orders import VenueOrderManager
from stom_desktop.persistence import SessionRecord
from stom_desktop.services import venue_kill
from stom_desktop.services.trading_spec import SessionSpec
from stom_desktop.services.venue_adoption import (
    adoption_fill,
    journal_adoption,
    reconciliation_note,
)
from stom_desktop.services.venue_caps import sent_notional_on
from stom_desktop.services.venue_reconcile import (
    JournalReader,
    VenueStart,
    account_sessions,
    decide,
    publish_report,
    reconcile,
)

if TYPE_CHECKING:
    from stom_desktop.services.trading_runtime import SessionRuntime

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
        #: What a difference with the journal at start does (venue_reconcile).
        self.on_mismatch = spec.venue_mismatch or live.on_venue_mismatch
        #: How the session starts after reconciliation (live only, set by reconcile_start).
        self.start: VenueStart | None = None
        if feed is None:
            # Its own client: the feed thread must not share ccxt state with the broker.
            rest_client = factory(self.exchange_id, None, None)
            if live.feed == "websocket":
                # Imported here: ccxt.pro (asyncio, aiohttp) loads only for this feed.
                from stom_desktop.adapters.brokers.ccxt_client import pro_client_like
                from stom_desktop.adapters.feeds.ccxt_ws import CcxtWebsocketFeed

                # Same host, options and markets as the REST client; REST polling
                # every poll_interval_s stands in while the websocket is down.
                feed = CcxtWebsocketFeed(
                    pro_client_like(rest_client), rest_interval_s=live.poll_interval_s
                )
            else:
                feed = CcxtPollingFeed(rest_client, interval_s=live.poll_interval_s)
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
        #: USDT-M account settings read at start (None for spot venues and dry runs).
        self.futures_settings: FuturesAccountSettings | None = None
        markets = factory(self.exchange_id, *(credentials or (None, None)))
        if credentials is not None:
            #: The live notional caps (seeded with today's sent orders at start).
            self.caps = NotionalCaps(
                Decimal(str(live.per_order_notional_cap)),
                Decimal(str(live.per_day_notional_cap)),
                price_source=self.price,
            )
            self.broker = CcxtBroker(
                markets,
                self.exchange_id,
                symbols=spec.symbols,
                price_source=self.price,
                caps=self.caps,
            )
            self.broker.load_markets()
            self._rules = {s: self.broker.rules(s) for s in spec.symbols}
            if self.exchange_id == USDM:
                self.futures_settings = self.broker.futures_settings()
                log.info("%s account: %s", self.exchange_id, self.futures_settings.describe())
                self.futures_settings.require_one_way()
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

    # -- reconciliation at start (live) -------------------------------------------------
    def reconcile_start(
        self, spec: SessionSpec, journal: JournalReader, records: Iterable[SessionRecord]
    ) -> SessionSpec:
        """Compare the account with the journal; ``spec`` with the venue's cash to start on.

        Reads only; what was found is stored and raised on by :meth:`announce`, once the
        session has a row to attach it to.
        """
        if self.broker is None:
            return spec
        records = list(records)
        report = reconcile(self.broker, journal, spec, records, quote=self.quote_currency)
        # The day cap is the account's: count what its live sessions sent today already.
        earlier = [r.id for r in account_sessions(records, self.exchange_id, spec.account)]
        already = sent_notional_on(journal, earlier, datetime.now(UTC).date())
        if already:
            self.caps.seed(already)
            log.info(
                "%s: %s %s already sent today by this account; per-day cap %s",
                self.exchange_id, already, self.quote_currency, self.caps.per_day,
            )  # fmt: skip
        self.start = decide(report, self.on_mismatch, spec.symbols, self.broker.ticker_price)
        if self.start.halt:
            return spec
        log.info(
            "%s live session starts on %s %s (free at the venue + adopted holdings; "
            "the spec's initial cash %s is not used live)",
            self.exchange_id, self.start.initial_cash, self.quote_currency, spec.initial_cash,
        )  # fmt: skip
        return replace(spec, initial_cash=self.start.initial_cash)

    def announce(
        self,
        session_id: int,
        record: Callable[..., object],
        publish: Callable[[object], None],
    ) -> None:
        """Log, store and publish the reconciliation; raise ``VenueMismatchError`` on halt."""
        if self.start is None:
            return
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        publish_report(
            self.start, session_id=session_id, record=record, publish=publish, now_ms=now_ms
        )
        self.start.check()

    def adopt_into(self, runtime: SessionRuntime, journal: OrderJournal) -> None:
        """Seed the session's books with the adopted venue holdings (before it starts).

        The books buy them at the venue's last price with no fee: the session's cash
        stays the venue's free balance and its P&L starts at zero. Each adoption is
        journaled first (``venue_adoption``), so a rebuild from the journal and the next
        reconciliation of the account see it too.
        """
        if self.start is None or not self.start.adopt or runtime.order_manager is None:
            return
        now = datetime.now(UTC)
        for symbol, (qty, price) in self.start.adopt.items():
            fill = adoption_fill(runtime.db_id, symbol, qty, price, self.quote_currency, now)
            journal_adoption(journal, runtime.db_id, fill)
            books = runtime.order_manager.portfolio(runtime.sid)
            books.apply_fill(fill)
            runtime.session.on_fill(fill)  # its books, fills (the report) and exit tracking
            position = books.position(symbol)
            runtime.bus.publish(
                PositionEvent(runtime.sid, symbol, position.quantity, position.avg_price,
                              position.realized_pnl, runtime.clock.now_ms())
            )  # fmt: skip
            log.warning("session %s adopted %s %s at %s from the venue", runtime.db_id,
                        qty, symbol, price)  # fmt: skip

    def reconciliation_note(self) -> str | None:
        """The reports' line on what reconciliation found at start (None: not live)."""
        return None if self.start is None else reconciliation_note(self.start.to_dict())

    # -- kill switch (live) -------------------------------------------------------------
    def kill_switch(
        self,
        runtime: SessionRuntime,
        reason: str,
        *,
        attempts: int = 25,
        interval_s: float = 0.2,
    ) -> venue_kill.VenueKillReport | None:
        """Engage the kill switch on ``runtime`` and verify it at the venue; report it.

        The engage itself (halt, sweep our venue orders, venue-sized exits) runs on the
        engine thread; then the venue is read again until it shows no order of ours and
        the session flat (or dust), for up to ``attempts * interval_s`` seconds. The
        result is logged, stored as a ``risk.kill_switch_venue`` event and, when not
        flat, published as an ``ErrorEvent``.
        """
        om, broker = runtime.order_manager, self.broker
        if not isinstance(om, VenueOrderManager) or broker is None:
            return None
        try:
            runtime.call(lambda: om.engage_kill_switch(reason), timeout=60.0)
        except StomError as exc:  # still verify: the report then says what is left
            log.error("session %s: kill switch at the venue failed: %s", runtime.db_id, exc)
        symbols = runtime.spec.symbols
        report = None
        for attempt in range(max(1, attempts)):
            report = runtime.call(
                lambda: venue_kill.verify(runtime.db_id, runtime.sid, om, broker, symbols),
                timeout=30.0,
            )
            if report.flat:
                break
            if attempt + 1 < attempts:
                time.sleep(interval_s)
        assert report is not None
        text = report.summary()
        (log.warning if report.flat else log.error)("session %s: %s", runtime.db_id, text)

        def tell() -> None:  # on the engine thread, like every other event of the session
            if not report.flat:
                runtime.bus.publish(ErrorEvent(runtime.sid, text, None, runtime.clock.now_ms()))
            if runtime.risk is not None:
                runtime.risk.record(
                    "risk.kill_switch_venue", text, session_id=runtime.sid,
                    journal_session_id=runtime.db_id,
                )  # fmt: skip

        runtime.call(tell)
        return report
