"""The tray launcher ships the example schedule once, on the very first start."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from stom_desktop.gui.__main__ import _install_defaults_once


class _Schedule:
    def __init__(self) -> None:
        self.installs = 0

    def install_default_schedule(self) -> list[object]:
        self.installs += 1
        return []


def test_default_schedule_is_installed_on_first_start_only(tmp_path: Path) -> None:
    schedule = _Schedule()
    app = SimpleNamespace(paths=SimpleNamespace(config_dir=tmp_path / "config"), schedule=schedule)
    _install_defaults_once(app)
    _install_defaults_once(app)  # second start: the user may have deleted the jobs since
    assert schedule.installs == 1
    assert (tmp_path / "config" / "default-schedule-installed").exists()
