"""PaperBroker market orders: book walks, partial fills, IOC/FOK/GTC, latency gating."""

from __future__ import annotations

from datetime import timedelta

import pytest
from paper_factories import ASKS, BIDS, SYM, T0, T0_MS, D, Harness

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError, OrderRejected
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import TimeInForce


def test_market_buy_walks_levels_one_fill_per_level_with_vwap_and_fees() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 25)
    assert h.rec.fills == []  # nothing happens inside submit
    h.broker.advance_to()
    assert h.rec.fills_of(cid) == [
        (D(10), D(70100)),
        (D(10), D(70200)),
        (D(5), D(70300)),
    ]
    # KRX broker fee 0.015 % per fill, cut to whole won: 105.15 -> 105, 105.3 -> 105,
    # 52.725 -> 52; no tax on buys.
    assert [f.fee for f in h.rec.fills] == [D(105), D(105), D(52)]
    assert all(f.fee_currency == "KRW" for f in h.rec.fills)
    snap = h.snap(cid)
    assert snap.status is OrderStatus.FILLED
    assert snap.avg_fill_price == D(70180)  # (701000 + 702000 + 351500) / 25
    acct = h.broker.account()
    assert acct.cash["KRW"] == D(100_000_000) - D(1_754_500) - D(262)
    assert acct.positions == {SYM: D(25)}
    assert h.broker.open_orders() == []


def test_market_gtc_remainder_waits_for_the_next_book_and_liquidity_is_not_reused() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 60)
    h.broker.advance_to()
    assert h.snap(cid).filled_quantity == D(50)
    assert h.status(cid) is OrderStatus.PARTIALLY_FILLED
    # A trade and a timer pass without a new book: the consumed levels stay consumed.
    h.trade(70100.0, 100.0)
    h.broker.advance_to(T0_MS + 10)
    assert h.snap(cid).filled_quantity == D(50)
    h.at(1000)
    h.book([(70600.0, 4.0), (70700.0, 50.0)], BIDS)
    assert h.rec.fills_of(cid)[-2:] == [(D(4), D(70600)), (D(6), D(70700))]
    assert h.status(cid) is OrderStatus.FILLED


def test_market_ioc_fills_what_the_book_has_and_cancels_the_rest() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 60, tif=TimeInForce.IOC)
    h.broker.advance_to()
    snap = h.rec.last_update(cid)
    assert snap.status is OrderStatus.CANCELLED
    assert snap.filled_quantity == D(50)
    assert snap.reason is not None and "ioc" in snap.reason and "10" in snap.reason
    # The update comes after the fills it follows.
    assert [kind for kind, _ in h.rec.log] == ["fill"] * 5 + ["update"]


@pytest.mark.parametrize(("qty", "filled"), [(50, D(50)), (51, D(0))])
def test_market_fok_is_all_or_nothing(qty: int, filled: object) -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, qty, tif=TimeInForce.FOK)
    h.broker.advance_to()
    snap = h.snap(cid)
    assert snap.filled_quantity == filled
    if filled == 0:
        assert snap.status is OrderStatus.CANCELLED
        assert snap.reason == "fok: only 50 of 51 available in the book"
        assert h.rec.fills == []
    else:
        assert snap.status is OrderStatus.FILLED


def test_market_ioc_without_any_book_cancels_everything() -> None:
    h = Harness(positions={SYM: D(10)})
    cid = h.submit(Side.SELL, 5, tif=TimeInForce.IOC)
    h.broker.advance_to()
    assert h.status(cid) is OrderStatus.CANCELLED
    assert h.snap(cid).filled_quantity == 0


def test_market_sell_walks_bids_and_pays_fee_plus_tax() -> None:
    h = Harness(positions={SYM: D(20)})
    h.book(ASKS, BIDS)
    cid = h.submit(Side.SELL, 15)
    h.broker.advance_to()
    assert h.rec.fills_of(cid) == [(D(10), D(70000)), (D(5), D(69900))]
    # 700,000: fee 105 + tax 0.20 % 1,400; 349,500: fee 52.425 -> 52 + tax 699.
    assert [f.fee for f in h.rec.fills] == [D(1505), D(751)]
    acct = h.broker.account()
    assert acct.cash["KRW"] == D(100_000_000) + D(1_049_500) - D(2256)
    assert acct.positions == {SYM: D(5)}
    assert acct.fees_paid == {"KRW": D(2256)}


