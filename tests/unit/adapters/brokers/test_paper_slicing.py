"""Sliced orders: the split helper, child ids, release timing, parent reporting."""

from __future__ import annotations

import pytest
from paper_factories import ASKS, BIDS, T0_MS, D, Harness

from stom_desktop.adapters.brokers.paper_slicing import (
    child_order_id,
    parent_order_id,
    plan_slices,
    split_quantity,
)
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import OrderRejected
from stom_desktop.core.instruments import Instrument
from stom_desktop.core.market_rules import CryptoRules
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import MAX_CLIENT_ID_LENGTH, OrderType, TimeInForce


def test_split_quantity_shares_whole_lots_larger_first() -> None:
    assert split_quantity(D(10), 3) == [D(4), D(3), D(3)]
    assert split_quantity(D(9), 3) == [D(3), D(3), D(3)]
    assert split_quantity(D("0.05"), 2, D("0.01")) == [D("0.03"), D("0.02")]
    assert sum(split_quantity(D("1.23456789"), 7, D("1e-8"))) == D("1.23456789")
    with pytest.raises(ValueError, match="only 2 lots"):
        split_quantity(D(2), 3)
    with pytest.raises(ValueError, match="not a positive whole number of lots"):
        split_quantity(D("1.5"), 2, D(1))
    with pytest.raises(ValueError, match="slices must be"):
        split_quantity(D(200), 100)


def test_child_ids_derive_from_the_parent_and_round_trip() -> None:
    parent = "stom-s20260105a-000042"
    assert child_order_id(parent, 3) == "stom-s20260105a-000042.03"
    assert parent_order_id(child_order_id(parent, 3)) == parent
    assert parent_order_id(parent) is None
    longest = "stom-" + "s" * 20 + "-999999"
    assert len(child_order_id(longest, 99)) <= MAX_CLIENT_ID_LENGTH
    with pytest.raises(ValueError, match="too long"):
        child_order_id("x" * 34, 1)
    with pytest.raises(ValueError, match=r"1\.\.99"):
        child_order_id(parent, 0)


def test_plan_releases_every_interval_from_zero() -> None:
    plan = plan_slices("p", D(10), 4, 1.5)
    assert [(c.client_order_id, c.quantity, c.release_after_ms) for c in plan] == [
        ("p.01", D(3), 0),
        ("p.02", D(3), 1500),
        ("p.03", D(2), 3000),
        ("p.04", D(2), 4500),
    ]


def test_sliced_market_buy_releases_children_every_interval_and_fills_the_parent() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    parent = h.order(Side.BUY, 10)
    pid = parent.client_order_id
    h.broker.submit_sliced(parent, slices=3, interval_s=2)
    h.broker.advance_to()
    assert h.rec.fills_of(pid) == [(D(4), D(70100))]
    assert h.status(pid) is OrderStatus.PARTIALLY_FILLED
    h.broker.advance_to(T0_MS + 1999)
    assert len(h.rec.fills) == 1
    h.at(2000)
    h.book(ASKS, BIDS)  # child 2 was released at 2,000, before this event: old book
    h.at(3000)
    h.book([(70300.0, 100.0)], BIDS)
    h.broker.advance_to(T0_MS + 4000)  # child 3 meets the 70,300 book
    assert h.rec.fills_of(pid) == [(D(4), D(70100)), (D(3), D(70100)), (D(3), D(70300))]
    # Fills come under the parent id; their ids name the child venue order.
    assert [f.fill_id for f in h.rec.fills] == [
        "P00000001.01-1",
        "P00000001.02-1",
        "P00000001.03-1",
    ]
    snap = h.snap(pid)
    assert snap.status is OrderStatus.FILLED and snap.avg_fill_price == D("70160")
    children = h.broker.children(pid)
    assert [c.client_order_id for c in children] == [f"{pid}.01", f"{pid}.02", f"{pid}.03"]
    assert all(c.parent_id == pid and c.status is OrderStatus.FILLED for c in children)
    assert h.broker.open_orders() == []
    assert h.rec.updates == []


def test_cancelling_a_sliced_parent_cancels_working_and_unreleased_children() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    parent = h.order(Side.BUY, 9, order_type=OrderType.LIMIT, price=70100)
    pid = parent.client_order_id
    h.broker.submit_sliced(parent, slices=3, interval_s=10)
    h.broker.advance_to()
    h.at(9_000)
    h.quote(70000.0, 70200.0)
    h.broker.advance_to(T0_MS + 10_000)  # child 2 is released and rests below the ask
    h.broker.cancel(pid)
    with pytest.raises(OrderRejected) as err:
        h.broker.cancel(f"{pid}.02")
    assert err.value.rule == "paper.child_order"
    h.broker.advance_to()
    h.broker.advance_to(T0_MS + 60_000)
    snap = h.rec.last_update(pid)
    assert snap.status is OrderStatus.CANCELLED and snap.filled_quantity == D(3)
    assert [c.status for c in h.broker.children(pid)] == [
        OrderStatus.FILLED,
        OrderStatus.CANCELLED,
    ]  # the third child was never released
    assert len(h.rec.updates) == 1


def test_sliced_ioc_parent_ends_cancelled_when_a_child_could_not_fill() -> None:
    h = Harness()
    h.book([(70100.0, 5.0)], BIDS)
    parent = h.order(Side.BUY, 8, tif=TimeInForce.IOC)
    pid = parent.client_order_id
    h.broker.submit_sliced(parent, slices=2, interval_s=1)
    h.broker.advance_to()
    h.broker.advance_to(T0_MS + 1000)  # child 2 meets only 1 share left
    snap = h.rec.last_update(pid)
    assert snap.status is OrderStatus.CANCELLED and snap.filled_quantity == D(5)
    assert snap.reason is not None and f"{pid}.02" in snap.reason


def test_day_sliced_parent_expires_with_children_at_the_close() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    parent = h.order(Side.BUY, 4, order_type=OrderType.LIMIT, price=69000, tif=TimeInForce.DAY)
    h.broker.submit_sliced(parent, slices=4, interval_s=3600)
    h.broker.advance_to(T0_MS + 8 * 3600 * 1000)
    assert h.status(parent.client_order_id) is OrderStatus.EXPIRED
    assert len(h.broker.children(parent.client_order_id)) == 4  # 09:00..12:00 released


def test_sliced_submit_checks_each_child_against_the_rules_and_refuses_amend() -> None:
    sym = "KRW-BTC"
    h = Harness(CryptoRules.upbit_krw(), instruments={sym: Instrument.upbit_krw(sym)})
    h.quote(99_000_000.0, 99_001_000.0, symbol=sym)
    parent = h.order(Side.BUY, "0.0001", symbol=sym)  # 9,900 KRW: fine whole, not in 2
    with pytest.raises(OrderRejected) as err:
        h.broker.submit_sliced(parent, slices=2, interval_s=1)
    assert err.value.rule == "crypto.min_notional"
    krx = Harness()
    krx.book(ASKS, BIDS)
    with pytest.raises(OrderRejected) as err:
        krx.broker.submit_sliced(krx.order(Side.BUY, 2), slices=3, interval_s=1)
    assert err.value.rule == "paper.slices" and "only 2 lots" in err.value.reason
    ok = h.order(Side.BUY, "0.001", symbol=sym, order_type=OrderType.LIMIT, price=98_000_000)
    h.broker.submit_sliced(ok, slices=2, interval_s=1)
    with pytest.raises(OrderRejected) as err:
        h.broker.amend(ok.client_order_id, price=D(97_000_000))
    assert err.value.rule == "paper.amend_sliced"
