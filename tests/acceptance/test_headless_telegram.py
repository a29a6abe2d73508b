"""Headless demo day with Telegram on: fills and the daily report reach a local fake Bot API.

As a user sets it up on a server: the token stored with ``stom notify telegram set-token``
in a keyring selected by ``PYTHON_KEYRING_BACKEND`` (keyrings.alt file in a scratch
XDG_DATA_HOME), the rest by ``STOM_NOTIFICATIONS__*`` environment variables.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_telegram import TOKEN, FakeBotApi, fake_bot_api

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def bot() -> Iterator[FakeBotApi]:
    with fake_bot_api() as api:
        yield api


def _env(home: Path, bot: FakeBotApi) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOM_")}
    env.update(
        STOM_HOME=str(home),
        STOM_DEMO_TIMESCALE="0.1",
        STOM_NOTIFICATIONS__TELEGRAM="true",
        STOM_NOTIFICATIONS__TELEGRAM_CHAT_ID="42",
        STOM_NOTIFICATIONS__TELEGRAM_API_URL=bot.url,
        PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
        XDG_DATA_HOME=str(home / "xdg-data"),
    )
    return env


@pytest.mark.slow
def test_headless_demo_sends_fills_and_the_report_to_telegram(
    tmp_path: Path, bot: FakeBotApi
) -> None:
    home = tmp_path / "home"
    env = _env(home, bot)
    stom = [sys.executable, "-m", "stom_desktop"]
    setup = subprocess.run(
        [*stom, "notify", "telegram", "set-token", "--stdin", "--allow-insecure"],
        check=False,
        input=TOKEN + "\n",
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert setup.returncode == 0, setup.stdout + setup.stderr
    run = subprocess.run(
        [*stom, "run", "--headless", "--demo"],
        check=False,
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    log = (home / "logs" / "stom-headless.log").read_text(encoding="utf-8")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "telegram notifications: on, chat 42" in log
    texts = bot.texts()
    assert any("Daily report" in t and "Sessions 1" in t for t in texts), texts
    assert any("fill" in t.lower() and "SIM" in t for t in texts), texts
    assert all(m["chat_id"] == "42" for m in bot.messages)
    assert "not sent" not in log
    for needle in (TOKEN, TOKEN.split(":")[1], base64.b64encode(TOKEN.encode()).decode()):
        assert needle not in log and needle not in run.stderr
