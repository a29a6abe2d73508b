"""Which tray notifications the user wants (fills, errors, daily report).

Read from ``settings.notifications`` when the settings model has it (keys
``notifications.fills``, ``notifications.errors``, ``notifications.daily_report``, all
booleans, default True); until then the switches live in memory for this run only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("fills", "errors", "daily_report")
LABELS = {"fills": "Fills", "errors": "Errors", "daily_report": "Daily report"}


def settings_have_notifications(settings: Any) -> bool:
    """Whether the settings model defines the ``notifications`` sub-model (persistable)."""
    fields = getattr(type(settings), "model_fields", {})
    return "notifications" in fields


@dataclass
class NotificationPrefs:
    """On/off per notification kind."""

    fills: bool = True
    errors: bool = True
    daily_report: bool = True

    @classmethod
    def from_settings(cls, settings: Any) -> NotificationPrefs:
        """Read ``settings.notifications.<kind>`` defensively (missing -> enabled)."""
        section = getattr(settings, "notifications", None)
        return cls(**{kind: bool(getattr(section, kind, True)) for kind in KINDS})

    def enabled(self, kind: str) -> bool:
        """Whether notifications of ``kind`` are shown."""
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind!r}; expected {KINDS}")
        return bool(getattr(self, kind))

    def set(self, kind: str, on: bool) -> None:
        """Switch ``kind`` on or off."""
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind!r}; expected {KINDS}")
        setattr(self, kind, bool(on))
