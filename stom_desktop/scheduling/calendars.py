"""Exchange calendars: which days trade and when they open and close, with user overrides.

``KrxCalendar`` reads the Korea Exchange calendar (``XKRX``) from ``exchange_calendars``:
holidays and late opens (2026-01-02 opens at 10:00). The package is imported and built
lazily, once per process (import ~0.3 s, ``get_calendar`` ~1-3 s), so it never sits on the
start-up path. Its data ends about a year ahead; beyond that weekdays are assumed to trade
regular hours and a warning says so. ``CryptoCalendar`` trades 24/7 in UTC. Both apply the
user's :class:`~stom_desktop.scheduling.overrides.CalendarOverrides` on top.
"""

from __future__ import annotations

import logging
import threading
import warnings
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from stom_desktop.core.errors import ConfigurationError, StomError
from stom_desktop.scheduling.overrides import CalendarOverrides, DayOverride

log = logging.getLogger(__name__)

KRX = "XKRX"
CRYPTO = "24/7"
CALENDAR_NAMES = (KRX, CRYPTO)
# KRX regular hours, used beyond the package's horizon.
KRX_OPEN = time(9, 0)
KRX_CLOSE = time(15, 30)
_MAX_GAP_DAYS = 400

_xkrx_lock = threading.Lock()
_cache: dict[str, Any] = {}


class MarketCalendar(Protocol):
    """What the scheduler needs from an exchange calendar (times are tz-aware)."""

    name: str
    tz: ZoneInfo

    def is_session(self, day: date) -> bool:
        """True if the exchange trades on ``day`` (a local date)."""
        ...

    def open_at(self, day: date) -> datetime:
        """When ``day``'s session opens; raises ``StomError`` if it is not a session."""
        ...

    def close_at(self, day: date) -> datetime:
        """When ``day``'s session closes; raises ``StomError`` if it is not a session."""
        ...

    def next_session(self, after: date) -> date:
        """The first session strictly after ``after``."""
        ...


def _load_xkrx() -> Any:
    """The ``exchange_calendars`` XKRX calendar, built once per process (slow: seconds)."""
    with _xkrx_lock:
        if KRX not in _cache:
            import exchange_calendars  # lazy: ~0.3 s import, kept off the start-up path

            with warnings.catch_warnings():
                # The package trips pandas 3 deprecation warnings while building; not ours.
                warnings.simplefilter("ignore", DeprecationWarning)
                _cache[KRX] = exchange_calendars.get_calendar(KRX)
        return _cache[KRX]


def preload(name: str = KRX) -> None:
    """Build the package calendar now (call on a background thread at start-up)."""
    if name == KRX:
        _load_xkrx()


class _OverriddenCalendar:
    """Shared logic: a base rule for each day, then the user's override for that day."""

    name: str
    tz: ZoneInfo

    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        self._overrides = (overrides or CalendarOverrides()).for_calendar(self.name)

    def _base_hours(self, day: date) -> tuple[datetime, datetime] | None:
        raise NotImplementedError  # pragma: no cover - subclasses define the base rule

    def hours(self, day: date) -> tuple[datetime, datetime] | None:
        """``(open, close)`` of ``day``'s session, or None when the exchange is closed."""
        base = self._base_hours(day)
        override = self._overrides.get(day)
        if override is None:
            return base
        return self._apply(day, base, override)

    def _apply(
        self, day: date, base: tuple[datetime, datetime] | None, override: DayOverride
    ) -> tuple[datetime, datetime] | None:
        if override.closed:
            return None
        if base is None and (override.open is None or override.close is None):
            raise ConfigurationError(
                f"{day} is not a {self.name} session, so the override needs both open and close",
                key=f"calendar_overrides.{self.name}.{day.isoformat()}",
            )
        base_open, base_close = base if base is not None else (None, None)
        open_ = self._local(day, override.open) if override.open is not None else base_open
        close = self._local(day, override.close) if override.close is not None else base_close
        if open_ is None or close is None or open_ >= close:
            raise ConfigurationError(
                f"the override makes {day} open at {open_} and close at {close}",
                key=f"calendar_overrides.{self.name}.{day.isoformat()}",
            )
        return open_, close

    def _local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.tz)

    def is_session(self, day: date) -> bool:
        """True if the exchange trades on ``day``."""
        return self.hours(day) is not None

    def open_at(self, day: date) -> datetime:
        """When ``day``'s session opens."""
        return self._session(day)[0]

    def close_at(self, day: date) -> datetime:
        """When ``day``'s session closes."""
        return self._session(day)[1]

    def next_session(self, after: date) -> date:
        """The first session strictly after ``after``."""
        day = after
        for _ in range(_MAX_GAP_DAYS):
            day += timedelta(days=1)
            if self.is_session(day):
                return day
        raise StomError(f"{self.name}: no session within {_MAX_GAP_DAYS} days after {after}")

    def _session(self, day: date) -> tuple[datetime, datetime]:
        hours = self.hours(day)
        if hours is None:
            raise StomError(f"{day} is not a {self.name} session (holiday, weekend or override)")
        return hours

    def note(self, day: date) -> str:
        """The override's note for ``day`` ('' if none): shown in job results."""
        override = self._overrides.get(day)
        return override.note if override is not None else ""


