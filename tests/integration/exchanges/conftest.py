"""Fixtures: fake Binance/Upbit on the shared local ``server``, CcxtBrokers and websocket
feeds on them (``server`` itself comes from ``tests/helpers/shared_fixtures.py``)."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest
from fake_binance_futures import FakeBinanceFutures
from fake_exchanges import API_KEY, SECRET, FakeBinance
from fake_time import FakeTime
from fake_upbit import FakeUpbit
from pytest_httpserver import HTTPServer

from stom_desktop.adapters.brokers.ccxt_broker import CcxtBroker
from stom_desktop.adapters.brokers.ccxt_client import make_exchange, make_pro_exchange
from stom_desktop.adapters.feeds.ccxt_ws import CcxtWebsocketFeed

#: Short backoffs and fallback for websocket feeds, so each test runs in a few seconds.
FAST_WS = {
    "backoff_initial_s": 0.05,
    "backoff_max_s": 0.2,
    "fallback_after_s": 0.5,
    "rest_interval_s": 0.1,
}


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def binance(server: HTTPServer) -> FakeBinance:
    return FakeBinance(server)


@pytest.fixture
def upbit(server: HTTPServer) -> FakeUpbit:
    return FakeUpbit(server)


@pytest.fixture
def futures(server: HTTPServer) -> FakeBinanceFutures:
    return FakeBinanceFutures(server)


def _broker(exchange_id: str, base_url: str, fake_time: FakeTime, **kw: object) -> CcxtBroker:
    ex = make_exchange(
        exchange_id,
        api_key=str(kw.pop("api_key", API_KEY)),
        secret=str(kw.pop("secret", SECRET)),
        base_url=base_url,
        timeout_ms=400,
        enable_rate_limit=False,
    )
    return CcxtBroker(
        ex,
        exchange_id,
        sleep=fake_time.sleep,
        monotonic=fake_time.monotonic,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def make_broker(fake_time: FakeTime):  # type: ignore[no-untyped-def]
    def make(exchange_id: str, base_url: str, **kw: object) -> CcxtBroker:
        return _broker(exchange_id, base_url, fake_time, **kw)

    return make


@pytest.fixture
def ws_feeds() -> Iterator[Callable[..., CcxtWebsocketFeed]]:
    """``make(exchange_id, base_url, ws_url, seed, **kw)``: a fast CcxtWebsocketFeed on the
    real ccxt.pro client pointed at local fakes; every feed made is closed at teardown.

    Request it after the stream fixture, so the feeds close before their server stops.
    """
    feeds: list[CcxtWebsocketFeed] = []

    def make(
        exchange_id: str, base_url: str, ws_url: str, seed: int, **kw: object
    ) -> CcxtWebsocketFeed:
        ex = make_pro_exchange(
            exchange_id, base_url=base_url, ws_url=ws_url, timeout_ms=1000, enable_rate_limit=False
        )
        feed = CcxtWebsocketFeed(ex, rng=random.Random(seed), **{**FAST_WS, **kw})  # type: ignore[arg-type]
        feeds.append(feed)
        return feed

    yield make
    for feed in feeds:
        feed.close()
