"""Tests for parameter grid parsing, validation and constraint filtering."""

from __future__ import annotations

import pytest

from stom_desktop.backtest.param_grid import (
    ParamGrid,
    build_grid,
    parse_constraint,
    parse_param_spec,
)
from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy.base import Strategy
from stom_desktop.strategy.params import Param


class Demo(Strategy):
    fast = Param(10, 2, 200, 1)
    slow = Param(30, 5, 500, 5)
    sl = Param(0.02, 0.0, 0.5)
    long_only = Param(True)
    constraints = (("fast", "slow"),)


DECLARED = Demo.declared_params()
WHERE = "demo.py:1"


def test_inclusive_int_range() -> None:
    assert parse_param_spec("fast=5:50:5", DECLARED, WHERE) == (
        "fast",
        [5, 10, 15, 20, 25, 30, 35, 40, 45, 50],
    )


def test_range_without_step_uses_declared_step() -> None:
    assert parse_param_spec("slow=20:40", DECLARED, WHERE)[1] == [20, 25, 30, 35, 40]
    assert parse_param_spec("fast=3:6", DECLARED, WHERE)[1] == [3, 4, 5, 6]


def test_range_stop_not_on_step_is_not_exceeded() -> None:
    assert parse_param_spec("fast=5:17:5", DECLARED, WHERE)[1] == [5, 10, 15]


def test_list_and_fixed_values() -> None:
    assert parse_param_spec("fast=5,10,20", DECLARED, WHERE)[1] == [5, 10, 20]
    assert parse_param_spec(" fast = 10 ", DECLARED, WHERE)[1] == [10]
    values = parse_param_spec("fast=10", DECLARED, WHERE)[1]
    assert isinstance(values[0], int)


def test_float_range_has_no_drift() -> None:
    _, values = parse_param_spec("sl=0.01:0.05:0.01", DECLARED, WHERE)
    # exactly the literals, not 0.030000000000000002 from repeated addition
    assert values == [0.01, 0.02, 0.03, 0.04, 0.05]
    _, values = parse_param_spec("sl=0.1:0.3:0.1", DECLARED, WHERE)
    assert values == [0.1, 0.2, 0.3]
    assert all(isinstance(v, float) for v in values)


def test_bool_values() -> None:
    assert parse_param_spec("long_only=true,false", DECLARED, WHERE)[1] == [True, False]
    assert parse_param_spec("long_only=no", DECLARED, WHERE)[1] == [False]


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("nope=1:5", "unknown parameter 'nope'"),
        ("fast=1:5", "below its minimum 2"),
        ("fast=5,300", "above its maximum 200"),
        ("fast=abc", "must be int"),
        ("fast=5:10:2.5", "must be int"),
        ("fast=5:x:1", "'x' is not a number"),
        ("fast=10:5:1", "stop 5 is below start 10"),
        ("fast=5:10:0", "must be positive"),
        ("fast=5:10:-1", "must be positive"),
        ("fast=1:2:3:4", "start:stop"),
        ("fast", "expected name=value"),
        ("fast=", "expected name=value"),
        ("fast=5,,6", "empty value"),
        ("long_only=maybe", "must be bool"),
        ("long_only=0:1", "is a bool"),
        ("sl=0.1:0.2", "no declared step"),
    ],
)
def test_bad_specs_name_the_spec(spec: str, fragment: str) -> None:
    with pytest.raises(StrategyError) as info:
        parse_param_spec(spec, DECLARED, WHERE)
    message = str(info.value)
    assert fragment in message
    assert f"'{spec}'" in message
    assert WHERE in message


def test_huge_single_range_refused_without_materialising() -> None:
    with pytest.raises(StrategyError, match="range has"):
        parse_param_spec("sl=0:0.5:0.0000001", DECLARED, WHERE)


def test_grid_fast_lt_slow_from_strategy_constraints() -> None:
    grid = build_grid(Demo, ["fast=5:50:5", "slow=20:200:20"])
    assert isinstance(grid, ParamGrid)
    assert grid.unfiltered_size == 100
    assert len(grid) == 90  # the benchmark grid
    assert all(c["fast"] < c["slow"] for c in grid)
    assert grid.varying == ("fast", "slow")
    # parameters not given keep their defaults, every set is complete
    assert all(c["sl"] == 0.02 and c["long_only"] is True for c in grid)
    assert "10 removed by constraints" in grid.describe()
    # first combination in cartesian order
    assert next(iter(grid)) == {"fast": 5, "slow": 20, "sl": 0.02, "long_only": True}


def test_every_combination_constructs_the_strategy() -> None:
    grid = build_grid(Demo, ["fast=5:50:5", "slow=20:60:20", "sl=0.01,0.02"])
    for combo in grid:
        Demo(**combo)  # would raise if a constraint or range were violated


def test_user_constraints() -> None:
    grid = build_grid(
        Demo, ["fast=5:20:5", "slow=20:40:20"], constraints=["slow>=fast", "fast!=10"]
    )
    assert {(c["fast"], c["slow"]) for c in grid} == {
        (5, 20),
        (15, 20),
        (5, 40),
        (15, 40),
        (20, 40),
    }
    grid = build_grid(Demo, ["sl=0.01:0.05:0.01"], constraints=["sl<=0.03"])
    assert grid.values_of("sl") == [0.01, 0.02, 0.03]


def test_mapping_specs_are_validated_too() -> None:
    grid = build_grid(Demo, {"fast": [5, 10], "slow": [20]})
    assert [c["fast"] for c in grid] == [5, 10]
    with pytest.raises(StrategyError, match="above its maximum"):
        build_grid(Demo, {"fast": [500]})


def test_no_specs_gives_the_default_set() -> None:
    grid = build_grid(Demo)
    assert len(grid) == 1 and grid.varying == ()
    assert grid.combinations[0] == {"fast": 10, "slow": 30, "sl": 0.02, "long_only": True}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("fast slow", "expected 'name<other'"),
        ("fast<<slow", "neither a parameter nor a number"),
        ("nope<slow", "unknown parameter 'nope'"),
        ("fast<nope", "unknown parameter 'nope'"),
        ("fast<1x", "neither a parameter nor a number"),
    ],
)
def test_bad_constraints(text: str, fragment: str) -> None:
    with pytest.raises(StrategyError, match=fragment) as info:
        parse_constraint(text, DECLARED, WHERE)
    assert text in str(info.value)


def test_duplicate_param_refused() -> None:
    with pytest.raises(StrategyError, match="more than once"):
        build_grid(Demo, ["fast=5", "fast=6"])


def test_constraints_leaving_nothing_is_an_error() -> None:
    with pytest.raises(StrategyError, match="no parameter combination satisfies"):
        build_grid(Demo, ["fast=50", "slow=20:40:20"])


def test_absurd_grid_refused() -> None:
    with pytest.raises(StrategyError, match="limit"):
        build_grid(Demo, ["fast=2:200", "slow=5:500:5", "sl=0:0.5:0.01"])
    with pytest.raises(StrategyError, match=r"grid has 90 combinations; the limit is 50"):
        build_grid(Demo, ["fast=5:50:5", "slow=20:200:20"], max_combinations=50)
