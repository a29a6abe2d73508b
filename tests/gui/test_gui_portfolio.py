"""Portfolio window: figures, positions, allocation and equity samples from a fake snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from stom_desktop.gui.portfolio_window import PortfolioWindow, read_portfolio

START = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


class Trading:
    def __init__(self) -> None:
        self.reads = 0
        self.equity = Decimal("10150")

    def snapshot(self) -> Any:
        self.reads += 1
        session = SimpleNamespace(
            id=1,
            equity=self.equity,
            pnl=self.equity - 10_000,
            cash=Decimal("7000"),
            started_at=START,
        )
        positions = (
            SimpleNamespace(
                session_id=1,
                symbol="AAA",
                quantity=Decimal(10),
                avg_price=Decimal(200),
                last_price=Decimal(210),
                unrealized_pnl=Decimal(100),
                realized_pnl=Decimal(0),
            ),
            SimpleNamespace(
                session_id=1,
                symbol="BBB",
                quantity=Decimal(5),
                avg_price=Decimal(200),
                last_price=Decimal(210),
                unrealized_pnl=Decimal(50),
                realized_pnl=Decimal("20.5"),
            ),
        )
        return SimpleNamespace(sessions=(session,), positions=positions, open_orders=(), fills=())


def test_read_portfolio_sums_and_derives_realised_net_of_fees() -> None:
    view = read_portfolio(Trading())
    assert (view.cash, view.equity, view.initial) == (Decimal(7000), Decimal(10150), Decimal(10000))
    assert view.unrealized == Decimal(150) and view.realized == Decimal(0)
    assert [h.symbol for h in view.holdings] == ["AAA", "BBB"]  # biggest first
    assert view.holdings[0].market_value == Decimal(2100)
    assert view.holdings[0].allocation == pytest.approx(2100 / 10150)


def test_window_shows_positions_pnl_allocation_and_equity(qtbot: Any) -> None:
    trading = Trading()
    win = PortfolioWindow(trading)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.refresh_count >= 1)
    assert win.figures["Equity"].text() == "10,150"
    assert win.figures["Unrealised"].text() == "150"
    assert (
        win.figures["Total P&L"].text() == "150"
        and "26a69a" in win.figures["Total P&L"].styleSheet()
    )
    model = win.model
    headers = [
        model.headerData(c, __import__("PyQt6.QtCore").QtCore.Qt.Orientation.Horizontal, 0)
        for c in range(model.columnCount())
    ]
    row = {h: model.data(model.index(1, c), 0) for c, h in enumerate(headers)}
    assert row["Symbol"] == "BBB" and row["Realised"] == "20.5" and row["Value"] == "1,050"
    bars = win.allocation_bars()
    assert bars == pytest.approx({"AAA": 2100 / 101.5, "BBB": 1050 / 101.5, "cash": 7000 / 101.5})
    # equity: the start point at the initial cash, then one sample per refresh
    trading.equity = Decimal("9900")
    win.mark_dirty()
    qtbot.waitUntil(
        lambda: win.refresh_count >= 2 and win.view is not None and win.view.equity == Decimal(9900)
    )
    assert win.samples[0] == (START.timestamp(), 10_000.0)
    assert win.samples[-1][1] == 9_900.0 and len(win.samples) >= 3
    assert "ef5350" in win.figures["Total P&L"].styleSheet()
    _xs, ys = win._curve.getData()
    assert list(ys) == [s[1] for s in win.samples]
