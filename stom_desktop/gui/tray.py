"""The tray controller: state icon, tooltip with today's P&L, the menu and what it opens.

One set of ``QAction``s serves the tray menu and, where no system tray exists, the
:class:`~stom_desktop.gui.fallback_window.FallbackWindow` that stands in for it. Actions
that call the trading service run on workers; engine events arrive through the
:class:`~stom_desktop.gui.bridge.EngineBridge`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QFileSystemWatcher, QObject, QTimer, QUrl, pyqtSignal
from PyQt6.QtGui import QAction, QDesktopServices
from PyQt6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from stom_desktop.core.events import ErrorEvent, FillEvent, SessionState, SessionStateEvent
from stom_desktop.gui.bridge import EngineBridge
from stom_desktop.gui.fallback_window import FallbackWindow
from stom_desktop.gui.icons import state_icon
from stom_desktop.gui.log_handler import QtLogHandler
from stom_desktop.gui.models import fmt_value
from stom_desktop.gui.notifications import NotificationPrefs
from stom_desktop.gui.prompts import Prompts
from stom_desktop.gui.workers import run_in_worker

log = logging.getLogger(__name__)

#: (object name, label); None is a separator.
MENU = [
    ("start", "Start session"),
    ("live", "Start live session\u2026"),
    ("pause", "Pause session"),
    ("stop", "Stop session"),
    ("kill", "Kill switch\u2026"),
    None,
    ("dashboard", "Dashboard"),
    ("chart", "Chart"),
    ("orderbook", "Order book"),
    ("portfolio", "Portfolio"),
    ("backtest", "Backtest"),
    ("strategies", "Strategies"),
    ("schedule", "Schedule"),
    ("settings", "Settings"),
    ("logs", "Logs"),
    ("report", "Daily report"),
    None,
    ("quit", "Quit"),
]
TRADING_ACTIONS = ("start", "live", "pause", "stop", "kill", "report")
PNL_REFRESH_MS = 5000
FILL_BURST_MS = 300  # fills within this window share one notification
QUIT_LIQUIDATE, QUIT_KEEP, QUIT_CANCEL = "Liquidate and quit", "Keep positions and quit", "Cancel"


def default_session_spec() -> Any:
    """The session the tray's Start launches: the example strategy on the simulator."""
    from stom_desktop.services.trading_spec import SessionSpec

    return SessionSpec(name="tray", strategy="sma_cross", symbols=("SIM1", "SIM2"))


def overall_state(states: dict[str, str], errors: set[str]) -> str:
    """One tray state for all sessions: error > running > paused > idle."""
    if errors or SessionState.ERROR in states.values():
        return "error"
    if SessionState.RUNNING in states.values():
        return "running"
    if SessionState.PAUSED in states.values():
        return "paused"
    return "idle"


