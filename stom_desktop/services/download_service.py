"""Download OHLCV history from an exchange into the bar store, resumable, chunk by chunk.

``download`` stores each page in its own transaction (``BarRepository.write``), so an
interruption (network, Ctrl-C, a cancel) keeps every page already stored; running the
same download again resumes after the last stored bar of that symbol and timeframe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import ccxt

from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.adapters.brokers.ccxt_errors import VenueCaller
from stom_desktop.adapters.feeds.ccxt_ohlcv import iter_ohlcv_pages
from stom_desktop.core.bars import to_ms
from stom_desktop.core.enums import timeframe_seconds
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.persistence import BarRepository, Database

#: progress(stored_so_far, expected_total, last_ts_ms)
ProgressCallback = Callable[[int, int, int | None], None]


@dataclass(frozen=True, slots=True)
class DownloadReport:
    """What a download stored."""

    exchange: str
    symbol: str
    timeframe: str
    bars: int
    pages: int
    first_ts: int | None
    last_ts: int | None
    resumed_from: int | None  # the stored bar the download continued after
    cancelled: bool


class DownloadService:
    """Fetch bars through ccxt and store them (one transaction per page)."""

    def __init__(
        self,
        database: Database,
        exchange_factory: Callable[[str], ccxt.Exchange] | None = None,
        *,
        page_limit: int = 1000,
    ) -> None:
        self._bars = BarRepository(database)
        self._factory = exchange_factory or make_exchange
        self._limit = page_limit

    def last_stored_ts(self, symbol: str, timeframe: str) -> int | None:
        """Open time of the newest stored bar of the series, ``None`` if none."""
        for info in self._bars.list_series():
            if info.symbol == symbol and info.timeframe == timeframe:
                return info.last_ts
        return None

    def download(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        since: datetime,
        until: datetime | None = None,
        *,
        progress: ProgressCallback | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> DownloadReport:
        """Download ``[since, until)`` (until: now), resuming after the last stored bar."""
        step = timeframe_seconds(timeframe) * 1000
        start, end = to_ms(since), None if until is None else to_ms(until)
        if end is not None and end <= start:
            raise ConfigurationError(f"until {until} is not after since {since}", key="until")
        last = self.last_stored_ts(symbol, timeframe)
        resumed = last if last is not None and last >= start else None
        if resumed is not None:
            start = resumed + step
        ex = self._factory(exchange)
        caller = VenueCaller(exchange, ex)
        now = ex.milliseconds()
        expected = max(0, ((end if end is not None else now) - start) // step)
        stored = pages = 0
        first_ts = last_ts = None
        cancelled = False
        for page in iter_ohlcv_pages(ex, caller, symbol, timeframe, start, end, limit=self._limit):
            if cancel is not None and cancel():
                cancelled = True
                break
            stored += self._bars.write(page)
            pages += 1
            first_ts = int(page.ts[0]) if first_ts is None else first_ts
            last_ts = int(page.ts[-1])
            if progress is not None:
                progress(stored, max(expected, stored), last_ts)
        return DownloadReport(
            exchange, symbol, timeframe, stored, pages, first_ts, last_ts, resumed, cancelled
        )
