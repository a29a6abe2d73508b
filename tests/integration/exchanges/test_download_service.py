"""OHLCV download through ccxt from the fake Binance: pagination, resume, validation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from fake_exchanges import Fault, binance_bar

from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.core.errors import DataError, TemporaryBrokerError
from stom_desktop.persistence import BarRepository, create_database
from stom_desktop.services.download_service import DownloadService

SINCE = datetime(2024, 1, 1, tzinfo=UTC)
UNTIL = datetime(2024, 1, 1, 2, 0, tzinfo=UTC)  # 120 one-minute bars
SINCE_MS = 1_704_067_200_000


@pytest.fixture
def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = create_database(f"sqlite:///{tmp_path / 'bars.db'}")
    yield database
    database.dispose()


@pytest.fixture
def service(db, binance):  # type: ignore[no-untyped-def]
    def factory(name: str):  # type: ignore[no-untyped-def]
        return make_exchange(
            name, base_url=binance.base_url, timeout_ms=400, enable_rate_limit=False
        )

    return DownloadService(db, factory, page_limit=50)


def test_paginates_and_stores_every_bar_once(service, binance, db) -> None:
    seen: list[tuple[int, int]] = []
    report = service.download(
        "binance", "BTC/USDT", "1m", SINCE, UNTIL, progress=lambda d, t, _: seen.append((d, t))
    )
    assert (report.bars, report.pages) == (120, 3)
    assert seen == [(50, 120), (100, 120), (120, 120)]
    bars = BarRepository(db).load("BTC/USDT", "1m")
    assert len(bars) == 120
    assert np.array_equal(bars.ts, SINCE_MS + 60_000 * np.arange(120))
    assert bars.close[7] == float(binance_bar(SINCE_MS + 7 * 60_000)[4])
    starts = [int(p["startTime"]) for m, path, p in binance.requests if path == "/api/v3/klines"]
    assert starts == [SINCE_MS, SINCE_MS + 50 * 60_000, SINCE_MS + 100 * 60_000]


def test_resumes_after_a_failed_page(service, binance, db) -> None:
    failures = [Fault(502, None) for _ in range(4)]  # more than the read retries
    binance.inject(
        "GET", "/api/v3/klines", Fault(200, [binance_bar(SINCE_MS + i * 60_000) for i in range(50)])
    )
    binance.inject("GET", "/api/v3/klines", *failures)
    with pytest.raises(TemporaryBrokerError):
        service.download("binance", "BTC/USDT", "1m", SINCE, UNTIL)
    assert len(BarRepository(db).load("BTC/USDT", "1m")) == 50  # the first page was kept
    report = service.download("binance", "BTC/USDT", "1m", SINCE, UNTIL)
    assert report.resumed_from == SINCE_MS + 49 * 60_000
    assert report.bars == 70
    bars = BarRepository(db).load("BTC/USDT", "1m")
    assert np.array_equal(bars.ts, SINCE_MS + 60_000 * np.arange(120))


def test_invalid_page_is_refused_with_its_location(service, binance, db) -> None:
    bad = binance_bar(SINCE_MS)
    bad[2] = "1.0"  # high below low
    binance.inject("GET", "/api/v3/klines", Fault(200, [bad]))
    with pytest.raises(DataError, match=r"high .* is below low") as info:
        service.download("binance", "BTC/USDT", "1m", SINCE, UNTIL)
    assert "BTC/USDT 1m page since 2024-01-01" in str(info.value)
    assert len(BarRepository(db).load("BTC/USDT", "1m")) == 0


def test_cancel_stops_between_pages(service, db) -> None:
    calls = []
    report = service.download(
        "binance",
        "BTC/USDT",
        "1m",
        SINCE,
        UNTIL,
        progress=lambda d, t, _: calls.append(d),
        cancel=lambda: len(calls) >= 1,
    )
    assert report.cancelled and report.bars == 50
