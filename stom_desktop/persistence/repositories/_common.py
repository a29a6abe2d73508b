"""Helpers shared by the repositories: JSON clean-up, clock, argument checks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np


def utc_now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def aware(moment: datetime | None, what: str) -> datetime:
    """``moment`` (or now) after checking it carries a time zone."""
    if moment is None:
        return utc_now()
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what}: naive datetime {moment!r}; attach a time zone (UTC)")
    return moment


def jsonable(value: Any, where: str) -> Any:
    """``value`` as plain JSON data, the same on SQLite and PostgreSQL.

    numpy scalars and arrays become Python numbers and lists, tuples become lists, and
    non-finite floats (a NaN Sharpe ratio, an infinite profit factor) become ``None``:
    PostgreSQL's JSON has no NaN. Anything else that JSON cannot hold raises ``TypeError``
    naming ``where``.
    """
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return jsonable(value.item(), where)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), where)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: JSON keys must be text, got {key!r}")
            out[key] = jsonable(item, f"{where}.{key}")
        return out
    if isinstance(value, list | tuple):
        return [jsonable(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{where}: {type(value).__name__} {value!r} cannot be stored as JSON")


def check_text(value: str, what: str, max_length: int) -> str:
    """``value`` if it is non-empty text of at most ``max_length`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be non-empty text, got {value!r}")
    if len(value) > max_length:
        raise ValueError(f"{what} {value[:20]!r}... is longer than {max_length} characters")
    return value
