"""PaperBroker market-rule rejections, paper-account funds checks, fees and balances."""

from __future__ import annotations

from decimal import Decimal

import pytest
from paper_factories import ASKS, BIDS, SYM, D, Harness

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import OrderRejected
from stom_desktop.core.instruments import Instrument
from stom_desktop.core.market_rules import CryptoRules, KrxStockRules
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import OrderType
from stom_desktop.core.portfolio import Portfolio

LIMIT = OrderType.LIMIT
BTC = "KRW-BTC"


def _rejected(h: Harness, *args: object, **kwargs: object) -> OrderRejected:
    with pytest.raises(OrderRejected) as err:
        h.submit(*args, **kwargs)
    assert h.broker.open_orders() == []
    return err.value


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"order_type": LIMIT, "price": 70050}, "krx.tick_size"),
        ({"order_type": OrderType.STOP, "stop": 70010}, "krx.tick_size"),
        ({"order_type": LIMIT, "price": 91100}, "krx.price_limit"),  # > 70,000 * 1.3
        ({"order_type": LIMIT, "price": 48900}, "krx.price_limit"),  # < 70,000 * 0.7
        ({"qty": "1.5"}, "krx.lot"),
        ({"qty": 0}, "order.quantity"),
    ],
)
def test_krx_rules_reject_naming_the_rule(kwargs: dict[str, object], rule: str) -> None:
    h = Harness(prev_close={SYM: D(70000)})
    h.book(ASKS, BIDS)
    qty = kwargs.pop("qty", 1)
    with pytest.raises(OrderRejected) as err:
        h.submit(Side.BUY, qty, **kwargs)
    assert err.value.rule == rule


def test_price_limit_uses_the_prev_close_set_later() -> None:
    h = Harness()
    h.book(ASKS, BIDS)
    h.submit(Side.BUY, 1, order_type=LIMIT, price=91100)  # no prev close: no limit check
    h.broker.set_prev_close(SYM, D(70000))
    assert _rejected_after(h, 91100).rule == "krx.price_limit"


def _rejected_after(h: Harness, price: int) -> OrderRejected:
    with pytest.raises(OrderRejected) as err:
        h.submit(Side.BUY, 1, order_type=LIMIT, price=price)
    return err.value


def _crypto() -> Harness:
    h = Harness(
        CryptoRules.upbit_krw(),
        instruments={BTC: Instrument.upbit_krw(BTC)},
        cash=D(10_000_000),
    )
    h.quote(99_000_000.0, 99_001_000.0, bid_size=0.5, ask_size=0.5, symbol=BTC)
    return h


@pytest.mark.parametrize(
    ("qty", "kwargs", "rule"),
    [
        ("0.000000001", {}, "crypto.amount_step"),
        ("0.00005", {}, "crypto.min_notional"),  # 0.00005 x 99,001,000 = 4,950 < 5,000
        ("0.001", {"order_type": LIMIT, "price": "99000500"}, "crypto.tick_size"),
    ],
)
def test_crypto_rules_reject_naming_the_rule(
    qty: str, kwargs: dict[str, object], rule: str
) -> None:
    h = _crypto()
    assert _rejected(h, Side.BUY, qty, symbol=BTC, **kwargs).rule == rule


def test_crypto_fill_fee_is_the_exact_rate_in_the_quote_currency() -> None:
    h = _crypto()
    cid = h.submit(Side.BUY, "0.012", symbol=BTC)
    h.broker.advance_to()
    [fill] = h.rec.fills
    assert (fill.quantity, fill.price) == (D("0.012"), D(99_001_000))
    assert fill.fee == D("0.012") * D(99_001_000) * D("0.0005") == D("594.006")
    assert fill.fee_currency == "KRW"
    assert h.status(cid) is OrderStatus.FILLED
    assert h.broker.balances() == {
        "KRW": D(10_000_000) - D(1_188_012) - D("594.006"),
        BTC: D("0.012"),
    }


def test_book_sizes_are_cut_to_the_lot_before_filling() -> None:
    h = _crypto()
    h.quote(99_000_000.0, 99_001_000.0, ask_size=0.0123456789, symbol=BTC)
    h.submit(Side.BUY, "0.02", symbol=BTC)
    h.broker.advance_to()
    assert h.rec.fills[0].quantity == D("0.01234567")


