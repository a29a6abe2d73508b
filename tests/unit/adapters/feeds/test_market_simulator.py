"""MarketSimulator: determinism, tick grid, spreads, KRX limits, trading hours, books."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from stom_desktop.adapters.feeds import (
    BOOK_LEVELS,
    DEFAULT_SIM_START_MS,
    MarketSimulator,
    SimulatorConfig,
)
from stom_desktop.adapters.feeds._grid import PriceGrid, tick_table
from stom_desktop.core.bars import to_ms
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.events import MarketEvent, OrderBookEvent, QuoteEvent, TradeTick
from stom_desktop.core.instruments import Instrument
from stom_desktop.core.market_rules import KRX_TICKS, UPBIT_KRW_TICKS, KrxStockRules, TickTable
from stom_desktop.core.ports import Feed

SEOUL = ZoneInfo("Asia/Seoul")
MINUTE = 60_000


def _universe() -> list[Instrument]:
    return [
        Instrument.krx_stock("005930"),
        Instrument.krx_stock("035720", market="KOSDAQ"),
        Instrument.upbit_krw("KRW-BTC"),
        Instrument.upbit_krw("KRW-XRP"),
        Instrument.simulated("SIM1"),
        Instrument.simulated("SIM2", tick_size=Decimal("0.05"), lot_size=Decimal("0.001")),
    ]


def _drain(feed: MarketSimulator, batch: int = 1000) -> list[MarketEvent]:
    out: list[MarketEvent] = []
    while not feed.finished:
        out.extend(feed.poll(batch))
    return out


def _run(seed: int = 7, minutes: int = 5, **kw: object) -> list[MarketEvent]:
    config = SimulatorConfig(seed=seed, duration_ms=minutes * MINUTE, **kw)  # type: ignore[arg-type]
    return _drain(MarketSimulator(_universe(), config))


def _on_grid(table: TickTable, price: float) -> bool:
    return table.is_on_tick(Decimal(repr(price)))


def test_implements_the_feed_port() -> None:
    assert isinstance(MarketSimulator(["SIM1"]), Feed)


def test_same_seed_same_events_however_polled() -> None:
    a = _run(seed=11)
    config = SimulatorConfig(seed=11, duration_ms=5 * MINUTE)
    b = _drain(MarketSimulator(_universe(), config), batch=7)  # odd, small batches
    assert len(a) > 1000
    assert a == b
    assert _run(seed=12) != a


def test_events_in_time_order_and_of_every_kind() -> None:
    events = _run(minutes=3)
    ts = [e.ts_ms for e in events]
    assert ts == sorted(ts)
    kinds = {type(e) for e in events}
    assert kinds == {QuoteEvent, TradeTick, OrderBookEvent}
    quotes = [e for e in events if type(e) is QuoteEvent]
    # One quote per symbol per second while open (KRX opens at the default start).
    assert len(quotes) == 6 * 3 * 60


def test_prices_on_each_instruments_tick_grid_and_spread_is_1_to_3_ticks() -> None:
    events = _run(minutes=10, annual_vol=(0.5, 1.5))
    tables = {i.symbol: tick_table(i) for i in _universe()}
    spreads: set[int] = set()
    for e in events:
        table = tables[e.symbol]
        if type(e) is QuoteEvent:
            assert _on_grid(table, e.bid) and _on_grid(table, e.ask) and _on_grid(table, e.last)
            assert e.bid < e.ask
            steps, price = 0, Decimal(repr(e.bid))
            while price < Decimal(repr(e.ask)):
                price += table.tick_for(price)
                steps += 1
            assert price == Decimal(repr(e.ask))
            spreads.add(steps)
        elif type(e) is TradeTick:
            assert _on_grid(table, e.price) and e.size > 0
        elif type(e) is OrderBookEvent:
            assert all(_on_grid(table, p) for p in e.bid_prices + e.ask_prices)
    assert spreads == {1, 2, 3}


def test_sizes_are_whole_lots() -> None:
    events = _run(minutes=2)
    lots = {i.symbol: i.lot_size for i in _universe()}
    for e in events:
        sizes: tuple[float, ...] = ()
        if type(e) is QuoteEvent:
            sizes = (e.bid_size, e.ask_size)
        elif type(e) is TradeTick:
            sizes = (e.size,)
        for size in sizes:
            assert size > 0
            assert Decimal(repr(size)) % lots[e.symbol] == 0


def test_trades_hit_the_bid_or_lift_the_ask_and_set_last() -> None:
    events = _run(minutes=3)
    for i, e in enumerate(events):
        if type(e) is TradeTick:
            quote = events[i + 1]  # the quote of the same symbol follows its trade
            assert type(quote) is QuoteEvent and quote.symbol == e.symbol
            assert quote.ts_ms == e.ts_ms and quote.last == e.price
            assert e.price == (quote.ask if e.aggressor is Side.BUY else quote.bid)


def test_order_book_shape_matches_the_quote() -> None:
    events = _run(minutes=2)
    books = [(i, e) for i, e in enumerate(events) if type(e) is OrderBookEvent]
    # A book per symbol every 10 s (default), staggered: 6 symbols x 12 per 2 minutes.
    assert len(books) == 6 * 12
    for i, book in books:
        assert len(book.bid_prices) == len(book.bid_sizes) == BOOK_LEVELS
        assert len(book.ask_prices) == len(book.ask_sizes) == BOOK_LEVELS
        assert list(book.bid_prices) == sorted(book.bid_prices, reverse=True)
        assert len(set(book.bid_prices)) == BOOK_LEVELS
        assert list(book.ask_prices) == sorted(set(book.ask_prices))
        assert book.bid_prices[0] < book.ask_prices[0]
        assert all(s > 0 for s in book.bid_sizes + book.ask_sizes)
        quote = events[i - 1]  # a book follows the quote it deepens
        assert type(quote) is QuoteEvent and quote.symbol == book.symbol
        assert (quote.bid, quote.ask) == (book.bid_prices[0], book.ask_prices[0])
        assert (quote.bid_size, quote.ask_size) == (book.bid_sizes[0], book.ask_sizes[0])


def test_books_can_be_switched_off() -> None:
    events = _run(minutes=1, book_interval_ms=0)
    assert not any(type(e) is OrderBookEvent for e in events)


def test_krx_prices_stay_within_30_percent_of_previous_close() -> None:
    # Absurd volatility drives prices into the limits within minutes.
    config = SimulatorConfig(
        seed=3,
        duration_ms=30 * MINUTE,
        annual_vol=(40.0, 45.0),
        start_prices={"A": 10_000.0, "B": 101_000.0},
        prev_closes={"B": 100_000.0},
    )
    sim = MarketSimulator([Instrument.krx_stock("A"), Instrument.krx_stock("B")], config)
    events = _drain(sim)
    limits = {
        "A": KrxStockRules().price_limits(Decimal(10_000)),
        "B": KrxStockRules().price_limits(Decimal(100_000)),
    }
    assert sim.price_limits("A") == (7_000.0, 13_000.0)
    assert sim.prev_close("B") == 100_000.0
    hit_upper = hit_lower = False
    for e in events:
        lower, upper = (float(x) for x in limits[e.symbol])
        if type(e) is QuoteEvent:
            prices = [e.bid, e.ask, e.last]
        elif type(e) is TradeTick:
            prices = [e.price]
        else:
            assert isinstance(e, OrderBookEvent)
            prices = [*e.bid_prices, *e.ask_prices]
            assert list(e.bid_prices) == sorted(e.bid_prices, reverse=True)
        assert all(lower <= p <= upper for p in prices), (e, lower, upper)
        hit_upper |= upper in prices
        hit_lower |= lower in prices
    assert hit_upper or hit_lower  # the limits were actually reached


def test_no_krx_events_outside_trading_hours_and_next_session_next_weekday() -> None:
    # Friday 2024-01-05 15:25 KST; the next session is Monday 09:00 KST.
    start = to_ms(datetime(2024, 1, 5, 15, 25, tzinfo=SEOUL))
    config = SimulatorConfig(seed=1, start_ms=start, duration_ms=3 * 24 * 60 * MINUTE)
    sim = MarketSimulator([Instrument.krx_stock("005930")], config)
    events = _drain(sim)
    local = [datetime.fromtimestamp(e.ts_ms / 1000, SEOUL) for e in events]
    for moment in local:
        assert moment.weekday() < 5
        assert (9, 0) <= (moment.hour, moment.minute) < (15, 30)
    days = sorted({m.date().isoformat() for m in local})
    assert days == ["2024-01-05", "2024-01-08"]
    monday = [e for e, m in zip(events, local, strict=True) if m.day == 8]
    assert monday[0].ts_ms == to_ms(datetime(2024, 1, 8, 9, 0, tzinfo=SEOUL))
    friday_last = max(e.ts_ms for e, m in zip(events, local, strict=True) if m.day == 5)
    assert friday_last == to_ms(datetime(2024, 1, 5, 15, 29, 59, tzinfo=SEOUL))
    # The new session's limits are based on Friday's last traded price.
    friday_quotes = [e for e, m in zip(events, local, strict=True) if m.day == 5]
    assert isinstance(friday_quotes[-1], QuoteEvent)
    assert sim.prev_close("005930") == friday_quotes[-1].last
    expected = KrxStockRules().price_limits(Decimal(repr(friday_quotes[-1].last)))
    assert sim.price_limits("005930") == tuple(float(x) for x in expected)


def test_crypto_trades_around_the_clock_while_krx_sleeps() -> None:
    start = to_ms(datetime(2024, 1, 6, 2, 0, tzinfo=SEOUL))  # Saturday night
    config = SimulatorConfig(seed=1, start_ms=start, duration_ms=10 * MINUTE)
    sim = MarketSimulator([Instrument.krx_stock("005930"), Instrument.upbit_krw("KRW-BTC")], config)
    events = _drain(sim)
    assert {e.symbol for e in events} == {"KRW-BTC"}
    quotes = [e for e in events if type(e) is QuoteEvent]
    assert len(quotes) == 600


def test_subscribe_adds_simulated_symbols_and_clock_follows_events() -> None:
    clock = SimulatedClock(0)
    sim = MarketSimulator(config=SimulatorConfig(seed=2, duration_ms=MINUTE), clock=clock)
    assert sim.poll() == [] and not sim.finished  # nothing subscribed yet
    sim.subscribe(["SIM1", "SIM2"])
    sim.subscribe(["SIM1"])  # already there: no duplicate
    assert sim.symbols == ["SIM1", "SIM2"]
    batch = sim.poll(10)
    assert len(batch) == 10
    assert clock.now_ms() == batch[-1].ts_ms >= DEFAULT_SIM_START_MS
    rest = _drain(sim)
    assert {e.symbol for e in [*batch, *rest]} == {"SIM1", "SIM2"}
    assert clock.now_ms() == rest[-1].ts_ms
    assert sim.finished and sim.poll() == []


def test_close_stops_delivery() -> None:
    sim = MarketSimulator(["SIM1"], SimulatorConfig(seed=1))
    assert sim.poll(5)
    sim.close()
    assert sim.finished and sim.poll() == []


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seed", -1),
        ("quote_interval_ms", 0),
        ("trade_probability", 1.5),
        ("annual_vol", (0.5, 0.1)),
        ("speed", 0),
        ("speed", float("nan")),
        ("start_prices", {"X": -1.0}),
        ("regime_levels", ()),
    ],
)
def test_invalid_config_names_the_setting(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        SimulatorConfig(**{field: value})  # type: ignore[arg-type]
    assert info.value.key is not None and field in info.value.key


def test_duplicate_instrument_is_refused() -> None:
    sim = MarketSimulator(["SIM1"])
    with pytest.raises(ConfigurationError, match="SIM1"):
        sim.add_instrument(Instrument.simulated("SIM1"))


def test_price_grid_matches_core_tick_table_rounding() -> None:
    rng = np.random.default_rng(5)
    prices = np.exp(rng.uniform(np.log(100), np.log(2_000_000), 5_000))
    grid = PriceGrid.for_tables([KRX_TICKS] * prices.size)
    for mode in ("nearest", "down", "up"):
        np.testing.assert_array_equal(grid.round(prices, mode), KRX_TICKS.round_array(prices, mode))
    on_grid = grid.round(prices, "down")
    up, down = grid.up(on_grid), grid.down(on_grid)
    for p, u, d in zip(on_grid[:500].tolist(), up[:500].tolist(), down[:500].tolist(), strict=True):
        assert Decimal(repr(u)) == Decimal(repr(p)) + KRX_TICKS.tick_for(Decimal(repr(p)))
        below = Decimal(repr(p)) - Decimal(repr(d))
        assert KRX_TICKS.round(Decimal(repr(d)) + below, "down") == Decimal(repr(p))
        assert below == KRX_TICKS.tick_for(Decimal(repr(d)))


@pytest.mark.parametrize("table", [KRX_TICKS, UPBIT_KRW_TICKS])
def test_price_ladders_equal_step_by_step_stepping(table: TickTable) -> None:
    rng = np.random.default_rng(9)
    prices = np.exp(rng.uniform(np.log(0.5), np.log(3_000_000), 3_000))
    bounds = np.array([float(b) for b in table.lower_bounds[1:]])
    grid = PriceGrid.for_tables([table] * (prices.size + 2 * bounds.size))
    # Include every tier bound and a price just below it: ladders crossing tiers.
    start = grid.round(np.concatenate([prices, bounds, bounds * 0.999]), "down")
    start = np.maximum(start, float(table.ticks[0]))
    up, down = grid.ladder(start, 10, up=True), grid.ladder(start, 10, up=False)
    step_up, step_down = start.copy(), start.copy()
    for j in range(1, 10):
        step_up, step_down = grid.up(step_up), grid.down(step_down)
        np.testing.assert_array_equal(up[j], step_up)
        np.testing.assert_array_equal(down[j], step_down)
    for p in up[:, :300].ravel().tolist():
        assert _on_grid(table, p)
