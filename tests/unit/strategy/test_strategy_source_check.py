"""``validate_source``: static problems with 1-based line/column, without running the code."""

from __future__ import annotations

import textwrap

from stom_desktop.strategy import Problem, bundled_dir, validate_source
from stom_desktop.strategy.source_check import is_allowed_import


def check(code: str) -> list[Problem]:
    return validate_source(textwrap.dedent(code), "editor.py")


def test_bundled_strategies_have_no_problems() -> None:
    for path in sorted(bundled_dir().glob("*.py")):
        assert validate_source(path.read_text(encoding="utf-8"), str(path)) == [], path.name


def test_syntax_error_position() -> None:
    (problem,) = check(
        """\
        from stom_desktop.strategy import Strategy

        class S(Strategy):
            def signals(self, bars, ta)
                pass
        """
    )
    assert (problem.line, problem.severity) == (4, "error")
    assert problem.column >= 1
    assert "syntax error" in problem.message and "def signals(self, bars, ta)" in problem.message


def test_disallowed_imports_are_reported_where_they_are() -> None:
    problems = check(
        """\
        import os
        from math import sqrt
        import numpy.typing as npt
        from stom_desktop.persistence import models
        from . import helper
        from stom_desktop.strategy import Signals, Strategy

        class S(Strategy):
            def signals(self, bars, ta):
                import requests
                return Signals()
        """
    )
    found = [(p.line, p.column, p.severity) for p in problems]
    assert found == [(1, 1, "error"), (4, 1, "error"), (5, 1, "error"), (10, 9, "error")]
    assert "'os'" in problems[0].message and "'stom_desktop.persistence'" in problems[1].message
    assert "relative imports" in problems[2].message and "'requests'" in problems[3].message


def test_allow_list() -> None:
    for ok in ("numpy", "numpy.lib.stride_tricks", "math", "stom_desktop.core.bars", "typing"):
        assert is_allowed_import(ok), ok
    for bad in ("os", "numpyx", "stom_desktop", "stom_desktop.adapters", "subprocess", "socket"):
        assert not is_allowed_import(bad), bad


def test_io_builtins_are_warnings() -> None:
    problems = check(
        """\
        from stom_desktop.strategy import Signals, Strategy

        class S(Strategy):
            def signals(self, bars, ta):
                secret = open("/etc/passwd").read()
                return Signals()
        """
    )
    assert [(p.line, p.column, p.severity) for p in problems] == [(5, 18, "warning")]
    assert str(problems[0]).startswith("5:18: warning: open()")


def test_missing_strategy_class_and_missing_signals() -> None:
    (none,) = check("import numpy as np\n\nclass Helper:\n    pass\n")
    assert none.line == 1 and "no class derived from Strategy" in none.message

    (missing,) = check(
        """\
        from stom_desktop.strategy import Param, Strategy


        class Lazy(Strategy):
            fast = Param(3, 1, 5)
        """
    )
    assert (missing.line, missing.column) == (4, 1)
    assert "class Lazy has no signals(self, bars, ta) method" in missing.message


def test_signals_inherited_from_a_base_in_the_same_file_counts() -> None:
    assert (
        check(
            """\
            import stom_desktop.strategy as api

            class Base(api.Strategy):
                def signals(self, bars, ta):
                    return api.Signals()

            class Concrete(Base):
                pass
            """
        )
        == []
    )


def test_signature_and_several_classes() -> None:
    problems = check(
        """\
        from stom_desktop.strategy import Strategy

        class A(Strategy):
            def signals(self, bars):
                pass

        class B(Strategy):
            def signals(self, bars, ta, extra=None):
                pass
        """
    )
    messages = [(p.line, p.message) for p in problems]
    assert messages[0] == (4, "signals must take exactly (self, bars, ta)")
    assert messages[1][0] == 7 and "several strategy classes (A, B)" in messages[1][1]
    assert len(problems) == 2  # B's optional extra argument is fine
