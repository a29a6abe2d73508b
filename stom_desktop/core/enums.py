"""Enumerations shared by the domain: sides, timeframes, fill conventions."""

from __future__ import annotations

import re
from enum import StrEnum

from stom_desktop.core.errors import ConfigurationError


class Side(StrEnum):
    """Direction of an order or a position."""

    BUY = "buy"
    SELL = "sell"


class FillAt(StrEnum):
    """When a signal computed on bar ``i`` is filled."""

    NEXT_OPEN = "next_open"  # the default: at the open of bar i+1 (no look-ahead)
    CLOSE = "close"  # at the close of bar i (assumes you can trade the close)


_TIMEFRAME_RE = re.compile(r"^(\d+)(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def timeframe_seconds(timeframe: str) -> int:
    """Length of a bar timeframe such as ``1m``, ``15m``, ``1h`` or ``1d`` in seconds.

    Raises ``ConfigurationError`` naming the value when it cannot be parsed.
    """
    match = _TIMEFRAME_RE.match(timeframe.strip())
    if match is None or int(match.group(1)) <= 0:
        raise ConfigurationError(
            f"invalid timeframe {timeframe!r}",
            key="timeframe",
            hint="use a number and a unit: 1s, 1m, 5m, 15m, 1h, 4h, 1d, 1w",
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
