"""``safe_call``/``run_signals`` turn crashes in user code into located ``StrategyError``s."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy import Indicators, load_file, run_signals, safe_call


def load(tmp_path: Path, body: str, *, direction: str = "long") -> type:
    source = textwrap.dedent(
        """\
        import numpy as np
        from stom_desktop.strategy import Param, Signals, Strategy


        class User(Strategy):
            direction = "{direction}"
            period = Param(5, 1, 1000)

            def signals(self, bars, ta):
        {body}
        """
    ).format(direction=direction, body=textwrap.indent(textwrap.dedent(body), " " * 8))
    path = tmp_path / "user_strategy.py"
    path.write_text(source, encoding="utf-8")
    return load_file(path)


def test_safe_call_returns_the_result() -> None:
    assert safe_call(divmod, 7, 2, where="divmod") == (3, 1)


def test_exception_points_at_the_user_line_not_numpy(tmp_path: Path, bars: BarSeries) -> None:
    cls = load(
        tmp_path,
        """\
        x = bars.close
        y = np.concatenate([x, x]).reshape(3, -1)  # line 11: numpy raises inside
        return Signals(entries=y > 0)
        """,
    )
    with pytest.raises(StrategyError) as info:
        run_signals(cls(), bars, Indicators(bars))
    error = info.value
    assert error.path == str(tmp_path / "user_strategy.py") and error.line == 11
    assert "user_strategy.signals raised ValueError: cannot reshape" in str(error)
    assert error.traceback_text is not None and "reshape(3, -1)" in error.traceback_text
    assert "safe_call.py" not in error.traceback_text.splitlines()[1]
    assert isinstance(error.__cause__, ValueError)


def test_indicator_errors_get_the_user_line(tmp_path: Path, bars: BarSeries) -> None:
    cls = load(tmp_path, "return Signals(entries=ta.sma(self.p.period) > 0)\n")
    with pytest.raises(StrategyError) as info:
        run_signals(cls(period=900), bars, Indicators(bars))
    assert info.value.line == 10
    assert "user_strategy.signals: ta.sma: period 900 is longer than the 500 bars" in str(
        info.value
    )


def test_system_exit_in_user_code_is_contained(tmp_path: Path, bars: BarSeries) -> None:
    cls = load(tmp_path, "raise SystemExit(3)\n")
    with pytest.raises(StrategyError, match="raised SystemExit: 3"):
        run_signals(cls(), bars, Indicators(bars))


def test_keyboard_interrupt_is_not_swallowed() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        safe_call(interrupted, where="test")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return None\n", r"user_strategy\.signals returned NoneType, not Signals"),
        ("return bars.close > 0\n", r"returned ndarray, not Signals"),
        (
            "return Signals(entries=bars.close[:-1] > 0)\n",
            r"signals\.entries has shape \(499,\), expected \(500,\)",
        ),
        (
            "return Signals(exits=ta.sma(self.p.period))\n",
            r"signals\.exits has dtype float64, expected bool",
        ),
    ],
)
def test_bad_return_values_are_refused(
    tmp_path: Path, bars: BarSeries, body: str, message: str
) -> None:
    cls = load(tmp_path, body)
    with pytest.raises(StrategyError, match=message) as info:
        run_signals(cls(), bars, Indicators(bars))
    assert "user_strategy.py:5" in str(info.value)  # the class definition


@pytest.mark.parametrize(
    ("direction", "expected"),
    [("long", [1, 1, 0, 0]), ("short", [0, 0, 1, 1]), ("both", [1, 1, 1, 1])],
)
def test_sides_not_traded_come_back_false(
    tmp_path: Path, bars: BarSeries, direction: str, expected: list[int]
) -> None:
    cls = load(
        tmp_path,
        """\
        on = np.ones(len(bars), dtype=bool)
        return Signals(entries=on, exits=on, short_entries=on, short_exits=on)
        """,
        direction=direction,
    )
    arrays = run_signals(cls(), bars, Indicators(bars))
    assert [int(a.all()) for a in arrays] == expected
    assert all(a.dtype == np.bool_ and a.shape == (len(bars),) for a in arrays)


def test_indicators_for_other_bars_are_a_caller_bug(tmp_path: Path, bars: BarSeries) -> None:
    cls = load(tmp_path, "return Signals()\n")
    with pytest.raises(ValueError, match="build one Indicators per BarSeries"):
        run_signals(cls(), bars, Indicators(bars.slice(0, 10)))
