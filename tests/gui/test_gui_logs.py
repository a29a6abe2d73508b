"""Logs window: live tail through the Qt log handler, level and text filters."""

from __future__ import annotations

import logging
import threading
from typing import Any

from stom_desktop.gui.log_handler import QtLogHandler
from stom_desktop.gui.logs_window import LogsWindow


def test_filters_and_live_tail(qtbot: Any) -> None:
    handler = QtLogHandler()
    logger = logging.getLogger("stom_test.logs")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    try:
        logger.debug("debug detail")
        logger.info("session 3 started")
        logger.warning("slow fill on SIM1")
        window = LogsWindow(handler)
        qtbot.addWidget(window)
        lines = window.shown_lines()
        assert len(lines) == 2 and "session 3 started" in lines[0]  # INFO and up by default
        window.level.setCurrentText("DEBUG")
        assert len(window.shown_lines()) == 3
        window.level.setCurrentText("WARNING")
        assert [("slow fill" in line) for line in window.shown_lines()] == [True]
        window.level.setCurrentText("INFO")
        window.text_filter.setText("SESSION 3")
        assert len(window.shown_lines()) == 1
        # live: a record from another thread appears once flushed, and is filtered too
        thread = threading.Thread(target=logger.error, args=("session 3 crashed",))
        thread.start()
        thread.join()
        logger.error("unrelated error")
        qtbot.waitUntil(lambda: any("crashed" in line for line in window.shown_lines()))
        assert not any("unrelated" in line for line in window.shown_lines())
        window.text_filter.clear()
        assert any("unrelated" in line for line in window.shown_lines())
    finally:
        logger.removeHandler(handler)
