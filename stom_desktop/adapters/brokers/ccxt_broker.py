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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal
from functools import partial

import ccxt

from stom_desktop.adapters.brokers.ccxt_arrival import DEFAULT_ARRIVAL_MARGIN_S, arrival_window
from stom_desktop.adapters.brokers.ccxt_caps import NotionalCaps
from stom_desktop.adapters.brokers.ccxt_errors import RetryPolicy, VenueCaller
from stom_desktop.adapters.brokers.ccxt_futures import (
    FuturesAccountSettings,
    read_account_settings,
)
from stom_desktop.adapters.brokers.ccxt_markets import (
    check_order,
    check_stop_side,
    rules_from_market,
)
from stom_desktop.adapters.brokers.ccxt_poll import OpenOrders, trades_cover, trades_in_order
from stom_desktop.adapters.brokers.ccxt_venues import (
    CcxtOrder,
    VenueDialect,
    amended_client_id,
    base_client_id,
    dec,
    fill_from_trade,
    status_of,
    stop_price_of,
    tif_of,
    ts_of,
    type_of,
)
from stom_desktop.adapters.brokers.ccxt_weight import WeightGovernor, minute_weight_limit
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError, OrderRejected, TemporaryBrokerError
from stom_desktop.core.fills import Fill
from stom_desktop.core.market_rules import CryptoRules
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderSnapshot, OrderType, is_own_order_id
from stom_desktop.core.ports import ExecutionListener

log = logging.getLogger(__name__)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenueBalance:
    """One currency at the venue: ``free`` to trade, ``used`` locked in open orders."""

    free: Decimal
    used: Decimal
    total: Decimal


@dataclass
class _Tracked:
    """What the broker knows about one engine order (all its venue generations)."""

    cid: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal  # the engine's total quantity
    price: Decimal | None
    created_at: datetime
    generations: list[str] = field(default_factory=list)  # venue client ids, oldest first
    venue_ids: dict[str, str] = field(default_factory=dict)  # venue client id -> venue id
    closed: dict[str, CcxtOrder] = field(default_factory=dict)  # finished generations
    closed_trades: list[CcxtOrder] = field(default_factory=list)
    status: OrderStatus = OrderStatus.NEW  # last status reported to the listener
    filled_seen: Decimal = _ZERO
    tag: str | None = None  # the engine's tag: futures send closing tags reduce-only
    stop_price: Decimal | None = None  # trigger price of a stop / stop-limit order

    @property
    def current(self) -> str:
        return self.generations[-1]


