"""PaperBroker limit, stop and stop-limit orders under GTC/IOC/FOK."""

from __future__ import annotations

import pytest
from paper_factories import ASKS, BIDS, SYM, D, Harness

from stom_desktop.core.enums import Side
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import OrderType, TimeInForce

LIMIT = OrderType.LIMIT


def test_marketable_limit_takes_levels_at_or_better_than_its_limit_and_rests() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 25, order_type=LIMIT, price=70200)
    h.broker.advance_to()
    # Taker on arrival: the better price 70,100 first, then the limit level; 5 rest.
    assert h.rec.fills_of(cid) == [(D(10), D(70100)), (D(10), D(70200))]
    assert h.status(cid) is OrderStatus.PARTIALLY_FILLED
    assert [o.client_order_id for o in h.broker.open_orders(SYM)] == [cid]


def test_resting_limit_fills_at_its_limit_when_a_quote_crosses_it_up_to_displayed_size() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 10, order_type=LIMIT, price=69900)
    h.broker.advance_to()
    assert h.rec.fills == []
    h.at(1000)
    h.quote(69700.0, 69800.0, ask_size=4.0)  # ask below the limit: maker fill at 69,900
    assert h.rec.fills_of(cid) == [(D(4), D(69900))]
    h.at(2000)
    h.quote(69700.0, 69900.0, ask_size=50.0)  # ask at the limit: the rest fills
    assert h.rec.fills_of(cid) == [(D(4), D(69900)), (D(6), D(69900))]
    assert h.status(cid) is OrderStatus.FILLED


def test_resting_limit_does_not_fill_while_the_market_stays_above() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 10, order_type=LIMIT, price=70000)
    h.broker.advance_to()
    for i in range(5):
        h.at(100 * (i + 1))
        h.quote(70000.0, 70100.0, last=70100.0)
        h.trade(70100.0, 50.0)
    assert h.rec.fills == []
    assert h.status(cid) is OrderStatus.SUBMITTED


def test_trade_through_the_limit_fills_up_to_the_trade_size_shared_in_time_priority() -> None:
    h = Harness(positions={SYM: D(100)})
    h.book(ASKS, BIDS)
    a = h.submit(Side.SELL, 10, order_type=LIMIT, price=70300)
    b = h.submit(Side.SELL, 10, order_type=LIMIT, price=70300)
    h.broker.advance_to()
    h.at(500)
    h.trade(70400.0, 12.0)  # a buyer paid 70,400: both resting sells are through
    assert h.rec.fills_of(a) == [(D(10), D(70300))]
    assert h.rec.fills_of(b) == [(D(2), D(70300))]
    h.at(600)
    h.trade(70200.0, 50.0)  # below the sell limit: no fill
    assert h.rec.fills_of(b) == [(D(2), D(70300))]


def test_limit_ioc_takes_what_is_through_the_limit_now_and_cancels_the_rest() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 30, order_type=LIMIT, price=70200, tif=TimeInForce.IOC)
    h.broker.advance_to()
    assert sum(q for q, _ in h.rec.fills_of(cid)) == D(20)
    snap = h.rec.last_update(cid)
    assert snap.status is OrderStatus.CANCELLED and snap.filled_quantity == D(20)


@pytest.mark.parametrize(("limit", "expected"), [(70200, OrderStatus.FILLED), (70100, None)])
def test_limit_fok_needs_the_whole_quantity_within_the_limit(
    limit: int, expected: OrderStatus | None
) -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 20, order_type=LIMIT, price=limit, tif=TimeInForce.FOK)
    h.broker.advance_to()
    if expected is None:
        assert h.status(cid) is OrderStatus.CANCELLED
        assert h.rec.fills == []
        assert h.snap(cid).reason == "fok: only 10 of 20 available at 70100 or better"
    else:
        assert h.status(cid) is expected
        assert h.rec.fills_of(cid) == [(D(10), D(70100)), (D(10), D(70200))]


def test_buy_stop_triggers_on_a_trade_at_or_above_the_stop_then_walks_the_book() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 15, order_type=OrderType.STOP, stop=70300)
    h.broker.advance_to()
    h.at(100)
    h.trade(70200.0, 5.0)
    assert h.rec.fills == []
    h.at(200)
    h.trade(70300.0, 5.0)  # last >= stop: becomes a market order on the current book
    assert h.rec.fills_of(cid) == [(D(10), D(70100)), (D(5), D(70200))]
    assert h.status(cid) is OrderStatus.FILLED


def test_sell_stop_triggers_on_the_quote_last_price() -> None:
    h = Harness(positions={SYM: D(10)})
    h.book(ASKS, BIDS)
    cid = h.submit(Side.SELL, 10, order_type=OrderType.STOP, stop=69500)
    h.broker.advance_to()
    h.at(100)
    h.quote(69600.0, 69700.0, last=69600.0, bid_size=100.0)
    assert h.rec.fills == []
    h.at(200)
    h.quote(69400.0, 69500.0, last=69500.0, bid_size=100.0)
    assert h.rec.fills_of(cid) == [(D(10), D(69400))]


