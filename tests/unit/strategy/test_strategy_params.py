"""Param declaration, coercion and ranges; Strategy construction, constraints, exit rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy import ExitRules, Indicators, Param, Signals, Strategy


class Demo(Strategy):
    """A strategy with one parameter of each kind."""

    fast = Param(10, 2, 50, 2)
    slow = Param(30, 10, 200, 10)
    threshold = Param(0.5, 0.0, 1.0, 0.1)
    use_filter = Param(False)
    stop_loss = Param(None, 0.0, 0.2, 0.01)
    constraints = (("fast", "slow"),)

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        return Signals(entries=np.zeros(len(bars), dtype=bool))


def test_defaults_and_attribute_access() -> None:
    s = Demo()
    assert s.p.as_dict() == {
        "fast": 10,
        "slow": 30,
        "threshold": 0.5,
        "use_filter": False,
        "stop_loss": None,
    }
    assert "fast" in s.p and "nope" not in s.p and len(s.p) == 5
    with pytest.raises(AttributeError, match="read-only"):
        s.p.fast = 3
    with pytest.raises(AttributeError, match="no parameter named 'nope'"):
        _ = s.p.nope
    assert repr(s) == "Demo(fast=10, slow=30, threshold=0.5, use_filter=False, stop_loss=None)"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"fast": "12"}, 12),
        ({"fast": "12.0"}, 12),
        ({"fast": 12.0}, 12),
        ({"fast": np.int64(14)}, 14),
        ({"threshold": "0.25"}, 0.25),
        ({"use_filter": "yes"}, True),
        ({"use_filter": "False"}, False),
        ({"use_filter": 1}, True),
        ({"stop_loss": "0.02"}, 0.02),
    ],
)
def test_values_from_text_and_numbers_are_coerced(given: dict[str, Any], expected: Any) -> None:
    (name,) = given
    value = getattr(Demo(**given).p, name)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"fast": "12.5"}, r"parameter 'fast' must be int, got '12\.5'"),
        ({"fast": "ten"}, r"parameter 'fast' must be int, got 'ten'"),
        ({"fast": True}, r"parameter 'fast' must be int, got True"),
        ({"threshold": "nan"}, r"parameter 'threshold' must be float"),
        ({"use_filter": "maybe"}, r"parameter 'use_filter' must be bool"),
        ({"use_filter": 2}, r"parameter 'use_filter' must be bool"),
        ({"fast": 1}, r"parameter 'fast'=1 is below its minimum 2"),
        ({"slow": 500}, r"parameter 'slow'=500 is above its maximum 200"),
        ({"fast": None}, r"parameter 'fast' must not be empty"),
        ({"fats": 3}, r"Demo has no parameter\(s\) fats; declared: fast, slow"),
        ({"fast": 40, "slow": 30}, r"constraint fast < slow violated \(40 >= 30\)"),
        ({"fast": 30, "slow": 30}, r"constraint fast < slow violated"),
    ],
)
def test_invalid_values_raise_with_the_parameter_name(given: dict[str, Any], message: str) -> None:
    with pytest.raises(StrategyError, match=message) as info:
        Demo(**given)
    assert "test_strategy_params.py:" in str(info.value)  # where the class is defined


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((5, 10, 1), r"low 10 above high 1"),
        ((5, 1, 10, 0), r"step 0; it must be above 0"),
        ((50, 1, 10), r"default 50 outside its range 1\.\.10"),
    ],
)
def test_bad_declarations_are_refused(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(StrategyError, match=message):
        Param(*args)


def test_grid_and_kind() -> None:
    assert Demo.declared_params()["fast"].grid() == list(range(2, 51, 2))
    assert Demo.declared_params()["threshold"].grid()[:3] == pytest.approx([0.0, 0.1, 0.2])
    assert Demo.declared_params()["stop_loss"].kind is float
    assert Demo.declared_params()["use_filter"].kind is bool
    with pytest.raises(StrategyError, match="no range"):
        Param(1).grid()


def test_declared_params_are_inherited_in_order() -> None:
    class Child(Demo):
        extra = Param(3, 1, 5)

    assert list(Child.declared_params()) == [
        "fast",
        "slow",
        "threshold",
        "use_filter",
        "stop_loss",
        "extra",
    ]


def test_warmup_is_the_largest_int_parameter() -> None:
    assert Demo().warmup == 30
    assert Demo(slow=120).warmup == 120


def test_exit_rules_from_params_and_class_attributes() -> None:
    assert Demo().exit_rules() == ExitRules()
    assert Demo(stop_loss="0.03").exit_rules() == ExitRules(stop_loss=0.03)
    assert Demo(stop_loss=0).exit_rules() == ExitRules()  # 0 = off, so grids can include it

    class Fixed(Demo):
        take_profit = 0.5
        trailing_stop = 0.1

    assert Fixed(stop_loss=0.02).exit_rules() == ExitRules(0.02, 0.5, 0.1)

    class BigTarget(Demo):
        take_profit = 2.0  # +200% is a valid target

    assert BigTarget().exit_rules().take_profit == 2.0

    class BadStop(Demo):
        trailing_stop = 1.5

    with pytest.raises(StrategyError, match=r"trailing_stop=1\.5 must be a fraction"):
        BadStop().exit_rules()

    class NegativeTarget(Demo):
        take_profit = -0.1

    with pytest.raises(StrategyError, match=r"take_profit=-0\.1 .* above 0"):
        NegativeTarget().exit_rules()


def test_signals_as_arrays_checks_shape_and_dtype() -> None:
    n = 4
    full = Signals(entries=np.array([True, False, False, True])).as_arrays(n)
    assert [a.tolist() for a in full[1:]] == [[False] * 4] * 3
    with pytest.raises(StrategyError, match=r"signals\.exits has shape \(3,\), expected \(4,\)"):
        Signals(exits=np.zeros(3, dtype=bool)).as_arrays(n)
    with pytest.raises(StrategyError, match=r"signals\.entries has dtype float64, expected bool"):
        Signals(entries=np.array([0.0, 1.0, np.nan, 0.0])).as_arrays(n)


def test_base_signals_is_not_implemented(bars: BarSeries) -> None:
    class Empty(Strategy):
        pass

    with pytest.raises(StrategyError, match="Empty does not implement signals"):
        Empty().signals(bars, Indicators(bars))
