"""Portfolio accounting by hand, and a hypothesis state machine over Order + Portfolio."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError, DataError
from stom_desktop.core.fills import Fill
from stom_desktop.core.market_rules import KrxStockRules
from stom_desktop.core.order_state import OrderStatus, can_transition
from stom_desktop.core.orders import (
    ClientOrderIdGenerator,
    Order,
    OrderOperationError,
    OrderType,
    OverfillError,
)
from stom_desktop.core.portfolio import Portfolio, Position

T0 = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
D = Decimal
_counter = iter(range(1, 10**9))


def fill(side: Side, qty: str | int, price: str | int, fee: str = "0", sym: str = "A") -> Fill:
    return Fill(f"f{next(_counter)}", "c", sym, side, D(qty), D(price), D(fee), "KRW", T0)


# -- by hand --------------------------------------------------------------------------
def test_adds_average_the_price_and_fees_leave_cash() -> None:
    p = Portfolio(D(10_000))
    p.apply_fill(fill(Side.BUY, 10, 100, fee="1.5"))
    p.apply_fill(fill(Side.BUY, 30, 120, fee="2.5"))
    pos = p.position("A")
    assert pos.quantity == 40 and pos.avg_price == D(115) and pos.cost == D(4600)
    assert p.cash == D(10_000) - D(4600) - D(4) and p.fees_paid == D(4)
    assert p.realized_pnl == 0


def test_reduce_realizes_against_the_average() -> None:
    p = Portfolio(D(10_000))
    p.apply_fill(fill(Side.BUY, 10, 100))
    p.apply_fill(fill(Side.BUY, 10, 110))
    p.apply_fill(fill(Side.SELL, 5, 120))
    pos = p.position("A")
    assert pos.quantity == 15 and pos.avg_price == D(105)
    assert pos.realized_pnl == D(75) == p.realized_pnl  # 5 * (120 - 105)


def test_flip_long_to_short_and_back() -> None:
    p = Portfolio(D(0))
    p.apply_fill(fill(Side.BUY, 10, 100))
    p.apply_fill(fill(Side.SELL, 15, 110))  # close 10 (+100), open short 5 @ 110
    pos = p.position("A")
    assert (pos.quantity, pos.avg_price, pos.realized_pnl) == (D(-5), D(110), D(100))
    p.apply_fill(fill(Side.BUY, 8, 100))  # cover 5 (+50), open long 3 @ 100
    pos = p.position("A")
    assert (pos.quantity, pos.avg_price, pos.realized_pnl) == (D(3), D(100), D(150))
    assert p.cash == D(-1000 + 1650 - 800)


def test_short_loses_when_price_rises() -> None:
    p = Portfolio(D(1000))
    p.apply_fill(fill(Side.SELL, 4, 50))
    p.apply_fill(fill(Side.BUY, 4, 60))
    assert p.position("A").is_flat and p.realized_pnl == D(-40) and p.cash == D(960)


def test_equity_and_unrealized_with_marks() -> None:
    p = Portfolio(D(10_000))
    p.apply_fill(fill(Side.BUY, 10, 100, sym="A"))
    p.apply_fill(fill(Side.SELL, 5, 200, sym="B"))
    marks = {"A": D(110), "B": D(190)}
    assert p.unrealized_pnl(marks) == D(100) + D(50)
    assert p.equity(marks) == p.cash + D(1100) - D(950)
    assert p.equity(marks) == D(10_000) + p.unrealized_pnl(marks)
    with pytest.raises(DataError, match="'B'"):
        p.equity({"A": D(1)})


def test_duplicate_fill_is_ignored_once() -> None:
    p = Portfolio(D(1000))
    f = fill(Side.BUY, 1, 100)
    assert p.apply_fill(f) is True
    assert p.apply_fill(f) is False
    assert p.position("A").quantity == 1 and p.fill_count == 1


def test_fee_in_another_currency_is_refused() -> None:
    p = Portfolio(D(1000))
    f = Fill("x", "c", "A", Side.BUY, D(1), D(10), D("0.001"), "BNB", T0)
    with pytest.raises(BrokerError, match="BNB"):
        p.apply_fill(f)
    assert p.cash == D(1000) and p.fill_count == 0


def test_fill_validation() -> None:
    with pytest.raises(ValueError):
        Fill("x", "c", "A", Side.BUY, D(0), D(10), D(0), "KRW", T0)
    with pytest.raises(TypeError):
        Fill("x", "c", "A", Side.BUY, 1.0, D(10), D(0), "KRW", T0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone"):
        Fill("x", "c", "A", Side.BUY, D(1), D(10), D(0), "KRW", datetime(2026, 1, 1))


def test_position_math_is_exact_for_thirds() -> None:
    pos = Position("A")
    for px in ("100", "100", "101"):
        pos, _ = pos.with_fill(D(1), D(px))
    pos, r1 = pos.with_fill(D(-1), D(110))
    pos, r2 = pos.with_fill(D(-2), D(110))
    assert pos.is_flat and pos.cost == 0
    assert r1 + r2 == D(330) - D(301)  # exact: the close removes all remaining cost


# -- the state machine ----------------------------------------------------------------
SYMBOLS = ("A", "B")
RULES = KrxStockRules()
INITIAL = D(1_000_000)
quantities = st.integers(min_value=1, max_value=30).map(D)
prices = st.integers(min_value=100, max_value=20_000).map(lambda c: D(c) / 100)


class OrderPortfolioMachine(RuleBasedStateMachine):
    """Random submits/fills/cancels/amends/rejects; invariants checked after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.ids = ClientOrderIdGenerator("hyp")
        self.orders: list[Order] = []
        self.fills: list[Fill] = []
        self.portfolio = Portfolio(INITIAL)
        self.now = T0

    @initialize(
        sides=st.lists(st.sampled_from(Side), min_size=4, max_size=4),
        qtys=st.lists(quantities, min_size=4, max_size=4),
    )
    def working_orders(self, sides: list[Side], qtys: list[Decimal]) -> None:
        """Start with four working orders so most runs trade, add, reduce and flip."""
        for k, (side, qty) in enumerate(zip(sides, qtys, strict=True)):
            o = Order(self.ids.next_id(), SYMBOLS[k % 2], side, qty, created_at=self.tick())
            o.submit(self.tick())
            self.orders.append(o)

    def tick(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now

    def expect_refusal(self, o: Order, action: object, exc: type[Exception]) -> None:
        before = o.snapshot()
        with pytest.raises(exc):
            action()  # type: ignore[operator]
        assert o.snapshot() == before

    @rule(
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(Side),
        qty=quantities,
        price=st.none() | prices,
    )
    def new_order(self, symbol: str, side: Side, qty: Decimal, price: Decimal | None) -> None:
        kind = OrderType.MARKET if price is None else OrderType.LIMIT
        cid = self.ids.next_id()
        o = Order(cid, symbol, side, qty, created_at=self.tick(), order_type=kind, price=price)
        self.orders.append(o)

    @precondition(lambda self: self.orders)
    @rule(i=st.integers(min_value=0))
    def submit(self, i: int) -> None:
        o = self.orders[i % len(self.orders)]
        if can_transition(o.status, OrderStatus.SUBMITTED):
            o.submit(self.tick(), venue_order_id=f"V-{o.client_order_id}")
            assert o.status is OrderStatus.SUBMITTED
        else:
            self.expect_refusal(o, lambda: o.submit(self.tick()), BrokerError)

    def pick(self, i: int, working_only: bool) -> Order:
        """Mostly a working order (so fills happen often), sometimes any order."""
        working = [o for o in self.orders if o.status.is_open and o.status is not OrderStatus.NEW]
        pool = working if working_only and working else self.orders
        return pool[i % len(pool)]

    @precondition(lambda self: self.orders)
    @rule(
        i=st.integers(min_value=0),
        working_only=st.booleans(),
        qty=st.just("rest") | quantities,
        price=prices,
    )
    def fill(self, i: int, working_only: bool, qty: Decimal | str, price: Decimal) -> None:
        o = self.pick(i, working_only)
        if qty == "rest":
            qty = o.remaining_quantity
        assert isinstance(qty, Decimal)
        if qty <= 0:
            return
        overfill = o.filled_quantity + qty > o.quantity
        target = (
            OrderStatus.FILLED
            if o.filled_quantity + qty == o.quantity
            else OrderStatus.PARTIALLY_FILLED
        )
        if overfill:
            self.expect_refusal(o, lambda: o.apply_fill(qty, price, self.tick()), OverfillError)
            return
        if not can_transition(o.status, target):
            self.expect_refusal(o, lambda: o.apply_fill(qty, price, self.tick()), BrokerError)
            return
        ts = self.tick()
        assert o.apply_fill(qty, price, ts) is target
        notional = qty * price
        f = Fill(
            fill_id=f"F{len(self.fills) + 1}",
            client_order_id=o.client_order_id,
            symbol=o.symbol,
            side=o.side,
            quantity=qty,
            price=price,
            fee=RULES.fee(o.side, notional) + RULES.tax(o.side, notional),
            fee_currency="KRW",
            ts=ts,
        )
        self.fills.append(f)
        assert self.portfolio.apply_fill(f) is True

    @precondition(lambda self: self.orders)
    @rule(
        i=st.integers(min_value=0),
        working_only=st.booleans(),
        how=st.sampled_from(["cancel", "reject", "expire"]),
    )
    def close(self, i: int, working_only: bool, how: str) -> None:
        o = self.pick(i, working_only)
        to = {
            "cancel": OrderStatus.CANCELLED,
            "reject": OrderStatus.REJECTED,
            "expire": OrderStatus.EXPIRED,
        }[how]
        action = {
            "cancel": lambda: o.cancel(self.tick(), "test"),
            "reject": lambda: o.reject(self.tick(), "test"),
            "expire": lambda: o.expire(self.tick()),
        }[how]
        if can_transition(o.status, to):
            action()
            assert o.status is to and o.reason is not None
        else:
            self.expect_refusal(o, action, BrokerError)

    @precondition(lambda self: self.orders)
    @rule(
        i=st.integers(min_value=0),
        working_only=st.booleans(),
        qty=quantities,
        price=st.none() | prices,
    )
    def amend(self, i: int, working_only: bool, qty: Decimal, price: Decimal | None) -> None:
        o = self.pick(i, working_only)
        ok = (
            o.is_open
            and qty > o.filled_quantity
            and (price is None or o.order_type is OrderType.LIMIT)
        )
        if ok:
            o.amend(self.tick(), quantity=qty, price=price)
            assert o.quantity == qty
        else:
            self.expect_refusal(
                o, lambda: o.amend(self.tick(), quantity=qty, price=price), OrderOperationError
            )

    @invariant()
    def filled_within_bounds(self) -> None:
        per_order: dict[str, Decimal] = defaultdict(Decimal)
        for f in self.fills:
            per_order[f.client_order_id] += f.quantity
        for o in self.orders:
            assert D(0) <= o.filled_quantity <= o.quantity
            assert o.filled_quantity == per_order[o.client_order_id]
            if o.status is OrderStatus.FILLED:
                assert o.filled_quantity == o.quantity

    @invariant()
    def positions_equal_signed_fills(self) -> None:
        expected: dict[str, Decimal] = defaultdict(Decimal)
        for f in self.fills:
            expected[f.symbol] += f.signed_quantity
        for sym in SYMBOLS:
            assert self.portfolio.position(sym).quantity == expected[sym]

    @invariant()
    def cash_and_positions_reconcile(self) -> None:
        p = self.portfolio
        assert p.cash + p.cost_basis() == INITIAL - p.fees_paid + p.realized_pnl
        assert p.fees_paid == sum((f.fee for f in self.fills), D(0))
        assert p.realized_pnl == sum((pos.realized_pnl for pos in p.positions.values()), D(0))

    @invariant()
    def rebuild_matches_live(self) -> None:
        assert Portfolio.rebuild(INITIAL, self.fills) == self.portfolio


OrderPortfolioMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestOrderPortfolio = OrderPortfolioMachine.TestCase