class KrxCalendar(_OverriddenCalendar):
    """Korea Exchange (XKRX) sessions from ``exchange_calendars`` plus the user's overrides."""

    name = KRX
    tz = ZoneInfo("Asia/Seoul")

    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        super().__init__(overrides)
        self._warned_horizon = False

    def beyond_horizon(self, day: date) -> bool:
        """True when ``day`` lies outside the dates the package knows."""
        cal = _load_xkrx()
        return not (cal.first_session.date() <= day <= cal.last_session.date())

    def _base_hours(self, day: date) -> tuple[datetime, datetime] | None:
        cal = _load_xkrx()
        if self.beyond_horizon(day):
            self._warn_horizon(day, cal.last_session.date())
            if day.weekday() >= 5:
                return None
            return self._local(day, KRX_OPEN), self._local(day, KRX_CLOSE)
        import pandas as pd  # already imported by exchange_calendars

        session = pd.Timestamp(day)
        if not cal.is_session(session):
            return None
        opens = cal.session_open(session).to_pydatetime().astimezone(self.tz)
        closes = cal.session_close(session).to_pydatetime().astimezone(self.tz)
        return opens, closes

    def _warn_horizon(self, day: date, last: date) -> None:
        if not self._warned_horizon:
            self._warned_horizon = True
            log.warning(
                "%s calendar data ends %s: %s is assumed a regular weekday session "
                "(%s-%s); add an override in %s for holidays",
                self.name,
                last,
                day,
                KRX_OPEN.strftime("%H:%M"),
                KRX_CLOSE.strftime("%H:%M"),
                "calendar_overrides.json",
            )


class CryptoCalendar(_OverriddenCalendar):
    """24/7 markets: every UTC day is a session from 00:00 to the next 00:00."""

    name = CRYPTO
    tz = ZoneInfo("UTC")

    def _base_hours(self, day: date) -> tuple[datetime, datetime] | None:
        start = datetime.combine(day, time(0), tzinfo=self.tz)
        return start, start + timedelta(days=1)


def get_calendar(name: str, overrides: CalendarOverrides | None = None) -> _OverriddenCalendar:
    """The calendar called ``name`` (``XKRX`` or ``24/7``) with ``overrides`` applied.

    Without ``overrides`` the user's file is read, so edits apply to the next job run.
    """
    if overrides is None:
        overrides = CalendarOverrides.load()
    if name == KRX:
        return KrxCalendar(overrides)
    if name == CRYPTO:
        return CryptoCalendar(overrides)
    raise ConfigurationError(
        f"unknown calendar {name!r}; known: {', '.join(CALENDAR_NAMES)}", key="calendar"
    )


def local_date(calendar: MarketCalendar, moment: datetime) -> date:
    """The exchange-local date of ``moment`` (which must be aware)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}; attach a time zone")
    return moment.astimezone(calendar.tz).date()


def is_open(calendar: MarketCalendar, moment: datetime) -> bool:
    """True if ``moment`` falls inside that local day's session."""
    day = local_date(calendar, moment)
    if not calendar.is_session(day):
        return False
    return calendar.open_at(day) <= moment < calendar.close_at(day)
