"""The Strategy base class: one definition run by the backtester and the live engine.

A strategy is vectorised and causal. ``signals(bars, ta)`` receives the whole history
(a :class:`BarSeries`) and an :class:`~stom_desktop.strategy.indicator_cache.Indicators`
helper, and returns boolean arrays saying, for each bar ``i``, whether to enter or exit
*once bar i has closed*. Causal means element ``i`` may only depend on bars ``0..i``.

- The backtester calls ``signals`` once over all bars and hands the arrays to its
  compiled fill simulator.
- The live engine keeps each symbol's bar history and, when a bar closes, calls the same
  ``signals`` on that history and acts on the last element. Because signals are causal,
  the last element equals what the backtester saw at that bar: no second implementation.
  :func:`~stom_desktop.strategy.causality.check_causal` verifies this for any strategy.

Exits besides the signals: ``stop_loss``, ``take_profit`` and ``trailing_stop`` are
fractions of the entry price (``0.02`` = 2%), or ``None`` (or ``0``) for off. Declare a
``Param`` of the same name to make one tunable; including 0 in its range lets an optimiser
compare "no stop" with stops.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy.params import Param, ParamValues

if TYPE_CHECKING:
    from stom_desktop.strategy.indicator_cache import Indicators

BoolArray = npt.NDArray[np.bool_]
Direction = Literal["long", "short", "both"]
EXIT_RULES = ("stop_loss", "take_profit", "trailing_stop")


@dataclass(frozen=True, slots=True)
class Signals:
    """Per-bar decisions of a strategy, each a bool array as long as the bars (or None)."""

    entries: BoolArray | None = None
    exits: BoolArray | None = None
    short_entries: BoolArray | None = None
    short_exits: BoolArray | None = None

    def as_arrays(
        self, n: int, where: str = "strategy"
    ) -> tuple[BoolArray, BoolArray, BoolArray, BoolArray]:
        """``(entries, exits, short_entries, short_exits)``, ``None`` replaced by all-False.

        Each must be a bool array of length ``n``. Other dtypes are refused rather than
        cast: ``float`` NaN would silently become True.
        """
        out = []
        for name in ("entries", "exits", "short_entries", "short_exits"):
            value = getattr(self, name)
            if value is None:
                out.append(np.zeros(n, dtype=np.bool_))
                continue
            array = np.asarray(value)
            if array.shape != (n,):
                raise StrategyError(
                    f"signals.{name} has shape {array.shape}, expected ({n},) like the bars",
                    path=where,
                )
            if array.dtype != np.bool_:
                raise StrategyError(
                    f"signals.{name} has dtype {array.dtype}, expected bool",
                    path=where,
                    hint="build signals from comparisons (fast > slow) or crossed_above()",
                )
            out.append(np.ascontiguousarray(array))
        return out[0], out[1], out[2], out[3]


@dataclass(frozen=True, slots=True)
class ExitRules:
    """Protective exits as fractions of the entry price; ``None`` means off."""

    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None


class Strategy:
    """Base class of every strategy. Subclass it, declare ``Param``s, implement ``signals``.

    Example::

        class SmaCross(Strategy):
            fast = Param(10, 2, 200, 1, doc="fast SMA length")
            slow = Param(30, 5, 500, 5, doc="slow SMA length")

            def signals(self, bars, ta):
                fast, slow = ta.sma(self.p.fast), ta.sma(self.p.slow)
                up = crossed_above(fast, slow)
                return Signals(entries=up, exits=crossed_below(fast, slow))
    """

    #: Short machine name; defaults to the module's file name when loaded from a file.
    name: ClassVar[str] = ""
    #: Which sides the strategy trades.
    direction: ClassVar[Direction] = "long"
    #: Fixed protective exits, or a ``Param`` of the same name to make one tunable.
    stop_loss: ClassVar[float | Param | None] = None
    take_profit: ClassVar[float | Param | None] = None
    trailing_stop: ClassVar[float | Param | None] = None
    #: Pairs of parameter names that must satisfy ``first < second`` (e.g. fast < slow).
    constraints: ClassVar[tuple[tuple[str, str], ...]] = ()
    #: Memo of ``source_location()``; read from each class's own ``__dict__`` only.
    _source_location: ClassVar[str | None] = None

    def __init__(self, **params: Any) -> None:
        declared = self.declared_params()
        where = self.source_location()
        unknown = sorted(set(params) - set(declared))
        if unknown:
            raise StrategyError(
                f"{type(self).__name__} has no parameter(s) {', '.join(unknown)}; "
                f"declared: {', '.join(declared) or 'none'}",
                path=where,
            )
        values = {
            name: spec.coerce(name, params.get(name, spec.default), where)
            for name, spec in declared.items()
        }
        for low_name, high_name in self.constraints:
            low, high = values.get(low_name), values.get(high_name)
            if low is not None and high is not None and not low < high:
                raise StrategyError(
                    f"constraint {low_name} < {high_name} violated ({low} >= {high})", path=where
                )
        self.p = ParamValues(values)

    # -- what subclasses implement ---------------------------------------------------
    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        """Return entry/exit decisions for every bar (vectorised, causal)."""
        raise StrategyError(
            f"{type(self).__name__} does not implement signals(self, bars, ta)",
            path=self.source_location(),
        )

    # -- derived behaviour -----------------------------------------------------------
    @classmethod
    def declared_params(cls) -> dict[str, Param]:
        """Parameters declared on the class and its bases, in declaration order."""
        found: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for key, value in vars(klass).items():
                if isinstance(value, Param):
                    found[key] = value
        return found

    @classmethod
    def source_location(cls) -> str:
        """``file:line`` of the class definition, for error messages.

        Cached per class: ``inspect.getsourcelines`` re-parses the whole file (~1 ms, under
        the GIL), and an optimiser instantiates the class once per parameter set.
        """
        cached = cls.__dict__.get("_source_location")
        if isinstance(cached, str):
            return cached
        try:
            path = inspect.getsourcefile(cls) or "<unknown>"
            _, line = inspect.getsourcelines(cls)
            location = f"{path}:{line}"
        except (OSError, TypeError):
            location = f"<{cls.__module__}.{cls.__qualname__}>"
        cls._source_location = location
        return location

    @classmethod
    def strategy_name(cls) -> str:
        """``name`` if set (the loader sets the file stem), else the class name."""
        return cls.name or cls.__name__

    def exit_rules(self) -> ExitRules:
        """Protective exits for this instance: a same-named parameter wins over the class."""
        resolved: dict[str, float | None] = {}
        for rule in EXIT_RULES:
            value = getattr(self.p, rule) if rule in self.p else getattr(type(self), rule)
            if isinstance(value, Param):  # declared but read through the class attribute
                value = value.default
            if value is None or value == 0:  # 0 means off, so grids can include "no stop"
                resolved[rule] = None
                continue
            fraction = float(value)
            upper = float("inf") if rule == "take_profit" else 1.0
            if not 0.0 < fraction < upper:
                limit = "above 0" if rule == "take_profit" else "between 0 and 1"
                raise StrategyError(
                    f"{rule}={value} must be a fraction of the entry price {limit} (0 = off)",
                    path=self.source_location(),
                )
            resolved[rule] = fraction
        return ExitRules(**resolved)

    @property
    def warmup(self) -> int:
        """Bars of history needed before signals mean anything (largest int parameter)."""
        ints = [
            v for v in self.p.as_dict().values() if isinstance(v, int) and not isinstance(v, bool)
        ]
        return max(ints, default=1)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.p.as_dict().items())
        return f"{self.strategy_name()}({params})"
