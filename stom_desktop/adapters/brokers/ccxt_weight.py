"""Request-weight governor: reads the venue's usage headers and slows reads before a ban.

ccxt's own limiter spaces requests by a fixed per-endpoint cost; it does not know what
*else* used the IP's budget (the quote feed's client, another program on the same
address). Binance says it in every answer: ``X-MBX-USED-WEIGHT-1M`` is the weight used
in the current minute; the limit comes from ``exchangeInfo`` ``rateLimits``
(``REQUEST_WEIGHT``/``MINUTE``; 6,000 on spot, 2,400 on USDT-M when none is given).
Past the limit Binance answers 429 and then bans the IP (418).

Policy: after every answer (errors too) the header is read. Once the used weight reaches
``threshold`` (80 %) of the limit, each *read* first sleeps in proportion to how far
past the threshold the minute is: ``left_in_minute * (used - start) / (limit - start)``,
so at the limit it waits for the minute to roll over, at 90 % half of what is left.
One sleep is capped (``max_delay_s``) so the engine thread is never frozen for a whole
minute; the next read sleeps again while the minute still runs hot. Writes (orders,
cancels, the kill switch) are never delayed: they matter more than polling. Crossing the
threshold is logged once per minute window.

Upbit answers ``Remaining-Req: group=default; min=1800; sec=29``: when ``sec`` reaches
0 the next read waits for the next second.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

log = logging.getLogger(__name__)

WEIGHT_HEADER = "x-mbx-used-weight-1m"
UPBIT_HEADER = "remaining-req"
#: Binance's documented per-minute request weight when ``exchangeInfo`` says nothing.
DEFAULT_LIMITS = {"binance": 6000, "binanceusdm": 2400}
_RATE_LIMIT = re.compile(
    r'\{[^{}]*"rateLimitType"\s*:\s*"REQUEST_WEIGHT"[^{}]*\}', re.IGNORECASE | re.DOTALL
)
_FIELD = re.compile(r'"(interval|intervalNum|limit)"\s*:\s*"?([A-Za-z0-9]+)"?')
_UPBIT_SEC = re.compile(r"\bsec=(\d+)")


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """A response header by case-insensitive ``name`` (None when absent)."""
    if not headers:
        return None
    for key, value in dict(headers).items():
        if str(key).lower() == name:
            return None if value is None else str(value)
    return None


def minute_weight_limit(exchange_info_text: str | None) -> int | None:
    """The ``REQUEST_WEIGHT`` per 1 ``MINUTE`` limit in an ``exchangeInfo`` answer's text.

    Parsed with a regular expression, not ``json.loads``: the real answer lists every
    market (megabytes) and only this one object is needed.
    """
    if not exchange_info_text:
        return None
    for match in _RATE_LIMIT.finditer(exchange_info_text):
        fields = dict(_FIELD.findall(match.group(0)))
        if fields.get("interval", "").upper() == "MINUTE" and fields.get("intervalNum") == "1":
            try:
                return int(fields["limit"])
            except (KeyError, ValueError):
                return None
    return None


class WeightGovernor:
    """Tracks the venue's reported request weight and says how long a read should wait.

    ``wall`` is the wall clock (Binance windows are calendar minutes); tests inject one.
    """

    def __init__(
        self,
        venue: str,
        *,
        limit: int | None = None,
        threshold: float = 0.8,
        max_delay_s: float = 10.0,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        self.venue = venue
        self.limit = limit if limit is not None else DEFAULT_LIMITS.get(venue, 6000)
        self.threshold = threshold
        self.max_delay_s = max_delay_s
        self._wall = wall
        #: Last reported weight and the minute window (``floor(wall / 60)``) it belongs to.
        self.used: int | None = None
        self._window: int | None = None
        self._warned_window: int | None = None
        self._upbit_zero_at: float | None = None  # wall time an answer said sec=0
        #: Every delay asked for (seconds), for diagnostics and tests.
        self.delays: list[float] = []

    @property
    def start(self) -> float:
        """The used weight from which reads slow down."""
        return self.threshold * self.limit

    def set_limit(self, limit: int) -> None:
        """Use the venue's own limit (from ``exchangeInfo``)."""
        if limit > 0:
            self.limit = limit

    def observe(self, headers: Mapping[str, Any] | None) -> None:
        """Remember what the last answer's headers say about the budget."""
        raw = header(headers, WEIGHT_HEADER)
        now = self._wall()
        if raw is not None:
            try:
                used = int(raw)
            except ValueError:
                log.debug("%s: unreadable %s header %r", self.venue, WEIGHT_HEADER, raw)
            else:
                self.used, self._window = used, int(now // 60)
                if used >= self.start and self._warned_window != self._window:
                    self._warned_window = self._window
                    log.warning(
                        "%s: request weight %d of %d used this minute (>= %.0f%%): "
                        "slowing down reads until the minute rolls over",
                        self.venue,
                        used,
                        self.limit,
                        self.threshold * 100,
                    )
        upbit = header(headers, UPBIT_HEADER)
        if upbit is not None:
            match = _UPBIT_SEC.search(upbit)
            if match is not None:
                self._upbit_zero_at = now if int(match.group(1)) <= 0 else None

    def delay(self) -> float:
        """Seconds the next read should wait (0 when the budget is fine)."""
        now = self._wall()
        wait = 0.0
        if self.used is not None and self._window == int(now // 60) and self.used >= self.start:
            left = 60.0 - now % 60.0
            span = max(1.0, self.limit - self.start)
            wait = left * min(1.0, (self.used - self.start) / span)
        if self._upbit_zero_at is not None and int(now) == int(self._upbit_zero_at):
            wait = max(wait, 1.0 - now % 1.0)
        wait = min(wait, self.max_delay_s)
        if wait > 0:
            self.delays.append(wait)
        return wait
