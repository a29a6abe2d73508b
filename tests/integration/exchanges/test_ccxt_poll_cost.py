"""What one ``CcxtBroker.poll`` costs in venue requests, and that the cheap poll loses nothing.

Real ccxt client against FakeBinance (two symbols) and FakeUpbit (one call for every
market). A poll reads the open orders once per symbol (Upbit: once); only orders whose
filled quantity moved, or that left the open list, get per-order reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal as D
from typing import Any

import pytest
from fake_exchanges import FakeBinance, Fault, RecordingListener
from fake_upbit import FakeUpbit

from stom_desktop.adapters.brokers.ccxt_broker import CcxtBroker
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError, TemporaryBrokerError
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderType

T0 = datetime(2026, 1, 5, tzinfo=UTC)
N_ORDERS = 10


@dataclass
class Venue:
    """One fake venue with its broker, the orders resting there and its endpoints."""

    name: str
    fake: Any  # FakeBinance | FakeUpbit
    broker: CcxtBroker
    listener: RecordingListener
    cids: list[str]
    open_path: str  # the open-orders list
    order_path: str  # one order by client id
    trades_path: str | None  # one order's trades (Upbit: embedded in the order read)
    symbols: int  # open-orders requests one poll should make

    def counts(self) -> dict[str, int]:
        out = {
            "open": self.fake.count("GET", self.open_path),
            "order": self.fake.count("GET", self.order_path),
        }
        if self.trades_path is not None:
            out["trades"] = self.fake.count("GET", self.trades_path)
        return out

    def poll_cost(self) -> tuple[int, dict[str, int]]:
        """Poll once: (events sent, requests per endpoint during the poll)."""
        before = self.counts()
        sent = self.broker.poll()
        after = self.counts()
        cost = {k: after[k] - before[k] for k in after}
        assert self.broker.last_poll_requests == sum(cost.values())  # its own count agrees
        return sent, cost

    def fill(self, cid: str, qty: str | None = None) -> None:
        self.fake.fill(cid, qty)

    def cancel_elsewhere(self, cid: str) -> None:
        """Someone else (the venue's web page) cancels the order."""
        fake = self.fake
        with fake.lock:
            if isinstance(fake, FakeBinance):
                order = fake.order_by_client(cid)
                order["status"] = "CANCELED"
            else:
                order = fake.order_by_identifier(cid)
                order["state"] = "cancel"
                fake._unlock(order)

    def idle(self, trades: int = 0, order: int = 0) -> dict[str, int]:
        cost = {"open": self.symbols, "order": order}
        if self.trades_path is not None:
            cost["trades"] = trades
        return cost


def _binance_orders() -> list[Order]:
    out = []
    for i in range(N_ORDERS):
        sym, qty, px = ("BTC/USDT", "0.001", "29000.50") if i % 2 else ("ETH/USDT", "0.01", "1900")
        out.append(
            Order(
                f"stom-p1-{i:06d}",
                sym,
                Side.BUY,
                D(qty),
                created_at=T0,
                order_type=OrderType.LIMIT,
                price=D(px),
            )
        )
    return out


def _upbit_orders() -> list[Order]:
    return [
        Order(
            f"stom-p1-{i:06d}",
            "BTC/KRW",
            Side.BUY,
            D("0.001"),
            created_at=T0,
            order_type=OrderType.LIMIT,
            price=D("49000000"),
        )
        for i in range(N_ORDERS)
    ]


@pytest.fixture(params=["binance", "upbit"])
def venue(request, server, make_broker) -> Venue:  # type: ignore[no-untyped-def]
    listener = RecordingListener()
    if request.param == "binance":
        fake: Any = FakeBinance(server)
        broker = make_broker("binance", fake.base_url, symbols=["BTC/USDT", "ETH/USDT"])
        orders, paths = _binance_orders(), ("/api/v3/openOrders", "/api/v3/order")
        trades_path: str | None = "/api/v3/myTrades"
        symbols = 2
    else:
        fake = FakeUpbit(server)
        broker = make_broker("upbit", fake.base_url)
        orders, paths = _upbit_orders(), ("/v1/orders/open", "/v1/order")
        trades_path, symbols = None, 1
    broker.set_listener(listener)
    for order in orders:
        broker.submit(order)
    v = Venue(
        request.param,
        fake,
        broker,
        listener,
        [o.client_order_id for o in orders],
        *paths,
        trades_path,
        symbols,
    )
    sent, cost = v.poll_cost()  # first poll: every order reported SUBMITTED, nothing read
    assert sent == N_ORDERS and cost == v.idle()
    assert {u.status for u in listener.updates} == {OrderStatus.SUBMITTED}
    listener.updates.clear()
    return v


def test_idle_poll_reads_only_the_open_lists(venue: Venue) -> None:
    for _ in range(3):
        sent, cost = venue.poll_cost()
        assert sent == 0
        assert cost == venue.idle()  # no per-order request at all
    assert venue.listener.updates == [] and venue.listener.fills == []
    assert venue.broker.last_poll_error is None


def test_partial_fill_reads_only_that_order(venue: Venue) -> None:
    cid = venue.cids[3]  # Binance: a BTC/USDT order of 0.001
    venue.fill(cid, "0.0004")
    _, cost = venue.poll_cost()
    # Binance: the listed row has the venue id, so only its trades; Upbit: one order read.
    assert cost == venue.idle(trades=1, order=0 if venue.name == "binance" else 1)
    assert [f.client_order_id for f in venue.listener.fills] == [cid]
    assert venue.listener.updates == []  # partial fills send no order update
    _, cost = venue.poll_cost()
    assert cost == venue.idle()  # nothing moved since: no reads
    assert len(venue.listener.fills) == 1


def test_two_partial_fills_are_each_reported_once(venue: Venue) -> None:
    cid = venue.cids[1]  # Binance: a BTC/USDT order of 0.001
    venue.fill(cid, "0.0004")
    venue.poll_cost()
    snap = venue.broker.fetch_order(cid)
    assert snap is not None and snap.status is OrderStatus.PARTIALLY_FILLED
    assert snap.filled_quantity == D("0.0004")
    venue.fill(cid, "0.0003")  # a second partial fill
    _, cost = venue.poll_cost()
    assert cost == venue.idle(trades=1, order=0 if venue.name == "binance" else 1)
    assert [f.quantity for f in venue.listener.fills] == [D("0.0004"), D("0.0003")]
    assert len({f.fill_id for f in venue.listener.fills}) == 2


def test_filled_between_polls_reports_fills_and_terminal_state(venue: Venue) -> None:
    cid = venue.cids[5]
    qty = venue.broker.fetch_order(cid).quantity  # type: ignore[union-attr]
    venue.fill(cid, str(qty * D("0.4")))
    venue.fill(cid)  # the rest: two trades, both between the same two polls
    sent, cost = venue.poll_cost()
    # gone from the list: one read by client id for the final state, then its trades
    assert cost == venue.idle(trades=1, order=1)
    assert sent == 3
    assert [f.client_order_id for f in venue.listener.fills] == [cid, cid]
    assert sum(f.quantity for f in venue.listener.fills) == qty
    assert [(u.client_order_id, u.status) for u in venue.listener.updates] == [
        (cid, OrderStatus.FILLED)
    ]
    assert venue.listener.updates[0].filled_quantity == qty
    sent, cost = venue.poll_cost()
    assert sent == 0 and cost == venue.idle()  # finished: not read again


def test_cancel_at_the_venue_by_someone_else_is_reported(venue: Venue) -> None:
    cid = venue.cids[7]
    venue.cancel_elsewhere(cid)
    _, cost = venue.poll_cost()
    assert cost == venue.idle(trades=0, order=1)  # nothing filled: no trade read
    assert [(u.client_order_id, u.status) for u in venue.listener.updates] == [
        (cid, OrderStatus.CANCELLED)
    ]
    assert venue.listener.fills == []
    _, cost = venue.poll_cost()
    assert cost == venue.idle()


def test_cancel_after_partial_fill_does_not_reread_known_trades(venue: Venue) -> None:
    cid = venue.cids[2]
    venue.fill(cid, "0.0004" if venue.name == "upbit" else "0.004")
    venue.poll_cost()
    assert len(venue.listener.fills) == 1
    venue.cancel_elsewhere(cid)
    _, cost = venue.poll_cost()
    # the final state is read; the trades are already known (filled did not move)
    assert cost == venue.idle(trades=0, order=1)
    assert [u.status for u in venue.listener.updates] == [OrderStatus.CANCELLED]
    assert len(venue.listener.fills) == 1


def test_amended_generation_maps_back_to_the_engine_id(venue: Venue) -> None:
    cid = venue.cids[4]
    old = venue.broker.fetch_order(cid)
    assert old is not None and old.price is not None
    step = D("1000") if venue.name == "upbit" else D("1")
    venue.broker.amend(cid, price=old.price - step)
    sent, cost = venue.poll_cost()
    assert sent == 0 and cost == venue.idle()  # the replacement is in the list as <cid>.a1
    venue.fill(f"{cid}.a1", "0.0004" if venue.name == "upbit" else None)
    if venue.name == "binance":
        venue.poll_cost()  # the whole replacement filled: terminal
        assert [f.client_order_id for f in venue.listener.fills] == [cid]
        assert [(u.client_order_id, u.status) for u in venue.listener.updates] == [
            (cid, OrderStatus.FILLED)
        ]
        return
    _, cost = venue.poll_cost()
    assert cost == venue.idle(order=1)
    assert [f.client_order_id for f in venue.listener.fills] == [cid]
    snap = venue.broker.fetch_order(cid)
    assert snap is not None and snap.filled_quantity == D("0.0004")
    assert snap.status is OrderStatus.PARTIALLY_FILLED


def test_5xx_on_the_open_list_is_retried_next_poll_without_loss(venue: Venue) -> None:
    first, second = venue.cids[0], venue.cids[1]  # Binance: one on each symbol
    venue.fill(first)
    venue.fill(second)
    venue.fake.inject("GET", venue.open_path, *[Fault(500, None) for _ in range(4)])
    venue.broker.poll()
    error = venue.broker.last_poll_error
    assert isinstance(error, TemporaryBrokerError) and "fetch_open_orders" in str(error)
    if venue.name == "upbit":  # the one list failed: nothing could be read
        assert venue.listener.fills == [] and venue.listener.updates == []
    else:  # the other symbol's list answered
        assert len(venue.listener.fills) == 1
    venue.broker.poll()
    assert venue.broker.last_poll_error is None
    assert sorted(f.client_order_id for f in venue.listener.fills) == [first, second]
    assert sorted((u.client_order_id, u.status) for u in venue.listener.updates) == [
        (first, OrderStatus.FILLED),
        (second, OrderStatus.FILLED),
    ]
    venue.broker.poll()
    assert len(venue.listener.fills) == 2 and len(venue.listener.updates) == 2


def test_failed_trade_read_is_retried_next_poll(venue: Venue) -> None:
    cid = venue.cids[6]
    venue.fill(cid, "0.0004" if venue.name == "upbit" else "0.004")
    path = venue.trades_path or venue.order_path
    venue.fake.inject("GET", path, *[Fault(500, None) for _ in range(4)])
    venue.broker.poll()
    assert isinstance(venue.broker.last_poll_error, TemporaryBrokerError)
    assert venue.listener.fills == []
    venue.broker.poll()
    assert venue.broker.last_poll_error is None
    assert [f.client_order_id for f in venue.listener.fills] == [cid]
    _, cost = venue.poll_cost()
    assert cost == venue.idle() and len(venue.listener.fills) == 1


def test_auth_error_on_the_open_list_raises(venue: Venue) -> None:
    # Binance: after one authenticated call ccxt reads -2015 (bad key) as a temporary
    # ban, so the refusal that surely means "credentials" is a bad signature (-1022).
    if venue.name == "binance":
        venue.fake.secret = "a-rotated-secret"
    else:
        venue.fake.api_key = "a-revoked-key"
    with pytest.raises(BrokerError) as info:
        venue.broker.poll()
    assert not isinstance(info.value, TemporaryBrokerError)
    assert "Settings -> Accounts" in str(info.value)


def test_upbit_sees_every_market_in_one_request(server, make_broker) -> None:
    fake = FakeUpbit(server)
    broker = make_broker("upbit", fake.base_url)
    broker.set_listener(RecordingListener())
    for i, (sym, qty, px) in enumerate(
        [("BTC/KRW", "0.001", "49000000"), ("XRP/KRW", "10", "790")] * 3
    ):
        broker.submit(
            Order(
                f"stom-p2-{i:06d}",
                sym,
                Side.BUY,
                D(qty),
                created_at=T0,
                order_type=OrderType.LIMIT,
                price=D(px),
            )
        )
    before = (fake.count("GET", "/v1/orders/open"), fake.count("GET", "/v1/order"))
    broker.poll()
    assert (fake.count("GET", "/v1/orders/open"), fake.count("GET", "/v1/order")) == (
        before[0] + 1,
        before[1],
    )