class TrayController(QObject):
    """Owns the tray icon (or its stand-in window), the actions and the windows."""

    state_changed = pyqtSignal(str)
    notified = pyqtSignal(str, str, str)  # kind, title, text (after the prefs check)
    _notice = pyqtSignal(str, str, str)  # thread-safe entry for post_notice

    def __init__(
        self,
        *,
        tray_available: bool,
        log_handler: QtLogHandler | None = None,
        prompts: Prompts | None = None,
        spec_factory: Callable[[], Any] = default_session_spec,
        exit_app: Callable[[], None] | None = None,
        open_path: Callable[[Path], None] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.tray_available = tray_available
        self.log_handler = log_handler
        self.prompts = prompts or Prompts()
        self.spec_factory = spec_factory
        self.exit_app = exit_app or (lambda: None)
        self.open_path = open_path or (
            lambda p: QDesktopServices.openUrl(QUrl.fromLocalFile(str(p)))
        )
        self.ctx: Any = None
        self.trading: Any = None
        self.schedule: Any = None
        self.accounts: Any = None
        self.settings: Any = None
        self.paths: Any = None
        self.log_file: Path | None = None
        self.prefs = NotificationPrefs()
        self.bridge = EngineBridge(self)
        self.session_states: dict[str, str] = {}
        self.error_sessions: set[str] = set()
        self.state = "idle"
        self.pnl: Decimal | None = None
        self.kill_engaged = False
        self.windows: dict[str, QWidget] = {}
        self.last_report: Path | None = None
        self._known_reports: set[Path] = set()
        self._pnl_loading = False
        self._watcher: QFileSystemWatcher | None = None

        self.actions: dict[str, QAction] = {}
        self.menu = QMenu()
        ordered: list[QAction | None] = []
        for entry in MENU:
            if entry is None:
                self.menu.addSeparator()
                ordered.append(None)
                continue
            key, label = entry
            action = QAction(label, self)
            action.setObjectName(key)
            action.triggered.connect(lambda _c=False, k=key: self.trigger(k))
            self.menu.addAction(action)
            self.actions[key] = action
            ordered.append(action)
        self.tray = QSystemTrayIcon(state_icon("idle"), self)
        self.tray.setContextMenu(self.menu)
        self.tray.activated.connect(self._on_activated)
        self.tray.messageClicked.connect(self._on_message_clicked)
        self.fallback: FallbackWindow | None = None
        if not tray_available:
            self.fallback = FallbackWindow(
                ordered,
                "No system tray is available on this desktop (QSystemTrayIcon."
                "isSystemTrayAvailable() is False), so this window stands in for the tray "
                "icon. Closing it hides it; launch STOM Desktop again to bring it back; "
                "Quit ends the app.",
            )
        self.bridge.session_state.connect(self.on_session_state)
        self.bridge.fill.connect(self.on_fill)
        self.bridge.error.connect(self.on_error)
        self._notice.connect(self.notify)
        self._fills: list[str] = []
        self._fill_timer = QTimer(self)
        self._fill_timer.setSingleShot(True)
        self._fill_timer.setInterval(FILL_BURST_MS)
        self._fill_timer.timeout.connect(self._flush_fills)
        self._pnl_timer = QTimer(self)
        self._pnl_timer.setInterval(PNL_REFRESH_MS)
        self._pnl_timer.timeout.connect(self.refresh_pnl)
        self.set_trading_available(False, "starting\u2026")
        self._render()

    # -- lifecycle -------------------------------------------------------------------------
    def show(self) -> None:
        """Show the tray icon, or the stand-in window when there is no tray."""
        if self.fallback is not None:
            self.fallback.show()
        else:
            self.tray.show()

    def attach(
        self,
        *,
        ctx: Any = None,
        trading: Any = None,
        schedule: Any = None,
        accounts: Any = None,
        settings: Any = None,
        paths: Any = None,
        problems: list[str] | None = None,
    ) -> None:
        """Services are ready: wire the bridge, enable the actions, watch the reports folder."""
        self.ctx, self.trading, self.schedule = ctx, trading, schedule
        self.accounts, self.settings, self.paths = accounts, settings, paths
        if settings is not None:
            self.prefs = NotificationPrefs.from_settings(settings)
        if trading is not None:
            events = getattr(ctx, "events", None) or getattr(trading, "events", None)
            if events is not None:
                self.bridge.attach(events)
            self.set_trading_available(True)
            self.refresh_pnl()
            self._pnl_timer.start()
        else:
            self.set_trading_available(False, "; ".join(problems or ["not available"]))
        if paths is not None:
            self.watch_reports(Path(paths.reports_dir))
        for problem in problems or []:
            log.warning("tray: %s", problem)
        dashboard = self.windows.get("dashboard")
        if dashboard is not None and hasattr(dashboard, "set_trading"):
            dashboard.set_trading(trading)
        self._render()

    def set_trading_available(self, available: bool, why: str = "") -> None:
        """Enable or disable the actions that need the trading service."""
        for key in TRADING_ACTIONS:
            action = self.actions[key]
            action.setEnabled(available)
            action.setToolTip("" if available else f"Trading service: {why}")

    def shutdown(self) -> None:
        """Detach from the bus and close the windows (the app is ending)."""
        self._pnl_timer.stop()
        self.bridge.detach()
        for window in self.windows.values():
            window.close()
        if self.fallback is not None:
            self.fallback.hide()
        self.tray.hide()

    # -- state and tooltip -----------------------------------------------------------------
    def on_session_state(self, event: SessionStateEvent) -> None:
        """A session changed state: recompute the tray state and refresh the P&L."""
        key = str(event.session_id)
        if event.state == SessionState.STOPPED:
            self.session_states.pop(key, None)
            self.error_sessions.discard(key)
        else:
            self.session_states[key] = str(event.state)
            if event.state == SessionState.RUNNING:
                self.error_sessions.discard(key)
        self._render()
        self.refresh_pnl()

    def on_fill(self, event: FillEvent) -> None:
        """Notify about fills (if switched on), one message per burst; the P&L changed."""
        fill = event.fill
        self._fills.append(
            f"{fill.side} {fmt_value(fill.quantity)} {fill.symbol} @ {fmt_value(fill.price)} "
            f"(session {event.session_id})"
        )
        if not self._fill_timer.isActive():
            self._fill_timer.start()
        self.refresh_pnl()

    def _flush_fills(self) -> None:
        # A fast session fills many orders a second: one balloon per burst, not one each.
        fills, self._fills = self._fills, []
        if len(fills) == 1:
            self.notify("fills", "Fill", fills[0])
        elif fills:
            self.notify("fills", f"{len(fills)} fills", f"last: {fills[-1]}")

    def on_error(self, event: ErrorEvent) -> None:
        """A session failed: error icon and a notification."""
        self.error_sessions.add(str(event.session_id))
        self._render()
        self.notify("errors", f"Error in session {event.session_id}", event.message)

    def tooltip(self) -> str:
        """The tray tooltip: state and today's P&L."""
        pnl = "\u2014" if self.pnl is None else f"{self.pnl:+,.0f}"
        lines = [f"STOM Desktop \u2014 {self.state}", f"Today's P&L: {pnl}"]
        if self.kill_engaged:
            lines.append("KILL SWITCH ENGAGED")
        return "\n".join(lines)

    def _render(self) -> None:
        state = overall_state(self.session_states, self.error_sessions)
        changed = state != self.state
        self.state = state
        icon = state_icon(state)
        self.tray.setIcon(icon)
        self.tray.setToolTip(self.tooltip())
        if self.fallback is not None:
            self.fallback.set_state(icon, state, self.tooltip().split("\n", 1)[1])
        self.actions["kill"].setText(
            "Release kill switch" if self.kill_engaged else "Kill switch\u2026"
        )
        if changed:
            self.state_changed.emit(state)

    def refresh_pnl(self) -> None:
        """Re-read today's P&L on a worker (one read in flight at a time)."""
        trading = self.trading
        if trading is None or self._pnl_loading:
            return
        self._pnl_loading = True

        def done(value: Any) -> None:
            self._pnl_loading = False
            self.pnl = value
            self._render()

        def failed(_exc: BaseException) -> None:
            self._pnl_loading = False

        run_in_worker(trading.today_pnl, what="today's P&L", on_done=done, on_error=failed)

    # -- notifications -----------------------------------------------------------------------
    def notify(self, kind: str, title: str, text: str) -> None:
        """Show a tray message of ``kind`` (fills/errors/daily_report) if switched on."""
        if kind in ("fills", "errors", "daily_report") and not self.prefs.enabled(kind):
            return
        icon = (
            QSystemTrayIcon.MessageIcon.Critical
            if kind == "errors"
            else QSystemTrayIcon.MessageIcon.Information
        )
        if self.fallback is not None:
            self.fallback.notify(title, text)
        else:
            self.tray.showMessage(title, text, icon, 8000)
        log.info("notification [%s] %s: %s", kind, title, text)
        self.notified.emit(kind, title, text)

    def post_notice(self, title: str, text: str, kind: str = "info") -> None:
        """Thread-safe :meth:`notify` (e.g. for scheduler notices from job threads)."""
        self._notice.emit(kind, title, text)

    def watch_reports(self, folder: Path) -> None:
        """Notify when a new daily report file appears in ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        self._known_reports = set(folder.glob("daily-*.md"))
        self.last_report = newest_report(folder)
        self._watcher = QFileSystemWatcher([str(folder)], self)
        self._watcher.directoryChanged.connect(lambda _p: self._reports_changed(folder))

    def _reports_changed(self, folder: Path) -> None:
        current = set(folder.glob("daily-*.md"))
        new = current - self._known_reports
        self._known_reports = current
        for path in sorted(new):
            self.last_report = path
            self.notify("daily_report", "Daily report ready", f"{path.name} (click to open)")

    def _on_message_clicked(self) -> None:
        if self.last_report is not None:
            self.open_path(self.last_report)

    # -- actions ---------------------------------------------------------------------------
    def trigger(self, key: str) -> None:
        """Run the menu action ``key`` (also what the stand-in window's buttons do)."""
        handler = getattr(self, f"do_{key}", None)
        if handler is not None:
            handler()
        elif key in ("orderbook", "portfolio", "backtest", "strategies"):
            self.show_window(key)
        else:
            raise KeyError(f"no tray action {key!r}")

    def _trading_call(self, what: str, fn: Callable[[], Any], done: str | None = None) -> None:
        def ok(_result: Any) -> None:
            if done:
                self._status(done)
            self.refresh_pnl()

        def failed(exc: BaseException) -> None:
            self.notify("errors", f"{what} failed", str(exc))

        run_in_worker(fn, what=what, on_done=ok, on_error=failed)

    def _status(self, text: str) -> None:
        if self.fallback is not None:
            self.fallback.notify("STOM Desktop", text)
        log.info("tray: %s", text)

    def do_start(self) -> None:
        """Resume paused sessions, or start the default session when none is paused."""
        trading, make_spec = self.trading, self.spec_factory

        def start() -> str:
            paused = [s for s in trading.sessions() if str(s.state) == SessionState.PAUSED]
            for session in paused:
                trading.resume_session(session.id)
            if paused:
                return f"resumed {len(paused)} session(s)"
            session_id = trading.start_session(make_spec())
            return f"started session {session_id}"

        self._trading_call("start session", start, None)

    def do_live(self) -> None:
        """Open a fresh live-session dialog (account, caps, typed confirmation for real money)."""
        from stom_desktop.gui.live_start_dialog import dialog_for_tray

        previous = self.windows.pop("live", None)
        if previous is not None:
            previous.close()  # never reuse one: a typed confirmation must not linger
        dialog = self.windows["live"] = dialog_for_tray(self)
        dialog.show()

    def do_pause(self) -> None:
        """Pause every running session."""
        trading = self.trading

        def pause() -> None:
            for session in trading.sessions():
                if str(session.state) == SessionState.RUNNING:
                    trading.pause_session(session.id)

        self._trading_call("pause session", pause, "paused running sessions")

    def do_stop(self) -> None:
        """Stop every session that is not stopped (positions are kept)."""
        trading = self.trading

        def stop() -> None:
            for session in trading.sessions():
                if str(session.state) not in (SessionState.STOPPED, SessionState.IDLE):
                    trading.stop_session(session.id)

        self._trading_call("stop session", stop, "stopped sessions")

    def do_kill(self) -> None:
        """Engage the kill switch after confirmation (or release it)."""
        trading = self.trading
        if self.kill_engaged:
            self._trading_call("release kill switch", lambda: trading.kill_switch(False))
            self.kill_engaged = False
            self._render()
            return
        if not self.prompts.confirm(
            self.fallback,
            "Kill switch",
            "Cancel every open order, flatten every position and halt all trading?",
        ):
            return
        self.kill_engaged = True
        self._render()
        self._trading_call("kill switch", lambda: trading.kill_switch(True), "kill switch engaged")

    def do_report(self) -> None:
        """Open the newest daily report (asking the service to write today's if none)."""
        folder = Path(self.paths.reports_dir) if self.paths is not None else None
        existing = newest_report(folder) if folder is not None else None
        if existing is not None:
            self.open_path(existing)
            return
        trading = self.trading

        def opened(report: Any) -> None:
            path = getattr(report, "path", None)
            if path is not None:
                self.last_report = Path(path)
                self.open_path(Path(path))

        run_in_worker(
            trading.daily_report,
            what="daily report",
            on_done=opened,
            on_error=lambda exc: self.notify("errors", "Daily report failed", str(exc)),
        )

    def do_quit(self) -> None:
        """Quit; with open positions ask first: liquidate, keep, or cancel."""
        trading = self.trading
        if trading is None:
            self.exit_app()
            return

        def decide(positions: Any) -> None:
            open_positions = [p for p in positions if getattr(p, "quantity", 0) != 0]
            liquidate = False
            if open_positions:
                symbols = ", ".join(sorted({str(p.symbol) for p in open_positions})[:8])
                answer = self.prompts.choose(
                    self.fallback,
                    "Quit STOM Desktop",
                    f"{len(open_positions)} position(s) are open ({symbols}).\n"
                    "Liquidate them before quitting, keep them, or cancel?",
                    [QUIT_LIQUIDATE, QUIT_KEEP, QUIT_CANCEL],
                )
                if answer in (None, QUIT_CANCEL):
                    return
                liquidate = answer == QUIT_LIQUIDATE
            self._finish_quit(liquidate)

        run_in_worker(
            lambda: list(trading.positions()),
            what="read positions before quitting",
            on_done=decide,
            on_error=self._quit_anyway,
        )

    def _quit_anyway(self, exc: BaseException) -> None:
        if self.prompts.confirm(
            self.fallback, "Quit STOM Desktop", f"Could not read positions ({exc}). Quit anyway?"
        ):
            self._finish_quit(False)

    def _finish_quit(self, liquidate: bool) -> None:
        trading = self.trading

        def stop_all() -> None:
            if liquidate:
                trading.liquidate(None)
            trading.shutdown()

        run_in_worker(
            stop_all,
            what="shut down trading",
            on_done=lambda _r: self.exit_app(),
            on_error=lambda _e: self.exit_app(),
        )

    # -- windows ---------------------------------------------------------------------------
    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (
            QSystemTrayIcon.ActivationReason.Trigger,
            QSystemTrayIcon.ActivationReason.DoubleClick,
        ):
            self.show_window("dashboard")

    def bring_forward(self) -> None:
        """Another launch asked for us: show the Dashboard (and the stand-in window)."""
        if self.fallback is not None:
            self.fallback.show()
            self.fallback.raise_()
        self.show_window("dashboard")

    def do_dashboard(self) -> None:
        self.show_window("dashboard")

    def do_schedule(self) -> None:
        self.show_window("schedule")

    def do_settings(self) -> None:
        self.show_window("settings")

    def do_logs(self) -> None:
        self.show_window("logs")
        self.acknowledge_errors()

    def acknowledge_errors(self) -> None:
        """The user has seen the log: clear errors that belong to no live session.

        Errors of the engine, the bus or Telegram have no session whose restart would
        clear them, so without this the tray would stay red until the app restarts.
        A session's own error stays until that session runs again or stops.
        """
        stale = {key for key in self.error_sessions if key not in self.session_states}
        if stale:
            self.error_sessions -= stale
            self._render()

    def do_chart(self) -> None:
        self.open_chart()

    def open_chart(self, symbol: str | None = None) -> QWidget:
        """Open a chart window: a hidden (closed) one is reused, else a new one is made,
        so several charts can be open at once. Keys: ``chart``, ``chart-2``, ..."""
        charts = [k for k in self.windows if k == "chart" or k.startswith("chart-")]
        window = next((self.windows[k] for k in charts if not self.windows[k].isVisible()), None)
        if window is None:
            key = "chart" if "chart" not in self.windows else f"chart-{len(charts) + 1}"
            window = self._make_window("chart")
            self.windows[key] = window
        if symbol is not None and hasattr(window, "open_symbol"):
            window.open_symbol(symbol)
        window.show()
        window.raise_()
        window.activateWindow()
        return window

    def show_window(self, key: str) -> QWidget:
        """Create (once) and bring forward the window ``key``."""
        window = self.windows.get(key)
        if window is None:
            window = self._make_window(key)
            self.windows[key] = window
        window.show()
        window.raise_()
        window.activateWindow()
        return window

    def _make_window(self, key: str) -> QWidget:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(self.settings.timezone) if self.settings is not None else None
        if key == "dashboard":
            from stom_desktop.gui.dashboard import DashboardWindow

            return DashboardWindow(self.trading, self.bridge, tz)
        if key == "schedule":
            from stom_desktop.gui.schedule_window import ScheduleWindow

            return ScheduleWindow(self.schedule, self.prompts)
        if key == "settings":
            from stom_desktop.gui.settings_window import SettingsDialog

            if self.settings is None:
                from stom_desktop.config import load_settings

                self.settings = load_settings()
            telegram = getattr(self.ctx, "notifications", None)  # bootstrap's NotificationService
            return SettingsDialog(
                self.settings, self.accounts, self.prefs, self.prompts, telegram=telegram
            )
        if key == "logs":
            from stom_desktop.gui.log_handler import QtLogHandler
            from stom_desktop.gui.logs_window import LogsWindow

            handler = self.log_handler or QtLogHandler()
            return LogsWindow(handler, str(self.log_file) if self.log_file else None)
        if key == "backtest" and self.ctx is not None:
            from stom_desktop.gui.backtest_window import BacktestWindow, chart_navigator

            backtest = BacktestWindow(self.ctx)
            backtest.on_trade = chart_navigator(backtest, lambda: self.show_window("chart"))
            return backtest
        if key == "strategies" and self.ctx is not None:
            from stom_desktop.gui.strategy_editor import StrategyEditorWindow

            return StrategyEditorWindow(self.ctx, lambda: self.show_window("backtest"))
        if key == "chart":
            from stom_desktop.gui.chart_window import ChartWindow

            return ChartWindow(
                getattr(self.ctx, "data", None),
                self.trading,
                self.bridge,
                getattr(self.ctx, "strategies", None),
                tz=str(tz) if tz is not None else "UTC",
            )
        if key == "orderbook":
            from stom_desktop.gui.orderbook_window import OrderBookWindow

            events = getattr(self.trading, "events", None)
            return OrderBookWindow(self.trading, events, prompts=self.prompts, tz=tz)
        if key == "portfolio":
            from stom_desktop.gui.portfolio_window import PortfolioWindow

            return PortfolioWindow(self.trading, self.bridge, tz)
        from stom_desktop.gui.placeholders import PlaceholderWindow

        return PlaceholderWindow(key)


def newest_report(folder: Path | None) -> Path | None:
    """The newest ``daily-*.md`` in ``folder`` (by name: the date is in it), or None."""
    if folder is None or not folder.is_dir():
        return None
    reports = sorted(folder.glob("daily-*.md"))
    return reports[-1] if reports else None
