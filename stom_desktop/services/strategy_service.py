"""Strategy use cases: list what is available, load one by name, build it with parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy import Strategy, StrategyInfo, discover, load_strategy


class StrategyService:
    """Finds strategies in the user folder first, then the bundled ``strategies/`` folder."""

    def __init__(self, user_dir: Path) -> None:
        self._user_dir = user_dir

    @property
    def search_dirs(self) -> list[Path]:
        return [self._user_dir]

    def list(self) -> list[StrategyInfo]:
        """Every strategy file found; broken ones are listed with their error."""
        return discover(self.search_dirs)

    def load_class(self, name_or_path: str) -> type[Strategy]:
        """The strategy class called ``name_or_path`` (a file stem or a path to a .py file)."""
        return load_strategy(name_or_path, self.search_dirs)

    def create(self, name_or_path: str, params: dict[str, Any] | None = None) -> Strategy:
        """Load and instantiate with ``params`` (values may be text from a command line)."""
        cls = self.load_class(name_or_path)
        return cls(**(params or {}))


def parse_param_pairs(pairs: list[str]) -> dict[str, str]:
    """Turn ``["fast=10", "slow=30"]`` into a dict; a malformed pair is named in the error."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise StrategyError(f"--param {pair!r}: expected NAME=VALUE, e.g. --param fast=10")
        if key.strip() in parsed:
            raise StrategyError(f"--param {key.strip()!r} given twice")
        parsed[key.strip()] = value.strip()
    return parsed
