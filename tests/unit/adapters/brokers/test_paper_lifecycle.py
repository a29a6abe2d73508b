"""PaperBroker order life: cancel and amend (and their races), DAY expiry, auto-cancel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from paper_factories import ASKS, BIDS, SYM, T0_MS, D, Harness

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import OrderRejected
from stom_desktop.core.instruments import Instrument
from stom_desktop.core.market_rules import CryptoRules
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import OrderType, TimeInForce

LIMIT = OrderType.LIMIT


def _resting_buy(h: Harness, qty: int = 10, price: int = 69900, **kw: object) -> str:
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, qty, order_type=LIMIT, price=price, **kw)
    h.broker.advance_to()
    return cid


def test_cancel_is_confirmed_by_an_update_and_releases_the_reserved_cash() -> None:
    h = Harness()
    cid = _resting_buy(h)
    assert h.broker.balances()["KRW"] == D(100_000_000) - D(699_000) - D(104)  # fee 104.85
    h.broker.cancel(cid)
    assert h.snap(cid).cancel_requested is True
    assert h.rec.updates == []  # never from inside cancel()
    h.broker.advance_to()
    snap = h.rec.last_update(cid)
    assert snap.status is OrderStatus.CANCELLED and snap.reason == "cancelled on request"
    assert snap.cancel_requested is False
    assert h.broker.open_orders() == []
    assert h.broker.balances()["KRW"] == D(100_000_000)


def test_cancel_after_a_partial_fill_keeps_the_filled_part() -> None:
    h = Harness()
    cid = _resting_buy(h)
    h.at(100)
    h.quote(69800.0, 69900.0, ask_size=4.0)
    h.broker.cancel(cid)
    h.broker.advance_to()
    snap = h.snap(cid)
    assert snap.status is OrderStatus.CANCELLED and snap.filled_quantity == D(4)
    assert h.broker.account().positions == {SYM: D(4)}


def test_fill_that_arrives_while_a_cancel_is_in_flight_still_counts() -> None:
    h = Harness(latency_ms=30)
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 10, order_type=LIMIT, price=69900)
    h.at(40)
    h.book(ASKS, BIDS)  # live at 30, resting
    h.broker.cancel(cid)  # effective at 70
    h.at(50)
    h.quote(69800.0, 69900.0, ask_size=6.0)  # before the cancel lands: fills 6
    h.at(80)
    h.quote(69800.0, 69900.0, ask_size=50.0)  # after: nothing more
    snap = h.snap(cid)
    assert snap.status is OrderStatus.CANCELLED and snap.filled_quantity == D(6)
    assert [k for k, _ in h.rec.log] == ["fill", "update"]


def test_cancel_racing_a_complete_fill_finds_the_order_filled() -> None:
    h = Harness(latency_ms=30)
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 10, order_type=LIMIT, price=69900)
    h.at(40)
    h.book(ASKS, BIDS)
    h.broker.cancel(cid)
    h.at(50)
    h.quote(69800.0, 69900.0, ask_size=100.0)
    h.at(100)
    h.broker.advance_to()
    assert h.status(cid) is OrderStatus.FILLED
    assert h.rec.updates == []  # no late cancel confirmation for a filled order
    with pytest.raises(OrderRejected) as err:
        h.broker.cancel(cid)
    assert err.value.rule == "paper.not_open" and "filled" in err.value.reason


def test_cancel_of_an_unknown_order_names_the_rule() -> None:
    h = Harness()
    with pytest.raises(OrderRejected) as err:
        h.broker.cancel("stom-t1-999999")
    assert err.value.rule == "paper.unknown_order"
    assert h.broker.fetch_order("stom-t1-999999") is None


def test_amend_keeps_the_client_id_and_a_marketable_price_fills_as_a_new_arrival() -> None:
    h = Harness()
    cid = _resting_buy(h)
    h.broker.amend(cid, quantity=D(15), price=D(70100))
    snap = h.snap(cid)
    assert (snap.client_order_id, snap.quantity, snap.price) == (cid, D(15), D(70100))
    assert h.rec.updates == [] and h.rec.fills == []
    h.at(10)
    h.book(ASKS, BIDS)
    assert h.rec.fills_of(cid) == [(D(10), D(70100))]
    assert h.status(cid) is OrderStatus.PARTIALLY_FILLED


def test_amend_below_the_filled_quantity_is_rejected_with_a_clear_reason() -> None:
    h = Harness()
    cid = _resting_buy(h)
    h.at(100)
    h.quote(69800.0, 69900.0, ask_size=6.0)
    with pytest.raises(OrderRejected) as err:
        h.broker.amend(cid, quantity=D(5))
    assert err.value.rule == "paper.amend_below_filled"
    assert "6 of 10 already filled" in err.value.reason
    with pytest.raises(OrderRejected) as err:
        h.broker.amend(cid, quantity=D(6))  # equal to filled: that is a cancel
    assert err.value.rule == "paper.amend_below_filled"
    assert h.snap(cid).quantity == D(10)
    h.broker.amend(cid, quantity=D(7))
    assert h.snap(cid).quantity == D(7)


def test_amend_checks_rules_and_funds_and_leaves_the_order_unchanged_on_refusal() -> None:
    h = Harness(cash=D(1_000_000))
    cid = _resting_buy(h)
    with pytest.raises(OrderRejected) as err:
        h.broker.amend(cid, price=D(69950))
    assert err.value.rule == "krx.tick_size"
    with pytest.raises(OrderRejected) as err:
        h.broker.amend(cid, quantity=D(20))
    assert err.value.rule == "paper.insufficient_funds"
    other = _resting_buy(h, 1, 69000)
    assert h.snap(cid).quantity == D(10) and h.snap(cid).price == D(69900)
    h.book(ASKS, BIDS)
    m = h.submit(Side.BUY, 1)
    with pytest.raises(OrderRejected) as err:
        h.broker.amend(m, price=D(70000))
    assert err.value.rule == "order.price"
    h.broker.cancel(other)
    h.broker.advance_to()
    with pytest.raises(OrderRejected) as err:
        h.broker.amend(other, quantity=D(3))
    assert err.value.rule == "paper.not_open"


def test_day_order_expires_at_the_krx_close_in_seoul_time() -> None:
    h = Harness(instruments={SYM: Instrument.krx_stock(SYM)})
    cid = _resting_buy(h, tif=TimeInForce.DAY)
    close_ms = int(datetime(2026, 1, 5, 6, 30, tzinfo=UTC).timestamp() * 1000)  # 15:30 KST
    h.broker.advance_to(close_ms - 1)
    assert h.status(cid) is OrderStatus.SUBMITTED
    h.clock.set_ms(close_ms + 5)
    h.quote(69800.0, 69900.0, ask_size=100.0)  # after the close: too late
    snap = h.rec.last_update(cid)
    assert snap.status is OrderStatus.EXPIRED
    assert snap.reason == "day order expired at the session close 15:30 Asia/Seoul"
    assert h.rec.fills == []


def test_day_order_placed_after_the_close_lives_until_the_next_close() -> None:
    evening = int(datetime(2026, 1, 5, 8, 0, tzinfo=UTC).timestamp() * 1000)  # 17:00 KST
    h = Harness(start_ms=evening)
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 1, order_type=LIMIT, price=69000, tif=TimeInForce.DAY)
    next_close = int(datetime(2026, 1, 6, 6, 30, tzinfo=UTC).timestamp() * 1000)
    h.broker.advance_to(next_close - 1)
    assert h.status(cid) is OrderStatus.SUBMITTED
    h.broker.advance_to(next_close)
    assert h.status(cid) is OrderStatus.EXPIRED


def test_day_order_on_a_24h_crypto_venue_expires_at_local_midnight() -> None:
    sym = "KRW-BTC"
    h = Harness(CryptoRules.upbit_krw(), instruments={sym: Instrument.upbit_krw(sym)})
    h.quote(99_000_000.0, 99_001_000.0, symbol=sym)
    cid = h.submit(
        Side.BUY, "0.001", symbol=sym, order_type=LIMIT, price=98_000_000, tif=TimeInForce.DAY
    )
    midnight_kst = int(datetime(2026, 1, 5, 15, 0, tzinfo=UTC).timestamp() * 1000)
    h.broker.advance_to(midnight_kst - 1)
    assert h.status(cid) is OrderStatus.SUBMITTED
    h.broker.advance_to(midnight_kst)
    assert h.status(cid) is OrderStatus.EXPIRED


def test_day_order_partly_filled_expires_with_its_fills() -> None:
    h = Harness()
    cid = _resting_buy(h, tif=TimeInForce.DAY)
    h.at(100)
    h.quote(69800.0, 69900.0, ask_size=3.0)
    h.broker.advance_to(T0_MS + 7 * 3600 * 1000)
    snap = h.snap(cid)
    assert snap.status is OrderStatus.EXPIRED and snap.filled_quantity == D(3)


def test_auto_cancel_expires_orders_still_open_n_seconds_after_submit() -> None:
    h = Harness(auto_cancel_after_s=2.5)
    a = _resting_buy(h)
    h.at(1000)
    b = h.submit(Side.BUY, 1, order_type=LIMIT, price=69000)
    filled = h.submit(Side.BUY, 1)
    h.broker.advance_to()
    assert h.status(filled) is OrderStatus.FILLED
    h.broker.advance_to(T0_MS + 2499)
    assert h.status(a) is OrderStatus.SUBMITTED
    h.broker.advance_to(T0_MS + 2500)
    snap = h.snap(a)
    assert snap.status is OrderStatus.EXPIRED
    assert snap.reason == "auto-cancel: still open 2.5 s after submit"
    assert h.status(b) is OrderStatus.SUBMITTED
    h.broker.advance_to(T0_MS + 3500)
    assert h.status(b) is OrderStatus.EXPIRED
    assert [u.client_order_id for u in h.rec.updates] == [a, b]


@pytest.mark.parametrize("bad", [0, -1.0])
def test_constructor_refuses_bad_settings(bad: float) -> None:
    with pytest.raises(ValueError, match="auto_cancel_after_s"):
        Harness(auto_cancel_after_s=bad)
    with pytest.raises(ValueError, match="latency"):
        Harness(latency_ms=-1)
