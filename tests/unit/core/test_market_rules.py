"""Market rules with concrete KRX, Upbit and Binance examples; instruments."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import ConfigurationError, OrderRejected
from stom_desktop.core.instruments import AssetClass, Instrument, TickRule, Venue
from stom_desktop.core.market_rules import (
    KRX_TICKS,
    UPBIT_KRW_TICKS,
    CryptoRules,
    FixedTickRules,
    KrxStockRules,
    TickTable,
    krx_sell_tax_rate,
    round_to_tick_array,
    rules_for,
)
from stom_desktop.core.orders import Order, OrderType

T0 = datetime(2026, 1, 5, tzinfo=UTC)
D = Decimal
KRX = KrxStockRules()


def limit(price: str | int, qty: str | int = 1, side: Side = Side.BUY) -> Order:
    return Order(
        "stom-t-000001",
        "005930",
        side,
        D(qty),
        created_at=T0,
        order_type=OrderType.LIMIT,
        price=D(price),
    )


def market(qty: str | int, side: Side = Side.BUY) -> Order:
    return Order("stom-t-000002", "KRW-BTC", side, D(qty), created_at=T0)


def rule_of(rules: object, order: Order, **kwargs: Decimal) -> str | None:
    try:
        rules.check(order, **kwargs)  # type: ignore[attr-defined]
    except OrderRejected as exc:
        assert exc.client_order_id == order.client_order_id
        return exc.rule
    return None


# -- KRX tick tiers ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("price", "tick"),
    [
        (1, 1),
        (1999, 1),
        (2000, 5),
        (4995, 5),
        (5000, 10),
        (19990, 10),
        (20000, 50),
        (49950, 50),
        (50000, 100),
        (199900, 100),
        (200000, 500),
        (499500, 500),
        (500000, 1000),
        (3_000_000, 1000),
    ],
)
def test_krx_tick_at_each_tier_boundary(price: int, tick: int) -> None:
    assert KRX.tick_size(D(price)) == D(tick)


@pytest.mark.parametrize(
    ("price", "valid"),
    [
        (1999, True),
        (2001, False),
        (2005, True),
        (5005, False),
        (5010, True),
        (20010, False),
        (20050, True),
        (50050, False),
        (50100, True),
        (200100, False),
        (200500, True),
        (500500, False),
        (501000, True),
        ("1999.5", False),
    ],
)
def test_krx_tick_check_names_the_rule(price: str | int, valid: bool) -> None:
    assert rule_of(KRX, limit(price)) == (None if valid else "krx.tick_size")


def test_krx_tick_rejection_suggests_the_nearest_price() -> None:
    with pytest.raises(OrderRejected, match="nearest valid: 2005"):
        KRX.check(limit(2003))


@pytest.mark.parametrize(
    ("price", "nearest", "down", "up"),
    [
        ("2003", 2005, 2000, 2005),
        ("1999.5", 2000, 1999, 2000),
        ("4998", 5000, 4995, 5000),
        ("19995", 20000, 19990, 20000),
        ("70049", 70000, 70000, 70100),
        ("70050", 70100, 70000, 70100),
        ("512345", 512000, 512000, 513000),
    ],
)
def test_krx_rounding(price: str, nearest: int, down: int, up: int) -> None:
    p = D(price)
    assert (KRX.round_price(p), KRX.round_price(p, "down"), KRX.round_price(p, "up")) == (
        D(nearest),
        D(down),
        D(up),
    )
    for mode in ("nearest", "down", "up"):
        assert KRX_TICKS.is_on_tick(KRX.round_price(p, mode))  # type: ignore[arg-type]


def test_round_to_tick_array_matches_decimal_rounding() -> None:
    rng = np.random.default_rng(7)
    cents = np.concatenate(
        [
            rng.integers(100, 80_000_000, 3000),
            # exactly on and around each tier boundary
            np.array(
                [
                    b * 100 + d
                    for b in (2000, 5000, 20000, 50000, 200000, 500000)
                    for d in (-150, -50, -1, 0, 1, 50, 150)
                ]
            ),
        ]
    )
    prices = cents / 100.0
    for mode in ("nearest", "down", "up"):
        got = round_to_tick_array(prices, mode)  # type: ignore[arg-type]
        want = [float(KRX_TICKS.round(D(int(c)) / 100, mode)) for c in cents]  # type: ignore[arg-type]
        np.testing.assert_array_equal(got, np.array(want))


# -- KRX price limits -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("prev_close", "lower", "upper"),
    [
        (10000, 7000, 13000),
        (7770, 5440, 10100),  # 5439 -> up to 5440; 10101 -> down to 10100
        (1540, 1078, 2000),  # 2002 sits in the 5-won tier -> 2000
        (15380, 10770, 19990),  # 10766 -> 10770; 19994 -> 19990
        (65000, 45500, 84500),
        (155000, 108500, 201500),
    ],
)
def test_krx_price_limits_round_toward_the_inside(prev_close: int, lower: int, upper: int) -> None:
    lo, hi = KRX.price_limits(D(prev_close))
    assert (lo, hi) == (D(lower), D(upper))
    assert KRX_TICKS.is_on_tick(lo) and KRX_TICKS.is_on_tick(hi)
    pc = D(prev_close)
    assert rule_of(KRX, limit(hi), prev_close=pc) is None
    assert rule_of(KRX, limit(lo), prev_close=pc) is None
    above = hi + KRX.tick_size(hi)
    below = lo - KRX.tick_size(lo - 1)
    assert rule_of(KRX, limit(above), prev_close=pc) == "krx.price_limit"
    assert rule_of(KRX, limit(below), prev_close=pc) == "krx.price_limit"


def test_krx_stop_price_is_checked_too() -> None:
    o = Order(
        "stom-t-000003",
        "005930",
        Side.SELL,
        D(1),
        created_at=T0,
        order_type=OrderType.STOP,
        stop_price=D(6000),
    )
    assert rule_of(KRX, o, prev_close=D(10000)) == "krx.price_limit"
    assert rule_of(KRX, o, prev_close=D(8000)) is None


def test_krx_whole_shares_only() -> None:
    assert rule_of(KRX, limit(10000, qty="1.5")) == "krx.lot"
    assert rule_of(KRX, market("3")) is None  # market orders: lot only


# -- KRX fees and taxes -----------------------------------------------------------------
def test_krx_tax_and_fee_arithmetic() -> None:
    notional = D(10) * D(70000)
    assert KRX.tax(Side.SELL, notional) == D(1400)  # 0.20 % (2026 KOSPI: 0.05 + 0.15)
    assert KRX.tax(Side.BUY, notional) == D(0)
    assert KRX.fee(Side.BUY, notional) == D(105)  # 0.015 %
    assert KRX.fee(Side.SELL, D(123_456)) == D(18)  # 18.5184 cut to whole won
    assert KRX.tax(Side.SELL, D(123_456)) == D(246)  # 246.912 cut to whole won
    kosdaq25 = KrxStockRules.for_market("KOSDAQ", year=2025, fee_rate=D("0.00015"))
    assert kosdaq25.tax(Side.SELL, notional) == D(1050)


def test_krx_sell_tax_table() -> None:
    assert krx_sell_tax_rate(2024, "KOSPI") == D("0.0018")
    assert krx_sell_tax_rate(2025, "KOSPI") == D("0.0015")
    assert krx_sell_tax_rate(2026, "KOSDAQ") == D("0.0020")
    assert krx_sell_tax_rate(2031, "KOSPI") == D("0.0020")  # latest known rate
    assert krx_sell_tax_rate(2020, "KONEX") == D("0.0010")
    with pytest.raises(ConfigurationError):
        krx_sell_tax_rate(2019, "KOSPI")
    with pytest.raises(ConfigurationError):
        krx_sell_tax_rate(2026, "NYSE")


# -- crypto -----------------------------------------------------------------------------
UPBIT = CryptoRules.upbit_krw()


@pytest.mark.parametrize(
    ("price", "tick"),
    [
        ("150000000", "1000"),
        ("1000000", "1000"),
        ("999500", "500"),
        ("500000", "500"),
        ("100000", "100"),
        ("50000", "50"),
        ("10000", "10"),
        ("5000", "5"),
        ("4999", "1"),
        ("150", "1"),
        ("15.5", "0.01"),
        ("0.5", "0.0001"),
    ],
)
def test_upbit_krw_ticks(price: str, tick: str) -> None:
    assert UPBIT.tick_size(D(price)) == D(tick)


def test_upbit_min_notional_step_and_tick() -> None:
    # 0.0001 BTC at 45,000,000 KRW = 4,500 KRW < 5,000
    o = Order(
        "c1",
        "KRW-BTC",
        Side.BUY,
        D("0.0001"),
        created_at=T0,
        order_type=OrderType.LIMIT,
        price=D(45_000_000),
    )
    assert rule_of(UPBIT, o) == "crypto.min_notional"
    o2 = Order(
        "c2",
        "KRW-BTC",
        Side.BUY,
        D("0.0002"),
        created_at=T0,
        order_type=OrderType.LIMIT,
        price=D(45_000_000),
    )
    assert rule_of(UPBIT, o2) is None
    assert rule_of(UPBIT, market("0.000000001")) == "crypto.amount_step"
    assert rule_of(UPBIT, limit("45000500", qty="0.001")) == "crypto.tick_size"
    # market orders: minimum notional at the reference price when one is given
    assert rule_of(UPBIT, market("0.0001"), reference_price=D(45_000_000)) == (
        "crypto.min_notional"
    )
    assert rule_of(UPBIT, market("0.0001")) is None
    assert UPBIT.fee(Side.BUY, D(100_000)) == D(50)
    assert UPBIT.tax(Side.SELL, D(100_000)) == 0


def test_binance_from_exchange_info_filters() -> None:
    rules = CryptoRules.binance(
        tick_size=D("0.01"), step_size=D("0.00001"), min_notional=D(5), min_qty=D("0.00001")
    )
    assert rule_of(rules, limit("60000.01", qty="0.0001")) == None  # noqa: E711
    assert rule_of(rules, limit("60000.001", qty="0.0001")) == "crypto.tick_size"
    assert rule_of(rules, limit("60000", qty="0.00001")) == "crypto.min_notional"  # 0.6 USDT
    assert rule_of(rules, limit("60000", qty="0.000015")) == "crypto.amount_step"
    assert rules.round_amount(D("0.123456789")) == D("0.12345")
    assert rules.fee(Side.SELL, D(1000)) == D(1)


def test_fixed_tick_rules() -> None:
    rules = FixedTickRules(tick=D("0.5"), lot=D(1), fee_rate=D("0.001"))
    assert rule_of(rules, limit("100.5")) is None
    assert rule_of(rules, limit("100.25")) == "sim.tick_size"
    assert rule_of(rules, limit("100", qty="1.5")) == "sim.lot"
    assert rules.round_price(D("100.3"), "up") == D("100.5")


def test_tick_table_refuses_bad_tiers() -> None:
    with pytest.raises(ConfigurationError):
        TickTable((D(0), D(2001)), (D(1), D(5)))  # 2001 is not a multiple of 5
    with pytest.raises(ConfigurationError):
        TickTable((D(1),), (D(1),))  # must start at 0
    assert UPBIT_KRW_TICKS.is_on_tick(D("15.51")) and not UPBIT_KRW_TICKS.is_on_tick(D(0))


# -- instruments ------------------------------------------------------------------------
def test_instrument_factories_and_default_rules() -> None:
    sam = Instrument.krx_stock("005930", market="KOSPI", name="Samsung Electronics")
    assert (sam.venue, sam.asset_class, sam.quote_currency) == (Venue.KRX, AssetClass.STOCK, "KRW")
    assert str(sam.zone) == "Asia/Seoul" and sam.lot_size == 1
    assert isinstance(rules_for(sam), KrxStockRules)
    kosdaq = rules_for(Instrument.krx_stock("035720", market="KOSDAQ"))
    assert isinstance(kosdaq, KrxStockRules) and kosdaq.sell_tax_rate == D("0.0020")
    btc = Instrument.upbit_krw("KRW-BTC")
    assert btc.min_notional == 5000 and btc.tick_rule is TickRule.UPBIT_KRW
    up = rules_for(btc)
    assert isinstance(up, CryptoRules) and up.min_notional == 5000
    sim = rules_for(Instrument.simulated("SIM1", tick_size=D(5)))
    assert isinstance(sim, FixedTickRules) and sim.tick == 5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lot_size": D(0)},
        {"timezone": "Mars/Olympus"},
        {"tick_rule": TickRule.FIXED},  # fixed needs a tick_size
        {"tick_size": D(1)},  # only with FIXED
        {"symbol": ""},
        {"min_notional": D(-1)},
    ],
)
def test_instrument_validation(kwargs: dict[str, object]) -> None:
    base: dict[str, object] = {
        "symbol": "X",
        "venue": Venue.SIM,
        "asset_class": AssetClass.STOCK,
        "quote_currency": "KRW",
        "timezone": "Asia/Seoul",
        "tick_rule": TickRule.KRX,
        "lot_size": D(1),
    }
    base.update(kwargs)
    with pytest.raises(ConfigurationError):
        Instrument(**base)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        Instrument.krx_stock("X", market="NASDAQ")