class CcxtBroker:
    """A live venue behind the ``Broker`` port (see the module doc for the contract)."""

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
        self._orders: dict[str, _Tracked] = {}
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

    def load_markets(self) -> None:
        """Load market info once (retried like any read); call at session start."""
        if not self._markets_loaded:
            self._caller.read("load_markets", self._ex.load_markets)
            self._markets_loaded = True
            # The answer was exchangeInfo (Binance): take its request-weight limit.
            limit = minute_weight_limit(getattr(self._ex, "last_http_response", None))
            if limit is not None:
                self._caller.weights.set_limit(limit)

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
        tracked = known or _Tracked(
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

    # -- polling -----------------------------------------------------------------------
    def poll(self) -> int:
        """Report new fills and status changes of our open orders; returns events sent.

        Cheap on purpose (it runs on the engine thread): one open-orders read per symbol
        with open orders (Upbit: one for all markets). Only an order whose filled
        quantity moved since the last poll gets its trades read, and only an order gone
        from the list (filled, cancelled, expired) is read by client id for its final
        state. ``last_poll_requests`` counts the venue reads the poll made.

        A temporary venue failure is logged and kept in ``last_poll_error`` (the orders
        it hid are read again next poll); an authentication failure raises.
        """
        sent = 0
        self.last_poll_error = None
        self.last_poll_requests = 0
        # Submits of unknown outcome: the order manager reconciles them via fetch_order.
        due = [
            t for t in self._orders.values() if t.status.is_open and t.cid not in self._uncertain
        ]
        listed = self._list_open(due)
        for tracked in due:
            try:
                read = self._poll_read(tracked, listed)
            except TemporaryBrokerError as exc:
                self.last_poll_error = exc
                log.warning("poll %s: %s", tracked.cid, exc)
                continue
            if read is not None:
                sent += self._report(tracked, *read)
        return sent

    def _list_key(self, tracked: _Tracked) -> str | None:
        """Which open-orders read covers ``tracked``: its symbol, or all (Upbit)."""
        return tracked.symbol if self._dialect.needs_symbol else None

    def _list_open(self, due: list[_Tracked]) -> dict[str | None, OpenOrders]:
        """The venue's open orders per list key; a key whose read failed is missing."""
        out: dict[str | None, OpenOrders] = {}
        for key in dict.fromkeys(self._list_key(t) for t in due):
            self.last_poll_requests += 1
            try:
                rows: list[CcxtOrder] = self._caller.read(
                    "fetch_open_orders", partial(self._ex.fetch_open_orders, key)
                )
            except TemporaryBrokerError as exc:
                self.last_poll_error = exc
                log.warning("poll open orders %s: %s", key or "(all)", exc)
                continue  # its orders wait for the next poll
            out[key] = OpenOrders(rows)
        return out

    def _poll_read(
        self, tracked: _Tracked, listed: dict[str | None, OpenOrders]
    ) -> tuple[CcxtOrder | None, list[Fill]] | None:
        """``(current, fills)`` of one order for :meth:`_report`; ``None``: not read now."""
        venue_cid = tracked.current
        if venue_cid in tracked.closed:  # finished during an amend: nothing to read
            current: CcxtOrder | None = tracked.closed[venue_cid]
            return current, self._fills(tracked, current)
        index = listed.get(self._list_key(tracked))
        if index is None:
            return None  # its open-orders read failed (``last_poll_error`` says why)
        row = index.find(venue_cid, tracked.venue_ids.get(venue_cid))
        if row is not None:
            tracked.venue_ids[venue_cid] = str(row["id"])
            if self._filled_total(tracked, row) == tracked.filled_seen:
                return row, self._as_fills(tracked, tracked.closed_trades)  # nothing moved
            # Upbit's list has no trades: they come embedded in a read of the order.
            current = self._read_counted(tracked) if trades_in_order(self.exchange_id) else row
        else:  # gone from the list (or not listed yet): its final state by client id
            current = self._read_counted(tracked)
        if current is None:
            return None, self._as_fills(tracked, tracked.closed_trades)
        if self._filled_total(tracked, current) == tracked.filled_seen:
            return current, self._as_fills(tracked, tracked.closed_trades)
        trades = self._current_trades(tracked, current)
        if trades_cover(trades, current):  # else a late trade list: read again next poll
            tracked.filled_seen = self._filled_total(tracked, current)
        return current, self._as_fills(tracked, tracked.closed_trades + trades)

    def _read_counted(self, tracked: _Tracked) -> CcxtOrder | None:
        self.last_poll_requests += 1
        return self._read_current(tracked)

    def _report(self, tracked: _Tracked, current: CcxtOrder | None, fills: list[Fill]) -> int:
        snap = self._snapshot(tracked, current)
        listener = self._listener
        sent = 0
        if tracked.status is OrderStatus.NEW and snap.status is not OrderStatus.NEW:
            tracked.status = OrderStatus.SUBMITTED
            if listener is not None:
                listener.on_order_update(replace(snap, status=OrderStatus.SUBMITTED))
                sent += 1
        for fill in fills:
            if fill.fill_id in self._fill_ids:
                continue
            self._fill_ids.add(fill.fill_id)
            if listener is not None:
                listener.on_fill(fill)
                sent += 1
        if snap.status is not tracked.status:
            tracked.status = snap.status
            if snap.status.is_terminal and listener is not None:
                listener.on_order_update(snap)
                sent += 1
        return sent

    # -- internals ---------------------------------------------------------------------
    def _place(self, tracked: _Tracked, venue_cid: str, qty: Decimal, px: Decimal | None) -> str:
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

    def _require(self, cid: str, what: str) -> _Tracked:
        tracked = self._orders.get(cid)
        if tracked is None and self._lookup(cid, None, what) is not None:
            tracked = self._orders[cid]
        if tracked is None:
            raise BrokerError(f"{what}: unknown at {self.exchange_id}", client_order_id=cid)
        return tracked

    def _lookup(self, cid: str, symbol: str | None, what: str) -> CcxtOrder | None:
        """Find an order by our client id (all amend generations) and track it."""
        symbols: list[str | None]
        if not self._dialect.needs_symbol:
            symbols = [None]
        else:
            symbols = [symbol] if symbol is not None else list(self._symbols)
        for sym in symbols:
            first = self._caller.read(
                what, partial(self._dialect.fetch_by_client_id, self._ex, sym, cid), cid=cid
            )
            if first is None:
                continue
            tracked = self._orders.get(cid) or self._adopt(cid, first)
            self._orders[cid] = tracked  # asked for by id: tracked even if not our prefix
            tracked.venue_ids[cid] = str(first["id"])
            latest = first
            generation = len(tracked.generations)
            while True:  # probe replacements <cid>.a1, .a2 ... made by amend
                venue_cid = amended_client_id(cid, generation)
                fetch = partial(
                    self._dialect.fetch_by_client_id, self._ex, first["symbol"], venue_cid
                )
                nxt = self._caller.read(what, fetch, cid=cid)
                if nxt is None:
                    break
                self._close_generation(tracked, latest)
                tracked.generations.append(venue_cid)
                tracked.venue_ids[venue_cid] = str(nxt["id"])
                latest = nxt
                generation += 1
            return latest
        return None

    def _adopt(self, cid: str, row: CcxtOrder) -> _Tracked:
        amount = dec(row.get("amount")) or _ZERO
        venue_cid = row.get("clientOrderId") or cid
        kind = type_of(row)
        tracked = _Tracked(
            cid,
            str(row["symbol"]),
            Side(row["side"]),
            kind,
            amount,
            dec(row.get("price")) if kind.needs_price else None,
            ts_of(row.get("timestamp"), datetime.now(UTC)),
            [venue_cid],
            {venue_cid: str(row["id"])},
            tag="reduce:adopted" if row.get("reduceOnly") else None,
            stop_price=stop_price_of(row),
        )
        if is_own_order_id(cid, prefix=self._prefix) or cid in self._uncertain:
            self._orders[cid] = tracked
        return tracked

    def _read_current(self, tracked: _Tracked) -> CcxtOrder | None:
        venue_cid = tracked.current
        if venue_cid in tracked.closed:
            return tracked.closed[venue_cid]
        order = self._caller.read(
            "fetch_order",
            lambda: self._dialect.fetch_by_client_id(self._ex, tracked.symbol, venue_cid),
            cid=tracked.cid,
        )
        if order is not None:
            tracked.venue_ids[venue_cid] = str(order["id"])
        return order

    def _close_generation(self, tracked: _Tracked, order: CcxtOrder) -> None:
        venue_cid = order.get("clientOrderId") or tracked.current
        tracked.closed[venue_cid] = order
        tracked.closed_trades.extend(
            self._caller.read(
                "fetch_my_trades", lambda: self._dialect.trades(self._ex, order), cid=tracked.cid
            )
        )

    def _cancel_current(self, tracked: _Tracked, what: str) -> CcxtOrder:
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

    def _confirm_cancel(self, tracked: _Tracked, last: CcxtOrder) -> CcxtOrder:
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

    def _filled_total(self, tracked: _Tracked, current: CcxtOrder | None) -> Decimal:
        total = sum(
            (
                dec(o.get("filled")) or _ZERO
                for k, o in tracked.closed.items()
                if k != tracked.current
            ),
            _ZERO,
        )
        return total + (dec((current or {}).get("filled")) or _ZERO)

    def _fills(self, tracked: _Tracked, current: CcxtOrder | None) -> list[Fill]:
        trades = list(tracked.closed_trades)
        if current is not None and tracked.current not in tracked.closed:
            trades += self._current_trades(tracked, current)
        return self._as_fills(tracked, trades)

    def _current_trades(self, tracked: _Tracked, current: CcxtOrder) -> list[CcxtOrder]:
        """The trades of the working generation (no request when nothing is filled)."""
        if (current.get("filled") or 0) and not trades_in_order(self.exchange_id):
            self.last_poll_requests += 1
        return list(
            self._caller.read(
                "fetch_my_trades", lambda: self._dialect.trades(self._ex, current), cid=tracked.cid
            )
        )

    def _as_fills(self, tracked: _Tracked, trades: list[CcxtOrder]) -> list[Fill]:
        quote = tracked.symbol.split("/")[-1].split(":")[0]
        now = datetime.now(UTC)
        out = []
        for trade in trades:
            fill = fill_from_trade(
                self.exchange_id, trade, tracked.cid, tracked.symbol, tracked.side, quote, now
            )
            if fill is not None:
                out.append(fill)
        return out

    def _snapshot(self, tracked: _Tracked, current: CcxtOrder | None) -> OrderSnapshot:
        filled = self._filled_total(tracked, current)
        notional = _ZERO
        for key, order in tracked.closed.items():
            if key != tracked.current:
                notional += (dec(order.get("filled")) or _ZERO) * (
                    dec(order.get("average")) or _ZERO
                )
        if current is not None:
            cur_filled = dec(current.get("filled")) or _ZERO
            avg = dec(current.get("average")) or dec(current.get("price")) or _ZERO
            notional += cur_filled * avg
            status = status_of(current, tracked.quantity, filled)
            updated = ts_of(
                current.get("lastUpdateTimestamp") or current.get("timestamp"), tracked.created_at
            )
            reason = None if status.is_open else f"{self.exchange_id}: {current.get('status')}"
        else:  # the replacement of an amend never reached the venue
            status = OrderStatus.FILLED if filled >= tracked.quantity else OrderStatus.CANCELLED
            updated = datetime.now(UTC)
            reason = "amend: the replacement order is not at the venue"
        if status is OrderStatus.REJECTED and filled > 0:
            status = OrderStatus.CANCELLED
        return OrderSnapshot(
            client_order_id=tracked.cid,
            symbol=tracked.symbol,
            side=tracked.side,
            order_type=tracked.order_type,
            time_in_force=tif_of(current or {}),
            quantity=tracked.quantity,
            price=tracked.price,
            stop_price=tracked.stop_price,
            filled_quantity=filled,
            avg_fill_price=(notional / filled) if filled > 0 else None,
            status=status,
            venue_order_id=tracked.venue_ids.get(tracked.current),
            created_at=tracked.created_at,
            updated_at=max(updated, tracked.created_at),
            reason=reason,
            session_id=None,
            tag=None,
            parent_id=None,
            cancel_requested=False,
        )
