"""Request-weight headers: reads slow down past 80 % of the venue's minute limit.

The fake Binance answers ``X-MBX-USED-WEIGHT-1M`` on every response and lists its
``rateLimits`` in ``exchangeInfo``; the broker runs on injected ``sleep``/clock
(``FakeTime``: sleeping only advances the clock), so the back-off is asserted, not waited.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal as D

import pytest
from fake_exchanges import FakeBinance
from fake_time import FakeTime
from fake_upbit import FakeUpbit

from stom_desktop.adapters.brokers.ccxt_caps import NotionalCaps
from stom_desktop.adapters.brokers.ccxt_weight import WeightGovernor, minute_weight_limit
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import OrderRejected
from stom_desktop.core.orders import Order, OrderType

SYM = "BTC/USDT"
WEIGHT = "X-MBX-USED-WEIGHT-1M"
T0 = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture
def hot_binance(binance: FakeBinance) -> FakeBinance:
    binance.rate_limits[0]["limit"] = 1200  # an older, smaller limit: taken from exchangeInfo
    return binance


def broker_on(venue: FakeBinance | FakeUpbit, exchange: str, make_broker, fake_time: FakeTime):  # type: ignore[no-untyped-def]
    governor = WeightGovernor(exchange, wall=fake_time.monotonic)  # 1000.0: 40 s into a minute
    return make_broker(exchange, venue.base_url, weights=governor), governor


def test_limit_comes_from_exchange_info() -> None:
    text = (
        '{"rateLimits":[{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,'
        '"limit":100},{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,'
        '"limit":6000}],"symbols":[]}'
    )
    assert minute_weight_limit(text) == 6000
    assert minute_weight_limit('{"rateLimits":[]}') is None and minute_weight_limit(None) is None


def test_reads_back_off_in_proportion_and_log_once(
    hot_binance: FakeBinance, make_broker, fake_time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    broker, governor = broker_on(hot_binance, "binance", make_broker, fake_time)
    hot_binance.response_headers[WEIGHT] = "1000"  # 83 % of 1200: past the 960 threshold
    with caplog.at_level(logging.WARNING, "stom_desktop.adapters.brokers.ccxt_weight"):
        broker.load_markets()
        assert governor.limit == 1200 and governor.used == 1000
        assert fake_time.sleeps == []  # load_markets was the first answer: nothing known yet
        broker.balances()
        broker.balances()
    # 20 s left in the minute; (1000 - 960) / (1200 - 960) = 1/6 of it, then 1/6 of the rest.
    assert fake_time.sleeps == [pytest.approx(20 / 6), pytest.approx((20 - 20 / 6) / 6)]
    warnings = [r for r in caplog.records if "request weight" in r.getMessage()]
    assert len(warnings) == 1 and "1000 of 1200" in warnings[0].getMessage()


def test_cooler_headers_and_a_new_minute_stop_the_back_off(
    hot_binance: FakeBinance, make_broker, fake_time: FakeTime
) -> None:
    broker, _ = broker_on(hot_binance, "binance", make_broker, fake_time)
    hot_binance.response_headers[WEIGHT] = "1190"
    broker.load_markets()
    broker.balances()  # sleeps: the minute is hot
    hot = len(fake_time.sleeps)
    assert hot == 1 and fake_time.sleeps[0] == 10.0  # 20 s x 230/240, capped at 10 s
    fake_time.now += 60  # the minute rolled over: Binance resets the counter
    broker.balances()
    assert len(fake_time.sleeps) == hot
    hot_binance.response_headers[WEIGHT] = "100"
    broker.balances()  # paced by the 1190 seen a moment ago (same minute)
    broker.balances()  # the answer said 100: no more waiting
    assert len(fake_time.sleeps) == hot + 1


def test_one_sleep_is_capped_and_writes_never_wait(
    hot_binance: FakeBinance, make_broker, fake_time: FakeTime
) -> None:
    broker, governor = broker_on(hot_binance, "binance", make_broker, fake_time)
    governor.max_delay_s = 5.0
    hot_binance.response_headers[WEIGHT] = "1200"  # at the limit: wait for the rollover
    broker.load_markets()
    broker.submit(
        Order("stom-s1-000001", SYM, Side.BUY, D("0.001"), created_at=T0,
              order_type=OrderType.LIMIT, price=D("29000.00"))
    )  # fmt: skip
    assert fake_time.sleeps == []  # an order goes out at once
    broker.balances()
    assert fake_time.sleeps == [5.0]  # 20 s to the rollover, capped


def test_upbit_remaining_req_zero_waits_for_the_next_second(
    upbit: FakeUpbit, make_broker, fake_time: FakeTime
) -> None:
    broker, _ = broker_on(upbit, "upbit", make_broker, fake_time)
    upbit.response_headers["Remaining-Req"] = "group=default; min=1799; sec=0"
    broker.balances()  # this second's budget is spent...
    upbit.response_headers["Remaining-Req"] = "group=default; min=1798; sec=7"
    broker.balances()  # ...so this read waits for the next second
    assert fake_time.sleeps == [1.0]
    broker.balances()  # the last answer said 7 left: no wait
    assert fake_time.sleeps == [1.0]


def test_flatten_orders_are_counted_but_never_capped() -> None:
    caps = NotionalCaps(D(500), D(1000), price_source=lambda s: D(30000))

    def sell(cid: str, tag: str | None) -> Order:
        return Order(cid, SYM, Side.SELL, D("0.1"), created_at=T0, tag=tag)  # 3,000 > 500

    with pytest.raises(OrderRejected) as info:
        caps.check(sell("a", "exit:stop"))
    assert info.value.rule == "live.per_order_notional_cap"
    caps.check(sell("b", "kill_switch"))  # the kill switch must be able to sell
    caps.check(sell("c", "liquidate"))
    assert caps.sent_today == D(6000)  # counted: later entries see the day's total
