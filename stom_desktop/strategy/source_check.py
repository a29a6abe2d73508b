"""Static checks of strategy source for the editor: ``validate_source`` never runs the code.

It reports syntax errors, a missing ``Strategy`` subclass or ``signals`` method, and
imports outside the plug-in API. The import allow-list keeps strategies portable and free
of I/O (a strategy must compute the same signals in a backtest and live); it is a lint, **not
a sandbox**: Python code can always reach I/O some other way, so only run strategies you
trust.

Allowed imports (and their submodules): ``stom_desktop.strategy``, ``stom_desktop.core``,
``numpy``, and I/O-free standard modules: ``math``, ``cmath``, ``statistics``, ``decimal``,
``fractions``, ``numbers``, ``typing``, ``__future__``, ``dataclasses``, ``enum``,
``functools``, ``itertools``, ``operator``, ``collections``, ``abc``, ``bisect``, ``heapq``,
``re``, ``string``, ``datetime``, ``zoneinfo``, ``copy``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Literal

ALLOWED_IMPORTS: frozenset[str] = frozenset(
    {
        "stom_desktop.strategy",
        "stom_desktop.core",
        "numpy",
        "math",
        "cmath",
        "statistics",
        "decimal",
        "fractions",
        "numbers",
        "typing",
        "__future__",
        "dataclasses",
        "enum",
        "functools",
        "itertools",
        "operator",
        "collections",
        "abc",
        "bisect",
        "heapq",
        "re",
        "string",
        "datetime",
        "zoneinfo",
        "copy",
    }
)

#: Built-ins that do I/O or run arbitrary code: reported as warnings.
SUSPICIOUS_CALLS = frozenset({"open", "exec", "eval", "compile", "__import__", "input"})


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: 1-based ``line`` and ``column``, a message, and its severity."""

    line: int
    column: int
    message: str
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: {self.severity}: {self.message}"


def is_allowed_import(module: str) -> bool:
    """True when ``module`` is on the allow-list or inside an allowed package."""
    return any(module == allowed or module.startswith(allowed + ".") for allowed in ALLOWED_IMPORTS)


def validate_source(code: str, filename: str = "<strategy>") -> list[Problem]:
    """Problems in strategy source ``code``, sorted by position (empty when it looks fine).

    ``filename`` is used only in messages. A syntax error is reported alone: nothing else
    can be checked on code that does not parse.
    """
    try:
        tree = ast.parse(code, filename=filename)
    except SyntaxError as exc:
        text = (exc.text or "").strip()
        detail = f"syntax error: {exc.msg}" + (f": {text}" if text else "")
        return [Problem(exc.lineno or 1, exc.offset or 1, detail)]
    except ValueError as exc:  # NUL bytes
        return [Problem(1, 1, f"cannot parse {filename}: {exc}")]
    problems = _import_problems(tree) + _call_problems(tree) + _class_problems(tree)
    return sorted(problems, key=lambda p: (p.line, p.column))


def _import_problems(tree: ast.Module) -> list[Problem]:
    problems: list[Problem] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(
                    _at(
                        node,
                        "relative imports are not allowed in strategies: a strategy is "
                        "one self-contained file",
                    )
                )
                continue
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            if not is_allowed_import(module):
                problems.append(
                    _at(
                        node,
                        f"import of '{module}' is outside the strategy API; allowed: "
                        "stom_desktop.strategy, stom_desktop.core, numpy, math and "
                        "I/O-free standard modules",
                    )
                )
    return problems


def _call_problems(tree: ast.Module) -> list[Problem]:
    problems: list[Problem] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in SUSPICIOUS_CALLS
        ):
            problems.append(
                _at(
                    node,
                    f"{node.func.id}() does I/O or runs code; strategies should only compute "
                    "from the bars they are given",
                    "warning",
                )
            )
    return problems


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.append(base.id)
        elif isinstance(base, ast.Attribute):
            names.append(base.attr)
    return names


def _class_problems(tree: ast.Module) -> list[Problem]:
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    strategies: dict[str, ast.ClassDef] = {}
    changed = True
    while changed:  # a class is a strategy if it derives from Strategy or from one in this file
        changed = False
        for name, node in classes.items():
            if name not in strategies and any(
                base == "Strategy" or base in strategies for base in _base_names(node)
            ):
                strategies[name] = node
                changed = True
    if not strategies:
        return [
            Problem(
                1,
                1,
                "no class derived from Strategy: add `from stom_desktop.strategy import "
                "Strategy` and `class MyStrategy(Strategy):`",
            )
        ]
    used_as_base = {b for node in strategies.values() for b in _base_names(node)}
    leaves = [node for name, node in strategies.items() if name not in used_as_base]
    problems: list[Problem] = []
    if len(leaves) > 1:
        names = ", ".join(node.name for node in leaves)
        problems.append(_at(leaves[1], f"several strategy classes ({names}); keep one per file"))
    for leaf in leaves:
        signals = _find_signals(leaf, strategies)
        if signals is None:
            problems.append(_at(leaf, f"class {leaf.name} has no signals(self, bars, ta) method"))
        elif not _takes_three(signals):
            problems.append(_at(signals, "signals must take exactly (self, bars, ta)"))
    return problems


def _find_signals(
    node: ast.ClassDef, strategies: dict[str, ast.ClassDef]
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The ``signals`` method of ``node`` or of a strategy base class in the same file."""
    pending, seen = [node], set()
    while pending:
        current = pending.pop(0)
        if current.name in seen:
            continue
        seen.add(current.name)
        for item in current.body:
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == "signals":
                return item
        pending.extend(strategies[b] for b in _base_names(current) if b in strategies)
    return None


def _takes_three(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    args = fn.args
    positional = len(args.posonlyargs) + len(args.args)
    required_kwonly = sum(1 for default in args.kw_defaults if default is None)
    if required_kwonly:
        return False
    if args.vararg is not None:
        return positional <= 3
    return positional - len(args.defaults) <= 3 <= positional


def _at(
    node: ast.stmt | ast.expr, message: str, severity: Literal["error", "warning"] = "error"
) -> Problem:
    return Problem(node.lineno, node.col_offset + 1, message, severity)
