"""The strategy editor: browse, edit, validate, save (versioned) and backtest strategies.

The list shows bundled strategies, the user's strategy folder and every strategy stored in
the database (each version a child row). **Save** refuses code with errors; otherwise it
stores a new version in the ``strategies`` table *and* writes ``NAME.py`` to the user
strategy folder, because the backtester, the scheduler and the CLI load strategies by name
from the folders: the database keeps the history, the folder holds the version in use (a
user copy of a bundled strategy shadows the bundled one). **Backtest** hands the current
text, saved or not, to the Backtest window.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.core.errors import StomError
from stom_desktop.gui.backtest_params import ParamForm
from stom_desktop.gui.code_editor import CodeEditor
from stom_desktop.gui.theme import theme_action
from stom_desktop.gui.window_state import remember
from stom_desktop.strategy import Problem, bundled_dir, load_from_code, validate_source

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SOURCE_ROLE = Qt.ItemDataRole.UserRole
TEMPLATE = '''"""My strategy: describe the idea in one line."""

from __future__ import annotations

from stom_desktop.core import BarSeries
from stom_desktop.strategy import Indicators, Param, Signals, Strategy, crossed_above, crossed_below


class MyStrategy(Strategy):
    """Long when the close crosses above its moving average; flat when it crosses below."""

    length = Param(20, 5, 200, 5, doc="moving average length (bars)")
    direction = "long"

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        average = ta.sma(self.p.length)
        return Signals(
            entries=crossed_above(bars.close, average), exits=crossed_below(bars.close, average)
        )
'''

BacktestOpener = Callable[[], Any]


class StrategyEditorWindow(QMainWindow):
    """List, code editor with problems, parameter form; Validate, Save, Backtest."""

    def __init__(
        self,
        ctx: Any,
        open_backtest: BacktestOpener | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.open_backtest = open_backtest
        self.problems: list[Problem] = []
        self.strategy_class: Any = None
        self.setWindowTitle("STOM Desktop \u2014 Strategies")
        self.resize(1200, 780)

        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Strategy", "Where"])
        self.tree.itemClicked.connect(self._open_item)
        new_button = QPushButton("New")
        new_button.clicked.connect(self.new_strategy)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.tree, 1)
        left_layout.addWidget(new_button)

        self.name = QLineEdit()
        self.name.setPlaceholderText("strategy name (file name without .py)")
        self.editor = CodeEditor()
        self.validate_button = QPushButton("Validate")
        self.validate_button.clicked.connect(self.validate)
        self.save_button = QPushButton("Save version")
        self.save_button.clicked.connect(self.save)
        self.backtest_button = QPushButton("Backtest\u2026")
        self.backtest_button.clicked.connect(self.backtest)
        self.status = QLabel("Open a strategy on the left or press New.")
        self.status.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Name"))
        bar.addWidget(self.name, 1)
        bar.addWidget(self.validate_button)
        bar.addWidget(self.save_button)
        bar.addWidget(self.backtest_button)
        self.problem_list = QListWidget()
        self.problem_list.itemClicked.connect(self._problem_clicked)
        self.problem_list.itemActivated.connect(self._problem_clicked)
        center_top = QWidget()
        top_layout = QVBoxLayout(center_top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(bar)
        top_layout.addWidget(self.editor, 1)
        center = QSplitter(Qt.Orientation.Vertical)
        center.setObjectName("editor_vertical")
        center.addWidget(center_top)
        problems_box = QWidget()
        problems_layout = QVBoxLayout(problems_box)
        problems_layout.setContentsMargins(0, 0, 0, 0)
        problems_layout.addWidget(QLabel("Problems"))
        problems_layout.addWidget(self.problem_list, 1)
        problems_layout.addWidget(self.status)
        center.addWidget(problems_box)
        center.setSizes([600, 160])

        self.params = ParamForm()
        params_box = QGroupBox("Parameters (declared)")
        params_layout = QVBoxLayout(params_box)
        params_layout.addWidget(self.params)
        params_layout.addStretch(1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setObjectName("editor_main")
        split.addWidget(left)
        split.addWidget(center)
        split.addWidget(params_box)
        split.setStretchFactor(1, 1)
        split.setSizes([240, 700, 260])
        split.setContentsMargins(6, 6, 6, 6)
        self.setCentralWidget(split)
        view = self.menuBar().addMenu("&View")  # type: ignore[union-attr]
        self.theme_action = theme_action(self)
        view.addAction(self.theme_action)  # type: ignore[union-attr]
        self.reload()
        remember(self, "strategy_editor")

    # -- list ----------------------------------------------------------------------------
    def _repo(self) -> Any:
        from stom_desktop.persistence import StrategyRepository

        return StrategyRepository(self.ctx.database)

    def user_dir(self) -> Path:
        """The user strategy folder (first search folder of the strategy service)."""
        return Path(self.ctx.strategies.search_dirs[0])

    def reload(self) -> None:
        """Re-read strategies from the folders and the database."""
        self.tree.clear()
        bundled = bundled_dir().resolve()
        groups = {
            "bundled": QTreeWidgetItem(["Bundled"]),
            "user": QTreeWidgetItem(["User folder"]),
            "db": QTreeWidgetItem(["Database"]),
        }
        for info in self.ctx.strategies.list():
            where = "bundled" if info.path.resolve().parent == bundled else "user"
            item = QTreeWidgetItem([info.name, "" if info.ok else "error"])
            item.setData(0, SOURCE_ROLE, ("file", info.name, str(info.path)))
            item.setToolTip(0, info.error or info.doc or str(info.path))
            groups[where].addChild(item)
        repo = self._repo()
        for record in repo.list():
            parent = QTreeWidgetItem([record.name, f"v{record.version}"])
            parent.setData(0, SOURCE_ROLE, ("db", record.name, record.version))
            for version in reversed(repo.versions(record.name)):
                child = QTreeWidgetItem(
                    [f"version {version.version}", f"{version.created_at:%Y-%m-%d %H:%M}"]
                )
                child.setData(0, SOURCE_ROLE, ("db", version.name, version.version))
                parent.addChild(child)
            groups["db"].addChild(parent)
        for group in groups.values():
            self.tree.addTopLevelItem(group)
            group.setExpanded(True)
        self.tree.resizeColumnToContents(0)

    def _open_item(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        source = item.data(0, SOURCE_ROLE)
        if source is None:
            return
        if source[0] == "file":
            self.open_code(source[1], Path(source[2]).read_text(encoding="utf-8"))
            return
        record = self._repo().get(source[1], int(source[2]))
        if record is not None:
            self.open_code(record.name, record.code)
            self.status.setText(f"{record.name} version {record.version} from the database.")

    def new_strategy(self) -> None:
        """Start from the template."""
        self.open_code("my_strategy", TEMPLATE)

    def open_code(self, name: str, code: str) -> None:
        """Put ``code`` in the editor under ``name`` and validate it."""
        self.name.setText(name)
        self.editor.setPlainText(code)
        self.validate()

    # -- validate ------------------------------------------------------------------------
    def validate(self) -> list[Problem]:
        """Check the code (syntax, API, then a real load); mark problems; refresh the form."""
        code, name = self.editor.toPlainText(), self.name.text().strip() or "strategy"
        problems = validate_source(code, f"{name}.py")
        self.strategy_class = None
        if not any(p.severity == "error" for p in problems):
            if not _NAME.match(name):
                problems.append(
                    Problem(1, 1, f"name {name!r}: use letters, digits and underscores")
                )
            else:
                try:
                    self.strategy_class = load_from_code(code, name)
                except StomError as exc:  # an error while running the module or in the class
                    line = getattr(exc, "line", None) or _line_of(exc) or 1
                    problems.append(Problem(int(line), 1, str(exc)))
        self.problems = sorted(problems, key=lambda p: (p.line, p.column))
        self.editor.set_problems(self.problems)
        self.problem_list.clear()
        for problem in self.problems:
            item = QListWidgetItem(str(problem))
            item.setData(SOURCE_ROLE, (problem.line, problem.column))
            self.problem_list.addItem(item)
        if self.strategy_class is not None:
            self.params.set_params(self.strategy_class.declared_params())
        errors = sum(1 for p in self.problems if p.severity == "error")
        warnings = len(self.problems) - errors
        self.status.setText(
            "No problems found."
            if not self.problems
            else f"{errors} error(s), {warnings} warning(s)."
        )
        return self.problems

    def _problem_clicked(self, item: QListWidgetItem) -> None:
        line, column = item.data(SOURCE_ROLE)
        self.editor.goto(int(line), int(column))

    # -- save / backtest -------------------------------------------------------------------
    def save(self) -> int | None:
        """Validate; with no errors store a new version and write NAME.py to the user folder."""
        problems = self.validate()
        errors = [p for p in problems if p.severity == "error"]
        if errors:
            self.status.setText(
                f"Not saved: fix {len(errors)} error(s) first (line {errors[0].line})."
            )
            return None
        name, code = self.name.text().strip(), self.editor.toPlainText()
        defaults = {k: p.default for k, p in self.strategy_class.declared_params().items()}
        version = int(self._repo().save_version(name, code, defaults))
        folder = self.user_dir()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.py"
        path.write_text(code, encoding="utf-8")
        self.reload()
        self.status.setText(f"Saved {name} version {version} (database) and {path}.")
        return version

    def backtest(self) -> Any:
        """Open the Backtest window with this code selected (saved or not)."""
        if self.open_backtest is None:
            self.status.setText("The Backtest window is not available here.")
            return None
        self.validate()
        if self.strategy_class is None:
            self.status.setText("Fix the errors before backtesting.")
            return None
        window = self.open_backtest()
        window.use_code(self.name.text().strip(), self.editor.toPlainText())
        return window


def _line_of(exc: BaseException) -> int | None:
    """The line number a ``StrategyError`` message mentions (``... line N ...``), if any."""
    match = re.search(r"line (\d+)", str(exc))
    return int(match.group(1)) if match else None
