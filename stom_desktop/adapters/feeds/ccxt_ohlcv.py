"""Paginated OHLCV download through ccxt ``fetch_ohlcv``, yielding validated BarSeries pages.

Each page asks for ``limit`` bars from ``since``; the next page starts at the last bar's
open time plus one timeframe, so no bar is fetched twice and a gap in the venue's data
does not stall the loop. Bars that have not closed yet (open time + timeframe after the
venue's clock) are dropped: a download never stores a half-built candle. Reads are
retried with backoff (``ccxt_errors.VenueCaller``); a malformed page raises ``DataError``
naming the exchange, symbol and page.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import ccxt
import numpy as np

from stom_desktop.adapters.brokers.ccxt_errors import VenueCaller
from stom_desktop.core.bars import BarSeries, format_ts
from stom_desktop.core.enums import timeframe_seconds
from stom_desktop.core.errors import DataError


def iter_ohlcv_pages(
    exchange: ccxt.Exchange,
    caller: VenueCaller,
    symbol: str,
    timeframe: str,
    since_ms: int,
    until_ms: int | None = None,
    *,
    limit: int = 1000,
    now_ms: int | None = None,
) -> Iterator[BarSeries]:
    """Yield pages of closed bars with ``since_ms <= ts < until_ms``, oldest first."""
    step = timeframe_seconds(timeframe) * 1000
    clock = exchange.milliseconds() if now_ms is None else now_ms
    end = clock if until_ms is None else min(until_ms, clock)
    since = since_ms
    while since < end:
        source = f"{exchange.id} {symbol} {timeframe} page since {format_ts(since)}"
        rows = caller.read(
            "fetch_ohlcv", partial(exchange.fetch_ohlcv, symbol, timeframe, since, limit)
        )
        if not rows:
            return
        arr = np.asarray(rows, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] < 6:
            raise DataError(f"unexpected OHLCV shape {arr.shape}", source=source)
        ts = arr[:, 0].astype(np.int64)
        if np.any(np.diff(ts) <= 0):
            raise DataError("timestamps are not strictly increasing", source=source)
        keep = (ts >= since) & (ts < end) & (ts + step <= clock)
        page = BarSeries.from_arrays(
            symbol,
            timeframe,
            ts[keep],
            arr[keep, 1],
            arr[keep, 2],
            arr[keep, 3],
            arr[keep, 4],
            arr[keep, 5],
            source=source,
        )
        if len(page):
            yield page
        next_since = int(ts[-1]) + step
        if next_since <= since:  # the venue answered with old bars only: stop, do not loop
            return
        since = next_since
