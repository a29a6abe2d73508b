"""Trading hours of a market: when a simulated feed may emit events (exchange time zone)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stom_desktop.core.bars import to_ms
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.instruments import Instrument, Venue

#: A session end far in the future: "never closes" for 24/7 markets (year ~2262 in ms).
FOREVER_MS = 2**63 // 1_000_000
_SEARCH_DAYS = 400  # a calendar with no trading day in this many days is a mistake


@dataclass(frozen=True, slots=True)
class TradingHours:
    """Daily trading session ``open <= t < close`` in ``timezone`` on ``weekdays``.

    ``open``/``close`` of ``None`` mean the market never closes (crypto, 24/7).
    ``weekdays`` uses Monday = 0; ``holidays`` are local dates without a session. The
    exchange calendar (``exchange_calendars`` XKRX) is heavy to load and lives in the
    scheduling layer; pass its holidays here when a simulation needs them.
    """

    timezone: str
    open: time | None = None
    close: time | None = None
    weekdays: frozenset[int] = frozenset(range(7))
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError(
                f"trading hours: unknown time zone {self.timezone!r}", key="timezone"
            ) from exc
        if (self.open is None) != (self.close is None):
            raise ConfigurationError("trading hours: give both open and close, or neither")
        if self.open is not None and self.close is not None and self.open >= self.close:
            raise ConfigurationError(
                f"trading hours: open {self.open} must be before close {self.close}"
            )
        if not self.weekdays or not self.weekdays <= frozenset(range(7)):
            raise ConfigurationError("trading hours: weekdays must be a non-empty subset of 0..6")

    @property
    def always_open(self) -> bool:
        """True for a market without daily sessions (24/7)."""
        return self.open is None

    def session(self, ts_ms: int) -> tuple[int, int]:
        """``(open_ms, close_ms)`` of the session containing ``ts_ms``, else the next one.

        A 24/7 market has one endless session ``(0, FOREVER_MS)``.
        """
        if self.open is None or self.close is None:
            return 0, FOREVER_MS
        zone = ZoneInfo(self.timezone)
        day = datetime.fromtimestamp(ts_ms // 1000, zone).date()
        for _ in range(_SEARCH_DAYS):
            if day.weekday() in self.weekdays and day not in self.holidays:
                close_ms = to_ms(datetime.combine(day, self.close, zone))
                if ts_ms < close_ms:
                    return to_ms(datetime.combine(day, self.open, zone)), close_ms
            day += timedelta(days=1)
        raise ConfigurationError(
            f"trading hours {self.timezone}: no session within {_SEARCH_DAYS} days"
        )

    def is_open(self, ts_ms: int) -> bool:
        """Whether the market trades at ``ts_ms``."""
        open_ms, close_ms = self.session(ts_ms)
        return open_ms <= ts_ms < close_ms


#: KRX regular session: 09:00-15:30 Asia/Seoul, Monday to Friday.
KRX_HOURS = TradingHours("Asia/Seoul", time(9, 0), time(15, 30), frozenset(range(5)))
#: Crypto exchanges and the built-in simulator's own symbols: always open.
ALWAYS_OPEN = TradingHours("UTC")


def default_hours(instrument: Instrument) -> TradingHours:
    """KRX hours for KRX-listed instruments; 24/7 for crypto and simulator symbols.

    Simulator symbols (``SIM1``...) trade around the clock so that a demo session shows
    trades whenever it is started.
    """
    if instrument.venue is Venue.KRX:
        return KRX_HOURS
    return ALWAYS_OPEN
