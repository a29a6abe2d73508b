"""GUI test fixtures: offscreen Qt, fakes, and a tray controller wired to them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from gui_fakes import FakeSchedule, FakeTrading, ScriptedPrompts

from stom_desktop.config import Settings


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