def test_stop_already_crossed_when_it_arrives_triggers_at_once() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    h.trade(70400.0, 1.0)
    cid = h.submit(Side.BUY, 5, order_type=OrderType.STOP, stop=70300)
    h.broker.advance_to()
    assert h.rec.fills_of(cid) == [(D(5), D(70100))]


def test_stop_limit_becomes_a_limit_that_takes_within_its_limit_and_rests() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 25, order_type=OrderType.STOP_LIMIT, stop=70100, price=70200)
    h.broker.advance_to()
    assert h.rec.fills == []  # not triggered: no last price yet
    h.at(100)
    h.trade(70100.0, 1.0)
    assert h.rec.fills_of(cid) == [(D(10), D(70100)), (D(10), D(70200))]
    assert h.status(cid) is OrderStatus.PARTIALLY_FILLED
    h.at(200)
    h.quote(70000.0, 70200.0, ask_size=100.0)  # resting limit crossed: maker at 70,200
    assert h.rec.fills_of(cid)[-1] == (D(5), D(70200))
    assert h.status(cid) is OrderStatus.FILLED


def test_stop_ioc_waits_untriggered_then_applies_ioc_at_the_trigger() -> None:
    h = Harness()
    h.book([(70100.0, 3.0)], BIDS)
    cid = h.submit(Side.BUY, 5, order_type=OrderType.STOP, stop=70100, tif=TimeInForce.IOC)
    h.broker.advance_to()
    assert h.status(cid) is OrderStatus.SUBMITTED  # IOC does not apply before the trigger
    h.at(100)
    h.trade(70100.0, 1.0)
    snap = h.rec.last_update(cid)
    assert snap.status is OrderStatus.CANCELLED and snap.filled_quantity == D(3)


_MATRIX_TYPES = {
    # type: (order kwargs, quantity, what the 50-share ask side can give it now)
    OrderType.MARKET: ({}, 60, D(50)),
    OrderType.LIMIT: ({"price": 70200}, 30, D(20)),
    OrderType.STOP: ({"stop": 70100}, 60, D(50)),
    OrderType.STOP_LIMIT: ({"stop": 70100, "price": 70200}, 30, D(20)),
}
_MATRIX_TIFS = {
    # tif: (status at the end of the day, filled is what was available, else 0)
    TimeInForce.GTC: (OrderStatus.PARTIALLY_FILLED, True),
    TimeInForce.IOC: (OrderStatus.CANCELLED, True),
    TimeInForce.FOK: (OrderStatus.CANCELLED, False),
    TimeInForce.DAY: (OrderStatus.EXPIRED, True),
}


@pytest.mark.parametrize("order_type", list(_MATRIX_TYPES))
@pytest.mark.parametrize("tif", list(_MATRIX_TIFS))
def test_every_order_type_with_every_time_in_force(order_type: OrderType, tif: TimeInForce) -> None:
    kwargs, qty, available = _MATRIX_TYPES[order_type]
    status, fills_available = _MATRIX_TIFS[tif]
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, qty, order_type=order_type, tif=tif, **kwargs)
    h.broker.advance_to()
    if order_type.needs_stop_price:
        assert h.rec.fills == [] and h.status(cid) is OrderStatus.SUBMITTED
        h.at(100)
        h.trade(70100.0, 1.0)  # triggers the stop
    h.broker.advance_to(h.now + 8 * 3600 * 1000)  # past the 15:30 close
    snap = h.snap(cid)
    assert snap.status is status
    assert snap.filled_quantity == (available if fills_available else 0)
    assert sum(q for q, _ in h.rec.fills_of(cid)) == snap.filled_quantity
    if status.is_terminal:
        assert h.rec.last_update(cid) == snap
    else:
        assert h.rec.updates == []


def test_float_noise_in_feed_prices_does_not_hide_a_cross() -> None:
    from stom_desktop.core.market_rules import CryptoRules

    rules = CryptoRules.binance(tick_size=D("0.01"), step_size=D("0.001"), min_notional=D(5))
    h = Harness(rules, cash=D(1000), currency="USDT")
    noisy = 0.1 * 12.3  # 1.2300000000000002: the grid price 1.23 after rounding
    assert noisy != 1.23
    h.quote(1.20, 1.25, symbol="XUSDT", ask_size=50.0)
    cid = h.submit(Side.BUY, "10", symbol="XUSDT", order_type=LIMIT, price="1.23")
    h.broker.advance_to()
    assert h.rec.fills == []
    h.at(100)
    h.quote(1.20, noisy, symbol="XUSDT", ask_size=50.0)
    [fill] = h.rec.fills
    assert (fill.client_order_id, fill.quantity, fill.price) == (cid, D(10), D("1.23"))
    assert fill.fee == D("0.01230") and fill.fee_currency == "USDT"
