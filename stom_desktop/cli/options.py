"""Option parsing shared by CLI commands (date ranges in the exchange's time zone)."""

from __future__ import annotations

from datetime import timedelta

from stom_desktop.core.bars import to_ms
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.utils.dates import parse_user_date


def date_range_ms(start: str | None, end: str | None, tz: str) -> tuple[int | None, int | None]:
    """``[start, end]`` as epoch ms; a date-only end includes that whole day."""
    try:
        start_ms = None if start is None else to_ms(parse_user_date(start, tz))
        end_ms = None
        if end is not None:
            moment = parse_user_date(end, tz)
            if moment.hour == 0 and moment.minute == 0 and moment.second == 0:
                moment = moment + timedelta(days=1)  # inclusive whole last day
            end_ms = to_ms(moment)
    except ValueError as exc:
        raise ConfigurationError(str(exc), key="start/end date") from exc
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise ConfigurationError(f"end {end} is not after start {start}", key="start/end date")
    return start_ms, end_ms
