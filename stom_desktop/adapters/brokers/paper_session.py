"""When DAY orders expire: the venue's session close in the instrument's time zone.

Closes (local time): KRX and the built-in simulator 15:30 (Asia/Seoul; the simulator
follows KRX hours), Upbit and Binance trade 24/7, so a DAY order there lasts until the
next local midnight. No holiday calendar: a DAY order expires at the first close after
it was submitted (one placed after 15:30 lives until the next day's 15:30).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from stom_desktop.core.instruments import Instrument, Venue

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

#: Local close time per venue.
SESSION_CLOSE: dict[Venue, time] = {
    Venue.KRX: time(15, 30),
    Venue.SIM: time(15, 30),
    Venue.UPBIT: time(0, 0),
    Venue.BINANCE: time(0, 0),
}
#: Used when the broker knows no instrument for a symbol (KRX hours).
DEFAULT_TIMEZONE = "Asia/Seoul"
DEFAULT_CLOSE = time(15, 30)


def ms_to_datetime(ts_ms: int) -> datetime:
    """UTC datetime of epoch milliseconds."""
    return _EPOCH + timedelta(milliseconds=ts_ms)


def datetime_to_ms(when: datetime) -> int:
    """Epoch milliseconds of a timezone-aware datetime."""
    return (when - _EPOCH) // _MS


def next_close_ms(ts_ms: int, zone: ZoneInfo, close: time) -> int:
    """The first local ``close`` strictly after ``ts_ms``, as epoch milliseconds."""
    local = ms_to_datetime(ts_ms).astimezone(zone)
    candidate = datetime.combine(local.date(), close, tzinfo=zone)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), close, tzinfo=zone)
    return datetime_to_ms(candidate)


def session_close_for(instrument: Instrument | None) -> tuple[ZoneInfo, time]:
    """The time zone and local close time that end a DAY order of ``instrument``."""
    if instrument is None:
        return ZoneInfo(DEFAULT_TIMEZONE), DEFAULT_CLOSE
    return instrument.zone, SESSION_CLOSE.get(instrument.venue, DEFAULT_CLOSE)
