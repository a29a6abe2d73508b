"""Order construction, fills, amends, snapshots/restore and client order ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import OrderRejected
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import (
    ClientOrderIdGenerator,
    Order,
    OrderOperationError,
    OrderType,
    OverfillError,
    TimeInForce,
    is_own_order_id,
    parse_client_order_id,
)

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


def limit(qty: int = 10, price: int = 100) -> Order:
    return Order(
        "stom-t-000001",
        "SIM1",
        Side.BUY,
        Decimal(qty),
        created_at=T0,
        order_type=OrderType.LIMIT,
        price=Decimal(price),
        session_id="t",
        tag="entry",
    )


# -- construction ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"quantity": Decimal(0)}, "order.quantity"),
        ({"quantity": Decimal(-1)}, "order.quantity"),
        ({"order_type": OrderType.LIMIT}, "order.price"),
        ({"price": Decimal(100)}, "order.price"),  # market order with a price
        ({"order_type": OrderType.STOP}, "order.stop_price"),
        ({"order_type": OrderType.STOP_LIMIT, "price": Decimal(1)}, "order.stop_price"),
        ({"order_type": OrderType.LIMIT, "price": Decimal(0)}, "order.price"),
        ({"stop_price": Decimal(5)}, "order.stop_price"),
    ],
)
def test_invalid_intents_are_rejected_with_the_rule(kwargs: dict[str, object], rule: str) -> None:
    args: dict[str, object] = {"quantity": Decimal(1), "created_at": T0}
    args.update(kwargs)
    qty = args.pop("quantity")
    with pytest.raises(OrderRejected) as info:
        Order("stom-t-000009", "SIM1", Side.SELL, qty, **args)  # type: ignore[arg-type]
    assert info.value.rule == rule
    assert info.value.client_order_id == "stom-t-000009"


def test_floats_and_naive_times_are_refused() -> None:
    with pytest.raises(TypeError, match="float"):
        Order("c", "SIM1", Side.BUY, 1.5, created_at=T0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        Order("c", "SIM1", Side.BUY, Decimal(1), created_at=datetime(2026, 1, 5))


def test_created_at_is_stored_in_utc() -> None:
    kst = timezone(timedelta(hours=9))
    o = Order("c", "SIM1", Side.BUY, 1, created_at=datetime(2026, 1, 5, 9, 0, tzinfo=kst))
    assert o.created_at == datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    assert o.created_at.tzinfo is UTC
    assert o.quantity == Decimal(1) and isinstance(o.quantity, Decimal)
    assert o.time_in_force is TimeInForce.GTC and o.order_type is OrderType.MARKET


def test_fields_are_read_only() -> None:
    o = limit()
    with pytest.raises(AttributeError):
        o.quantity = Decimal(5)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        o.status = OrderStatus.FILLED  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        o.symbol = "OTHER"
    assert o.symbol == "SIM1"


# -- fills ------------------------------------------------------------------------------
def test_overfill_raises_and_leaves_order_unchanged() -> None:
    o = limit(10)
    o.submit(T0)
    o.apply_fill(Decimal(7), Decimal(100), T0)
    before = o.snapshot()
    with pytest.raises(OverfillError) as info:
        o.apply_fill(Decimal(4), Decimal(100), T0)
    assert "11" in str(info.value) and info.value.client_order_id == "stom-t-000001"
    assert o.snapshot() == before


@pytest.mark.parametrize(("qty", "px"), [(0, 100), (-1, 100), (1, 0), (1, -5)])
def test_non_positive_fills_are_refused(qty: int, px: int) -> None:
    o = limit()
    o.submit(T0)
    with pytest.raises(OrderOperationError):
        o.apply_fill(Decimal(qty), Decimal(px), T0)
    assert o.filled_quantity == 0 and o.status is OrderStatus.SUBMITTED


def test_average_price_is_volume_weighted_and_exact() -> None:
    o = limit(3)
    o.submit(T0)
    o.apply_fill(Decimal(1), Decimal(100), T0)
    o.apply_fill(Decimal(2), Decimal("100.5"), T0 + timedelta(seconds=1))
    assert o.avg_fill_price == Decimal("301") / 3
    assert o.updated_at == T0 + timedelta(seconds=1)


# -- amend ------------------------------------------------------------------------------
def test_amend_quantity_and_price_while_open() -> None:
    o = limit(10, 100)
    o.submit(T0)
    o.apply_fill(Decimal(4), Decimal(100), T0)
    o.amend(T0, quantity=Decimal(6), price=Decimal(99))
    assert (o.quantity, o.price, o.remaining_quantity) == (6, 99, 2)
    assert o.status is OrderStatus.PARTIALLY_FILLED


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quantity": Decimal(4)},  # equal to filled: that is a cancel
        {"quantity": Decimal(3)},
        {"price": Decimal(0)},
        {"stop_price": Decimal(5)},  # limit order has no stop
        {},
    ],
)
def test_bad_amends_are_refused_and_change_nothing(kwargs: dict[str, Decimal]) -> None:
    o = limit(10, 100)
    o.submit(T0)
    o.apply_fill(Decimal(4), Decimal(100), T0)
    before = o.snapshot()
    with pytest.raises(OrderOperationError):
        o.amend(T0, **kwargs)
    assert o.snapshot() == before


def test_amend_closed_order_is_refused() -> None:
    o = limit()
    o.cancel(T0, "withdrawn before sending")
    with pytest.raises(OrderOperationError, match="cancelled"):
        o.amend(T0, quantity=Decimal(20))


def test_market_order_price_cannot_be_amended() -> None:
    o = Order("c", "SIM1", Side.BUY, 5, created_at=T0)
    with pytest.raises(OrderOperationError, match="no price"):
        o.amend(T0, price=Decimal(10))


# -- snapshot / restore -----------------------------------------------------------------
def test_restore_round_trips_a_partly_filled_order() -> None:
    o = limit(10)
    o.submit(T0, venue_order_id="V9")
    o.apply_fill(Decimal(4), Decimal(100), T0)
    o.request_cancel(T0)
    copy = Order.restore(o.snapshot())
    assert copy.snapshot() == o.snapshot()
    copy.apply_fill(Decimal(6), Decimal(100), T0)
    assert copy.status is OrderStatus.FILLED


def test_restore_refuses_incoherent_state() -> None:
    snap = limit(10).snapshot()
    bad = type(snap)(**{**_as_dict(snap), "status": OrderStatus.FILLED})
    with pytest.raises(OrderOperationError, match="incoherent"):
        Order.restore(bad)


def _as_dict(snap: object) -> dict[str, object]:
    return {name: getattr(snap, name) for name in snap.__slots__}  # type: ignore[attr-defined]


# -- client order ids ------------------------------------------------------------------
def test_ids_are_prefixed_unique_and_parseable() -> None:
    gen = ClientOrderIdGenerator("s20260105a")
    ids = [gen.next_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert ids[0] == "stom-s20260105a-000001"
    assert all(i.startswith(gen.session_prefix) and len(i) <= 36 for i in ids)
    assert parse_client_order_id(ids[41]) == ("s20260105a", 42)


def test_id_for_is_idempotent_per_intent() -> None:
    gen = ClientOrderIdGenerator("s1")
    a = gen.id_for("sma_cross|SIM1|bar=1700000000000|buy")
    b = gen.id_for("sma_cross|SIM2|bar=1700000000000|buy")
    assert a != b
    assert gen.id_for("sma_cross|SIM1|bar=1700000000000|buy") == a


def test_resume_after_restart_never_reuses_an_id() -> None:
    first = ClientOrderIdGenerator("s1")
    journaled = [first.next_id() for _ in range(5)] + ["stom-other-000999", "foreign-1"]
    again = ClientOrderIdGenerator("s1")
    again.resume_after(journaled)
    assert again.next_id() == "stom-s1-000006"


@pytest.mark.parametrize(
    ("cid", "ours", "ours_s1"),
    [
        ("stom-s1-000001", True, True),
        ("stom-s2-000001", True, False),
        ("x-abc123", False, False),
        ("stom-s1-00a1", False, False),
        ("stom-s-1-000001", False, False),
        ("other-s1-000001", False, False),
    ],
)
def test_own_ids_are_recognised_by_prefix(cid: str, ours: bool, ours_s1: bool) -> None:
    assert is_own_order_id(cid) is ours
    assert is_own_order_id(cid, session_id="s1") is ours_s1


@pytest.mark.parametrize("session", ["", "has-dash", "a" * 21, "sp ace"])
def test_bad_session_ids_are_refused(session: str) -> None:
    with pytest.raises(ValueError, match="session id"):
        ClientOrderIdGenerator(session)


def test_journaled_order_converts_back_into_an_order() -> None:
    from dataclasses import dataclass

    from stom_desktop.core.orders import snapshot_from_stored

    @dataclass(frozen=True)
    class Stored:  # the shape persistence.OrderRecord has
        client_order_id: str = "stom-7-000003"
        symbol: str = "005930"
        side: str = "sell"
        order_type: str = "limit"
        time_in_force: str = "day"
        quantity: Decimal = Decimal(10)
        price: Decimal | None = Decimal(70100)
        stop_price: Decimal | None = None
        filled_quantity: Decimal = Decimal(4)
        avg_fill_price: Decimal | None = Decimal(70100)
        status: str = "partially_filled"
        venue_order_id: str | None = "V77"
        reason: str | None = None
        created_at: datetime = T0
        updated_at: datetime = T0

    order = Order.restore(snapshot_from_stored(Stored(), session_id="7"))
    assert (order.side, order.time_in_force, order.status) == (
        Side.SELL,
        TimeInForce.DAY,
        OrderStatus.PARTIALLY_FILLED,
    )
    assert order.remaining_quantity == 6 and order.session_id == "7"
    order.apply_fill(Decimal(6), Decimal(70200), T0)
    assert order.status is OrderStatus.FILLED
    assert order.avg_fill_price == (4 * Decimal(70100) + 6 * Decimal(70200)) / 10
    with pytest.raises(ValueError):
        snapshot_from_stored(Stored(status="pending_cancel"))
