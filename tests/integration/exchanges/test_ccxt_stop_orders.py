"""Stop orders through CcxtBroker and the real ccxt client: Binance spot has them
(``STOP_LOSS``/``STOP_LOSS_LIMIT``); Upbit and Binance USDT-M refuse them before sending."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from fake_exchanges import FakeBinance, Fault, RecordingListener

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import OrderRejected, TemporaryBrokerError
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderType

T0 = datetime(2026, 1, 5, tzinfo=UTC)
SYM = "BTC/USDT"
ORDER = "/api/v3/order"


def stop(
    cid: str, stop_px: str, qty: str = "0.01", side: Side = Side.SELL, sym: str = SYM
) -> Order:
    return Order(
        cid, sym, side, D(qty), created_at=T0, order_type=OrderType.STOP, stop_price=D(stop_px)
    )


def stop_limit(
    cid: str, stop_px: str, px: str, qty: str = "0.01", side: Side = Side.SELL, sym: str = SYM
) -> Order:
    return Order(
        cid,
        sym,
        side,
        D(qty),
        created_at=T0,
        order_type=OrderType.STOP_LIMIT,
        price=D(px),
        stop_price=D(stop_px),
    )


def sent(fake: FakeBinance, venue_cid: str) -> dict[str, str]:
    """The create request that carried ``venue_cid``."""
    [params] = [
        p
        for m, path, p in fake.requests
        if m == "POST" and path == ORDER and p.get("newClientOrderId") == venue_cid
    ]
    return params


@pytest.fixture
def broker(binance, make_broker):  # type: ignore[no-untyped-def]
    return make_broker("binance", binance.base_url, symbols=[SYM])


@pytest.mark.parametrize(
    ("side", "stop_px", "quiet_px", "trigger_px"),
    [
        (Side.SELL, "29000.00", "29500.00", "28950.00"),  # protects a long: triggers on a fall
        (Side.BUY, "31000.00", "30500.00", "31050.00"),  # protects a short: triggers on a rise
    ],
)
def test_stop_market_rests_until_triggered_then_fills_at_the_market(
    broker, binance, side, stop_px, quiet_px, trigger_px
) -> None:
    listener = RecordingListener()
    broker.set_listener(listener)
    venue_id = broker.submit(stop("stom-s1-000001", stop_px, side=side))
    params = sent(binance, "stom-s1-000001")
    assert (params["type"], params["side"], D(params["stopPrice"])) == (
        "STOP_LOSS",
        side.value.upper(),
        D(stop_px),
    )
    assert params["quantity"] == "0.01" and "price" not in params
    snap = broker.fetch_order("stom-s1-000001")
    assert snap is not None
    assert (snap.status, snap.order_type, snap.stop_price, snap.price) == (
        OrderStatus.SUBMITTED,
        OrderType.STOP,
        D(stop_px),
        None,
    )
    assert snap.venue_order_id == venue_id
    assert binance.set_last_price("BTCUSDT", quiet_px) == []  # not reached: stays put
    broker.poll()
    assert listener.fills == [] and binance.order_by_client("stom-s1-000001")["status"] == "NEW"
    assert [s.client_order_id for s in broker.open_orders(SYM)] == ["stom-s1-000001"]

    assert binance.set_last_price("BTCUSDT", trigger_px) == ["stom-s1-000001"]
    broker.poll()
    assert [(f.quantity, f.price, f.side) for f in listener.fills] == [
        (D("0.01"), D(trigger_px), side)
    ]
    assert [u.status for u in listener.updates] == [OrderStatus.SUBMITTED, OrderStatus.FILLED]
    assert listener.updates[-1].stop_price == D(stop_px)
    assert listener.updates[-1].avg_fill_price == D(trigger_px)
    broker.poll()
    assert len(listener.fills) == 1  # reported once


def test_stop_limit_triggers_into_a_resting_limit_and_fills_at_its_price(broker, binance) -> None:
    listener = RecordingListener()
    broker.set_listener(listener)
    broker.submit(stop_limit("stom-s1-000002", "29000.00", "28900.00"))
    params = sent(binance, "stom-s1-000002")
    assert (params["type"], params["stopPrice"], params["price"], params["timeInForce"]) == (
        "STOP_LOSS_LIMIT",
        "29000",
        "28900",
        "GTC",
    )
    snap = broker.fetch_order("stom-s1-000002")
    assert snap is not None
    assert (snap.order_type, snap.stop_price, snap.price) == (
        OrderType.STOP_LIMIT,
        D("29000.00"),
        D("28900.00"),
    )
    with pytest.raises(ValueError, match="not triggered"):
        binance.fill("stom-s1-000002")  # the fake refuses to match an untriggered stop

    assert binance.set_last_price("BTCUSDT", "28990.00") == ["stom-s1-000002"]
    broker.poll()
    assert listener.fills == []  # triggered, now a resting limit order: still open
    assert listener.updates[-1].status is OrderStatus.SUBMITTED
    binance.fill("stom-s1-000002", "0.004")
    broker.poll()
    binance.fill("stom-s1-000002")
    broker.poll()
    assert [(f.quantity, f.price) for f in listener.fills] == [
        (D("0.004"), D("28900.00")),
        (D("0.006"), D("28900.00")),
    ]
    assert listener.updates[-1].status is OrderStatus.FILLED
    assert listener.updates[-1].filled_quantity == D("0.01")


def test_untriggered_stop_is_cancelled_and_never_fires(broker, binance) -> None:
    listener = RecordingListener()
    broker.set_listener(listener)
    broker.submit(stop_limit("stom-s1-000003", "29000.00", "28900.00"))
    broker.poll()
    broker.cancel("stom-s1-000003")
    broker.poll()
    assert binance.order_by_client("stom-s1-000003")["status"] == "CANCELED"
    assert listener.updates[-1].status is OrderStatus.CANCELLED
    assert binance.set_last_price("BTCUSDT", "28000.00") == []
    broker.poll()
    assert listener.fills == [] and binance.trades == []


def test_amend_keeps_the_stop_price_on_the_replacement(broker, binance) -> None:
    broker.submit(stop_limit("stom-s1-000004", "29000.00", "28900.00"))
    broker.amend("stom-s1-000004", price=D("28800.00"))
    params = sent(binance, "stom-s1-000004.a1")
    assert (params["type"], params["stopPrice"], params["price"]) == (
        "STOP_LOSS_LIMIT",
        "29000",
        "28800",
    )
    snap = broker.fetch_order("stom-s1-000004")
    assert snap is not None
    assert (snap.stop_price, snap.price, snap.status) == (
        D("29000.00"),
        D("28800.00"),
        OrderStatus.SUBMITTED,
    )


def test_stop_accepted_but_answer_lost_is_found_by_client_id_not_resent(
    broker, binance, make_broker
) -> None:
    binance.inject("POST", ORDER, Fault(200, {}, delay_s=1.0, process=True))
    order = stop_limit("stom-s1-000005", "29000.00", "28900.00")
    with pytest.raises(TemporaryBrokerError):
        broker.submit(order)
    snap = broker.fetch_order("stom-s1-000005")
    assert snap is not None
    assert (snap.status, snap.order_type, snap.stop_price) == (
        OrderStatus.SUBMITTED,
        OrderType.STOP_LIMIT,
        D("29000.00"),
    )
    assert broker.submit(order) == snap.venue_order_id  # a blind retry adopts it
    assert binance.count("POST", ORDER) == 1

    # After a restart a fresh broker rebuilds the stop from the venue alone (ccxt calls
    # a spot STOP_LOSS_LIMIT "limit": the raw type and stopPrice must survive).
    fresh = make_broker("binance", binance.base_url, symbols=[SYM])
    again = fresh.fetch_order("stom-s1-000005")
    assert again is not None
    assert (again.order_type, again.stop_price, again.price, again.quantity) == (
        OrderType.STOP_LIMIT,
        D("29000.00"),
        D("28900.00"),
        D("0.01"),
    )
    [listed] = make_broker("binance", binance.base_url, symbols=[SYM]).open_orders(SYM)
    assert (listed.order_type, listed.stop_price) == (OrderType.STOP_LIMIT, D("29000.00"))
    assert binance.count("POST", ORDER) == 1


def test_restarted_broker_sees_a_stop_market_as_stop_not_market(binance, make_broker) -> None:
    make_broker("binance", binance.base_url, symbols=[SYM]).submit(
        stop("stom-s1-000006", "29000.00")
    )
    snap = make_broker("binance", binance.base_url, symbols=[SYM]).fetch_order("stom-s1-000006")
    assert snap is not None
    assert (snap.order_type, snap.stop_price, snap.price) == (OrderType.STOP, D("29000.00"), None)


@pytest.mark.parametrize(
    "order",
    [
        stop("stom-s1-000010", "29000.005"),
        stop_limit("stom-s1-000011", "29000.005", "28900.00"),
    ],
)
def test_stop_price_off_the_tick_grid_is_refused_before_sending(broker, binance, order) -> None:
    with pytest.raises(OrderRejected) as info:
        broker.submit(order)
    assert info.value.rule == "venue.tick_size"
    assert "stop price 29000.005" in info.value.reason and "0.01" in info.value.reason
    assert binance.count("POST", ORDER) == 0


@pytest.mark.parametrize(
    "order",
    [
        stop("stom-s1-000020", "30100.00"),  # sell stop above the market
        stop("stom-s1-000021", "30000.00"),  # at the market: would trigger at once
        stop_limit("stom-s1-000022", "29900.00", "29950.00", side=Side.BUY),  # buy below
    ],
)
def test_stop_on_the_wrong_side_of_the_market_is_refused_before_sending(
    binance, make_broker, order
) -> None:
    broker = make_broker(
        "binance", binance.base_url, symbols=[SYM], price_source=lambda s: D("30000.00")
    )
    with pytest.raises(OrderRejected) as info:
        broker.submit(order)
    assert info.value.rule == "venue.stop_side"
    assert info.value.client_order_id == order.client_order_id
    where = "below" if order.side is Side.SELL else "above"
    assert f"must be {where} the market" in info.value.reason
    assert "30000.00" in info.value.reason
    assert binance.count("POST", ORDER) == 0


def test_wrong_side_stop_without_a_reference_is_refused_by_the_venue(broker, binance) -> None:
    with pytest.raises(OrderRejected) as info:
        broker.submit(stop("stom-s1-000023", "30100.00"))
    assert "Stop price would trigger immediately" in info.value.reason
    assert binance.count("POST", ORDER) == 1
    assert binance.order_by_client("stom-s1-000023") is None


@pytest.mark.parametrize("kind", ["stop", "stop_limit"])
def test_upbit_refuses_stops_and_points_to_engine_side_stops(upbit, make_broker, kind) -> None:
    broker = make_broker("upbit", upbit.base_url)
    order = (
        stop("stom-u1-000001", "49000000", qty="0.001", sym="BTC/KRW")
        if kind == "stop"
        else stop_limit("stom-u1-000001", "49000000", "48900000", qty="0.001", sym="BTC/KRW")
    )
    with pytest.raises(OrderRejected) as info:
        broker.submit(order)
    assert info.value.rule == "venue.order_type"
    assert "Upbit has no" in info.value.reason and "stop_loss" in info.value.reason
    assert upbit.count("POST", "/v1/orders") == 0


def test_binance_futures_refuses_stops_before_sending(futures, make_broker) -> None:
    broker = make_broker("binanceusdm", futures.base_url, symbols=["BTC/USDT:USDT"])
    with pytest.raises(OrderRejected) as info:
        broker.submit(stop("stom-f1-000001", "29000.0", qty="0.010", sym="BTC/USDT:USDT"))
    assert info.value.rule == "venue.order_type"
    assert "Algo Order API" in info.value.reason and "stop_loss" in info.value.reason
    assert [r for r in futures.requests if r[0] == "POST"] == []
