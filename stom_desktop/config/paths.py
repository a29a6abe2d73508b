"""Where STOM Desktop keeps its files: platformdirs locations, or one folder under STOM_HOME.

``STOM_HOME`` puts config, data and logs under a single directory; tests and portable
installs use it so that nothing touches the user's real profile.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "stom-desktop"


@dataclass(frozen=True, slots=True)
class AppPaths:
    """The directories and files the application reads and writes."""

    config_dir: Path
    data_dir: Path
    log_dir: Path

    @property
    def settings_file(self) -> Path:
        return self.config_dir / "settings.json"

    @property
    def default_database(self) -> Path:
        return self.data_dir / "stom.sqlite"

    @property
    def user_strategies_dir(self) -> Path:
        return self.data_dir / "strategies"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    def ensure(self) -> AppPaths:
        """Create the directories if missing and return self."""
        for folder in (self.config_dir, self.data_dir, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def app_paths() -> AppPaths:
    """The paths for this process: under ``$STOM_HOME`` if set, else the platform's."""
    home = os.environ.get("STOM_HOME")
    if home:
        root = Path(home).expanduser()
        return AppPaths(root / "config", root / "data", root / "logs")
    return AppPaths(
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )
