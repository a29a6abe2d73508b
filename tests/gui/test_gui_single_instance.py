"""Single instance: a second launch (a real subprocess) signals the first and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

from stom_desktop.gui.single_instance import SingleInstance, claim_or_notify

SECOND_LAUNCH = (
    "import sys; from stom_desktop.gui.app import run_tray; "
    "sys.exit(run_tray(lambda: None, argv=['x'], instance_name=sys.argv[1]))"
)


def test_second_launch_asks_the_first_to_show(qtbot: Any) -> None:
    name = f"stom-test-{uuid.uuid4().hex[:10]}"
    first = claim_or_notify(name)
    assert isinstance(first, SingleInstance)
    try:
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
        with qtbot.waitSignal(first.show_requested, timeout=20_000):
            proc = subprocess.Popen(
                [sys.executable, "-c", SECOND_LAUNCH, name],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "already running" in out
    finally:
        first.close()


def test_a_stale_socket_is_taken_over(qtbot: Any) -> None:
    name = f"stom-test-{uuid.uuid4().hex[:10]}"
    first = claim_or_notify(name)
    assert first is not None
    first.close()  # like a crash: nobody listens any more
    second = claim_or_notify(name)
    assert second is not None
    second.close()
