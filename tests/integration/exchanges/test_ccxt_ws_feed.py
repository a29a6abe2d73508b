"""CcxtWebsocketFeed with the real ccxt.pro client against a local fake Binance (no internet).

Streams come from ``fake_ws_exchange.FakeBinanceStream`` (an aiohttp websocket server on
127.0.0.1); ``exchangeInfo``, the depth snapshot and the REST fallback's ticker from
``FakeBinance`` on pytest-httpserver. Backoffs are short and injected, so the file runs
in a few seconds; nothing here asserts on timing.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial

import pytest
from fake_exchanges import FakeBinance
from fake_ws_exchange import FakeBinanceStream
from feed_collector import Collector

from stom_desktop.adapters.brokers.ccxt_client import make_exchange, make_pro_exchange
from stom_desktop.adapters.brokers.ccxt_feed import CcxtPollingFeed
from stom_desktop.adapters.feeds.ccxt_ws import CcxtWebsocketFeed
from stom_desktop.config import LiveSettings, Settings
from stom_desktop.core.enums import Side
from stom_desktop.core.events import OrderBookEvent, QuoteEvent, TradeTick
from stom_desktop.services.trading_live import LiveVenue
from stom_desktop.services.trading_spec import MANUAL_STRATEGY, SessionSpec

SYM, MID = "BTC/USDT", "BTCUSDT"
STREAMS = ("btcusdt@ticker", "btcusdt@trade", "btcusdt@depth@100ms")


@pytest.fixture
def stream(binance: FakeBinance) -> Iterator[FakeBinanceStream]:
    fake = FakeBinanceStream(binance).start()
    bids = [(30_000.0 - i, 1.0 + i) for i in range(1, 13)]  # 12 levels a side
    asks = [(30_000.0 + i, 2.0 + i) for i in range(1, 13)]
    fake.set_book(MID, bids, asks)
    fake.push_ticker(MID, bid=29_999.0, ask=30_001.0, last=30_000.0, send=False)
    yield fake
    fake.stop()


@pytest.fixture
def make_feed(
    binance: FakeBinance, stream: FakeBinanceStream, ws_feeds: Callable[..., CcxtWebsocketFeed]
) -> Callable[..., CcxtWebsocketFeed]:
    """``make_feed(**kw)``: a fast feed on the fakes (``kw`` overrides ``FAST_WS``)."""
    return partial(ws_feeds, "binance", binance.base_url, stream.ws_base, 7)


def test_quotes_trades_and_books_arrive_as_simulator_events(
    make_feed: Callable[..., CcxtWebsocketFeed], stream: FakeBinanceStream
) -> None:
    feed = make_feed()
    got = Collector(feed)
    feed.subscribe([SYM])
    stream.wait_subscribed(*STREAMS)
    assert "btcusdt@miniTicker" not in stream.subscribed  # that stream has no bid/ask
    stream.push_ticker(MID, bid=29_999.5, ask=30_000.5, last=30_000.25, bid_size=0.5, ask_size=2)
    stream.push_trade(MID, price=30_000.5, size=0.25, buyer_maker=False)
    stream.push_trade(MID, price=29_999.5, size=0.75, buyer_maker=True)
    stream.push_depth(MID, bids=[(29_999.5, 0.7)], asks=[(30_001.0, 0)])

    quote = got.first(QuoteEvent, lambda e: True, "quote")
    assert type(quote) is QuoteEvent
    assert (quote.symbol, quote.bid, quote.ask, quote.last) == (SYM, 29_999.5, 30_000.5, 30_000.25)
    assert (quote.bid_size, quote.ask_size) == (0.5, 2.0)
    assert isinstance(quote.ts_ms, int) and abs(quote.ts_ms - time.time() * 1000) < 60_000

    got.until(lambda: sum(isinstance(e, TradeTick) for e in got.events) == 2, "two trades")
    trades = [e for e in got.events if isinstance(e, TradeTick)]
    assert trades == [
        TradeTick(SYM, trades[0].ts_ms, 30_000.5, 0.25, Side.BUY),  # buyer took the ask
        TradeTick(SYM, trades[1].ts_ms, 29_999.5, 0.75, Side.SELL),  # seller hit the bid
    ]

    book = got.first(OrderBookEvent, lambda e: 29_999.5 in e.bid_prices, "book after the diff")
    assert type(book) is OrderBookEvent and book.symbol == SYM and book.depth == 10
    assert book.bid_prices[:3] == (29_999.5, 29_999.0, 29_998.0)
    assert book.bid_sizes[:3] == (0.7, 2.0, 3.0)
    assert book.ask_prices[:2] == (30_002.0, 30_003.0)  # 30,001 was removed by the diff
    assert book.ask_sizes[:2] == (4.0, 5.0)
    assert all(isinstance(p, float) for p in book.bid_prices + book.ask_sizes)
    assert feed.mode == "websocket" and feed.errors == 0 and feed.rest_quotes == 0


def test_dropped_connections_reconnect_and_events_continue(
    make_feed: Callable[..., CcxtWebsocketFeed],
    stream: FakeBinanceStream,
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed = make_feed()
    got = Collector(feed)
    feed.subscribe([SYM])
    stream.wait_subscribed(*STREAMS)
    stream.push_ticker(MID, bid=1.0, ask=3.0, last=2.0)
    got.first(QuoteEvent, lambda e: e.last == 2.0, "quote before the drop")
    accepted = stream.connections_accepted

    with caplog.at_level(logging.INFO, logger="stom_desktop.adapters.feeds.ccxt_ws"):
        assert stream.drop_all() == 3  # ticker, trades and book each have a connection
        got.until(lambda: stream.connections_accepted >= accepted + 3, "three new connections")
        stream.wait_subscribed(*STREAMS)
        stream.push_ticker(MID, bid=4.0, ask=6.0, last=5.0)
        stream.push_trade(MID, price=5.0, size=1.5, buyer_maker=True)
        quote = got.first(QuoteEvent, lambda e: e.last == 5.0, "quote after the drop")
        trade = got.first(TradeTick, lambda e: e.price == 5.0, "trade after the drop")
        got.until(lambda: feed.reconnects >= 3, "ticker, trades and book reconnected")

    assert (quote.bid, quote.ask) == (4.0, 6.0) and trade.aggressor is Side.SELL
    assert feed.errors >= 3 and feed.mode == "websocket"
    failed = [r for r in caplog.records if "failed (NetworkError" in r.getMessage()]
    back = [r for r in caplog.records if "reconnected after" in r.getMessage()]
    assert len(failed) >= 3 and len(back) == feed.reconnects


def test_websocket_down_falls_back_to_rest_then_returns(
    make_feed: Callable[..., CcxtWebsocketFeed],
    stream: FakeBinanceStream,
    binance: FakeBinance,
    caplog: pytest.LogCaptureFixture,
) -> None:
    feed = make_feed()
    got = Collector(feed)
    feed.subscribe([SYM])
    stream.wait_subscribed(*STREAMS)
    stream.push_ticker(MID, bid=10.0, ask=12.0, last=11.0)
    got.first(QuoteEvent, lambda e: e.last == 11.0, "websocket quote")
    assert binance.count("GET", "/api/v3/ticker/24hr") == 0

    with caplog.at_level(logging.WARNING, logger="stom_desktop.adapters.feeds.ccxt_ws"):
        stream.refuse()  # every connection dropped, handshakes answered 503
        stream.push_ticker(MID, bid=20.0, ask=22.0, last=21.0, send=False)  # REST only
        got.until(lambda: feed.mode == "rest", "switch to REST")
        rest = got.first(QuoteEvent, lambda e: e.last == 21.0, "quote from the REST ticker")
        got.until(lambda: feed.rest_quotes >= 2, "REST keeps polling")
        assert stream.connections_refused >= 1

        stream.accept()
        stream.wait_subscribed("btcusdt@ticker")
        stream.push_ticker(MID, bid=30.0, ask=32.0, last=31.0)
        back = got.first(QuoteEvent, lambda e: e.last == 31.0, "websocket quote again")
        got.until(lambda: feed.mode == "websocket", "switch back to the websocket")

    assert (rest.bid, rest.ask) == (20.0, 22.0) and (back.bid, back.ask) == (30.0, 32.0)
    assert binance.count("GET", "/api/v3/ticker/24hr") >= 2
    polled = feed.rest_quotes
    got.until(lambda: True, "drain")
    time.sleep(0.3)  # three REST intervals: none may run once the websocket is back
    assert feed.rest_quotes == polled
    messages = [r.getMessage() for r in caplog.records]
    assert "feed mode: rest" in messages and "feed mode: websocket" in messages
    assert messages.index("feed mode: rest") < messages.index("feed mode: websocket")


def test_a_websocket_that_never_connects_uses_rest_at_once(
    make_feed: Callable[..., CcxtWebsocketFeed], stream: FakeBinanceStream
) -> None:
    stream.refuse()
    feed = make_feed(fallback_after_s=60.0)  # the "down for a while" rule cannot be it
    got = Collector(feed)
    feed.subscribe([SYM])
    quote = got.first(QuoteEvent, lambda e: True, "REST quote")
    assert (quote.bid, quote.ask, quote.last) == (29_999.0, 30_001.0, 30_000.0)
    assert feed.mode == "rest" and feed.rest_quotes >= 1 and feed.errors >= 1


def _feed_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "stom-ccxt-ws"]


def test_close_stops_the_thread_and_closes_the_client(
    make_feed: Callable[..., CcxtWebsocketFeed], stream: FakeBinanceStream
) -> None:
    make_feed().close()  # never subscribed: nothing to stop
    feed = make_feed()
    got = Collector(feed)
    feed.subscribe([SYM])
    stream.wait_subscribed(*STREAMS)
    stream.push_ticker(MID, bid=1.0, ask=3.0, last=2.0)
    got.first(QuoteEvent, lambda e: True, "quote")
    client = feed._ex
    assert feed.running and len(_feed_threads()) == 1

    feed.close()
    feed.close()  # idempotent
    assert not feed.running and _feed_threads() == []
    # ccxt's __del__ warns "requires to release all resources" while a session is open.
    assert client.session is None and client.tcp_connector is None
    assert not client.clients  # every websocket client closed and dropped
    got.until(lambda: stream.open_connections() == 0, "server sees every connection closed")
    with pytest.raises(RuntimeError, match="closed"):
        feed.subscribe(["ETH/USDT"])


def _spec() -> SessionSpec:
    return SessionSpec(
        name="ws", strategy=MANUAL_STRATEGY, symbols=(SYM,), mode="dry_run", exchange="binance"
    )


def test_live_venue_builds_the_websocket_feed_from_settings(
    binance: FakeBinance,
    stream: FakeBinanceStream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STOM_EXCHANGE_WS_URL", stream.ws_base)

    def factory(eid: str, key: str | None, secret: str | None):  # type: ignore[no-untyped-def]
        return make_exchange(eid, base_url=binance.base_url, timeout_ms=1000)

    settings = Settings(live=LiveSettings(poll_interval_s=0.1))
    assert settings.live.feed == "websocket"  # the default
    venue = LiveVenue(_spec(), settings, credentials=None, factory=factory)
    feed = venue.feed
    assert isinstance(feed, CcxtWebsocketFeed)
    try:
        got = Collector(feed)  # type: ignore[arg-type]
        feed.subscribe([SYM])
        stream.wait_subscribed(*STREAMS)
        stream.push_ticker(MID, bid=7.0, ask=9.0, last=8.0)
        got.first(QuoteEvent, lambda e: e.last == 8.0, "quote through the venue's feed")
    finally:
        feed.close()

    rest = Settings(live=LiveSettings(feed="rest"))
    assert isinstance(
        LiveVenue(_spec(), rest, credentials=None, factory=factory).feed, CcxtPollingFeed
    )
    with pytest.raises(ValueError, match="feed"):
        LiveSettings(feed="carrier-pigeon")  # type: ignore[arg-type]


def test_symbols_subscribed_later_get_their_own_streams(
    make_feed: Callable[..., CcxtWebsocketFeed], stream: FakeBinanceStream
) -> None:
    feed = make_feed(trades=False, order_book=False)
    got = Collector(feed)
    feed.subscribe([SYM])
    stream.wait_subscribed("btcusdt@ticker")
    feed.subscribe([SYM, "ETH/USDT"])  # one new symbol, one already watched
    stream.wait_subscribed("ethusdt@ticker")
    stream.push_ticker("ETHUSDT", bid=1999.0, ask=2001.0, last=2000.0)
    quote = got.first(QuoteEvent, lambda e: e.symbol == "ETH/USDT", "ETH quote")
    assert (quote.bid, quote.ask) == (1999.0, 2001.0)
    assert feed.symbols == [SYM, "ETH/USDT"]
    assert (
        stream.subscribed.count("btcusdt@ticker") == 1 and "btcusdt@trade" not in stream.subscribed
    )


def test_backoff_doubles_to_the_cap_with_jitter() -> None:
    ex = make_pro_exchange("binance", base_url="http://127.0.0.1:9")  # never connected
    feed = CcxtWebsocketFeed(ex, backoff_initial_s=0.5, backoff_max_s=4.0, rng=random.Random(1))
    delays = [feed._delay(n) for n in range(1, 9)]
    bases = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0, 4.0]
    assert all(b / 2 <= d <= b for d, b in zip(delays, bases, strict=True)), delays
    assert len({round(d, 6) for d in delays[3:]}) > 1  # jittered, not a fixed 4 s
    with pytest.raises(ValueError, match="backoff_max_s"):
        CcxtWebsocketFeed(ex, backoff_initial_s=2.0, backoff_max_s=1.0)
    with pytest.raises(ValueError, match="rest_interval_s"):
        CcxtWebsocketFeed(ex, rest_interval_s=0)


def test_pro_clients_follow_the_rest_host_and_the_ws_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    real = make_pro_exchange("binance")
    assert real.urls["api"]["ws"]["spot"] == "wss://stream.binance.com:9443/ws"
    local = make_pro_exchange("binance", base_url="http://127.0.0.1:9")
    ws = local.urls["api"]["ws"]
    assert (ws["spot"], ws["linear"]) == (
        "ws://127.0.0.1:9/stream/ws",
        "ws://127.0.0.1:9/fstream/ws",
    )
    assert local.urls["api"]["public"] == "http://127.0.0.1:9/api/v3"
    assert local.options["fetchMarkets"] == {"types": ["spot"]}  # copied from make_exchange
    upbit = make_pro_exchange("upbit", base_url="http://127.0.0.1:9")
    assert upbit.urls["api"]["ws"] == "ws://127.0.0.1:9/websocket/v1"
    monkeypatch.setenv("STOM_EXCHANGE_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("STOM_EXCHANGE_WS_URL", "ws://127.0.0.1:10")
    hooked = make_pro_exchange("binanceusdm")
    assert hooked.urls["api"]["fapiPublic"] == "http://127.0.0.1:9/fapi/v1"
    assert hooked.urls["api"]["ws"]["linear"] == "ws://127.0.0.1:10/fstream/ws"
    assert "apiKey" not in hooked.options and not hooked.apiKey  # public data only


def test_a_silent_ticker_connection_is_failed_and_reconnected(
    make_feed: Callable[..., CcxtWebsocketFeed],
    stream: FakeBinanceStream,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The fake only sends when told to: after one ticker the connections go quiet, which
    # is what a connection whose receive loop died inside ccxt looks like from here.
    feed = make_feed(stall_after_s=0.4, trades=False, order_book=False)
    got = Collector(feed)
    feed.subscribe([SYM])
    stream.wait_subscribed("btcusdt@ticker")
    stream.push_ticker(MID, bid=1.0, ask=3.0, last=2.0)
    got.first(QuoteEvent, lambda e: e.last == 2.0, "quote before the silence")
    accepted = stream.connections_accepted

    with caplog.at_level(logging.WARNING, logger="stom_desktop.adapters.feeds._ws_stall"):
        got.until(lambda: feed.stalls >= 1, "the silent connection failed on purpose")
        got.until(lambda: stream.connections_accepted > accepted, "a fresh connection")
    stream.wait_subscribed("btcusdt@ticker")
    stream.push_ticker(MID, bid=4.0, ask=6.0, last=5.0)
    got.first(QuoteEvent, lambda e: e.last == 5.0, "quote on the new connection")
    assert any("silent for" in r.getMessage() for r in caplog.records)
    assert feed.mode == "websocket"
