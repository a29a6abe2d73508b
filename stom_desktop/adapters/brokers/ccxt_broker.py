"""CcxtBroker: the ``Broker`` port on a real venue (Binance spot/USDT-M, Upbit KRW) via ccxt.

* Every order carries the engine's client order id to the venue (Binance
  ``newClientOrderId``, Upbit ``identifier``) and is looked up by it, so an order whose
  submit timed out is found, not duplicated (``fetch_order``). A submit retried after an
  unknown outcome first asks the venue by that id.
* Venue rules (tick, lot, minimum notional) are checked *before* sending
  (``ccxt_markets``): ``OrderRejected(rule='venue.tick_size'|'venue.lot'|...)``.
* Stop orders on Binance spot only (``STOP_LOSS``/``STOP_LOSS_LIMIT``, stop price on the
  tick grid, a stop through the ``price_source`` price refused as ``venue.stop_side``);
  Upbit and USDT-M refuse them (``venue.order_type``): use engine-side stops there.
* Errors follow ``ccxt_errors``: reads retried with backoff, writes of unknown outcome
  raise ``TemporaryBrokerError``, rate limits cool down, auth errors name Settings ->
  Accounts, venue refusals become ``OrderRejected`` with the venue's reason.
* **Amend is cancel-replace**: the working venue order is cancelled (Upbit: confirmed by
  reading it back), then the remainder is placed under the derived client id
  ``<cid>.a<n>`` (n = 1, 2, ...). The engine keeps its one id: ``fetch_order``,
  ``open_orders`` and fills report the original id, summing fills over replacements.
  After a restart, ``fetch_order`` probes ``<cid>``, ``<cid>.a1``, ... to rebuild that.
  If the replacement's submit has an unknown outcome the order may end up cancelled
  (reported by ``poll``), never doubled.
* Fills and updates come only from :meth:`poll` (the kernel calls it periodically):
  open orders are read, new trades reported once each (deduplicated by venue trade id),
  then terminal states. Nothing calls the listener from ``submit``/``cancel``/``amend``.

Binance USDT-M futures (``binanceusdm``): orders tagged as closing (``exit:*``,
``flatten``, ``kill_switch``...; ``ccxt_futures.is_closing``) are sent reduce-only;
:meth:`positions` gives the venue's signed positions, :meth:`futures_settings` the
account's leverage/margin/position mode (read, never changed).

Restart recovery waits :attr:`CcxtBroker.arrival_window_s` before it calls a ``new``
order the venue does not show "never sent" (a request of the dead process may still
land): Binance ``recvWindow`` + ``arrival_margin_s``; Upbit a 5 s *heuristic* with no
guarantee behind it (``ccxt_arrival``). A create refused as too old (Binance ``-1021``)
is an ``OrderRejected(rule='venue.timestamp')``: the venue did not take it.

Binance lookups need the symbol: pass the session's ``symbols`` so an order the broker
has not seen in this process (after a restart) can still be found.
Upbit market *buys* are priced in KRW: they need ``price_source`` (a reference price per
symbol) to turn a quantity into the KRW amount; without one they are refused.

Where each part lives (``CcxtBroker`` is this module's class plus its bases):

* ``ccxt_broker`` (here): construction, venue rules, submit / cancel / amend
  (cancel-replace), ``fetch_order`` / ``fetch_fills`` / ``open_orders``;
* ``ccxt_tracking``: the tracked order and its amend generations (``<cid>.aN``
  lookup and probing, summed fills, snapshots under the engine's id);
* ``ccxt_polling``: :meth:`~CcxtBroker.poll`, the only source of fills and updates
  (stateless pieces in ``ccxt_poll``);
* ``ccxt_account``: markets, balances (:class:`VenueBalance`), ticker, futures
  positions and account settings;
* ``ccxt_venues`` (per-venue dialect), ``ccxt_markets`` (rules), ``ccxt_errors``
  (retries, error mapping), ``ccxt_futures``, ``ccxt_arrival``, ``ccxt_weight``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from decimal import ROUND_DOWN, Decimal

import ccxt

from stom_desktop.adapters.brokers.ccxt_account import CcxtAccountReads, VenueBalance
from stom_desktop.adapters.brokers.ccxt_arrival import DEFAULT_ARRIVAL_MARGIN_S, arrival_window
from stom_desktop.adapters.brokers.ccxt_caps import NotionalCaps
from stom_desktop.adapters.brokers.ccxt_errors import RetryPolicy, VenueCaller
from stom_desktop.adapters.brokers.ccxt_markets import (
    check_order,
    check_stop_side,
    rules_from_market,
)
from stom_desktop.adapters.brokers.ccxt_polling import CcxtPolling
from stom_desktop.adapters.brokers.ccxt_tracking import TrackedOrder
from stom_desktop.adapters.brokers.ccxt_venues import (
    CcxtOrder,
    VenueDialect,
    amended_client_id,
    base_client_id,
)
from stom_desktop.adapters.brokers.ccxt_weight import WeightGovernor
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError, OrderRejected, TemporaryBrokerError
from stom_desktop.core.fills import Fill
from stom_desktop.core.market_rules import CryptoRules
from stom_desktop.core.orders import Order, OrderSnapshot
from stom_desktop.core.ports import ExecutionListener

# VenueBalance lives in ccxt_account; re-exported for ``ccxt_broker import VenueBalance``.
__all__ = ["CcxtBroker", "VenueBalance"]


class CcxtBroker(CcxtPolling, CcxtAccountReads):
    """A live venue behind the ``Broker`` port (see the module doc for the contract).

    The order path is here; the tracked orders and their amend generations come from
    ``CcxtOrderTracking`` (``ccxt_tracking``), :meth:`poll` from ``CcxtPolling``
    (``ccxt_polling``), markets/balances/positions from ``CcxtAccountReads``
    (``ccxt_account``). All of them share the state set up in ``__init__``.
    """

    def __init__(
        self,
        exchange: ccxt.Exchange,
        exchange_id: str,
        *,
        symbols: Sequence[str] = (),
        price_source: Callable[[str], Decimal | None] | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        cancel_confirm_attempts: int = 10,
        cancel_confirm_interval_s: float = 0.2,
        own_prefix: str = "stom",
        caps: NotionalCaps | None = None,
        weights: WeightGovernor | None = None,
        arrival_margin_s: float = DEFAULT_ARRIVAL_MARGIN_S,
        arrival_window_s: float | None = None,
    ) -> None:
        self._ex = exchange
        self.exchange_id = exchange_id
        self._dialect = VenueDialect(exchange_id)
        self._caller = VenueCaller(
            exchange_id, exchange, policy=policy, sleep=sleep, monotonic=monotonic, weights=weights
        )
        self._sleep = sleep
        self._symbols = list(symbols)
        self._price_source = price_source
        self._confirm_attempts = cancel_confirm_attempts
        self._confirm_interval = cancel_confirm_interval_s
        self._prefix = own_prefix
        self._caps = caps  # live notional caps, checked before anything is sent
        self._listener: ExecutionListener | None = None
        self._orders: dict[str, TrackedOrder] = {}
        self._uncertain: set[str] = set()  # submits whose outcome is unknown
        self._fill_ids: set[str] = set()
        self._rules: dict[str, CryptoRules] = {}
        self._markets_loaded = False
        self.last_poll_error: BrokerError | None = None
        self.last_poll_requests = 0  # venue reads made by the last poll
        self._arrival_margin = arrival_margin_s
        self._arrival_window = arrival_window_s  # None: derived from the venue

    @property
    def arrival_window_s(self) -> float:
        """Seconds after sending within which the venue may still accept a request.

        Recovery waits this long (from its start) before rejecting a ``new`` order the
        venue does not show. Binance: ``recvWindow`` + ``arrival_margin_s`` (enforced by
        the venue); Upbit: a heuristic 5 s, not a guarantee (``ccxt_arrival``).
        """
        if self._arrival_window is not None:
            return self._arrival_window
        return arrival_window(self.exchange_id, self._ex, margin_s=self._arrival_margin)

    # -- Broker port -------------------------------------------------------------------
    def set_listener(self, listener: ExecutionListener) -> None:
        """Where fills and order updates go (called only from :meth:`poll`)."""
        self._listener = listener

    @property
    def own_prefix(self) -> str:
        """The client-order-id prefix that marks an order as ours."""
        return self._prefix

    def rules(self, symbol: str) -> CryptoRules:
        """The venue's trading rules for ``symbol`` from its market info."""
        if symbol not in self._rules:
            self.load_markets()
            try:
                market = self._ex.market(symbol)
            except ccxt.BadSymbol:
                raise OrderRejected(
                    f"{self.exchange_id} has no market {symbol!r}", rule="venue.market"
                ) from None
            if market.get("symbol") != symbol:  # ccxt resolves BTC/USDT to BTC/USDT:USDT
                raise OrderRejected(
                    f"{self.exchange_id} has no market {symbol!r} "
                    f"(did you mean {market.get('symbol')!r}?)",
                    rule="venue.market",
                )
            self._rules[symbol] = rules_from_market(self.exchange_id, market)
        return self._rules[symbol]

    def submit(self, order: Order) -> str:
        """Check venue rules, send with our client id; returns the venue order id."""
        cid = order.client_order_id
        known = self._orders.get(cid)
        if known is not None and known.venue_ids.get(known.current):
            return known.venue_ids[known.current]  # a retry of an accepted submit
        check_order(self.rules(order.symbol), order)
        self._check_stop(order)
        if self._caps is not None:
            self._caps.check(order)  # counts each client id once (retries are free)
        if cid in self._uncertain:
            found = self._lookup(cid, order.symbol, "submit (retry lookup)")
            if found is not None:
                self._uncertain.discard(cid)
                return str(found["id"])
        tracked = known or TrackedOrder(
            cid,
            order.symbol,
            order.side,
            order.order_type,
            order.quantity,
            order.price,
            order.created_at,
            [cid],
            tag=order.tag,
            stop_price=order.stop_price,
        )
        self._orders[cid] = tracked
        return self._place(tracked, cid, order.quantity, order.price)

    def cancel(self, client_order_id: str) -> None:
        """Cancel the working venue order (Upbit: wait for the venue to confirm)."""
        tracked = self._require(client_order_id, "cancel")
        self._cancel_current(tracked, "cancel")

    def amend(
        self,
        client_order_id: str,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None:
        """Cancel-replace: cancel the working order, place the rest as ``<cid>.a<n>``."""
        tracked = self._require(client_order_id, "amend")
        new_qty = tracked.quantity if quantity is None else quantity
        new_px = tracked.price if price is None else price
        final = self._cancel_current(tracked, "amend")
        filled = self._filled_total(tracked, final)
        rest = new_qty - filled
        if final.get("status") == "closed" or rest <= 0:
            raise OrderRejected(
                f"cannot amend: filled {filled} of {tracked.quantity} before the cancel",
                client_order_id=client_order_id,
                rule="venue.not_open",
            )
        trial = Order(
            client_order_id,
            tracked.symbol,
            tracked.side,
            rest,
            created_at=tracked.created_at,
            order_type=tracked.order_type,
            price=new_px,
            stop_price=tracked.stop_price,
            tag=tracked.tag,
        )
        check_order(self.rules(tracked.symbol), trial)
        self._check_stop(trial)
        venue_cid = amended_client_id(client_order_id, len(tracked.generations))
        tracked.generations.append(venue_cid)
        tracked.quantity, tracked.price = new_qty, new_px
        self._place(tracked, venue_cid, rest, new_px)

    def fetch_order(self, client_order_id: str) -> OrderSnapshot | None:
        """The venue's view of the order by our client id; ``None`` if never received."""
        tracked = self._orders.get(client_order_id)
        if tracked is None:
            if self._lookup(client_order_id, None, "fetch_order") is None:
                return None
            tracked = self._orders[client_order_id]
        current = self._read_current(tracked)
        if current is None:
            return None if len(tracked.generations) == 1 else self._snapshot(tracked, None)
        # Found at the venue: the submit's outcome is known now, so poll reports it again.
        self._uncertain.discard(client_order_id)
        return self._snapshot(tracked, current)

    def fetch_fills(self, client_order_id: str) -> list[Fill]:
        """Every execution of the order over all its generations (for recovery)."""
        tracked = self._orders.get(client_order_id)
        if tracked is None and self._lookup(client_order_id, None, "fetch_fills") is None:
            return []
        tracked = self._orders[client_order_id]
        current = self._read_current(tracked)
        return self._fills(tracked, current)

    def open_orders(self, symbol: str | None = None) -> list[OrderSnapshot]:
        """Open venue orders (ours report the engine's client id, summed over amends)."""
        rows: list[CcxtOrder] = self._caller.read(
            "fetch_open_orders", lambda: self._ex.fetch_open_orders(symbol)
        )
        out = []
        for row in rows:
            venue_cid = row.get("clientOrderId") or str(row.get("id"))
            cid = base_client_id(venue_cid)
            tracked = self._orders.get(cid)
            if tracked is None:
                tracked = self._adopt(cid, row)
            out.append(self._snapshot(tracked, row))
        return out

    # -- internals ---------------------------------------------------------------------
    def _place(
        self, tracked: TrackedOrder, venue_cid: str, qty: Decimal, px: Decimal | None
    ) -> str:
        cid = tracked.cid
        unsupported = self._dialect.unsupported_type(tracked.order_type)
        if unsupported is not None:  # submit refused it already; amend must not send it
            raise OrderRejected(unsupported, client_order_id=cid, rule="venue.order_type")
        params = self._dialect.create_params(
            venue_cid,
            reduce_only=self._dialect.reduce_only(tracked.tag),
            stop_price=tracked.stop_price,
        )
        kind = self._dialect.ccxt_type(tracked.order_type)  # a stop: market/limit + trigger
        send_px: float | None = None if px is None else float(px)
        if kind == "market" and tracked.side is Side.BUY and self.exchange_id == "upbit":
            ref = None if self._price_source is None else self._price_source(tracked.symbol)
            if ref is None:
                raise OrderRejected(
                    "Upbit market buys are sized in KRW: no reference price to convert",
                    client_order_id=cid,
                    rule="venue.market_buy_cost",
                )
            params["cost"] = float((qty * ref).quantize(Decimal(1), rounding=ROUND_DOWN))
        # Binance market buy: price stays None, else ccxt sends quoteOrderQty (NOTES.md).
        try:
            created: CcxtOrder = self._caller.write(
                "create_order",
                lambda: self._ex.create_order(
                    tracked.symbol, kind, tracked.side.value, float(qty), send_px, params
                ),
                cid=cid,
            )
        except TemporaryBrokerError:
            self._uncertain.add(cid)
            raise
        except BrokerError as raw:
            exc = self._dialect.refine(raw)  # futures: rule from the venue's error code
            if isinstance(exc, OrderRejected) and (
                exc.rule == "venue.duplicate_client_id" or "Duplicate order" in exc.reason
            ):
                found = self._lookup(cid, tracked.symbol, "submit (duplicate id)")
                if found is not None:
                    return str(found["id"])
            raise exc from None
        self._uncertain.discard(cid)
        venue_id = str(created["id"])
        tracked.venue_ids[venue_cid] = venue_id
        return venue_id

    def _check_stop(self, order: Order) -> None:
        """Refuse an order type the venue lacks, or a stop on the wrong side of the market."""
        unsupported = self._dialect.unsupported_type(order.order_type)
        if unsupported is not None:
            raise OrderRejected(
                unsupported, client_order_id=order.client_order_id, rule="venue.order_type"
            )
        if order.stop_price is not None and self._price_source is not None:
            check_stop_side(self.exchange_id, order, self._price_source(order.symbol))

    def _cancel_current(self, tracked: TrackedOrder, what: str) -> CcxtOrder:
        current = self._read_current(tracked)
        if current is None or current.get("status") != "open":
            state = None if current is None else current.get("status")
            raise OrderRejected(
                f"cannot {what}: the venue order is {state}",
                client_order_id=tracked.cid,
                rule="venue.not_open",
            )
        try:
            final = self._caller.write(
                "cancel_order", lambda: self._dialect.cancel(self._ex, current), cid=tracked.cid
            )
        except OrderRejected:
            raise
        except BrokerError as exc:
            if "Unknown order" not in str(exc) and "order_not_found" not in str(exc):
                raise
            final = self._read_current(tracked) or current  # filled/cancelled meanwhile
        if self._dialect.cancel_is_async or final.get("status") == "open":
            final = self._confirm_cancel(tracked, final)
        if final.get("status") != "open" and what == "amend":
            self._close_generation(tracked, final)
        return final

    def _confirm_cancel(self, tracked: TrackedOrder, last: CcxtOrder) -> CcxtOrder:
        for _ in range(self._confirm_attempts):
            if last.get("status") != "open":
                return last
            self._sleep(self._confirm_interval)
            last = self._read_current(tracked) or last
        if last.get("status") == "open":
            raise TemporaryBrokerError(
                f"{self.exchange_id} has not confirmed the cancel after "
                f"{self._confirm_attempts} reads",
                client_order_id=tracked.cid,
            )
        return last
