"""Tray controller: menu actions call the trading service, state icon/tooltip, kill switch, Quit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from gui_fakes import FakeTrading, ScriptedPrompts, position, session
from PyQt6.QtCore import QThread
from PyQt6.QtWidgets import QApplication, QSystemTrayIcon

from stom_desktop.core.enums import Side
from stom_desktop.core.events import ErrorEvent, FillEvent, SessionState, SessionStateEvent
from stom_desktop.core.fills import Fill
from stom_desktop.gui.icons import state_icon
from stom_desktop.gui.tray import MENU, QUIT_CANCEL, QUIT_KEEP, QUIT_LIQUIDATE, TrayController


def _publish_from_thread(trading: FakeTrading, event: object) -> None:
    thread = threading.Thread(target=trading.events.publish, args=(event,), name="engine")
    thread.start()
    thread.join()


def test_menu_has_every_action_in_order(controller: TrayController) -> None:
    labels = [a.text() for a in controller.menu.actions() if not a.isSeparator()]
    assert labels == [entry[1] for entry in MENU if entry is not None]
    assert controller.tray.contextMenu() is controller.menu


def test_start_starts_the_default_session_on_a_worker(
    qtbot: Any, controller: TrayController, trading: FakeTrading
) -> None:
    controller.actions["start"].trigger()
    qtbot.waitUntil(lambda: "start_session" in trading.names())
    assert ("start_session", "SPEC") in trading.calls
    assert threading.main_thread().name not in trading.threads  # never on the GUI thread


def test_start_resumes_paused_sessions_instead(
    qtbot: Any, controller: TrayController, trading: FakeTrading
) -> None:
    trading.session_list = [session(1, "paused"), session(2, "running")]
    controller.actions["start"].trigger()
    qtbot.waitUntil(lambda: bool(trading.calls))
    assert trading.calls == [("resume_session", 1)]


def test_pause_and_stop_reach_the_right_sessions(
    qtbot: Any, controller: TrayController, trading: FakeTrading
) -> None:
    trading.session_list = [session(1, "running"), session(2, "paused"), session(3, "stopped")]
    controller.actions["pause"].trigger()
    qtbot.waitUntil(lambda: "pause_session" in trading.names())
    controller.actions["stop"].trigger()
    qtbot.waitUntil(lambda: trading.names().count("stop_session") == 2)
    assert ("pause_session", 1) in trading.calls and ("pause_session", 2) not in trading.calls
    assert {c[1] for c in trading.calls if c[0] == "stop_session"} == {1, 2}


def test_a_failing_start_is_reported_not_raised(
    qtbot: Any, controller: TrayController, trading: FakeTrading
) -> None:
    from stom_desktop.core.errors import StomError

    trading.fail_start = StomError("live mode needs a broker")
    with qtbot.waitSignal(controller.notified, timeout=5000) as blocker:
        controller.actions["start"].trigger()
    kind, title, text = blocker.args
    assert kind == "errors" and "start session failed" in title
    assert "live mode needs a broker" in text


def test_kill_switch_asks_first(
    qtbot: Any, controller: TrayController, trading: FakeTrading, prompts: ScriptedPrompts
) -> None:
    prompts.confirm_answer = False
    controller.actions["kill"].trigger()
    qtbot.wait(50)
    assert prompts.asked and prompts.asked[0][0] == "Kill switch"
    assert "kill_switch" not in trading.names()
    prompts.confirm_answer = True
    controller.actions["kill"].trigger()
    qtbot.waitUntil(lambda: ("kill_switch", True) in trading.calls)
    assert controller.actions["kill"].text() == "Release kill switch"
    assert "KILL SWITCH ENGAGED" in controller.tray.toolTip()
    controller.actions["kill"].trigger()  # release: no question needed
    qtbot.waitUntil(lambda: ("kill_switch", False) in trading.calls)
    assert len(prompts.asked) == 2


def _quit(qtbot: Any, controller: TrayController, trading: FakeTrading, choice: str) -> None:
    controller.prompts.choice = choice  # type: ignore[attr-defined]
    trading.position_list = [position(1, "SIM1", "3")]
    controller.actions["quit"].trigger()
    qtbot.waitUntil(lambda: bool(controller.prompts.asked))  # type: ignore[attr-defined]


def test_quit_with_open_positions_cancel(
    qtbot: Any, controller: TrayController, trading: FakeTrading
) -> None:
    _quit(qtbot, controller, trading, QUIT_CANCEL)
    qtbot.wait(100)
    assert controller.exits == [] and "shutdown" not in trading.names()  # type: ignore[attr-defined]
    assert "SIM1" in controller.prompts.asked[0][1]  # type: ignore[attr-defined]


def test_quit_with_open_positions_keep(
    qtbot: Any, controller: TrayController, trading: FakeTrading
) -> None:
    _quit(qtbot, controller, trading, QUIT_KEEP)
    qtbot.waitUntil(lambda: controller.exits == [True])  # type: ignore[attr-defined]
    assert trading.names() == ["shutdown"]


def test_quit_with_open_positions_liquidate(
    qtbot: Any, controller: TrayController, trading: FakeTrading
) -> None:
    _quit(qtbot, controller, trading, QUIT_LIQUIDATE)
    qtbot.waitUntil(lambda: controller.exits == [True])  # type: ignore[attr-defined]
    assert trading.calls == [("liquidate", None), ("shutdown",)]


def test_quit_without_positions_does_not_ask(
    qtbot: Any, controller: TrayController, trading: FakeTrading, prompts: ScriptedPrompts
) -> None:
    controller.actions["quit"].trigger()
    qtbot.waitUntil(lambda: controller.exits == [True])  # type: ignore[attr-defined]
    assert prompts.asked == [] and trading.names() == ["shutdown"]


def test_state_icon_and_tooltip_follow_events_from_an_engine_thread(
    qtbot: Any, controller: TrayController, trading: FakeTrading
) -> None:
    seen_threads: list[object] = []
    controller.bridge.session_state.connect(lambda _e: seen_threads.append(QThread.currentThread()))
    trading.pnl = Decimal("-2500")
    with qtbot.waitSignal(controller.state_changed, timeout=5000) as blocker:
        _publish_from_thread(trading, SessionStateEvent("3", SessionState.RUNNING, 1))
    assert blocker.args == ["running"]
    assert seen_threads == [QApplication.instance().thread()]  # type: ignore[union-attr]
    assert controller.tray.icon().cacheKey() == state_icon("running").cacheKey()
    qtbot.waitUntil(lambda: "Today's P&L: -2,500" in controller.tray.toolTip())
    assert "running" in controller.tray.toolTip()

    with qtbot.waitSignal(controller.state_changed, timeout=5000) as blocker:
        _publish_from_thread(trading, SessionStateEvent("3", SessionState.PAUSED, 2))
    assert blocker.args == ["paused"]
    assert controller.tray.icon().cacheKey() == state_icon("paused").cacheKey()
    with qtbot.waitSignal(controller.state_changed, timeout=5000) as blocker:
        _publish_from_thread(trading, SessionStateEvent("3", SessionState.STOPPED, 3))
    assert blocker.args == ["idle"]


def test_errors_turn_the_icon_red_and_notify_unless_switched_off(
    qtbot: Any, controller: TrayController, trading: FakeTrading
) -> None:
    with qtbot.waitSignal(controller.notified, timeout=5000) as blocker:
        _publish_from_thread(trading, ErrorEvent("4", "strategy raised ZeroDivisionError", None, 1))
    assert blocker.args[0] == "errors" and "ZeroDivisionError" in blocker.args[2]
    assert controller.state == "error"
    assert controller.tray.icon().cacheKey() == state_icon("error").cacheKey()
    controller.prefs.set("errors", False)
    with qtbot.assertNotEmitted(controller.notified, wait=200):
        _publish_from_thread(trading, ErrorEvent("4", "again", None, 2))


def test_opening_the_logs_clears_errors_that_belong_to_no_running_session(
    qtbot: Any, controller: TrayController, trading: FakeTrading
) -> None:
    with qtbot.waitSignal(controller.state_changed, timeout=5000):
        _publish_from_thread(trading, SessionStateEvent("5", SessionState.PAUSED, 1))
    with qtbot.waitSignal(controller.notified, timeout=5000):
        _publish_from_thread(trading, ErrorEvent("5", "strategy raised", None, 2))
    with qtbot.waitSignal(controller.notified, timeout=5000):
        _publish_from_thread(trading, ErrorEvent("telegram", "not sent: 502", None, 3))
    assert controller.error_sessions == {"5", "telegram"}
    controller.actions["logs"].trigger()
    # Telegram's error is acknowledged; the paused session's own error stays red.
    assert controller.error_sessions == {"5"} and controller.state == "error"
    with qtbot.waitSignal(controller.state_changed, timeout=5000) as blocker:
        _publish_from_thread(trading, SessionStateEvent("5", SessionState.STOPPED, 4))
    assert blocker.args == ["idle"]


def test_fill_notification(qtbot: Any, controller: TrayController, trading: FakeTrading) -> None:
    fill = Fill(
        "f1", "c1", "SIM1", Side.BUY, Decimal(3), Decimal("101.5"), Decimal(0), "KRW",
        datetime(2026, 1, 5, tzinfo=UTC),
    )  # fmt: skip
    with qtbot.waitSignal(controller.notified, timeout=5000) as blocker:
        _publish_from_thread(trading, FillEvent("2", fill, 1))
    assert blocker.args[0] == "fills"
    assert blocker.args[2] == "buy 3 SIM1 @ 101.5 (session 2)"
    with qtbot.waitSignal(controller.notified, timeout=5000) as blocker:
        for i in range(5):  # a burst: one notification
            trading.events.publish(FillEvent("2", fill, i))
    assert blocker.args[1] == "5 fills" and blocker.args[2].startswith("last: buy 3 SIM1")
    with qtbot.assertNotEmitted(controller.notified, wait=500):
        pass


def test_daily_report_file_notifies_and_report_action_opens_it(
    qtbot: Any, controller: TrayController, tmp_path: Path
) -> None:
    report = tmp_path / "reports" / "daily-2026-01-05.md"
    with qtbot.waitSignal(controller.notified, timeout=5000) as blocker:
        report.write_text("# day\n", encoding="utf-8")
    assert blocker.args[0] == "daily_report" and report.name in blocker.args[2]
    controller.tray.messageClicked.emit()
    controller.actions["report"].trigger()
    assert controller.opened == [report, report]  # type: ignore[attr-defined]


def test_report_action_asks_the_service_when_no_file_exists(
    qtbot: Any, controller: TrayController, trading: FakeTrading
) -> None:
    controller.actions["report"].trigger()
    qtbot.waitUntil(lambda: bool(controller.opened))  # type: ignore[attr-defined]
    assert trading.names() == ["daily_report"]


def test_windows_open_from_the_menu_and_a_tray_click(
    qtbot: Any, controller: TrayController
) -> None:
    controller.tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert controller.windows["dashboard"].isVisible()
    for key in ("backtest", "strategies"):
        controller.actions[key].trigger()
        window = controller.windows[key]
        assert window.isVisible() and "issue 6" in window.message.text()  # type: ignore[attr-defined]
    for key in ("chart", "orderbook", "portfolio"):
        controller.actions[key].trigger()
        assert type(controller.windows[key]).__name__.lower().startswith(key[:5])
        assert controller.windows[key].isVisible()
    controller.actions["chart"].trigger()  # a second chart window, both open
    assert controller.windows["chart"].isVisible() and controller.windows["chart-2"].isVisible()
    controller.actions["schedule"].trigger()
    controller.actions["logs"].trigger()
    assert controller.windows["schedule"].isVisible() and controller.windows["logs"].isVisible()


def test_without_a_tray_a_main_window_stands_in_and_says_why(
    qtbot: Any, trading: FakeTrading
) -> None:
    assert QSystemTrayIcon.isSystemTrayAvailable() is False  # offscreen has no tray
    ctl = TrayController(tray_available=False, spec_factory=lambda: "SPEC")
    ctl.attach(trading=trading)
    ctl.show()
    try:
        assert ctl.fallback is not None and ctl.fallback.isVisible()
        assert "No system tray is available" in ctl.fallback.reason.text()
        assert set(ctl.fallback.buttons) == {e[0] for e in MENU if e is not None}
        ctl.fallback.buttons["start"].click()
        qtbot.waitUntil(lambda: ("start_session", "SPEC") in trading.calls)
        assert "idle" in ctl.fallback.state_text.text()
        ctl.fallback.close()  # closing hides; the app keeps running
        assert not ctl.fallback.isVisible()
        ctl.bring_forward()  # what a second launch triggers
        assert ctl.fallback.isVisible() and ctl.windows["dashboard"].isVisible()
    finally:
        ctl.shutdown()


def test_trading_actions_are_disabled_until_services_exist(qtbot: Any) -> None:
    ctl = TrayController(tray_available=True)
    try:
        assert not ctl.actions["start"].isEnabled()
        assert ctl.actions["dashboard"].isEnabled()
        ctl.attach(trading=None, problems=["trading: not provided by the App (bootstrap)"])
        assert "not provided" in ctl.actions["kill"].toolTip()
    finally:
        ctl.shutdown()
