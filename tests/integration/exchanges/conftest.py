"""Fixtures: a local threaded HTTP server with fake Binance/Upbit and CcxtBrokers on them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_exchanges import API_KEY, SECRET, FakeBinance, FakeUpbit
from pytest_httpserver import HTTPServer

from stom_desktop.adapters.brokers.ccxt_broker import CcxtBroker
from stom_desktop.adapters.brokers.ccxt_client import make_exchange


class FakeTime:
    """Injected ``sleep``/``monotonic``: sleeping only advances the clock."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", threaded=True)
    srv.no_handler_status_code = 404  # the default 500 would look like a venue outage
    srv.start()
    yield srv
    srv.clear()
    srv.stop()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def binance(server: HTTPServer) -> FakeBinance:
    return FakeBinance(server)


@pytest.fixture
def upbit(server: HTTPServer) -> FakeUpbit:
    return FakeUpbit(server)


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
