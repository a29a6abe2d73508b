"""Parse the dates users type (2024-01-31, 20240131, 2024/01/31 09:00) in a given time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

_FORMATS = (
    "%Y-%m-%d",
    "%Y%m%d",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y%m%d%H%M",
    "%Y%m%d%H%M%S",
)


def parse_user_date(text: str, tz: str) -> datetime:
    """Interpret ``text`` as a moment in the time zone ``tz`` (ISO offsets are honoured).

    Raises ``ValueError`` listing the accepted formats when nothing matches.
    """
    cleaned = text.strip()
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        parsed = None
    if parsed is None:
        for fmt in _FORMATS:
            try:
                parsed = datetime.strptime(cleaned, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise ValueError(
            f"cannot read date {text!r}: use YYYY-MM-DD, YYYYMMDD or 'YYYY-MM-DD HH:MM'"
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(tz))
    return parsed
