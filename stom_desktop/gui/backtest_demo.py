"""Screenshot scenes for the Backtest window and the strategy editor (used by ``demo_shots``).

``open_demo(controller, what)`` makes sure a demo series exists (a generated daily market),
opens the window through the tray controller and starts the run the shot should show:
``backtest`` (a finished backtest), ``optimization`` (a grid with its heat map) or
``strategy-editor`` (a strategy with a problem marked).
"""

from __future__ import annotations

from typing import Any

from PyQt6.QtWidgets import QApplication, QWidget

from stom_desktop.gui.theme import apply_theme, current_theme

SHOTS = ("backtest", "optimization", "strategy-editor")
DEMO_SYMBOL, DEMO_TIMEFRAME, DEMO_BARS, DEMO_SEED = "DEMO", "1d", 1500, 11


def _ensure_series(ctx: Any) -> None:
    stored = {(s.symbol, s.timeframe) for s in ctx.data.list_series()}
    if (DEMO_SYMBOL, DEMO_TIMEFRAME) not in stored:
        ctx.data.generate(DEMO_SYMBOL, DEMO_TIMEFRAME, DEMO_BARS, DEMO_SEED)


def _select_demo(window: Any) -> None:
    window.reload()
    for i in range(window.series.count()):
        info = window.series.itemData(i)
        if info.symbol == DEMO_SYMBOL and info.timeframe == DEMO_TIMEFRAME:
            window.series.setCurrentIndex(i)
    window.strategy.setCurrentText("sma_cross")


def open_demo(controller: Any, what: str) -> QWidget:
    """Open the window for shot ``what`` on demo data and start what it should show."""
    if what not in SHOTS:
        raise ValueError(f"unknown shot {what!r}; one of {SHOTS}")
    qapp = QApplication.instance()
    if isinstance(qapp, QApplication):
        apply_theme(qapp, current_theme())
    controller.prefs.set("fills", False)  # no fill balloons over the window in the shot
    ctx = controller.ctx
    _ensure_series(ctx)
    if what == "strategy-editor":
        editor: Any = controller.show_window("strategies")
        from stom_desktop.strategy import find_file

        code = find_file("sma_cross", ctx.strategies.search_dirs).read_text(encoding="utf-8")
        editor.open_code("sma_cross", code)  # valid: fills the parameter form
        broken = code.replace(
            "        slow = ta.sma(self.p.slow)\n",
            "        slow = ta.sma(self.p.slow)\n        import os\n",
        )
        editor.name.setText("my_sma")
        editor.editor.setPlainText(broken)
        editor.validate()
        editor.resize(1280, 760)
        return editor  # type: ignore[no-any-return]
    window: Any = controller.show_window("backtest")
    window.resize(1360, 820)
    _select_demo(window)
    if what == "backtest":
        window.params.widgets["fast"].setValue(12)
        window.params.widgets["slow"].setValue(60)
        window.fee.setValue(0.05)
        window.start()
    else:
        window.tabs.setCurrentWidget(window.optimize)
        window.optimize.specs.setText("fast=4:30:2 slow=20:140:10")
        window.optimize.start()
    return window  # type: ignore[no-any-return]
