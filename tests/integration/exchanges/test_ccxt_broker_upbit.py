"""CcxtBroker against a fake Upbit KRW market through the real ccxt client."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from fake_exchanges import API_KEY, SECRET, Fault, RecordingListener

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError, OrderRejected, TemporaryBrokerError
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderType

T0 = datetime(2026, 1, 5, tzinfo=UTC)
SYM = "BTC/KRW"


def limit(cid: str, qty: str = "0.001", px: str = "50000000", side: Side = Side.BUY) -> Order:
    return Order(cid, SYM, side, D(qty), created_at=T0, order_type=OrderType.LIMIT, price=D(px))


@pytest.fixture
def broker(upbit, make_broker):  # type: ignore[no-untyped-def]
    return make_broker("upbit", upbit.base_url)


def test_identifier_is_sent_and_order_found_by_it(broker, upbit) -> None:
    venue_id = broker.submit(limit("stom-u1-000001"))
    stored = upbit.order_by_identifier("stom-u1-000001")
    assert stored is not None and stored["uuid"] == venue_id
    assert [p for m, path, p in upbit.requests if path == "/v1/order"] == []  # no lookup yet
    fresh_snap = broker.fetch_order("stom-u1-000001")
    assert fresh_snap is not None and fresh_snap.status is OrderStatus.SUBMITTED
    lookups = [p for m, path, p in upbit.requests if path == "/v1/order"]
    assert lookups[-1] == {"identifier": "stom-u1-000001"}
    assert broker.fetch_order("stom-u1-000404") is None


def test_krw_tick_table_and_minimum_enforced_locally(broker, upbit) -> None:
    with pytest.raises(OrderRejected) as info:
        broker.submit(limit("stom-u1-000002", px="50000500"))  # tick is 1,000 above 1M KRW
    assert info.value.rule == "venue.tick_size"
    with pytest.raises(OrderRejected) as info:
        broker.submit(limit("stom-u1-000003", qty="0.00009"))  # 4,500 KRW < 5,000
    assert info.value.rule == "venue.min_notional"
    assert upbit.count("POST", "/v1/orders") == 0


def test_venue_errors_classified_by_name(broker, upbit) -> None:
    upbit.inject(
        "POST",
        "/v1/orders",
        Fault(
            400,
            {
                "error": {
                    "name": "under_min_total_bid",
                    "message": "최소주문금액 이상으로 주문해주세요",
                }
            },
        ),
    )
    with pytest.raises(OrderRejected) as info:
        broker.submit(limit("stom-u1-000004"))
    assert info.value.rule == "venue.min_notional"
    with pytest.raises(OrderRejected) as info:
        broker.submit(limit("stom-u1-000005", qty="1"))  # 50M KRW > 10M balance
    assert info.value.rule == "venue.insufficient_funds"


def test_cancel_waits_until_the_venue_confirms(broker, upbit, fake_time) -> None:
    upbit.cancel_reads = 2
    broker.submit(limit("stom-u1-000010"))
    broker.cancel("stom-u1-000010")
    assert upbit.order_by_identifier("stom-u1-000010")["state"] == "cancel"
    assert len(fake_time.sleeps) >= 2
    snap = broker.fetch_order("stom-u1-000010")
    assert snap.status is OrderStatus.CANCELLED


def test_fills_from_the_order_read_and_amend(broker, upbit) -> None:
    listener = RecordingListener()
    broker.set_listener(listener)
    broker.submit(limit("stom-u1-000020", qty="0.002"))
    upbit.fill("stom-u1-000020", "0.0005")
    broker.poll()
    assert [f.quantity for f in listener.fills] == [D("0.0005")]
    broker.amend("stom-u1-000020", price=D("49000000"))
    new = upbit.order_by_identifier("stom-u1-000020.a1")
    assert D(new["volume"]) == D("0.0015") and D(new["price"]) == D("49000000")
    upbit.fill("stom-u1-000020.a1")
    broker.poll()
    assert sum(f.quantity for f in listener.fills) == D("0.002")
    assert len({f.fill_id for f in listener.fills}) == 2
    assert listener.updates[-1].status is OrderStatus.FILLED


def test_market_buy_needs_a_reference_price(upbit, make_broker) -> None:
    broker = make_broker("upbit", upbit.base_url)
    with pytest.raises(OrderRejected) as info:
        broker.submit(Order("stom-u1-000030", SYM, Side.BUY, D("0.001"), created_at=T0))
    assert info.value.rule == "venue.market_buy_cost"


def test_timeout_after_acceptance_adopted_by_identifier(broker, upbit) -> None:
    upbit.inject("POST", "/v1/orders", Fault(201, {}, delay_s=1.0, process=True))
    order = limit("stom-u1-000040")
    with pytest.raises(TemporaryBrokerError):
        broker.submit(order)
    assert broker.submit(order) == upbit.order_by_identifier("stom-u1-000040")["uuid"]
    assert upbit.count("POST", "/v1/orders") == 1


def test_auth_error_message_and_logs_are_clean(upbit, make_broker, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    broker = make_broker("upbit", upbit.base_url)
    upbit.secret = "rotated"
    with pytest.raises(BrokerError) as info:
        broker.balances()
    assert "Settings -> Accounts" in str(info.value)
    assert not isinstance(info.value, TemporaryBrokerError)
    for secret in (API_KEY, SECRET):
        assert secret not in str(info.value) and secret not in caplog.text
    assert "Bearer" not in caplog.text.replace("'Authorization': '***'", "")
