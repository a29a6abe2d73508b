"""GUI test fixtures: offscreen Qt, fakes, and a tray controller wired to them."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui_fakes import FakeSchedule, FakeTrading, ScriptedPrompts

from stom_desktop.config import Settings, app_paths
from stom_desktop.gui.log_handler import install_file_handler


@pytest.fixture()
def debug_log() -> Iterator[Path]:
    """DEBUG logging to the app's log file for the test; yields the file (to scan for secrets)."""
    root = logging.getLogger()
    old_level, old_handlers = root.level, list(root.handlers)
    root.setLevel(logging.DEBUG)
    path = install_file_handler(app_paths().log_dir, logging.DEBUG)
    yield path
    for handler in root.handlers:
        if handler not in old_handlers:
            handler.close()
    root.handlers[:] = old_handlers
    root.setLevel(old_level)


@pytest.fixture()
def trading(tmp_path: Path) -> FakeTrading:
    return FakeTrading(reports_dir=tmp_path / "reports")


@pytest.fixture()
def schedule() -> FakeSchedule:
    return FakeSchedule()


@pytest.fixture()
def prompts() -> ScriptedPrompts:
    return ScriptedPrompts()


@pytest.fixture()
def controller(
    qtbot: object,
    trading: FakeTrading,
    schedule: FakeSchedule,
    prompts: ScriptedPrompts,
    tmp_path: Path,
) -> Iterator[object]:
    """A tray controller (tray available) attached to the fakes; exit_app is recorded."""
    from stom_desktop.gui.tray import TrayController

    exits: list[bool] = []
    opened: list[Path] = []
    ctl = TrayController(
        tray_available=True,
        prompts=prompts,  # type: ignore[arg-type]
        spec_factory=lambda: "SPEC",
        exit_app=lambda: exits.append(True),
        open_path=opened.append,
    )
    ctl.exits = exits  # type: ignore[attr-defined]
    ctl.opened = opened  # type: ignore[attr-defined]
    paths = SimpleNamespace(reports_dir=tmp_path / "reports", log_dir=tmp_path / "logs")
    settings = Settings()  # the real defaults (from the test's empty STOM_HOME)
    ctl.attach(trading=trading, schedule=schedule, settings=settings, paths=paths)
    ctl.show()
    yield ctl
    ctl.shutdown()
