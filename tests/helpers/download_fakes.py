"""A real ``DownloadService`` behind a gate that can hold its worker after a given page.

GUI tests use it to press Cancel at a known point of a download: the worker stops in the
progress callback of page ``hold_after`` until the test releases it, so "cancel midway"
does not depend on how fast the local fake exchange answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from stom_desktop.services.download_service import DownloadService


class GatedDownloads:
    """Delegates to ``service``; the progress callback of page ``hold_after`` blocks once."""

    def __init__(self, service: DownloadService, hold_after: int | None = None) -> None:
        self.service = service
        self.hold_after = hold_after
        self.reached = threading.Event()
        self.release = threading.Event()
        self.calls = 0

    def hold(self, after_pages: int) -> None:
        """Hold the next download after its ``after_pages``-th page."""
        self.reached.clear()
        self.release.clear()
        self.hold_after = after_pages

    def last_stored_ts(self, symbol: str, timeframe: str) -> int | None:
        return self.service.last_stored_ts(symbol, timeframe)

    def download(
        self,
        exchange: str,
        symbol: str,
        timeframe: str,
        since: datetime,
        until: datetime | None = None,
        *,
        progress: Callable[[int, int, int | None], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Any:
        self.calls += 1
        pages = 0
        hold_after, self.hold_after = self.hold_after, None

        def gated(done: int, total: int, last_ts: int | None) -> None:
            nonlocal pages
            if progress is not None:
                progress(done, total, last_ts)
            pages += 1
            if hold_after is not None and pages == hold_after:
                self.reached.set()
                if not self.release.wait(30):
                    raise TimeoutError("the test never released the download")

        return self.service.download(
            exchange, symbol, timeframe, since, until, progress=gated, cancel=cancel
        )
