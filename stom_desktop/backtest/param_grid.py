"""Parameter grids for optimisation: parse ``name=spec`` texts, validate, apply constraints.

Spec forms (one per parameter, as given to ``stom optimize --param``):

- ``fast=5:50:5``   inclusive range ``start:stop:step`` (``start:stop`` uses the
  parameter's declared step, or 1 for integers);
- ``fast=5,10,20``  an explicit list;
- ``fast=10``       a fixed value;
- ``sl=0.01:0.05:0.01`` floats: computed in ``Decimal`` so ``0.03`` is exactly the float
  ``0.03`` (no ``0.030000000000000002`` drift from repeated float addition);
- ``long_only=true,false`` booleans (``true/false/yes/no/1/0``).

Every value is validated by the strategy's declared :class:`Param` (type and range);
parameters not given keep their defaults. Combinations are filtered by the strategy's
``constraints`` (pairs ``(a, b)`` meaning ``a < b``) and by extra user constraints such as
``"fast<slow"`` or ``"sl<=0.05"``.
"""

from __future__ import annotations

import itertools
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy.base import Strategy
from stom_desktop.strategy.params import Param

ParamValue = int | float | bool | None

#: Refuse grids with more combinations than this (after constraints): hours of CPU.
MAX_COMBINATIONS = 100_000
#: Constraints typically drop about half a grid (fast<slow); a cartesian product more than
#: this many times the limit is refused before it is materialised.
_UNFILTERED_FACTOR = 10

_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "!=": operator.ne,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(<=|>=|!=|==|<|>)\s*(\S+)\s*$")


@dataclass(frozen=True, slots=True)
class Constraint:
    """``left op right`` where ``right`` is another parameter's name or a number."""

    left: str
    op: str
    right: str | float
    text: str

    def holds(self, values: Mapping[str, ParamValue]) -> bool:
        """True when the combination satisfies the constraint (``None`` values pass)."""
        a = values.get(self.left)
        b = values.get(self.right) if isinstance(self.right, str) else self.right
        if a is None or b is None:
            return True
        return bool(_OPERATORS[self.op](a, b))


@dataclass(frozen=True)
class ParamGrid:
    """The parameter sets to evaluate: full dicts (every declared parameter), in order.

    ``varying`` names the parameters that take more than one value (the columns worth
    showing); ``unfiltered_size`` is the cartesian product before constraints.
    """

    names: tuple[str, ...]
    varying: tuple[str, ...]
    combinations: tuple[dict[str, ParamValue], ...]
    unfiltered_size: int
    constraints: tuple[Constraint, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.combinations)

    def __iter__(self) -> Iterator[dict[str, ParamValue]]:
        return (dict(c) for c in self.combinations)

    def values_of(self, name: str) -> list[ParamValue]:
        """Distinct values of one parameter across the grid, in first-seen order."""
        return list(dict.fromkeys(c[name] for c in self.combinations))

    def describe(self) -> str:
        """One line for the user: size, filtered-out count and the varying parameters."""
        dropped = self.unfiltered_size - len(self)
        parts = [f"{len(self)} parameter set(s)"]
        if dropped:
            parts.append(f"{dropped} removed by constraints")
        if self.varying:
            parts.append("varying " + ", ".join(self.varying))
        return "; ".join(parts)


# -- parsing --------------------------------------------------------------------------------
def _spec_error(spec: str, message: str, where: str, hint: str | None = None) -> StrategyError:
    return StrategyError(f"--param '{spec}': {message}", path=where, hint=hint)