def test_market_buy_without_market_data_is_rejected_naming_the_rule() -> None:
    h = Harness()
    with pytest.raises(OrderRejected) as err:
        h.submit(Side.BUY, 1)
    assert err.value.rule == "paper.no_market_data"
    assert h.broker.open_orders() == []


def test_two_orders_share_displayed_liquidity_in_time_priority() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    first = h.submit(Side.BUY, 15)
    second = h.submit(Side.BUY, 10)
    h.broker.advance_to()
    assert h.rec.fills_of(first) == [(D(10), D(70100)), (D(5), D(70200))]
    assert h.rec.fills_of(second) == [(D(5), D(70200)), (D(5), D(70300))]


def test_a_newer_quote_replaces_the_top_and_keeps_only_worse_book_levels() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    h.quote(70100.0, 70200.0, ask_size=3.0)
    cid = h.submit(Side.BUY, 5)
    h.broker.advance_to()
    assert h.rec.fills_of(cid) == [(D(3), D(70200)), (D(2), D(70300))]


def test_latency_gates_the_order_and_it_meets_the_book_in_force_when_it_arrives() -> None:
    h = Harness(latency_ms=50)
    h.book([(70500.0, 100.0)], BIDS)
    cid = h.submit(Side.BUY, 5)
    h.at(20)
    h.book([(70100.0, 100.0)], BIDS)  # before the order is live: does not fill it
    assert h.rec.fills == []
    h.at(60)
    h.book([(70900.0, 100.0)], BIDS)  # the order went live at 50, against the 70,100 book
    fill = h.rec.fills[0]
    assert (fill.quantity, fill.price) == (D(5), D(70100))
    assert fill.ts == T0 + timedelta(milliseconds=50)
    assert h.status(cid) is OrderStatus.FILLED


def test_latency_no_event_before_live_time_touches_the_order() -> None:
    h = Harness(latency_ms=100)
    h.book(ASKS, BIDS)
    cid = h.submit(Side.BUY, 5)
    for ms in (10, 50, 99):
        h.at(ms)
        h.book(ASKS, BIDS)
    assert h.rec.fills == [] and h.status(cid) is OrderStatus.SUBMITTED
    h.at(100)
    h.book(ASKS, BIDS)
    assert h.rec.fills_of(cid) == [(D(5), D(70100))]


def test_latency_jitter_is_seeded_and_deterministic() -> None:
    def live_times(seed: int) -> list[int]:
        h = Harness(latency_ms=10, latency_jitter_ms=40, seed=seed)
        h.book([(70100.0, 1000.0)], BIDS)
        cids = [h.submit(Side.BUY, 1) for _ in range(8)]
        h.broker.advance_to(T0_MS + 1000)
        by_cid = {f.client_order_id: f.ts for f in h.rec.fills}
        return [int((by_cid[c] - T0).total_seconds() * 1000) for c in cids]

    first = live_times(7)
    assert first == live_times(7)
    assert all(10 <= t <= 50 for t in first)
    assert len(set(first)) > 1  # the jitter is really applied
    assert first != live_times(8)


def test_submit_needs_a_listener_and_a_new_order() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    order = h.order(Side.BUY, 1)
    order.submit(h.clock.now(), "X1")
    with pytest.raises(BrokerError, match="only new orders"):
        h.broker.submit(order)
    from stom_desktop.adapters.brokers.paper import PaperBroker
    from stom_desktop.core.market_rules import KrxStockRules

    bare = PaperBroker(h.clock, KrxStockRules())
    with pytest.raises(BrokerError, match="no execution listener"):
        bare.submit(h.order(Side.BUY, 1))


def test_resubmitting_the_same_client_id_is_idempotent() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    order = h.order(Side.BUY, 5)
    venue_id = h.broker.submit(order)
    assert h.broker.submit(order) == venue_id
    h.broker.advance_to()
    assert sum(f.quantity for f in h.rec.fills) == D(5)
    # The caller's Order object is never mutated by the broker.
    assert order.status is OrderStatus.NEW


def test_bar_events_are_ignored_and_unknown_events_refused() -> None:
    from stom_desktop.core.events import BarEvent, SessionState, SessionStateEvent

    h = Harness()
    h.broker.on_market(BarEvent(SYM, "1m", T0_MS, 1, 2, 0.5, 1.5, 10, True))
    with pytest.raises(TypeError, match="unsupported event SessionStateEvent"):
        h.broker.on_market(SessionStateEvent("s", SessionState.RUNNING, T0_MS))  # type: ignore[arg-type]
