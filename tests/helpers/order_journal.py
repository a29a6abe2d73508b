"""Order-journal helpers for tests: a migrated SQLite database per test, made fast."""

from __future__ import annotations

import tempfile
from pathlib import Path

from stom_desktop.persistence import create_database

_TEMPLATE: dict[str, bytes] = {}


def fresh_sqlite_url(folder: Path) -> str:
    """A migrated SQLite database in ``folder`` (copied from a template migrated once)."""
    if "db" not in _TEMPLATE:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "template.sqlite"
            create_database(f"sqlite:///{path}").dispose()
            _TEMPLATE["db"] = path.read_bytes()  # disposed engine: WAL checkpointed
    target = folder / "journal.sqlite"
    target.write_bytes(_TEMPLATE["db"])
    return f"sqlite:///{target}"