def test_buy_beyond_free_cash_is_rejected_including_reservations() -> None:
    h = Harness(cash=D(1_000_000))
    h.book(ASKS, BIDS)
    err = _rejected(h, Side.BUY, 15, order_type=LIMIT, price=70000)
    assert err.rule == "paper.insufficient_funds"
    assert "1050157" in err.reason  # 15 x 70,000 + fee 157
    h.submit(Side.BUY, 10, order_type=LIMIT, price=69000)  # reserves 690,103
    with pytest.raises(OrderRejected) as err3:
        h.submit(Side.BUY, 5, order_type=LIMIT, price=69000)  # 345,051 > 309,897 free
    assert err3.value.rule == "paper.insufficient_funds"
    assert "reserved by open orders 690103" in err3.value.reason


def test_market_buy_reserves_at_the_worst_level_its_size_needs() -> None:
    h = Harness(cash=D(1_404_100))
    h.book(ASKS, BIDS)
    # 20 shares walk to 70,200 (conservatively all 20 at that price): 1,404,000 + fee 210.
    assert _rejected(h, Side.BUY, 20).rule == "paper.insufficient_funds"
    h.submit(Side.BUY, 19)


def test_sell_more_than_held_is_rejected_unless_shorting_is_allowed() -> None:
    h = Harness(positions={SYM: D(10)})
    h.book(ASKS, BIDS)
    h.submit(Side.SELL, 6, order_type=LIMIT, price=71000)
    err = _rejected_sell(h, 5)
    assert err.rule == "paper.insufficient_funds"
    assert "free position 4" in err.reason and "short selling is disabled" in err.reason

    short = Harness(allow_short=True)
    short.book(ASKS, BIDS)
    cid = short.submit(Side.SELL, 5)
    short.broker.advance_to()
    assert short.status(cid) is OrderStatus.FILLED
    assert short.broker.account().positions == {SYM: D(-5)}


def _rejected_sell(h: Harness, qty: int) -> OrderRejected:
    with pytest.raises(OrderRejected) as err:
        h.submit(Side.SELL, qty)
    return err.value


def test_balances_are_free_amounts_and_account_shows_the_reservations() -> None:
    h = Harness(positions={SYM: D(10)})
    h.book(ASKS, BIDS)
    h.submit(Side.BUY, 2, order_type=LIMIT, price=69000)
    h.submit(Side.SELL, 3, order_type=LIMIT, price=71000)
    acct = h.broker.account()
    assert acct.reserved_cash == {"KRW": D(138_000) + D(20)}  # fee 20.7 -> 20
    assert acct.reserved_positions == {SYM: D(3)}
    assert h.broker.balances() == {"KRW": D(100_000_000) - D(138_020), SYM: D(7)}


def test_krx_round_trip_fee_and_tax_arithmetic_is_exact_decimal() -> None:
    rules = KrxStockRules.for_market("KOSDAQ", year=2025)  # tax 0.15 %
    h = Harness(rules)
    h.book([(12340.0, 1000.0)], [(12330.0, 1000.0)])
    buy = h.submit(Side.BUY, 333)
    h.broker.advance_to()
    h.submit(Side.SELL, 333)
    h.broker.advance_to()
    b, s = h.rec.fills
    assert b.client_order_id == buy
    assert b.fee == D(616)  # 4,109,220 x 0.00015 = 616.383 -> 616
    # 4,105,890: fee 615.8835 -> 615 plus sell tax 0.15 % 6,158.835 -> 6,158.
    assert s.fee == D(615) + D(6158)
    assert h.broker.account().cash["KRW"] == (
        D(100_000_000) - D(4_109_220) - D(616) + D(4_105_890) - D(6773)
    )
    assert all(isinstance(f.fee, Decimal) for f in h.rec.fills)


def test_account_matches_a_portfolio_rebuilt_from_the_reported_fills() -> None:
    h = Harness(positions={})
    h.book(ASKS, BIDS)
    h.submit(Side.BUY, 25)
    h.broker.advance_to()
    h.at(100)
    h.book(ASKS, BIDS)
    h.submit(Side.SELL, 12)
    h.broker.advance_to()
    portfolio = Portfolio.rebuild(D(100_000_000), h.rec.fills, currency="KRW")
    acct = h.broker.account()
    assert acct.cash["KRW"] == portfolio.cash
    assert acct.positions == {SYM: portfolio.position(SYM).quantity} == {SYM: D(13)}
    assert acct.fees_paid["KRW"] == portfolio.fees_paid
