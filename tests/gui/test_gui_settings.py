"""Settings dialog: validation errors shown in the dialog, a dead database URL reported, saves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gui_fakes import ScriptedPrompts

from stom_desktop.config import app_paths, load_settings
from stom_desktop.gui.settings_window import SettingsDialog


def _dialog(qtbot: Any) -> SettingsDialog:
    dialog = SettingsDialog(load_settings(), None, prompts=ScriptedPrompts())  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    return dialog


def _saved() -> dict[str, Any]:
    path = app_paths().settings_file
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def test_bad_values_are_shown_not_saved(qtbot: Any) -> None:
    dialog = _dialog(qtbot)
    dialog.timezone.setCurrentText("Mars/Olympus")
    dialog.save()
    assert "setting 'timezone'" in dialog.status.text()
    assert "unknown time zone" in dialog.status.text()
    assert dialog.fields["timezone"].property("invalid") is True
    assert _saved() == {}
    dialog.timezone.setCurrentText("Asia/Seoul")
    dialog.fields["risk.max_position_pct"].setText("2")
    dialog.save()
    assert "risk.max_position_pct" in dialog.status.text()
    assert _saved() == {}


def test_a_dead_database_url_gets_a_clear_message(qtbot: Any) -> None:
    dialog = _dialog(qtbot)
    dialog.fields["database_url"].setText("postgresql+psycopg://nobody@127.0.0.1:1/nothing")
    dialog.fields["redis_url"].setText("redis://127.0.0.1:6379/3")
    dialog.save()
    qtbot.waitUntil(lambda: "Database URL not saved" in dialog.status.text(), timeout=20_000)
    assert "127.0.0.1" in dialog.status.text()
    assert dialog.fields["database_url"].property("invalid") is True
    assert _saved() == {}  # nothing half-saved
    assert dialog.save_button.isEnabled()


def test_valid_changes_are_saved(qtbot: Any, tmp_path: Path) -> None:
    dialog = _dialog(qtbot)
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    dialog.fields["database_url"].setText(url)
    dialog.fields["redis_url"].setText("redis://127.0.0.1:6379/3")
    dialog.fields["risk.max_open_positions"].setText("4")
    dialog.switches["fills"].setChecked(False)
    dialog.save()
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Saved"), timeout=20_000)
    saved = _saved()
    assert saved["database_url"] == url and saved["redis_url"] == "redis://127.0.0.1:6379/3"
    assert saved["risk"]["max_open_positions"] == 4
    assert (tmp_path / "other.sqlite").exists()  # it was opened and migrated to check it
    assert dialog.prefs.enabled("fills") is False
