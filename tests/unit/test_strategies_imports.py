"""Bundled strategies import only the plug-in API: ``stom_desktop.strategy``/``core``, numpy."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

STRATEGIES = Path(__file__).resolve().parents[2] / "strategies"
ALLOWED = ("stom_desktop.strategy", "stom_desktop.core", "numpy", "math", "typing", "__future__")


def imported_modules(tree: ast.Module) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, "." * node.level + (node.module or "")))
    return found


def allowed(module: str) -> bool:
    return any(module == root or module.startswith(root + ".") for root in ALLOWED)


def strategy_files() -> list[Path]:
    return sorted(STRATEGIES.glob("*.py"))


def test_there_are_bundled_strategies() -> None:
    assert len(strategy_files()) >= 3


@pytest.mark.parametrize("path", strategy_files(), ids=lambda p: p.name)
def test_strategy_imports_only_the_plugin_api(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [f"{path.name}:{line}: {module}" for line, module in imported_modules(tree)]
    bad = [entry for entry in bad if not allowed(entry.split(": ", 1)[1])]
    assert bad == []


def test_the_check_itself_rejects_other_imports() -> None:
    tree = ast.parse(
        "import os\nfrom stom_desktop.engine import x\nfrom . import y\nimport numpy\n"
    )
    modules = [module for _, module in imported_modules(tree)]
    assert [allowed(m) for m in modules] == [False, False, False, True]
