"""The order state machine: the transition table and how Order methods obey it."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError
from stom_desktop.core.order_state import (
    TRANSITIONS,
    IllegalTransition,
    OrderStatus,
    can_transition,
    check_transition,
)
from stom_desktop.core.orders import Order, OrderType

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
S = OrderStatus

LEGAL = {
    (S.NEW, S.SUBMITTED),
    (S.NEW, S.REJECTED),
    (S.NEW, S.CANCELLED),
    (S.SUBMITTED, S.PARTIALLY_FILLED),
    (S.SUBMITTED, S.FILLED),
    (S.SUBMITTED, S.CANCELLED),
    (S.SUBMITTED, S.REJECTED),
    (S.SUBMITTED, S.EXPIRED),
    (S.PARTIALLY_FILLED, S.PARTIALLY_FILLED),
    (S.PARTIALLY_FILLED, S.FILLED),
    (S.PARTIALLY_FILLED, S.CANCELLED),
    (S.PARTIALLY_FILLED, S.EXPIRED),
}


def test_table_is_exactly_the_documented_one() -> None:
    table = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == LEGAL
    assert set(TRANSITIONS) == set(OrderStatus)


@pytest.mark.parametrize(("a", "b"), list(itertools.product(OrderStatus, OrderStatus)))
def test_every_pair_is_allowed_or_refused_by_name(a: OrderStatus, b: OrderStatus) -> None:
    assert can_transition(a, b) == ((a, b) in LEGAL)
    if (a, b) in LEGAL:
        check_transition("stom-x-000001", a, b)
    else:
        with pytest.raises(IllegalTransition) as info:
            check_transition("stom-x-000001", a, b)
        err = info.value
        assert isinstance(err, BrokerError)
        assert (err.client_order_id, err.from_status, err.to_status) == ("stom-x-000001", a, b)
        assert f"{a.value} -> {b.value}" in str(err) and "stom-x-000001" in str(err)


def test_terminal_and_open() -> None:
    assert {s for s in OrderStatus if s.is_terminal} == {
        S.FILLED,
        S.CANCELLED,
        S.REJECTED,
        S.EXPIRED,
    }
    assert all(s.is_open != s.is_terminal for s in OrderStatus)


def _order() -> Order:
    return Order(
        "stom-t-000001",
        "005930",
        Side.BUY,
        Decimal(10),
        created_at=T0,
        order_type=OrderType.LIMIT,
        price=Decimal(70000),
    )


def test_full_life_partial_then_filled() -> None:
    o = _order()
    assert o.status is S.NEW
    o.submit(T0, venue_order_id="V1")
    assert o.status is S.SUBMITTED and o.venue_order_id == "V1"
    assert o.apply_fill(Decimal(3), Decimal(70000), T0) is S.PARTIALLY_FILLED
    assert o.apply_fill(Decimal(3), Decimal(69900), T0) is S.PARTIALLY_FILLED
    assert o.apply_fill(Decimal(4), Decimal(69800), T0) is S.FILLED
    assert o.filled_quantity == 10 and o.remaining_quantity == 0
    assert o.avg_fill_price == Decimal(3 * 70000 + 3 * 69900 + 4 * 69800) / 10
    assert not o.is_open


@pytest.mark.parametrize(
    "action",
    [
        lambda o: o.cancel(T0, "x"),
        lambda o: o.reject(T0, "x"),
        lambda o: o.expire(T0),
        lambda o: o.submit(T0),
        lambda o: o.apply_fill(Decimal(1), Decimal(1), T0),
    ],
)
def test_terminal_orders_refuse_everything_and_stay_unchanged(action: object) -> None:
    o = _order()
    o.submit(T0)
    o.apply_fill(Decimal(10), Decimal(70000), T0)
    before = o.snapshot()
    with pytest.raises(BrokerError):
        action(o)  # type: ignore[operator]
    assert o.snapshot() == before


def test_fill_from_new_is_illegal() -> None:
    o = _order()
    before = o.snapshot()
    with pytest.raises(IllegalTransition) as info:
        o.apply_fill(Decimal(1), Decimal(70000), T0)
    assert info.value.from_status is S.NEW and info.value.to_status is S.PARTIALLY_FILLED
    assert o.snapshot() == before


def test_reject_after_partial_fill_is_illegal() -> None:
    o = _order()
    o.submit(T0)
    o.apply_fill(Decimal(1), Decimal(70000), T0)
    with pytest.raises(IllegalTransition):
        o.reject(T0, "late reject")
    assert o.status is S.PARTIALLY_FILLED


def test_cancel_request_is_a_flag_and_late_fills_still_apply() -> None:
    o = _order()
    o.submit(T0)
    o.request_cancel(T0)
    assert o.cancel_requested and o.status is S.SUBMITTED
    # The venue filled part before it processed the cancel: still legal.
    o.apply_fill(Decimal(2), Decimal(70000), T0)
    o.cancel(T0, "user")
    assert o.status is S.CANCELLED and o.reason == "user" and not o.cancel_requested
    assert o.filled_quantity == 2
