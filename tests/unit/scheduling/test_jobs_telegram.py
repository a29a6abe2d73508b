"""The daily report job sends the report's summary to Telegram (local fake Bot API)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fake_telegram import TOKEN, FakeBotApi, fake_bot_api
from memory_secrets import MemorySecretStore
from sched_fakes import FakeApp

from stom_desktop.adapters.notifiers.telegram import TOKEN_KEY
from stom_desktop.config.settings import NotificationSettings
from stom_desktop.scheduling import jobs
from stom_desktop.services.notification_service import NotificationService
from stom_desktop.services.schedule_service import JobDefinition
from stom_desktop.services.trading_spec import DailyReport

SEOUL = ZoneInfo("Asia/Seoul")


@pytest.fixture()
def bot() -> Iterator[FakeBotApi]:
    with fake_bot_api() as api:
        yield api


def _report_job() -> dict[str, Any]:
    return JobDefinition(
        id="t.report", kind="daily_report", cron="30 15 * * mon-fri", calendar="XKRX"
    ).to_dict()


def _wire(app: FakeApp, bot: FakeBotApi, monkeypatch: pytest.MonkeyPatch, on: bool) -> Any:
    report = DailyReport(
        day=date(2026, 1, 5),
        sessions=(),
        orders=2,
        fills=2,
        realized_pnl=Decimal("1500"),
        fees=Decimal("30"),
        net_realized=Decimal("1470"),
        path=Path("/reports/daily-2026-01-05.md"),
    )
    monkeypatch.setattr(app.trading, "daily_report", lambda day=None: report)
    moment = datetime(2026, 1, 5, 15, 30, tzinfo=SEOUL)
    monkeypatch.setattr(jobs, "_now", lambda: moment.astimezone(UTC))
    settings = NotificationSettings(telegram=on, telegram_chat_id="42", telegram_api_url=bot.url)
    service = NotificationService(
        settings, MemorySecretStore({TOKEN_KEY: TOKEN}), coalesce_s=0.05, min_interval_s=0
    )
    app.notifications = service  # type: ignore[attr-defined]
    return service


def test_daily_report_job_sends_the_report_to_telegram(
    app: FakeApp, bot: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _wire(app, bot, monkeypatch, on=True)
    detail = jobs.daily_report(_report_job())
    assert "report saved to /reports/daily-2026-01-05.md; queued for Telegram" in detail
    service.close(timeout=10)
    (text,) = bot.texts()
    assert "Daily report 2026-01-05" in text
    assert "orders 2, fills 2" in text and "net +1,470" in text
    assert [r.status for r in app.schedule.job_runs.list()] == ["ok"]


def test_daily_report_job_with_telegram_off_sends_nothing(
    app: FakeApp, bot: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _wire(app, bot, monkeypatch, on=False)
    detail = jobs.daily_report(_report_job())
    assert "Telegram" not in detail
    service.close(timeout=10)
    assert bot.calls == 0
