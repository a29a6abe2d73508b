"""CcxtBroker against a fake Binance spot through the real ccxt client."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from fake_exchanges import API_KEY, SECRET, Fault, RecordingListener

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import (
    BrokerAuthError,
    BrokerError,
    OrderRejected,
    TemporaryBrokerError,
)
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderType

T0 = datetime(2026, 1, 5, tzinfo=UTC)
SYM = "BTC/USDT"


def limit(cid: str, qty: str = "0.001", px: str = "29000.50", side: Side = Side.BUY) -> Order:
    return Order(cid, SYM, side, D(qty), created_at=T0, order_type=OrderType.LIMIT, price=D(px))


def market(cid: str, qty: str = "0.001", side: Side = Side.BUY) -> Order:
    return Order(cid, SYM, side, D(qty), created_at=T0)


@pytest.fixture
def broker(binance, make_broker):  # type: ignore[no-untyped-def]
    return make_broker("binance", binance.base_url, symbols=[SYM])


def test_limit_order_carries_our_client_id_and_is_found_by_it(broker, binance) -> None:
    venue_id = broker.submit(limit("stom-s1-000001"))
    stored = binance.order_by_client("stom-s1-000001")
    assert stored is not None and str(stored["orderId"]) == venue_id
    assert stored["price"] == "29000.5" and stored["origQty"] == "0.001"
    snap = broker.fetch_order("stom-s1-000001")
    assert snap is not None
    assert (snap.status, snap.venue_order_id, snap.quantity) == (
        OrderStatus.SUBMITTED,
        venue_id,
        D("0.001"),
    )
    assert broker.fetch_order("stom-s1-999999") is None


def test_market_buy_sends_quantity_not_quote_amount(broker, binance) -> None:
    broker.submit(market("stom-s1-000002"))
    params = [p for m, path, p in binance.requests if m == "POST"][-1]
    assert params["quantity"] == "0.001" and "quoteOrderQty" not in params and "price" not in params
    listener = RecordingListener()
    broker.set_listener(listener)
    assert broker.poll() >= 2
    assert [f.quantity for f in listener.fills] == [D("0.001")]
    assert listener.fills[0].price == D("30000.00") and listener.fills[0].fee == D("0.03")
    assert listener.updates[-1].status is OrderStatus.FILLED
    broker.poll()  # nothing new: fills are reported once
    assert len(listener.fills) == 1


def test_partial_then_full_fill_reported_once_each(broker, binance) -> None:
    listener = RecordingListener()
    broker.set_listener(listener)
    broker.submit(limit("stom-s1-000003", qty="0.002"))
    binance.fill("stom-s1-000003", "0.0005")
    broker.poll()
    broker.poll()
    assert [f.quantity for f in listener.fills] == [D("0.0005")]
    binance.fill("stom-s1-000003")
    broker.poll()
    assert [f.quantity for f in listener.fills] == [D("0.0005"), D("0.0015")]
    assert len({f.fill_id for f in listener.fills}) == 2
    assert [u.status for u in listener.updates] == [OrderStatus.SUBMITTED, OrderStatus.FILLED]


@pytest.mark.parametrize(
    ("order", "rule"),
    [
        (limit("stom-s1-000010", px="29000.005"), "venue.tick_size"),
        (limit("stom-s1-000011", qty="0.000015"), "venue.lot"),
        (limit("stom-s1-000012", qty="0.0001", px="1000.00"), "venue.min_notional"),
    ],
)
def test_venue_rules_refuse_before_sending(broker, binance, order: Order, rule: str) -> None:
    with pytest.raises(OrderRejected) as info:
        broker.submit(order)
    assert info.value.rule == rule
    assert binance.count("POST", "/api/v3/order") == 0


def test_insufficient_balance_and_filter_failure_are_rejections(broker, binance) -> None:
    with pytest.raises(OrderRejected) as info:
        broker.submit(limit("stom-s1-000020", qty="10", px="29000.00"))
    assert info.value.rule == "venue.insufficient_funds"
    assert "insufficient balance" in info.value.reason
    binance.inject(
        "POST", "/api/v3/order", Fault(400, {"code": -1013, "msg": "Filter failure: NOTIONAL"})
    )
    with pytest.raises(OrderRejected) as info:
        broker.submit(limit("stom-s1-000021"))
    assert info.value.rule == "venue.invalid_order" and "NOTIONAL" in info.value.reason


def test_submit_timeout_after_acceptance_is_reconciled_without_duplicate(broker, binance) -> None:
    binance.inject("POST", "/api/v3/order", Fault(200, {}, delay_s=1.0, process=True))
    order = limit("stom-s1-000030")
    with pytest.raises(TemporaryBrokerError):
        broker.submit(order)
    snap = broker.fetch_order("stom-s1-000030")  # what the order manager does next
    assert snap is not None and snap.status is OrderStatus.SUBMITTED
    venue_id = broker.submit(order)  # a blind retry with the same id adopts, never resends
    assert venue_id == snap.venue_order_id
    assert binance.count("POST", "/api/v3/order") == 1
    assert len([o for o in binance.orders.values() if o["clientOrderId"] == "stom-s1-000030"]) == 1


def test_submit_timeout_before_acceptance_then_resend_same_id(broker, binance) -> None:
    binance.inject("POST", "/api/v3/order", Fault(200, {}, delay_s=1.0, process=False))
    order = limit("stom-s1-000031")
    with pytest.raises(TemporaryBrokerError):
        broker.submit(order)
    assert broker.fetch_order("stom-s1-000031") is None
    broker.submit(order)
    assert binance.order_by_client("stom-s1-000031") is not None
    assert len(binance.orders) == 1


def test_5xx_on_write_is_temporary_and_not_retried(broker, binance) -> None:
    binance.inject(
        "POST",
        "/api/v3/order",
        Fault(
            503,
            {
                "code": -1001,
                "msg": "Internal error; unable to process your request. Please try again.",
            },
        ),
    )
    with pytest.raises(TemporaryBrokerError, match="outcome unknown"):
        broker.submit(limit("stom-s1-000040"))
    assert binance.count("POST", "/api/v3/order") == 1


def test_reads_retry_5xx_and_timeouts_with_backoff(broker, binance, fake_time) -> None:
    binance.inject(
        "GET",
        "/api/v3/account",
        Fault(
            503, {"code": -1000, "msg": "An unknown error occured while processing the request."}
        ),
        Fault(200, {}, delay_s=1.0),
        Fault(502, None),
    )
    assert broker.balances()["USDT"] == D(100_000)
    assert binance.count("GET", "/api/v3/account") == 4
    assert len(fake_time.sleeps) == 3
    assert fake_time.sleeps[0] <= 0.25 and fake_time.sleeps[2] > 0.5  # exponential, jittered


def test_reads_give_up_after_the_bound(broker, binance) -> None:
    binance.inject("GET", "/api/v3/account", *[Fault(502, None) for _ in range(4)])
    with pytest.raises(TemporaryBrokerError, match="after 4 attempts"):
        broker.balances()


@pytest.mark.parametrize("status", [429, 418])
def test_rate_limit_cools_down_without_hammering(broker, binance, fake_time, status: int) -> None:
    binance.inject(
        "GET",
        "/api/v3/account",
        Fault(status, {"code": -1003, "msg": "Too many requests"}, headers={"Retry-After": "7"}),
    )
    with pytest.raises(TemporaryBrokerError, match="rate limited"):
        broker.balances()
    with pytest.raises(TemporaryBrokerError, match="cooling down"):
        broker.submit(limit("stom-s1-000050"))
    assert binance.count("GET", "/api/v3/account") == 1
    assert binance.count("POST", "/api/v3/order") == 0
    fake_time.now += 7.5
    assert broker.balances()["BTC"] == D(2)


def test_auth_error_points_to_settings_and_leaks_no_secret(binance, make_broker, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    broker = make_broker("binance", binance.base_url, secret="wrong-" + SECRET, symbols=[SYM])
    binance.api_key = "another-key"
    with pytest.raises(BrokerError) as info:
        broker.balances()
    assert not isinstance(info.value, TemporaryBrokerError | OrderRejected)
    text = str(info.value)
    assert "Settings -> Accounts" in text
    for secret in (API_KEY, SECRET, "wrong-" + SECRET):
        assert secret not in text
        assert secret not in caplog.text


def test_cancel_and_open_orders(broker, binance) -> None:
    listener = RecordingListener()
    broker.set_listener(listener)
    broker.submit(limit("stom-s1-000060"))
    broker.submit(limit("stom-s1-000061"))
    assert {o.client_order_id for o in broker.open_orders()} == {"stom-s1-000060", "stom-s1-000061"}
    broker.cancel("stom-s1-000060")
    assert binance.order_by_client("stom-s1-000060")["status"] == "CANCELED"
    broker.poll()
    assert [(u.client_order_id, u.status) for u in listener.updates if u.status.is_terminal] == [
        ("stom-s1-000060", OrderStatus.CANCELLED)
    ]
    assert [o.client_order_id for o in broker.open_orders(SYM)] == ["stom-s1-000061"]


def test_amend_is_cancel_replace_under_a_derived_id(broker, binance) -> None:
    listener = RecordingListener()
    broker.set_listener(listener)
    broker.submit(limit("stom-s1-000070", qty="0.002"))
    binance.fill("stom-s1-000070", "0.0005")
    broker.amend("stom-s1-000070", price=D("29100.00"))
    old = binance.order_by_client("stom-s1-000070")
    new = binance.order_by_client("stom-s1-000070.a1")
    assert old["status"] == "CANCELED"
    assert D(new["origQty"]) == D("0.0015") and D(new["price"]) == D("29100")
    snap = broker.fetch_order("stom-s1-000070")
    assert snap.status is OrderStatus.PARTIALLY_FILLED and snap.filled_quantity == D("0.0005")
    assert snap.price == D("29100.00") and snap.quantity == D("0.002")
    assert [o.client_order_id for o in broker.open_orders()] == ["stom-s1-000070"]
    binance.fill("stom-s1-000070.a1")
    broker.poll()
    assert sum(f.quantity for f in listener.fills) == D("0.002")
    assert {f.client_order_id for f in listener.fills} == {"stom-s1-000070"}
    assert listener.updates[-1].status is OrderStatus.FILLED


def test_restart_finds_amended_order_and_all_fills(broker, binance, make_broker) -> None:
    broker.submit(limit("stom-s1-000080", qty="0.002"))
    binance.fill("stom-s1-000080", "0.0005")
    broker.amend("stom-s1-000080", price=D("29100.00"))
    binance.fill("stom-s1-000080.a1", "0.0005")
    fresh = make_broker("binance", binance.base_url, symbols=["ETH/USDT", SYM])  # a restart
    snap = fresh.fetch_order("stom-s1-000080")
    assert snap is not None and snap.filled_quantity == D("0.001")
    assert snap.status is OrderStatus.PARTIALLY_FILLED
    assert snap.avg_fill_price == D("29050.25")
    fills = fresh.fetch_fills("stom-s1-000080")
    assert sorted(f.price for f in fills) == [D("29000.50"), D("29100.00")]


def test_a_key_revoked_mid_session_stops_after_three_refusals(broker, binance, fake_time) -> None:
    # After one successful call ccxt reads -2015 as a temporary ban (DDoSProtection):
    # each one cools down like a rate limit, and the third in a row is the key refused.
    assert broker.balances()["BTC"] == D(2)
    binance.api_key = "revoked"
    for _ in range(2):
        with pytest.raises(TemporaryBrokerError, match="rate limited"):
            broker.balances()
        fake_time.now += 120  # past the cool-down
    with pytest.raises(BrokerAuthError, match="3 times in a row") as info:
        broker.balances()
    assert "Settings -> Accounts" in str(info.value)
    assert binance.count("GET", "/api/v3/account") == 4


def test_a_temporary_ban_between_successes_never_becomes_an_auth_error(
    broker, binance, fake_time
) -> None:
    assert broker.balances()["BTC"] == D(2)
    for _ in range(4):  # refused, then fine again: the strikes start over each time
        binance.api_key = "banned-for-a-while"
        with pytest.raises(TemporaryBrokerError, match="rate limited"):
            broker.balances()
        fake_time.now += 120
        binance.api_key = API_KEY
        assert broker.balances()["BTC"] == D(2)
