"""Which tray notifications the user wants (fills, errors, daily report).

Read from ``settings.notifications`` (``fills``, ``errors``, ``daily_report``); the
Settings window saves changes there and this run follows them at once. Telegram has its
own switches for the same kinds (:data:`TELEGRAM_KEYS`), sent by the notification service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KINDS = ("fills", "errors", "daily_report")
LABELS = {"fills": "Fills", "errors": "Errors", "daily_report": "Daily report"}
#: The ``settings.notifications`` key of each kind's Telegram switch.
TELEGRAM_KEYS = {kind: f"telegram_{kind}" for kind in KINDS}


@dataclass
class NotificationPrefs:
    """On/off per notification kind."""

    fills: bool = True
    errors: bool = True
    daily_report: bool = True

    @classmethod
    def from_settings(cls, settings: Any) -> NotificationPrefs:
        """The switches saved in ``settings.notifications``."""
        section = settings.notifications
        return cls(**{kind: bool(getattr(section, kind)) for kind in KINDS})

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
