"""Exchange calendars: KRX holidays and late opens, 24/7 crypto, user overrides, horizon."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from stom_desktop.core.errors import ConfigurationError, StomError
from stom_desktop.scheduling.calendars import (
    CryptoCalendar,
    KrxCalendar,
    get_calendar,
    is_open,
)
from stom_desktop.scheduling.overrides import CalendarOverrides, DayOverride

SEOUL = ZoneInfo("Asia/Seoul")


def test_krx_new_year_is_closed_and_next_session_opens_late() -> None:
    cal = KrxCalendar(CalendarOverrides())
    assert not cal.is_session(date(2026, 1, 1))
    assert cal.next_session(date(2026, 1, 1)) == date(2026, 1, 2)
    assert cal.open_at(date(2026, 1, 2)) == datetime(2026, 1, 2, 10, 0, tzinfo=SEOUL)
    assert cal.close_at(date(2026, 1, 2)) == datetime(2026, 1, 2, 15, 30, tzinfo=SEOUL)
    assert cal.open_at(date(2026, 1, 5)) == datetime(2026, 1, 5, 9, 0, tzinfo=SEOUL)
    with pytest.raises(StomError, match="2026-01-01 is not a XKRX session"):
        cal.open_at(date(2026, 1, 1))


def test_krx_weekend_and_children_day_closed() -> None:
    cal = KrxCalendar(CalendarOverrides())
    assert not cal.is_session(date(2026, 1, 3))  # Saturday
    assert not cal.is_session(date(2026, 5, 5))  # Children's Day
    assert cal.next_session(date(2026, 1, 2)) == date(2026, 1, 5)


def test_override_sets_exam_day_hours_and_closes_a_day() -> None:
    overrides = CalendarOverrides.from_dict(
        {
            "XKRX": {
                "2025-11-13": {"open": "10:00", "close": "16:30", "note": "college entrance exam"},
                "2026-01-05": {"closed": True},
            }
        }
    )
    cal = KrxCalendar(overrides)
    exam = date(2025, 11, 13)
    assert cal.open_at(exam) == datetime(2025, 11, 13, 10, 0, tzinfo=SEOUL)
    assert cal.close_at(exam) == datetime(2025, 11, 13, 16, 30, tzinfo=SEOUL)
    assert cal.note(exam) == "college entrance exam"
    assert not cal.is_session(date(2026, 1, 5))
    assert cal.next_session(date(2026, 1, 2)) == date(2026, 1, 6)
    # Without the override the package says the exam day opens at 09:00.
    assert KrxCalendar(CalendarOverrides()).open_at(exam).time() == time(9, 0)


def test_override_can_open_a_day_only_with_both_times() -> None:
    holiday = date(2026, 1, 1)
    only_open = CalendarOverrides({"XKRX": {holiday: DayOverride(open=time(10, 0))}})
    with pytest.raises(ConfigurationError, match=r"XKRX\.2026-01-01"):
        KrxCalendar(only_open).is_session(holiday)
    both = CalendarOverrides({"XKRX": {holiday: DayOverride(open=time(10), close=time(12))}})
    assert KrxCalendar(both).close_at(holiday) == datetime(2026, 1, 1, 12, 0, tzinfo=SEOUL)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ({"XKRX": {"2026-13-01": {"closed": True}}}, "calendar_overrides.XKRX.2026-13-01"),
        ({"XKRX": {"2026-01-05": {"open": "25:00"}}}, "calendar_overrides.XKRX.2026-01-05.open"),
        ({"XKRX": {"2026-01-05": {"open": "16:00", "close": "10:00"}}}, "XKRX.2026-01-05.open"),
        ({"XKRX": {"2026-01-05": {"closed": True, "open": "10:00"}}}, "XKRX.2026-01-05.closed"),
        ({"XKRX": {"2026-01-05": {"opens": "10:00"}}}, "calendar_overrides.XKRX.2026-01-05"),
        ({"XKRX": {"2026-01-05": {}}}, "calendar_overrides.XKRX.2026-01-05"),
        ({"XKRX": ["2026-01-05"]}, "calendar_overrides.XKRX"),
    ],
)
def test_override_errors_name_the_date_and_key(raw: object, key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CalendarOverrides.from_dict(raw)
    assert key in str(caught.value)


def test_overrides_file_round_trip_and_bad_json(tmp_path: Path) -> None:
    file = tmp_path / "calendar_overrides.json"
    overrides = CalendarOverrides()
    overrides.set("XKRX", date(2025, 11, 13), DayOverride(open=time(10), close=time(16, 30)))
    overrides.save(file)
    loaded = CalendarOverrides.load(file)
    assert loaded.get("XKRX", date(2025, 11, 13)) == DayOverride(open=time(10), close=time(16, 30))
    assert json.loads(file.read_text())["XKRX"]["2025-11-13"] == {"open": "10:00", "close": "16:30"}
    file.write_text("{not json")
    with pytest.raises(ConfigurationError, match=r"calendar_overrides\.json:1"):
        CalendarOverrides.load(file)


def test_get_calendar_reads_the_user_file(stom_home: Path) -> None:
    (stom_home / "config").mkdir(parents=True)
    (stom_home / "config" / "calendar_overrides.json").write_text(
        json.dumps({"24/7": {"2026-02-01": {"closed": True}}})
    )
    cal = get_calendar("24/7")
    assert not cal.is_session(date(2026, 2, 1))
    assert cal.is_session(date(2026, 2, 2))
    with pytest.raises(ConfigurationError, match="unknown calendar 'NYSE'"):
        get_calendar("NYSE")


def test_crypto_trades_every_day_in_utc() -> None:
    cal = CryptoCalendar()
    saturday = date(2026, 1, 3)
    assert cal.is_session(saturday)
    assert cal.open_at(saturday) == datetime(2026, 1, 3, tzinfo=ZoneInfo("UTC"))
    assert (cal.close_at(saturday) - cal.open_at(saturday)).total_seconds() == 86_400
    assert is_open(cal, datetime(2026, 1, 3, 23, 59, tzinfo=SEOUL))


def test_is_open_inside_krx_session_only() -> None:
    cal = KrxCalendar(CalendarOverrides())
    assert is_open(cal, datetime(2026, 1, 2, 10, 30, tzinfo=SEOUL))
    assert not is_open(cal, datetime(2026, 1, 2, 9, 30, tzinfo=SEOUL))  # late open day
    assert not is_open(cal, datetime(2026, 1, 2, 15, 30, tzinfo=SEOUL))


def test_beyond_horizon_falls_back_to_weekdays_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cal = KrxCalendar(CalendarOverrides())
    far_monday, far_saturday = date(2030, 3, 4), date(2030, 3, 9)
    assert cal.beyond_horizon(far_monday)
    with caplog.at_level(logging.WARNING):
        assert cal.open_at(far_monday) == datetime(2030, 3, 4, 9, 0, tzinfo=SEOUL)
    assert not cal.is_session(far_saturday)
    assert "assumed a regular weekday session" in caplog.text
