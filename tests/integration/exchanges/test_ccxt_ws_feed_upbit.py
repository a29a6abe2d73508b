"""CcxtWebsocketFeed on Upbit with the real ccxt.pro client against a local fake (no internet).

Streams come from ``fake_ws_upbit.FakeUpbitStream`` (Upbit's ``/websocket/v1`` protocol on
an aiohttp server, binary frames, SNAPSHOT then REALTIME); ``market/all`` and the REST
fallback's ticker and orderbook from ``FakeUpbit`` on pytest-httpserver. Upbit's ticker has
no bid/ask: the feed's quotes must take them from the order book stream.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import pytest
from fake_upbit import FakeUpbit
from fake_ws_upbit import FakeUpbitStream
from feed_collector import Collector

from stom_desktop.adapters.feeds.ccxt_ws import CcxtWebsocketFeed
from stom_desktop.core.enums import Side
from stom_desktop.core.events import OrderBookEvent, QuoteEvent, TradeTick

SYM, CODE = "BTC/KRW", "KRW-BTC"
STREAMS = ("ticker:KRW-BTC", "trade:KRW-BTC", "orderbook:KRW-BTC")
BIDS = [(50_000_000.0 - 10_000 * i, 0.1 * i) for i in range(1, 16)]  # 15 units, as Upbit
ASKS = [(50_000_000.0 + 10_000 * i, 0.2 * i) for i in range(1, 16)]


@pytest.fixture
def stream(upbit: FakeUpbit) -> Iterator[FakeUpbitStream]:
    fake = FakeUpbitStream(upbit).start()
    fake.push_ticker(CODE, last=50_000_000, send=False)
    fake.push_book(CODE, BIDS, ASKS, send=False)
    yield fake
    fake.stop()


@pytest.fixture
def make_feed(
    upbit: FakeUpbit, stream: FakeUpbitStream, ws_feeds: Callable[..., CcxtWebsocketFeed]
) -> Callable[..., CcxtWebsocketFeed]:
    """``make_feed(**kw)``: a fast feed on the fakes (``kw`` overrides ``FAST_WS``)."""
    return partial(ws_feeds, "upbit", upbit.base_url, stream.ws_base, 3)


def test_quotes_take_bid_ask_from_the_book_and_trades_and_books_arrive(
    make_feed: Callable[..., CcxtWebsocketFeed], stream: FakeUpbitStream
) -> None:
    feed = make_feed()
    got = Collector(feed)
    feed.subscribe([SYM])
    stream.wait_subscribed(*STREAMS)
    # One shared connection carries every channel (ccxt resends the whole list).
    assert stream.paths == ["/websocket/v1"] and stream.errors == []

    # The SNAPSHOTs sent on subscription: a quote with the book's top and the ticker's last.
    quote = got.first(QuoteEvent, lambda e: e.bid == 49_990_000, "quote with the book's bid")
    assert (quote.symbol, quote.bid, quote.ask, quote.last) == (
        SYM,
        49_990_000,
        50_010_000,
        50_000_000,
    )
    assert (quote.bid_size, quote.ask_size) == pytest.approx((0.1, 0.2))

    stream.push_trade(CODE, price=50_010_000, size=0.25, ask_bid="BID")  # a buyer lifted
    stream.push_trade(CODE, price=49_990_000, size=0.75, ask_bid="ASK")  # a seller hit
    stream.push_ticker(CODE, last=49_990_000)
    got.until(lambda: len(got.of(TradeTick)) == 2, "two trades")
    assert got.of(TradeTick) == [
        TradeTick(SYM, got.of(TradeTick)[0].ts_ms, 50_010_000, 0.25, Side.BUY),
        TradeTick(SYM, got.of(TradeTick)[1].ts_ms, 49_990_000, 0.75, Side.SELL),
    ]
    after_trade = got.first(QuoteEvent, lambda e: e.last == 49_990_000, "quote after a trade")
    assert (after_trade.bid, after_trade.ask) == (49_990_000, 50_010_000)  # still the book's

    # The book moves with no trade: a quote follows it, carrying the last trade price.
    stream.push_book(CODE, [(49_995_000, 1.5), *BIDS], [(50_005_000, 2.5), *ASKS])
    moved = got.first(QuoteEvent, lambda e: e.bid == 49_995_000, "quote after the book moved")
    assert (moved.ask, moved.last, moved.bid_size, moved.ask_size) == (
        50_005_000,
        49_990_000,
        1.5,
        2.5,
    )
    book = got.first(OrderBookEvent, lambda e: e.bid_prices[0] == 49_995_000, "moved book")
    assert book.depth == 10 and book.symbol == SYM
    assert book.bid_prices[:3] == (49_995_000, 49_990_000, 49_980_000)
    assert book.ask_prices[:2] == (50_005_000, 50_010_000)
    assert book.bid_sizes[:2] == pytest.approx((1.5, 0.1))

    # Once the book is known no quote collapses to bid = ask = last again.
    quotes = got.of(QuoteEvent)
    first_with_book = next(i for i, q in enumerate(quotes) if q.bid != q.ask)
    assert all(q.bid < q.ask for q in quotes[first_with_book:]), quotes
    assert feed.mode == "websocket" and feed.errors == 0 and feed.rest_quotes == 0


def test_before_any_book_a_quote_is_the_last_price_and_books_can_stay_off(
    make_feed: Callable[..., CcxtWebsocketFeed], stream: FakeUpbitStream
) -> None:
    stream.books.clear()  # no orderbook SNAPSHOT until the first push
    feed = make_feed(order_book=False, trades=False)
    got = Collector(feed)
    feed.subscribe([SYM])
    # The book stream runs anyway: it is where Upbit's bid/ask come from.
    stream.wait_subscribed("ticker:KRW-BTC", "orderbook:KRW-BTC")
    first = got.first(QuoteEvent, lambda e: True, "quote from the ticker SNAPSHOT")
    assert first.bid == first.ask == first.last == 50_000_000
    assert first.bid_size == first.ask_size == 0.0

    stream.push_book(CODE, BIDS, ASKS)
    top = got.first(QuoteEvent, lambda e: e.bid != e.ask, "quote once a book arrived")
    assert (top.bid, top.ask, top.last) == (49_990_000, 50_010_000, 50_000_000)
    assert got.of(OrderBookEvent) == [] and feed.books == 0
    assert "trade:KRW-BTC" not in stream.subscribed


def test_a_dropped_connection_reconnects_without_repeating_a_trade(
    make_feed: Callable[..., CcxtWebsocketFeed], stream: FakeUpbitStream
) -> None:
    feed = make_feed()
    got = Collector(feed)
    feed.subscribe([SYM])
    stream.wait_subscribed(*STREAMS)
    stream.push_trade(CODE, price=50_000_000, size=0.5, ask_bid="BID")
    got.first(TradeTick, lambda e: e.size == 0.5, "trade before the drop")
    resent_before = stream.snapshots.count("trade:KRW-BTC")

    assert stream.drop_all() == 1  # ticker, trades and book share one connection
    got.until(lambda: stream.connections_accepted >= 2, "a new connection")
    stream.wait_subscribed(*STREAMS)
    # Upbit answers each (re)subscription with the latest trade as a SNAPSHOT ...
    got.until(
        lambda: stream.snapshots.count("trade:KRW-BTC") > resent_before, "trade SNAPSHOT resent"
    )
    # (the book stream's reconnect means its SNAPSHOT arrived: the top is known again)
    got.until(lambda: feed.reconnects >= 3, "ticker, trades and book reconnected")
    stream.push_trade(CODE, price=50_010_000, size=0.7, ask_bid="ASK")
    stream.push_ticker(CODE, last=50_010_000)
    got.first(TradeTick, lambda e: e.size == 0.7, "trade after the drop")
    after = got.first(QuoteEvent, lambda e: e.last == 50_010_000, "quote after the drop")

    # ... which reached the feed before the new trade (one connection, in order) and
    # was not passed on twice.
    assert [(t.price, t.size, t.aggressor) for t in got.of(TradeTick)] == [
        (50_000_000, 0.5, Side.BUY),
        (50_010_000, 0.7, Side.SELL),
    ]
    assert (after.bid, after.ask) == (49_990_000, 50_010_000)
    assert feed.errors >= 3 and feed.mode == "websocket" and stream.errors == []


def test_websocket_down_polls_rest_ticker_and_orderbook_then_returns(
    make_feed: Callable[..., CcxtWebsocketFeed], stream: FakeUpbitStream, upbit: FakeUpbit
) -> None:
    stream.refuse()
    feed = make_feed(fallback_after_s=60.0)  # never connected: REST at once
    got = Collector(feed)
    feed.subscribe([SYM])
    rest = got.first(QuoteEvent, lambda e: True, "REST quote")
    assert (rest.bid, rest.ask, rest.last) == (49_990_000, 50_010_000, 50_000_000)
    assert (rest.bid_size, rest.ask_size) == pytest.approx((0.1, 0.2))
    assert feed.mode == "rest" and feed.rest_quotes >= 1
    assert upbit.count("GET", "/v1/ticker") >= 1 and upbit.count("GET", "/v1/orderbook") >= 1

    stream.accept()
    stream.wait_subscribed(*STREAMS)
    # (no trade yet, so the trade stream stays quiet; a book means its top is known)
    got.until(lambda: feed.books >= 1, "a websocket book")
    stream.push_ticker(CODE, last=50_005_000)
    back = got.first(QuoteEvent, lambda e: e.last == 50_005_000, "websocket quote again")
    got.until(lambda: feed.mode == "websocket", "switch back to the websocket")
    assert (back.bid, back.ask) == (49_990_000, 50_010_000)