def _decimal(text: str, spec: str, where: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise _spec_error(spec, f"'{text.strip()}' is not a number", where) from exc
    if not value.is_finite():
        raise _spec_error(spec, f"'{text.strip()}' is not a finite number", where)
    return value


def _expand_range(
    name: str, body: str, param: Param, spec: str, where: str, limit: int
) -> list[Any]:
    parts = body.split(":")
    if len(parts) not in (2, 3):
        raise _spec_error(spec, "a range is start:stop or start:stop:step", where)
    if param.kind is bool:
        raise _spec_error(spec, f"'{name}' is a bool: list values (true,false)", where)
    start, stop = _decimal(parts[0], spec, where), _decimal(parts[1], spec, where)
    if len(parts) == 3:
        step = _decimal(parts[2], spec, where)
    elif param.step is not None:
        step = Decimal(str(param.step))
    elif param.kind is int:
        step = Decimal(1)
    else:
        raise _spec_error(spec, f"'{name}' is a float with no declared step: give one", where)
    if step <= 0:
        raise _spec_error(spec, f"step {step} must be positive", where)
    if stop < start:
        raise _spec_error(spec, f"stop {stop} is below start {start}", where)
    count = int((stop - start) // step) + 1
    if count > limit:
        raise _spec_error(
            spec, f"range has {count:,} values (limit {limit:,})", where, "use a larger step"
        )
    # Decimal arithmetic keeps 0.01:0.05:0.01 exact; float() then gives the nearest double,
    # i.e. the same float as typing the literal.
    return [str(start + i * step) for i in range(count)]


def parse_param_spec(
    spec: str, declared: Mapping[str, Param], where: str, *, limit: int = MAX_COMBINATIONS
) -> tuple[str, list[ParamValue]]:
    """Parse one ``name=spec`` text into the parameter name and its validated values."""
    name, sep, body = spec.partition("=")
    name, body = name.strip(), body.strip()
    if not sep or not name or not body:
        raise _spec_error(spec, "expected name=value, name=a,b,c or name=start:stop:step", where)
    if name not in declared:
        raise _spec_error(
            spec, f"unknown parameter '{name}'", where, f"declared: {', '.join(declared) or 'none'}"
        )
    param = declared[name]
    if ":" in body:
        raw: list[Any] = _expand_range(name, body, param, spec, where, limit)
    else:
        raw = [item.strip() for item in body.split(",")]
        if any(item == "" for item in raw):
            raise _spec_error(spec, "empty value in list", where)
    values: list[ParamValue] = []
    for item in raw:
        try:
            values.append(param.coerce(name, item, where))
        except StrategyError as exc:
            raise _spec_error(spec, exc.message, where) from exc
    unique = list(dict.fromkeys(values))
    return name, unique


def parse_constraint(text: str, declared: Mapping[str, Param], where: str) -> Constraint:
    """Parse ``"fast<slow"`` (or ``<=``, ``>``, ``>=``, ``==``, ``!=``; right side a name or
    a number) and check that the names are declared parameters."""
    match = _CONSTRAINT_RE.match(text)
    if match is None:
        raise StrategyError(
            f"--constraint '{text}': expected 'name<other' (operators < <= > >= == !=)",
            path=where,
        )
    left, op, right_text = match.groups()
    if left not in declared:
        raise StrategyError(
            f"--constraint '{text}': unknown parameter '{left}'",
            path=where,
            hint=f"declared: {', '.join(declared) or 'none'}",
        )
    right: str | float
    if re.fullmatch(r"[A-Za-z_]\w*", right_text):
        if right_text not in declared:
            raise StrategyError(
                f"--constraint '{text}': unknown parameter '{right_text}'",
                path=where,
                hint=f"declared: {', '.join(declared) or 'none'}",
            )
        right = right_text
    else:
        try:
            right = float(right_text)
        except ValueError as exc:
            raise StrategyError(
                f"--constraint '{text}': '{right_text}' is neither a parameter nor a number",
                path=where,
            ) from exc
    return Constraint(left, op, right, text.strip())


# -- building ---------------------------------------------------------------------------------
def build_grid(
    strategy_cls: type[Strategy],
    specs: Sequence[str] | Mapping[str, Sequence[Any]] = (),
    constraints: Sequence[str] = (),
    *,
    max_combinations: int = MAX_COMBINATIONS,
) -> ParamGrid:
    """The validated, constraint-filtered cartesian grid for ``strategy_cls``.

    ``specs`` is either CLI texts (``["fast=5:50:5", "slow=20:200:20"]``) or a mapping of
    name to values (``{"fast": [5, 10]}``, values validated the same way). Parameters not
    given keep their declared default. Raises :class:`StrategyError` naming the spec for an
    unknown parameter, a wrong type, an out-of-range value, a malformed spec, a grid larger
    than ``max_combinations`` or one that constraints leave empty.
    """
    declared = strategy_cls.declared_params()
    where = strategy_cls.source_location()
    chosen: dict[str, list[ParamValue]] = {}
    items: list[tuple[str, list[ParamValue]]] = []
    if isinstance(specs, Mapping):
        for name, vals in specs.items():
            text = f"{name}={','.join(str(v) for v in vals)}"
            items.append(parse_param_spec(text, declared, where, limit=max_combinations))
    else:
        for spec in specs:
            items.append(parse_param_spec(spec, declared, where, limit=max_combinations))
    for name, vals in items:
        if name in chosen:
            raise StrategyError(f"--param '{name}' is given more than once", path=where)
        chosen[name] = vals

    names = tuple(declared)
    axes = [chosen.get(n, [declared[n].default]) for n in names]
    unfiltered = math.prod(len(a) for a in axes)
    if unfiltered > _UNFILTERED_FACTOR * max_combinations:
        raise StrategyError(
            f"grid of {unfiltered:,} combinations is far beyond the limit of {max_combinations:,}",
            path=where,
            hint="use larger steps or fewer parameters",
        )
    rules = [Constraint(a, "<", b, f"{a}<{b}") for a, b in strategy_cls.constraints]
    rules += [parse_constraint(text, declared, where) for text in constraints]
    combos = tuple(
        combo
        for combo in (dict(zip(names, values, strict=True)) for values in itertools.product(*axes))
        if all(rule.holds(combo) for rule in rules)
    )
    if not combos:
        raise StrategyError(
            f"no parameter combination satisfies the constraints "
            f"({', '.join(r.text for r in rules)}) out of {unfiltered:,}",
            path=where,
        )
    if len(combos) > max_combinations:
        raise StrategyError(
            f"grid has {len(combos):,} combinations; the limit is {max_combinations:,}",
            path=where,
            hint="use larger steps or fewer parameters",
        )
    varying = tuple(n for n, axis in zip(names, axes, strict=True) if len(axis) > 1)
    return ParamGrid(names, varying, combos, unfiltered, tuple(rules))
