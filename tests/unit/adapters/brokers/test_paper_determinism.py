"""PaperBroker under random seeded scenarios: determinism and accounting invariants."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from paper_factories import SYM, D, Harness

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import OrderRejected
from stom_desktop.core.market_rules import KRX_TICKS
from stom_desktop.core.orders import OrderType, TimeInForce

TYPES = list(OrderType)
TIFS = list(TimeInForce)
CASH = D(20_000_000)


def _run(seed: int, latency_ms: int) -> tuple[Harness, list[str]]:
    """Drive one random session; returns the harness and every cid that was accepted."""
    rng = random.Random(seed)
    h = Harness(
        cash=CASH,
        positions={SYM: D(100)},
        latency_ms=latency_ms,
        latency_jitter_ms=latency_ms,
        seed=seed,
        auto_cancel_after_s=rng.choice([None, 3.0]),
    )
    mid = 700  # in 100-won ticks
    accepted: list[str] = []
    t = 0
    for step in range(400):
        t += rng.randint(1, 40)
        h.at(t)
        mid = max(650, min(750, mid + rng.choice([-1, 0, 0, 1])))
        roll = rng.random()
        if roll < 0.35:
            asks = [((mid + 1 + i) * 100.0, float(rng.randint(1, 15))) for i in range(5)]
            bids = [((mid - i) * 100.0, float(rng.randint(1, 15))) for i in range(5)]
            h.book(asks, bids)
        elif roll < 0.55:
            h.quote(
                mid * 100.0,
                (mid + 1) * 100.0,
                last=mid * 100.0,
                bid_size=float(rng.randint(1, 9)),
                ask_size=float(rng.randint(1, 9)),
            )
        elif roll < 0.7:
            h.trade((mid + rng.choice([-1, 0, 1])) * 100.0, float(rng.randint(1, 20)))
        elif roll < 0.9:
            kind = rng.choice(TYPES)
            px = (mid + rng.randint(-3, 3)) * 100
            try:
                order = h.order(
                    rng.choice([Side.BUY, Side.SELL]),
                    rng.randint(1, 30),
                    order_type=kind,
                    tif=rng.choice(TIFS),
                    price=px if kind.needs_price else None,
                    stop=(mid + rng.randint(-3, 3)) * 100 if kind.needs_stop_price else None,
                )
                if rng.random() < 0.15 and order.quantity >= 3:
                    h.broker.submit_sliced(order, slices=3, interval_s=rng.choice([0.0, 0.5]))
                else:
                    h.broker.submit(order)
                accepted.append(order.client_order_id)
            except OrderRejected as exc:
                assert exc.rule is not None, f"step {step}: rejection without a rule: {exc}"
        else:
            open_ = h.broker.open_orders()
            if open_:
                target = rng.choice(open_)
                try:
                    if rng.random() < 0.5:
                        h.broker.cancel(target.client_order_id)
                    else:
                        h.broker.amend(target.client_order_id, quantity=target.quantity + 1)
                except OrderRejected as exc:
                    assert exc.rule is not None
        _check_account(h)
    h.broker.advance_to(h.now + 24 * 3600 * 1000)
    return h, accepted


def _check_account(h: Harness) -> None:
    acct = h.broker.account()
    fills = h.rec.fills
    signed = sum((f.signed_quantity for f in fills), Decimal(0))
    assert acct.positions.get(SYM, D(0)) == D(100) + signed
    assert acct.positions.get(SYM, D(0)) >= 0  # no shorting unless allowed
    spent = sum((f.signed_quantity * f.price + f.fee for f in fills), Decimal(0))
    assert acct.cash["KRW"] == CASH - spent


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("latency_ms", [0, 25])
def test_random_sessions_keep_the_invariants(seed: int, latency_ms: int) -> None:
    h, accepted = _run(seed, latency_ms)
    assert accepted, "the scenario should place orders"
    assert h.rec.fills, "the scenario should trade"
    terminal_seen: set[str] = set()
    for kind, item in h.rec.log:
        cid = item.client_order_id
        assert cid not in terminal_seen, f"{cid}: {kind} after its terminal update"
        if kind == "update":
            assert item.status.is_terminal
            terminal_seen.add(cid)
        else:
            assert KRX_TICKS.is_on_tick(item.price)
            assert item.quantity == item.quantity.to_integral_value()
    for cid in accepted:
        snap = h.snap(cid)
        reported = sum((q for q, _ in h.rec.fills_of(cid)), Decimal(0))
        assert snap.filled_quantity == reported <= snap.quantity
        # After a day only GTC orders and untriggered IOC/FOK stops may still be open
        # (their time in force applies from the trigger on).
        assert (
            snap.status.is_terminal
            or snap.time_in_force is TimeInForce.GTC
            or (snap.order_type.needs_stop_price and snap.filled_quantity == 0)
        )
        if snap.status.is_terminal and snap.filled_quantity < snap.quantity:
            assert cid in terminal_seen  # every unfilled end is reported
    fill_ids = [f.fill_id for f in h.rec.fills]
    assert len(fill_ids) == len(set(fill_ids))


def test_the_same_seed_gives_the_same_fills_and_updates() -> None:
    a, _ = _run(42, 25)
    b, _ = _run(42, 25)
    assert a.rec.log == b.rec.log
    assert a.broker.account() == b.broker.account()
    c, _ = _run(43, 25)
    assert a.rec.log != c.rec.log
