"""Loading strategies by name, path and code; errors name the file and line."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy import (
    Strategy,
    bundled_dir,
    discover,
    load_file,
    load_from_code,
    load_strategy,
)

GOOD = textwrap.dedent(
    '''
    """A user strategy."""
    import numpy as np

    from stom_desktop.strategy import Param, Signals, Strategy


    class Mine(Strategy):
        """Buys every bar.

        More text.
        """

        period = Param(5, 1, 10)

        def signals(self, bars, ta):
            return Signals(entries=np.ones(len(bars), dtype=bool))
    '''
)


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def strategy_modules() -> set[str]:
    return {name for name in sys.modules if name.startswith("_stom_strategy_")}


def test_bundled_folder_sits_next_to_the_package() -> None:
    assert bundled_dir() == Path(__file__).resolve().parents[3] / "strategies"
    assert (bundled_dir() / "sma_cross.py").is_file()


def test_load_bundled_by_name() -> None:
    cls = load_strategy("sma_cross")
    assert issubclass(cls, Strategy) and cls.__name__ == "SmaCross"
    assert cls.strategy_name() == "sma_cross"
    assert cls.source_location().endswith("sma_cross.py:9")


def test_user_folder_is_searched_first_and_paths_work(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write(user, "sma_cross.py", GOOD)
    assert load_strategy("sma_cross", [user]).__name__ == "Mine"  # shadows the bundled one
    path = write(tmp_path / "elsewhere", "any_name.py", GOOD)
    cls = load_strategy(str(path))
    assert cls.strategy_name() == "any_name" and cls.__name__ == "Mine"
    assert load_strategy(path).__name__ == "Mine"


def test_unknown_and_invalid_names(tmp_path: Path) -> None:
    with pytest.raises(StrategyError, match="no strategy named 'nope'") as info:
        load_strategy("nope", [tmp_path])
    assert "sma_cross" in str(info.value)  # the hint lists what is available
    with pytest.raises(StrategyError, match="invalid strategy name"):
        load_strategy("bad name")
    with pytest.raises(StrategyError, match="strategy file not found"):
        load_file(tmp_path / "missing.py")


def test_syntax_error_names_file_line_and_text(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "broken.py",
        """\
        from stom_desktop.strategy import Strategy

        class Broken(Strategy):
            def signals(self, bars, ta)
                return None
        """,
    )
    before = strategy_modules()
    with pytest.raises(StrategyError) as info:
        load_file(path)
    error = info.value
    assert error.path == str(path) and error.line == 4
    assert f"{path}:4: syntax error" in str(error)
    assert "def signals(self, bars, ta)" in str(error)
    assert strategy_modules() == before


def test_error_at_import_names_innermost_line_in_the_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "crashes.py",
        """\
        from stom_desktop.strategy import Strategy

        def helper():
            return {}["missing"]

        VALUE = helper()
        """,
    )
    before = strategy_modules()
    with pytest.raises(StrategyError, match=r"error while loading: KeyError: 'missing'") as info:
        load_file(path)
    assert info.value.line == 4 and f"{path}:4" in str(info.value)
    assert info.value.traceback_text is not None
    assert "Traceback" in info.value.traceback_text
    assert 'return {}["missing"]' in info.value.traceback_text
    assert strategy_modules() == before


def test_bad_param_declaration_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad_param.py",
        """\
        from stom_desktop.strategy import Param, Strategy

        class Bad(Strategy):
            fast = Param(100, 1, 10)
        """,
    )
    with pytest.raises(StrategyError, match=r"default 100 outside its range") as info:
        load_file(path)
    assert info.value.line == 4


def test_no_strategy_subclass(tmp_path: Path) -> None:
    path = write(tmp_path, "plain.py", "import numpy as np\n\nclass NotAStrategy:\n    pass\n")
    with pytest.raises(StrategyError, match="no Strategy subclass found") as info:
        load_file(path)
    assert info.value.path == str(path)


def test_missing_signals_names_the_class_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "lazy.py",
        """\
        from stom_desktop.strategy import Param, Strategy


        class Lazy(Strategy):
            fast = Param(3, 1, 5)
        """,
    )
    with pytest.raises(StrategyError, match="class Lazy does not implement signals") as info:
        load_file(path)
    assert info.value.line == 4 and f"{path}:4" in str(info.value)


def test_wrong_signals_signature_direction_and_constraints(tmp_path: Path) -> None:
    header = "from stom_desktop.strategy import Param, Signals, Strategy\n\n"
    cases = {
        "sig.py": "class S(Strategy):\n    def signals(self, bars):\n        pass\n",
        "direction.py": (
            "class S(Strategy):\n    direction = 'sideways'\n"
            "    def signals(self, bars, ta):\n        pass\n"
        ),
        "constraint.py": (
            "class S(Strategy):\n    fast = Param(1, 1, 5)\n    constraints = (('fast', 'slow'),)\n"
            "    def signals(self, bars, ta):\n        pass\n"
        ),
        "defaults.py": (
            "class S(Strategy):\n    a = Param(5, 1, 9)\n    b = Param(3, 1, 9)\n"
            "    constraints = (('a', 'b'),)\n    def signals(self, bars, ta):\n        pass\n"
        ),
    }
    messages = {
        "sig.py": r"S\.signals must take \(self, bars, ta\)",
        "direction.py": r"S\.direction is 'sideways'",
        "constraint.py": r"constraints entry \('fast', 'slow'\) must be two declared",
        "defaults.py": r"constraint a < b violated \(5 >= 3\)",
    }
    for name, body in cases.items():
        path = write(tmp_path, name, header + body)
        with pytest.raises(StrategyError, match=messages[name]) as info:
            load_file(path)
        assert str(path) in str(info.value)


def test_helper_base_classes_and_several_strategies(tmp_path: Path) -> None:
    based = write(
        tmp_path,
        "based.py",
        """\
        import numpy as np
        from stom_desktop.strategy import Signals, Strategy

        class Base(Strategy):
            def signals(self, bars, ta):
                return Signals(entries=np.zeros(len(bars), dtype=bool))

        class Concrete(Base):
            direction = "both"
        """,
    )
    assert load_file(based).__name__ == "Concrete"
    two = write(
        tmp_path,
        "two.py",
        """\
        from stom_desktop.strategy import Strategy

        class A(Strategy):
            def signals(self, bars, ta):
                pass

        class B(Strategy):
            def signals(self, bars, ta):
                pass
        """,
    )
    with pytest.raises(StrategyError, match=r"several Strategy classes \(A \(line 3\), B"):
        load_file(two)


def test_failed_reload_keeps_the_previous_version(tmp_path: Path) -> None:
    path = write(tmp_path, "evolving.py", GOOD)
    first = load_file(path)
    module_name = first.__module__
    path.write_text("def (\n", encoding="utf-8")
    with pytest.raises(StrategyError, match="syntax error"):
        load_file(path)
    assert sys.modules[module_name].Mine is first
    path.write_text("this is not python  # but valid syntax: a NameError\n", encoding="utf-8")
    with pytest.raises(StrategyError, match="NameError: name 'this' is not defined"):
        load_file(path)
    assert sys.modules[module_name].Mine is first


def test_load_from_code_reports_pseudo_file_lines() -> None:
    cls = load_from_code(GOOD, "from_db")
    assert cls.strategy_name() == "from_db" and cls.__name__ == "Mine"
    assert "<strategy from_db #" in cls.source_location()
    assert cls.source_location().endswith(":8")  # inspect finds the class in linecache

    crashing = GOOD.replace("import numpy as np", "import numpy as np\n1 / 0")
    with pytest.raises(StrategyError, match="ZeroDivisionError") as info:
        load_from_code(crashing, "from_db")
    assert info.value.line == 4
    assert info.value.path is not None and info.value.path.startswith("<strategy from_db #")
    assert "1 / 0" in (info.value.traceback_text or "")
    with pytest.raises(StrategyError, match=r"syntax error.*: def \(") as syntax:
        load_from_code("def (", "broken")
    assert syntax.value.line == 1
    with pytest.raises(StrategyError, match="invalid strategy name"):
        load_from_code(GOOD, "../etc")


def test_discover_lists_bundled_and_user_strategies(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write(user, "mine.py", GOOD)
    write(user, "broken.py", "x = (\n")
    write(user, "_helper.py", "raise RuntimeError('never loaded')\n")
    found = {info.name: info for info in discover([user])}
    assert {"mine", "broken", "sma_cross", "rsi_reversion", "donchian_breakout"} <= set(found)
    assert "_helper" not in found
    mine = found["mine"]
    assert mine.ok and mine.class_name == "Mine" and mine.doc == "Buys every bar."
    assert list(mine.params) == ["period"] and mine.direction == "long" and mine.line == 8
    broken = found["broken"]
    assert not broken.ok and broken.error is not None and "broken.py:1" in broken.error
    assert found["sma_cross"].path == bundled_dir() / "sma_cross.py"
    only_user = discover([user], include_bundled=False)
    assert {info.name for info in only_user} == {"mine", "broken"}
