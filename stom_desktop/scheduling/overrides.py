"""User-editable calendar overrides: days the calendar package gets wrong or does not know yet.

Stored as JSON in the user config dir (``calendar_overrides.json``), keyed by calendar then
ISO date::

    {"XKRX": {"2025-11-13": {"open": "10:00", "close": "16:30", "note": "college entrance exam"},
              "2026-06-03": {"closed": true, "note": "local election"}}}

A day is either ``closed`` or has ``open``/``close`` local times (either may be omitted to keep
the calendar's own time; on a day the calendar thinks is closed both are required). Every
problem raises ``ConfigurationError`` naming the calendar, date and key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

from stom_desktop.config import app_paths
from stom_desktop.core.errors import ConfigurationError

FILE_NAME = "calendar_overrides.json"
_KEYS = frozenset({"closed", "open", "close", "note"})


@dataclass(frozen=True, slots=True)
class DayOverride:
    """What the user says about one day: closed, or trading between ``open`` and ``close``."""

    closed: bool = False
    open: time | None = None
    close: time | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (only the keys that are set)."""
        out: dict[str, Any] = {}
        if self.closed:
            out["closed"] = True
        if self.open is not None:
            out["open"] = self.open.strftime("%H:%M")
        if self.close is not None:
            out["close"] = self.close.strftime("%H:%M")
        if self.note:
            out["note"] = self.note
        return out


def default_path() -> Path:
    """Where the overrides live for this process (the user config dir)."""
    return app_paths().config_dir / FILE_NAME


class CalendarOverrides:
    """Per-calendar, per-day overrides; load/save JSON, validated on the way in."""

    def __init__(self, days: dict[str, dict[date, DayOverride]] | None = None) -> None:
        self._days: dict[str, dict[date, DayOverride]] = {
            name: dict(per_day) for name, per_day in (days or {}).items()
        }

    @classmethod
    def load(cls, path: Path | None = None) -> CalendarOverrides:
        """Read ``path`` (default: the user config dir); a missing file means no overrides."""
        file = path if path is not None else default_path()
        if not file.exists():
            return cls()
        try:
            raw = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"{file}:{exc.lineno}: not valid JSON ({exc.msg})",
                hint="fix or delete the file",
            ) from exc
        return cls.from_dict(raw, origin=str(file))

    @classmethod
    def from_dict(cls, raw: Any, *, origin: str = "calendar overrides") -> CalendarOverrides:
        """Validate the JSON structure; errors name ``calendar.date.key`` and ``origin``."""
        if not isinstance(raw, dict):
            raise ConfigurationError(
                'expected an object keyed by calendar name, e.g. {"XKRX": {...}}',
                key="calendar_overrides",
                hint=f"in {origin}",
            )
        days: dict[str, dict[date, DayOverride]] = {}
        for calendar, per_day in raw.items():
            if not isinstance(per_day, dict):
                raise ConfigurationError(
                    "expected an object keyed by ISO date",
                    key=f"calendar_overrides.{calendar}",
                    hint=f"in {origin}",
                )
            days[calendar] = {
                _parse_date(text, f"{calendar}.{text}", origin): parse_day(
                    value, f"{calendar}.{text}", origin
                )
                for text, value in per_day.items()
            }
        return cls(days)

    def to_dict(self) -> dict[str, dict[str, dict[str, Any]]]:
        """The JSON form, dates sorted."""
        return {
            name: {
                day.isoformat(): self._days[name][day].to_dict() for day in sorted(self._days[name])
            }
            for name in sorted(self._days)
        }

    def save(self, path: Path | None = None) -> Path:
        """Write atomically to ``path`` (default: the user config dir) and return the path."""
        file = path if path is not None else default_path()
        file.parent.mkdir(parents=True, exist_ok=True)
        tmp = file.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        tmp.replace(file)
        return file

    def for_calendar(self, name: str) -> dict[date, DayOverride]:
        """The overrides of one calendar (a copy)."""
        return dict(self._days.get(name, {}))

    def get(self, name: str, day: date) -> DayOverride | None:
        """The override for ``day`` on calendar ``name``, if any."""
        return self._days.get(name, {}).get(day)

    def set(self, name: str, day: date, override: DayOverride) -> None:
        """Add or replace one day's override (validated like the file)."""
        parse_day(override.to_dict(), f"{name}.{day.isoformat()}", "set()")
        self._days.setdefault(name, {})[day] = override

    def remove(self, name: str, day: date) -> bool:
        """Drop one day's override; True if there was one."""
        return self._days.get(name, {}).pop(day, None) is not None


def _parse_date(text: str, where: str, origin: str) -> date:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{text!r} is not an ISO date (YYYY-MM-DD)",
            key=f"calendar_overrides.{where}",
            hint=f"in {origin}",
        ) from exc


def _parse_time(value: Any, where: str, origin: str) -> time:
    try:
        hour, minute = (int(part) for part in str(value).split(":"))
        return time(hour, minute)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(
            f"{value!r} is not a local time HH:MM",
            key=f"calendar_overrides.{where}",
            hint=f"in {origin}",
        ) from exc


def parse_day(value: Any, where: str, origin: str) -> DayOverride:
    """Validate one day's JSON object (``where`` is ``calendar.date`` for error messages)."""

    def fail(message: str, key: str = "") -> ConfigurationError:
        full = f"calendar_overrides.{where}" + (f".{key}" if key else "")
        return ConfigurationError(message, key=full, hint=f"in {origin}")

    if not isinstance(value, dict):
        raise fail('expected an object like {"closed": true} or {"open": "10:00"}')
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise fail(f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    closed = value.get("closed", False)
    if not isinstance(closed, bool):
        raise fail(f"must be true or false, got {closed!r}", "closed")
    open_ = (
        None if value.get("open") is None else _parse_time(value["open"], f"{where}.open", origin)
    )
    close = (
        None
        if value.get("close") is None
        else _parse_time(value["close"], f"{where}.close", origin)
    )
    if closed and (open_ is not None or close is not None):
        raise fail("a closed day cannot also have open/close times", "closed")
    if not closed and open_ is None and close is None:
        raise fail('say "closed": true or give "open" and/or "close"')
    if open_ is not None and close is not None and open_ >= close:
        raise fail(f"open {open_:%H:%M} must be before close {close:%H:%M}", "open")
    note = value.get("note", "")
    if not isinstance(note, str):
        raise fail(f"must be text, got {note!r}", "note")
    return DayOverride(closed=closed, open=open_, close=close, note=note)
