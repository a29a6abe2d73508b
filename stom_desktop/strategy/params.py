"""Declared strategy parameters: a default, a range for optimisation, and validation."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from stom_desktop.core.errors import StrategyError


@dataclass(frozen=True, slots=True)
class Param:
    """One tunable parameter of a strategy.

    ``low``/``high`` bound what a user or an optimiser may set; ``step`` is the default grid
    step. The type of ``default`` decides the kind: ``int``, ``float`` or ``bool``; a
    ``None`` default (an optional exit such as ``stop_loss``) makes it a ``float`` that may
    be left empty. A declaration whose default lies outside ``low..high`` is refused when
    the strategy file is loaded.
    """

    default: int | float | bool | None
    low: int | float | None = None
    high: int | float | None = None
    step: int | float | None = None
    doc: str = ""

    def __post_init__(self) -> None:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise StrategyError(f"Param declared with low {self.low} above high {self.high}")
        if self.step is not None and not self.step > 0:
            raise StrategyError(f"Param declared with step {self.step}; it must be above 0")
        default = self.default
        if default is None or isinstance(default, bool):
            return
        if (self.low is not None and default < self.low) or (
            self.high is not None and default > self.high
        ):
            raise StrategyError(
                f"Param declared with default {default} outside its range {self.low}..{self.high}"
            )

    @property
    def kind(self) -> type:
        """``bool``, ``int`` or ``float``: the type values are converted to."""
        if isinstance(self.default, bool):
            return bool
        if isinstance(self.default, int):
            return int
        return float

    def coerce(self, name: str, value: Any, where: str) -> int | float | bool | None:
        """Convert ``value`` (possibly text from a command line) and check the range."""
        if value is None:
            if self.default is None:
                return None
            raise StrategyError(f"parameter '{name}' must not be empty", path=where)
        kind = self.kind
        if isinstance(value, bool) and kind is not bool:
            # bool is an int subclass: True would silently become 1 or 1.0
            raise StrategyError(
                f"parameter '{name}' must be {kind.__name__}, got {value!r}", path=where
            )
        try:
            if kind is bool:
                if isinstance(value, str):
                    lowered = value.strip().lower()
                    if lowered not in {"true", "false", "1", "0", "yes", "no"}:
                        raise ValueError(value)
                    converted: int | float | bool = lowered in {"true", "1", "yes"}
                elif isinstance(value, bool | np.bool_ | int | np.integer) and value in (0, 1):
                    converted = bool(value)
                else:
                    raise ValueError(value)
            elif kind is int:
                as_float = float(value)
                if not as_float.is_integer():
                    raise ValueError(value)
                converted = int(as_float)
            else:
                converted = float(value)
                if not np.isfinite(converted):
                    raise ValueError(value)
        except (TypeError, ValueError, OverflowError) as exc:
            raise StrategyError(
                f"parameter '{name}' must be {kind.__name__}, got {value!r}", path=where
            ) from exc
        if kind is not bool:
            if self.low is not None and converted < self.low:
                raise StrategyError(
                    f"parameter '{name}'={converted} is below its minimum {self.low}", path=where
                )
            if self.high is not None and converted > self.high:
                raise StrategyError(
                    f"parameter '{name}'={converted} is above its maximum {self.high}", path=where
                )
        return converted

    def grid(self) -> list[int | float]:
        """The default optimisation grid ``low..high`` by ``step`` (inclusive)."""
        if self.low is None or self.high is None:
            raise StrategyError("parameter has no range to build a grid from")
        step = self.step if self.step is not None else (1 if self.kind is int else None)
        if step is None:
            return list(np.linspace(float(self.low), float(self.high), 10))
        values = np.arange(self.low, self.high + step / 2, step)
        return [int(v) if self.kind is int else float(v) for v in values]


class ParamValues:
    """Resolved parameter values of one strategy instance, read as attributes (``p.fast``)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict[str, int | float | bool | None]) -> None:
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError as exc:
            raise AttributeError(f"no parameter named {name!r}") from exc

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("strategy parameters are read-only; create a new instance")

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __len__(self) -> int:
        return len(self._values)

    def as_dict(self) -> dict[str, int | float | bool | None]:
        """A copy of the values, in declaration order."""
        return dict(self._values)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"ParamValues({inner})"
