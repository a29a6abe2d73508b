"""Equity history across days from a real SQLite journal, checked against daily reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from journal_sessions import stored_session

from stom_desktop.bootstrap import App, build_app
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.services.trading_service import TradingService

D = Decimal
DAY1 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 10:00 Seoul, Monday 5 January
DAY2 = datetime(2026, 1, 6, 23, 30, tzinfo=UTC)  # 08:30 Seoul on 7 January (UTC: the 6th)


@pytest.fixture()
def app() -> Iterator[App]:
    ctx = build_app()
    yield ctx
    ctx.close()


def service(app: App) -> TradingService:
    return TradingService(app.settings, app.database, app.strategies, app.paths)


def test_two_paper_days_equal_their_daily_reports(app: App) -> None:
    db = app.database
    # day 1: +1,000 gross (buy 10 @ 1000, sell 10 @ 1100), fees 5 + 5
    stored_session(db, DAY1, [("buy", "10", "1000", "5"), ("sell", "10", "1100", "5")])
    # day 2: a loss of 300 gross, fees 3 + 3, and a session whose process died while running:
    # start-up recovery closes it (its unsent order is rejected) and it still counts.
    stored_session(db, DAY2, [("buy", "3", "2000", "3"), ("sell", "3", "1900", "3")])
    crashed = stored_session(
        db, DAY2, [("buy", "2", "500", "1"), ("sell", "1", "600", "1")], status="running", unsent=1
    )
    # a live session on day 1 (other mode, other currency): filtered out of "paper"
    stored_session(
        db,
        DAY1,
        [("buy", "0.01", "30000", "0.3")],
        mode="live",
        symbol="BTC/USDT",
        initial_cash="1000",
        exchange="binance",
    )
    svc = service(app)
    assert [r.session_id for r in svc.recovered] == [crashed]

    history = svc.equity_history(days=None, mode="paper")

    assert [d.day for d in history.days] == [date(2026, 1, 5), date(2026, 1, 7)]
    for day in history.days:
        report = svc.daily_report(day.day)
        paper = [s for s in report.sessions if s.mode == "paper"]
        assert day.sessions == len(paper)
        assert day.orders == sum(s.orders for s in paper)
        assert day.fills == sum(s.fills for s in paper)
        assert day.realized_pnl == sum((s.realized_pnl for s in paper), D(0))
        assert day.fees == sum((s.fees for s in paper), D(0))
        assert day.net_pnl == sum((s.net_realized for s in paper), D(0))
    one, two = history.days
    assert (one.realized_pnl, one.fees, one.net_pnl) == (D(1000), D(10), D(990))
    # day 2: -300 and the crashed session's half-closed trade (+100 on 1 unit), fees 3+3+1+1
    assert (two.realized_pnl, two.fees, two.net_pnl) == (D(-200), D(8), D(-208))
    assert (two.sessions, two.interrupted, two.orders, two.fills) == (2, 1, 5, 4)
    assert two.open_positions == 1  # the crashed session still holds 1 SIM1
    assert history.base == D(10_000_000)
    assert (one.equity, two.equity) == (D(10_000_990), D(10_000_782))
    assert history.currencies == ("KRW",)
    assert "positions left open are not marked" in history.message

    live = svc.equity_history(days=None, mode="live")
    assert [(d.day, d.fees, d.equity) for d in live.days] == [
        (date(2026, 1, 5), D("0.3"), D("999.7"))
    ]
    both = svc.equity_history(days=None, mode="all")
    assert [d.sessions for d in both.days] == [2, 2]
    assert "mixed currencies" in both.message


def test_days_window_keeps_earlier_pnl_in_the_equity(app: App) -> None:
    stored_session(app.database, DAY1, [("buy", "10", "1000", "5"), ("sell", "10", "1100", "5")])
    stored_session(app.database, DAY2, [("buy", "1", "1000", "0"), ("sell", "1", "1010", "0")])
    today = datetime.now(ZoneInfo(app.settings.timezone)).date()
    window = (today - date(2026, 1, 7)).days + 1  # the last `window` days end on day 2
    history = service(app).equity_history(days=window, mode="paper")
    (only,) = history.days
    assert only.day == date(2026, 1, 7)
    assert history.base == D(10_000_990)  # day 1's net P&L is in the starting point
    assert only.equity == D(10_001_000)


def test_empty_database_gives_an_empty_history_with_a_message(app: App) -> None:
    history = service(app).equity_history()
    assert history.empty and history.days == ()
    assert history.message.startswith("No sessions")
    assert "paper" in service(app).equity_history(mode="paper").message


def test_unknown_mode_and_bad_days_are_refused(app: App) -> None:
    svc = service(app)
    with pytest.raises(ConfigurationError, match="dry"):
        svc.equity_history(mode="dry")
    with pytest.raises(ConfigurationError, match="days"):
        svc.equity_history(days=0)
