"""Strategy editor: list, validate marks the error line, save versions, params, backtest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from PyQt6.QtGui import QTextDocument

from stom_desktop.gui.backtest_window import BacktestWindow
from stom_desktop.gui.python_highlighter import PythonHighlighter
from stom_desktop.gui.strategy_editor import TEMPLATE, StrategyEditorWindow
from stom_desktop.gui.workers import pending_tasks

SYNTAX_ERROR = TEMPLATE.replace("average = ta.sma(self.p.length)", "average = ta.sma(self.p.length")
NO_SIGNALS = '''"""No signals."""

from stom_desktop.strategy import Param, Strategy


class Empty(Strategy):
    """Declares a parameter but forgot signals."""

    n = Param(3, 1, 9)
'''


@pytest.fixture()
def app() -> Iterator[Any]:
    from stom_desktop.bootstrap import build_app

    ctx = build_app()
    yield ctx
    ctx.close()


@pytest.fixture()
def editor(qtbot: Any, app: Any) -> StrategyEditorWindow:
    win = StrategyEditorWindow(app)
    qtbot.addWidget(win)
    win.show()
    return win


def _group(editor: StrategyEditorWindow, title: str) -> list[str]:
    for i in range(editor.tree.topLevelItemCount()):
        group = editor.tree.topLevelItem(i)
        assert group is not None
        if group.text(0) == title:
            return [group.child(k).text(0) for k in range(group.childCount())]  # type: ignore[union-attr]
    raise AssertionError(title)


def test_lists_bundled_strategies_and_opens_one(editor: StrategyEditorWindow) -> None:
    assert {"sma_cross", "rsi_reversion", "donchian_breakout"} <= set(_group(editor, "Bundled"))
    bundled = editor.tree.topLevelItem(0)
    assert bundled is not None
    item = next(
        bundled.child(k)
        for k in range(bundled.childCount())
        if bundled.child(k).text(0) == "sma_cross"
    )  # type: ignore[union-attr]
    editor._open_item(item)
    assert editor.name.text() == "sma_cross"
    assert "class SmaCross(Strategy)" in editor.editor.toPlainText()
    assert editor.problems == [] and editor.status.text() == "No problems found."
    assert editor.params.ranges() == {
        "fast": (2, 50),
        "slow": (10, 200),
        "stop_loss": (0.0, 0.2),
        "take_profit": (0.0, 1.0),
    }


def test_validate_marks_the_syntax_error_line(editor: StrategyEditorWindow) -> None:
    editor.open_code("broken", SYNTAX_ERROR)
    error_line = SYNTAX_ERROR.splitlines().index("        average = ta.sma(self.p.length") + 1
    problems = editor.problems
    assert len(problems) == 1 and "syntax error" in problems[0].message
    # Python reports an unclosed "(" at the line that opened it
    assert problems[0].line == error_line
    assert editor.editor.problem_lines() == [error_line]
    assert editor.editor.underlined_lines() == [error_line]
    assert editor.editor.markers[error_line][0] == "error"
    assert editor.problem_list.count() == 1
    editor.editor.goto(1)
    item = editor.problem_list.item(0)
    assert item is not None
    editor._problem_clicked(item)
    assert editor.editor.textCursor().blockNumber() + 1 == error_line


def test_validate_reports_a_missing_signals_method_at_the_class(
    editor: StrategyEditorWindow,
) -> None:
    editor.open_code("empty", NO_SIGNALS)
    class_line = NO_SIGNALS.splitlines().index("class Empty(Strategy):") + 1
    assert [(p.line, "no signals" in p.message) for p in editor.problems] == [(class_line, True)]
    assert editor.editor.problem_lines() == [class_line]
    # fixing it clears the marks and fills the parameter form
    fixed = NO_SIGNALS + "\n    def signals(self, bars, ta):\n        return None\n"
    editor.editor.setPlainText(fixed)
    assert editor.validate() == []
    assert editor.editor.problem_lines() == [] and editor.editor.underlined_lines() == []
    assert editor.params.ranges() == {"n": (1, 9)}


def test_validate_reports_errors_raised_while_loading(editor: StrategyEditorWindow) -> None:
    code = TEMPLATE.replace('    direction = "long"', '    direction = "sideways"')
    editor.open_code("odd", code)
    assert len(editor.problems) == 1 and "direction" in editor.problems[0].message
    assert editor.problems[0].line == code.splitlines().index("class MyStrategy(Strategy):") + 1


def test_save_creates_versions_and_writes_the_user_file(
    editor: StrategyEditorWindow, app: Any
) -> None:
    from stom_desktop.persistence import StrategyRepository

    editor.new_strategy()
    editor.name.setText("my_trend")
    assert editor.save() == 1
    editor.editor.setPlainText(TEMPLATE.replace("Param(20,", "Param(30,"))
    assert editor.save() == 2
    repo = StrategyRepository(app.database)
    assert [v.version for v in repo.versions("my_trend")] == [1, 2]
    assert repo.get("my_trend", 2).parameters == {"length": 30}  # type: ignore[union-attr]
    assert "Param(30," in (editor.user_dir() / "my_trend.py").read_text()
    assert "my_trend" in _group(editor, "User folder")
    assert _group(editor, "Database") == ["my_trend"]
    # a broken edit is not saved
    editor.editor.setPlainText(SYNTAX_ERROR)
    assert editor.save() is None and "Not saved" in editor.status.text()
    assert len(repo.versions("my_trend")) == 2


def test_backtest_from_the_editor_runs_the_unsaved_code(
    qtbot: Any, editor: StrategyEditorWindow, app: Any
) -> None:
    app.data.generate("SIM1", "1d", 300, 3)
    opened: list[BacktestWindow] = []

    def open_backtest() -> BacktestWindow:
        win = BacktestWindow(app)
        qtbot.addWidget(win)
        opened.append(win)
        return win

    editor.open_backtest = open_backtest
    editor.new_strategy()
    editor.name.setText("draft")
    window = editor.backtest()
    assert window is opened[0]
    assert window.strategy.currentText() == "draft (editor)"
    assert window.params.ranges() == {"length": (5, 200)}
    window.run_button.click()
    qtbot.waitUntil(lambda: window.saved is not None, timeout=60_000)
    assert window.saved.result.strategy == "draft"
    assert window.saved.result.params == {"length": 20}
    qtbot.waitUntil(lambda: pending_tasks() == 0)


def test_highlighter_colours_keywords_strings_and_comments(qtbot: Any) -> None:
    doc = QTextDocument()
    highlighter = PythonHighlighter(doc)
    doc.setPlainText('def f(x):  # note\n    return "s"\n"""doc\nstring"""\nclass A:\n    pass\n')
    highlighter.rehighlight()

    def colour_at(line: int, column: int) -> str:
        block = doc.findBlockByNumber(line)
        for fmt in block.layout().formats():  # type: ignore[union-attr]
            if fmt.start <= column < fmt.start + fmt.length:
                return fmt.format.foreground().color().name()
        return ""

    keyword = highlighter.formats["keyword"].foreground().color().name()
    string = highlighter.formats["string"].foreground().color().name()
    comment = highlighter.formats["comment"].foreground().color().name()
    assert colour_at(0, 0) == keyword
    assert colour_at(0, 12) == comment
    assert colour_at(1, 12) == string
    assert colour_at(3, 2) == string  # inside a triple-quoted string on its second line
    assert colour_at(4, 0) == keyword  # the string closed: code is code again
    assert colour_at(5, 4) == keyword
