"""Account and market reads of ``CcxtBroker``: markets, balances, ticker, positions.

Nothing here places or changes an order, and nothing here is changed at the venue:

* :meth:`CcxtAccountReads.load_markets` loads market info once (and takes Binance's
  request-weight limit from the answer);
* balances (:meth:`~CcxtAccountReads.balances` free per currency,
  :meth:`~CcxtAccountReads.account_balances` free/locked/total as :class:`VenueBalance`)
  and the last price (:meth:`~CcxtAccountReads.ticker_price`);
* Binance USDT-M futures (``binanceusdm``): :meth:`~CcxtAccountReads.positions` gives the
  venue's signed positions (spot venues: the wallet's base assets),
  :meth:`~CcxtAccountReads.futures_settings` the account's leverage/margin/position mode
  (read, never changed; ``ccxt_futures``).

Every read is retried like any read (``ccxt_errors.VenueCaller``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

import ccxt

from stom_desktop.adapters.brokers.ccxt_errors import VenueCaller
from stom_desktop.adapters.brokers.ccxt_futures import (
    FuturesAccountSettings,
    read_account_settings,
)
from stom_desktop.adapters.brokers.ccxt_venues import VenueDialect, dec
from stom_desktop.adapters.brokers.ccxt_weight import minute_weight_limit
from stom_desktop.core.errors import BrokerError

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenueBalance:
    """One currency at the venue: ``free`` to trade, ``used`` locked in open orders."""

    free: Decimal
    used: Decimal
    total: Decimal


class CcxtAccountReads:
    """The read-only account side of ``CcxtBroker`` (markets, balances, positions)."""

    # Set by CcxtBroker.__init__; declared here so this part type-checks on its own.
    exchange_id: str
    _ex: ccxt.Exchange
    _caller: VenueCaller
    _dialect: VenueDialect
    _symbols: list[str]
    _markets_loaded: bool

    def load_markets(self) -> None:
        """Load market info once (retried like any read); call at session start."""
        if not self._markets_loaded:
            self._caller.read("load_markets", self._ex.load_markets)
            self._markets_loaded = True
            # The answer was exchangeInfo (Binance): take its request-weight limit.
            limit = minute_weight_limit(getattr(self._ex, "last_http_response", None))
            if limit is not None:
                self._caller.weights.set_limit(limit)

    def balances(self) -> dict[str, Decimal]:
        """Free balance per currency."""
        raw = self._caller.read("fetch_balance", self._ex.fetch_balance)
        free = raw.get("free") or {}
        return {str(k): d for k, v in free.items() if (d := dec(v)) is not None}

    def account_balances(self) -> dict[str, VenueBalance]:
        """Free, locked (in open orders) and total balance per currency, non-zero only."""
        raw = self._caller.read("fetch_balance", self._ex.fetch_balance)
        free, used, total = (raw.get(k) or {} for k in ("free", "used", "total"))
        out = {}
        for asset in set(free) | set(used) | set(total):
            f, u = dec(free.get(asset)) or _ZERO, dec(used.get(asset)) or _ZERO
            t = dec(total.get(asset))
            line = VenueBalance(f, u, f + u if t is None else t)
            if line.total != 0 or line.free != 0:
                out[str(asset)] = line
        return out

    def ticker_price(self, symbol: str) -> Decimal | None:
        """The venue's last traded price of ``symbol`` (None when it has none)."""
        ticker = self._caller.read("fetch_ticker", lambda: self._ex.fetch_ticker(symbol))
        return dec(ticker.get("last") or ticker.get("close"))

    # -- positions (futures helper; for reconciliation and flattening) -----------------
    def positions(self, symbols: Sequence[str] | None = None) -> dict[str, Decimal]:
        """The venue's signed position per symbol: long > 0, short < 0, flat absent.

        ``symbols`` defaults to the session's. **Account-wide**, not per session: a
        position opened by hand or by another program shows up too.

        * Binance USDT-M: ``fetch_positions`` (``/fapi/v3/positionRisk``), the exact
          ``positionAmt`` in contracts of 1 base unit (``BTC/USDT:USDT`` -> BTC).
        * Spot venues (Binance, Upbit): the wallet's *total* (free + locked) of each
          symbol's base asset, never negative; it includes coins held before the session,
          so never flatten a spot wallet from it without comparing to the journal.

        Read with retries like any read; raises ``TemporaryBrokerError`` when the venue
        stays unavailable.
        """
        wanted = list(self._symbols if symbols is None else symbols)
        self.load_markets()
        return self._caller.read(
            "fetch_positions", partial(self._dialect.positions, self._ex, wanted)
        )

    def futures_settings(self, symbols: Sequence[str] | None = None) -> FuturesAccountSettings:
        """Leverage, margin mode and position mode of a USDT-M account (read only)."""
        if not self._dialect.is_futures:
            raise BrokerError(f"{self.exchange_id} has no futures account settings")
        wanted = list(self._symbols if symbols is None else symbols)
        return self._caller.read(
            "account settings", partial(read_account_settings, self._ex, wanted)
        )
