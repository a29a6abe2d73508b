"""CcxtWebsocketFeed on Binance USDT-M futures (``binanceusdm``) against local fakes.

Streams come from ``fake_ws_exchange.FakeBinanceFuturesStream`` (the ``fstream``
protocol: a ``24hrTicker`` without bid/ask, ``depthUpdate`` with ``pu``); markets, the
``/fapi/v1/depth`` snapshot and the REST fallback's ``/fapi/v1/ticker/24hr`` from
``FakeBinanceFutures`` on pytest-httpserver. The real ccxt.pro client, no mocks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial

import pytest
from fake_binance_futures import FakeBinanceFutures
from fake_ws_exchange import FakeBinanceFuturesStream
from feed_collector import Collector

from stom_desktop.adapters.feeds.ccxt_ws import CcxtWebsocketFeed
from stom_desktop.core.enums import Side
from stom_desktop.core.events import OrderBookEvent, QuoteEvent, TradeTick

SYM, MID = "BTC/USDT:USDT", "BTCUSDT"
STREAMS = ("btcusdt@ticker", "btcusdt@trade", "btcusdt@depth@100ms")


@pytest.fixture
def stream(futures: FakeBinanceFutures) -> Iterator[FakeBinanceFuturesStream]:
    fake = FakeBinanceFuturesStream(futures).start()
    bids = [(30_000.0 - i / 10, 1.0 + i) for i in range(1, 13)]
    asks = [(30_000.0 + i / 10, 2.0 + i) for i in range(1, 13)]
    fake.set_book(MID, bids, asks)
    fake.push_ticker(MID, bid=0, ask=0, last=30_000.0, send=False)  # bid/ask: not sent
    yield fake
    fake.stop()


@pytest.fixture
def make_feed(
    futures: FakeBinanceFutures,
    stream: FakeBinanceFuturesStream,
    ws_feeds: Callable[..., CcxtWebsocketFeed],
) -> Callable[..., CcxtWebsocketFeed]:
    """``make_feed(**kw)``: a fast feed on the fakes (``kw`` overrides ``FAST_WS``)."""
    return partial(ws_feeds, "binanceusdm", futures.base_url, stream.ws_base, 5)


def test_futures_quotes_trades_and_books_arrive(
    make_feed: Callable[..., CcxtWebsocketFeed], stream: FakeBinanceFuturesStream
) -> None:
    feed = make_feed()
    got = Collector(feed)
    feed.subscribe([SYM])
    stream.wait_subscribed(*STREAMS)
    # The fstream URL mapping: ccxt splits futures streams into market and public paths.
    assert sorted(p.rsplit("/", 1)[0] for p in stream.paths) == [
        "/fstream/market/ws",  # ticker
        "/fstream/public/ws",  # trades
        "/fstream/public/ws",  # depth
    ]
    got.first(OrderBookEvent, lambda e: True, "book from the REST snapshot")

    stream.push_ticker(MID, bid=0, ask=0, last=30_000.05)
    quote = got.first(QuoteEvent, lambda e: e.last == 30_000.05, "quote")
    # The futures ticker has no bid/ask: they (and sizes) are the book's top.
    assert (quote.symbol, quote.bid, quote.ask) == (SYM, 29_999.9, 30_000.1)
    assert (quote.bid_size, quote.ask_size) == (2.0, 3.0)

    stream.push_trade(MID, price=30_000.1, size=0.002, buyer_maker=False)
    stream.push_trade(MID, price=29_999.9, size=0.003, buyer_maker=True)
    got.until(lambda: len(got.of(TradeTick)) == 2, "two trades")
    assert [(t.symbol, t.price, t.size, t.aggressor) for t in got.of(TradeTick)] == [
        (SYM, 30_000.1, 0.002, Side.BUY),
        (SYM, 29_999.9, 0.003, Side.SELL),
    ]

    stream.push_depth(MID, bids=[(30_000.0, 0.5)], asks=[(30_000.1, 0)])
    book = got.first(OrderBookEvent, lambda e: e.bid_prices[0] == 30_000.0, "book after diff")
    assert book.bid_prices[:2] == (30_000.0, 29_999.9) and book.bid_sizes[:2] == (0.5, 2.0)
    assert book.ask_prices[:2] == (30_000.2, 30_000.3)  # 30,000.1 was removed
    moved = got.first(QuoteEvent, lambda e: e.bid == 30_000.0, "quote after the top moved")
    assert (moved.ask, moved.last, moved.bid_size, moved.ask_size) == (
        30_000.2,
        30_000.05,
        0.5,
        4.0,
    )
    assert feed.mode == "websocket" and feed.errors == 0 and feed.rest_quotes == 0


def test_futures_websocket_down_falls_back_to_rest_then_returns(
    make_feed: Callable[..., CcxtWebsocketFeed],
    stream: FakeBinanceFuturesStream,
    futures: FakeBinanceFutures,
) -> None:
    feed = make_feed()
    got = Collector(feed)
    feed.subscribe([SYM])
    stream.wait_subscribed(*STREAMS)
    got.first(OrderBookEvent, lambda e: True, "book")
    stream.push_ticker(MID, bid=0, ask=0, last=30_000.0)
    got.first(QuoteEvent, lambda e: e.last == 30_000.0, "websocket quote")
    assert futures.count("GET", "/fapi/v1/ticker/24hr") == 0

    stream.refuse()
    stream.push_ticker(MID, bid=0, ask=0, last=30_100.0, send=False)  # REST only
    stream.set_book(MID, [(30_099.9, 7.0)], [(30_100.1, 8.0)])  # the REST snapshot's book
    got.until(lambda: feed.mode == "rest", "switch to REST")
    rest = got.first(QuoteEvent, lambda e: e.last == 30_100.0, "quote from /fapi/v1/ticker/24hr")
    # 24hr has no bid/ask: the fallback reads them from /fapi/v1/depth.
    assert (rest.bid, rest.ask, rest.bid_size, rest.ask_size) == (30_099.9, 30_100.1, 7.0, 8.0)
    got.until(lambda: feed.rest_quotes >= 2, "REST keeps polling")
    assert futures.count("GET", "/fapi/v1/ticker/24hr") >= 2
    assert stream.connections_refused >= 1

    stream.accept()
    stream.wait_subscribed("btcusdt@ticker")
    stream.push_ticker(MID, bid=0, ask=0, last=30_100.05)
    got.first(QuoteEvent, lambda e: e.last == 30_100.05, "websocket quote again")
    got.until(lambda: feed.mode == "websocket", "switch back to the websocket")


def test_a_book_stream_down_leaves_no_stale_top_in_quotes(
    make_feed: Callable[..., CcxtWebsocketFeed], stream: FakeBinanceFuturesStream
) -> None:
    feed = make_feed(trades=False, order_book=False)  # the book stream runs for bid/ask
    got = Collector(feed)
    feed.subscribe([SYM])
    stream.wait_subscribed("btcusdt@ticker", "btcusdt@depth@100ms")
    assert "btcusdt@trade" not in stream.subscribed
    stream.push_depth(MID, bids=[(30_000.0, 0.5)])  # a diff after the snapshot: top known
    stream.push_ticker(MID, bid=0, ask=0, last=30_000.05)
    quote = got.first(QuoteEvent, lambda e: e.bid != e.ask, "quote with the book's top")
    assert (quote.bid, quote.ask, quote.last) == (30_000.0, 30_000.1, 30_000.05)
    assert got.of(OrderBookEvent) == []

    stream.refuse("/fstream/public")  # the depth connection only; the ticker stays up
    got.until(lambda: feed.errors >= 1, "the book stream failed")
    stream.push_ticker(MID, bid=0, ask=0, last=29_990.0)
    stale = got.first(QuoteEvent, lambda e: e.last == 29_990.0, "quote without a book")
    assert stale.bid == stale.ask == 29_990.0  # not the top of a book nobody updates
    assert feed.mode == "websocket"

    stream.accept()
    got.until(lambda: feed.reconnects >= 1, "the book stream is back")
    stream.push_ticker(MID, bid=0, ask=0, last=29_995.0)
    back = got.first(QuoteEvent, lambda e: e.last == 29_995.0, "quote with the book again")
    assert (back.bid, back.ask) == (30_000.0, 30_000.1)
