"""Typed settings and application paths (a leaf: importable by every layer)."""

from stom_desktop.config.paths import AppPaths, app_paths
from stom_desktop.config.settings import (
    BacktestDefaults,
    LiveSettings,
    NotificationSettings,
    RiskLimits,
    Settings,
    load_settings,
    set_setting,
)

__all__ = [
    "AppPaths",
    "BacktestDefaults",
    "LiveSettings",
    "NotificationSettings",
    "RiskLimits",
    "Settings",
    "app_paths",
    "load_settings",
    "set_setting",
]
