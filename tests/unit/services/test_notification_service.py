"""NotificationService against a local fake Bot API: bus events in, Telegram messages out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fake_telegram import TOKEN, FakeBotApi, fake_bot_api, start_server
from memory_secrets import MemorySecretStore
from pytest_httpserver import HTTPServer

from stom_desktop.adapters.notifiers.telegram import TOKEN_KEY, NotifierError
from stom_desktop.adapters.secrets import SecretStoreError
from stom_desktop.config.settings import NotificationSettings
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.events import (
    ErrorEvent,
    FillEvent,
    RiskRejectEvent,
    SessionState,
    SessionStateEvent,
)
from stom_desktop.core.fills import Fill
from stom_desktop.engine.bus import EventBus
from stom_desktop.services.notification_service import SOURCE, NotificationService
from stom_desktop.services.trading_spec import DailyReport, DailySessionLine

TS = datetime(2026, 1, 5, 0, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def server() -> Iterator[HTTPServer]:
    srv = start_server()
    yield srv
    srv.stop()


@pytest.fixture()
def bot(server: HTTPServer) -> Iterator[FakeBotApi]:
    with fake_bot_api(server=server) as api:
        yield api


def _settings(bot: FakeBotApi, **changes: Any) -> NotificationSettings:
    base: dict[str, Any] = {
        "telegram": True,
        "telegram_chat_id": "42",
        "telegram_api_url": bot.url,
    }
    return NotificationSettings(**{**base, **changes})


def _service(bot: FakeBotApi, store: MemorySecretStore | None = None, **kw: Any) -> Any:
    settings = kw.pop("settings", None) or _settings(bot)
    options: dict[str, Any] = {
        "timezone": "Asia/Seoul",
        "coalesce_s": 0.2,
        "min_interval_s": 0.0,
        "attempts": 3,
        "backoff_s": 0.01,
        "timeout_s": 2.0,
    }
    options.update(kw)
    store = store if store is not None else MemorySecretStore({TOKEN_KEY: TOKEN})
    return NotificationService(settings, store, **options)


@pytest.fixture()
def wired(bot: FakeBotApi) -> Iterator[tuple[NotificationService, EventBus]]:
    service, bus = _service(bot), EventBus()
    service.attach(bus)
    yield service, bus
    service.close(timeout=5)


def _fill(n: int = 1, symbol: str = "BTC/USDT", side: Side = Side.BUY, **kw: Any) -> FillEvent:
    fill = Fill(
        fill_id=f"f{n}",
        client_order_id=f"o{n}",
        symbol=symbol,
        side=side,
        quantity=kw.get("quantity", Decimal("0.0015")),
        price=kw.get("price", Decimal("30000.5")),
        fee=Decimal("0.045"),
        fee_currency="USDT",
        ts=TS,
    )
    return FillEvent("7", fill, 1_767_573_000_000)


def test_a_fill_on_the_bus_is_one_message_with_symbol_side_qty_price(
    bot: FakeBotApi, wired: tuple[NotificationService, EventBus]
) -> None:
    service, bus = wired
    bus.publish(_fill())
    assert service.flush(10)
    (text,) = bot.wait_for_messages(1)
    assert "BTC/USDT" in text and "BUY" in text and "0.0015" in text and "30000.5" in text
    assert "session 7" in text and "2026-01-05 09:30:00 KST" in text  # exchange time zone
    assert bot.messages[0]["chat_id"] == "42"
    assert service.sent == 1 and service.failed == 0


def test_a_burst_of_200_fills_is_coalesced_into_one_message(bot: FakeBotApi) -> None:
    service, bus = _service(bot, coalesce_s=1.0), EventBus()
    service.attach(bus)
    try:
        for i in range(100):
            bus.publish(_fill(i, "BTC/USDT", Side.BUY, quantity=Decimal("0.01")))
            bus.publish(_fill(1000 + i, "ETH/USDT", Side.SELL, price=Decimal("2000")))
        assert service.flush(15)
    finally:
        service.close(timeout=5)
    assert bot.calls == 1, bot.texts()
    text = bot.texts()[0]
    assert "200 fills" in text and "and 190 more" in text
    assert "BTC/USDT BUY 1 in 100 fill(s), avg 30000.5" in text
    assert "ETH/USDT SELL 0.15 in 100 fill(s), avg 2000" in text


def test_errors_failed_sessions_and_halts_are_sent_once(
    bot: FakeBotApi, wired: tuple[NotificationService, EventBus]
) -> None:
    service, bus = wired
    bus.publish(ErrorEvent("3", "session 3: ZeroDivisionError: division by zero", "tb", 1))
    bus.publish(SessionStateEvent("3", SessionState.ERROR, 2, "strategy crashed"))
    bus.publish(SessionStateEvent("3", SessionState.PAUSED, 3, "paused"))  # not an error
    for _ in range(3):  # the same halt refuses every order: one message
        bus.publish(
            RiskRejectEvent(
                "3", "BTC/USDT", Side.BUY, Decimal(1), "risk.daily_loss_limit", "loss cap", 4
            )
        )
    bus.publish(RiskRejectEvent("3", "BTC/USDT", Side.BUY, Decimal(1), "risk.blacklist", "x", 5))
    assert service.flush(10)
    (text,) = bot.wait_for_messages(1)
    assert text.count("\u2022") == 3, text
    assert "ZeroDivisionError" in text and "strategy crashed" in text
    assert "Trading halted in session 3 (risk.daily_loss_limit): loss cap" in text
    assert "blacklist" not in text and "paused" not in text


def test_bot_api_down_retries_then_logs_and_publishes_an_error_engine_unaffected(
    bot: FakeBotApi,
    wired: tuple[NotificationService, EventBus],
    caplog: pytest.LogCaptureFixture,
) -> None:
    service, bus = wired
    seen: list[ErrorEvent] = []
    bus.subscribe(ErrorEvent, seen.append)
    bot.down = True
    with caplog.at_level(logging.DEBUG):
        bus.publish(_fill(1))
        assert service.flush(10)
        bus.publish(_fill(2))  # a second failure in the same streak: logged, not re-published
        assert service.flush(10)
    assert bot.calls == 6  # 3 attempts per message
    assert service.failed == 2 and service.sent == 0
    assert "not sent after 3 attempt(s)" in caplog.text and "502" in caplog.text
    assert [e.session_id for e in seen] == [SOURCE]
    assert "Bad Gateway" in seen[0].message
    assert bus.handler_errors == 0
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
    assert all(TOKEN not in e.message for e in seen)
    assert service.status().last_error is not None

    bot.down = False  # back up: delivery resumes; our own error event was never forwarded
    bus.publish(_fill(3))
    assert service.flush(10)
    texts = bot.wait_for_messages(1)
    assert len(texts) == 1 and "BUY" in texts[0] and "Telegram notification" not in texts[0]


def test_a_hanging_bot_api_never_blocks_the_publisher_and_a_full_queue_drops(
    bot: FakeBotApi,
) -> None:
    service, bus = _service(bot, queue_size=5, coalesce_s=0.05, timeout_s=30.0), EventBus()
    service.attach(bus)
    bot.hold.clear()  # every request hangs until released
    try:
        bus.publish(_fill(0))
        assert bot.held.wait(10)  # the worker is stuck in a request now
        publisher = threading.Thread(target=lambda: [bus.publish(_fill(i)) for i in range(50)])
        publisher.start()
        publisher.join(10)
        assert not publisher.is_alive()  # 50 publishes finished while the send hangs
        assert service.dropped == 45  # queue of 5 full; the rest counted, not waited for
        bot.hold.set()
        assert service.flush(15)
    finally:
        bot.hold.set()
        service.close(timeout=5)
    texts = bot.texts()
    assert len(texts) == 2
    assert "5 fills" in texts[1] and "45 notification(s) dropped" in texts[1]


def test_429_waits_as_told_and_a_refused_token_is_not_retried(
    bot: FakeBotApi, wired: tuple[NotificationService, EventBus]
) -> None:
    service, bus = wired
    bot.fail_next(429, "Too Many Requests: retry after 0", retry_after=0)
    bus.publish(_fill(1))
    assert service.flush(10)
    assert bot.calls == 2 and len(bot.texts()) == 1

    bot.fail_next(401, "Unauthorized")
    bus.publish(_fill(2))
    assert service.flush(10)
    assert bot.calls == 3  # not retried: a wrong token stays wrong
    assert service.failed == 1 and "Settings -> Telegram" in (service.last_error or "")


def test_disabled_sends_nothing_and_starts_no_thread(bot: FakeBotApi) -> None:
    service, bus = _service(bot, settings=_settings(bot, telegram=False)), EventBus()
    service.attach(bus)
    bus.publish(_fill())
    bus.publish(ErrorEvent("1", "boom", None, 1))
    assert service.send_daily_report(_report()) is False
    assert service.send_notice("error", "job failed", "x") is False
    assert service.flush(1)
    assert service._worker is None and bot.calls == 0

    service.configure(_settings(bot, telegram_fills=False))  # on, but not for fills
    bus.publish(_fill())
    bus.publish(ErrorEvent("1", "boom", None, 1))
    assert service.send_notice("info", "job ran", "x") is False  # only failures go out
    assert service.flush(10)
    service.close(timeout=5)
    (text,) = bot.texts()
    assert "boom" in text and "BUY" not in text


def _report() -> DailyReport:
    line = DailySessionLine(
        session_id=7,
        name="morning",
        strategy="sma_cross",
        mode="paper",
        status="stopped",
        orders=4,
        fills=3,
        realized_pnl=Decimal("12500"),
        fees=Decimal("120"),
        net_realized=Decimal("12380"),
        open_positions={"005930": Decimal("10")},
        error=None,
    )
    return DailyReport(
        day=date(2026, 1, 5),
        sessions=(line,),
        orders=4,
        fills=3,
        realized_pnl=Decimal("12500"),
        fees=Decimal("120"),
        net_realized=Decimal("12380"),
        path=Path("/reports/daily-2026-01-05.md"),
    )


def test_daily_report_is_sent_as_its_own_message(
    bot: FakeBotApi, wired: tuple[NotificationService, EventBus]
) -> None:
    service, bus = wired
    bus.publish(_fill())
    assert service.send_daily_report(_report()) is True
    service.close(timeout=10)  # close sends what is queued
    texts = bot.texts()
    assert len(texts) == 2
    report = next(t for t in texts if "Daily report" in t)
    assert "Daily report 2026-01-05" in report and "orders 4, fills 3" in report
    assert "net +12,380" in report and "#7 morning (sma_cross, paper, stopped)" in report
    assert "open 005930 10" in report and "daily-2026-01-05.md" in report


def test_send_test_uses_unsaved_values_and_never_shows_the_token(bot: FakeBotApi) -> None:
    service = _service(bot, store=MemorySecretStore())  # nothing stored yet
    with pytest.raises(ConfigurationError, match="no bot token"):
        service.send_test()
    assert "chat 99" in service.send_test(chat_id="99", token=TOKEN)
    assert bot.messages[-1]["chat_id"] == "99" and "test message" in bot.texts()[-1]
    wrong = "987654321:AAHsomeOTHERtokenTHATisWRONG_123456"
    with pytest.raises(NotifierError) as info:
        service.send_test(token=wrong)
    assert "404" in str(info.value)
    assert wrong not in str(info.value) and wrong.split(":")[1] not in str(info.value)
    with pytest.raises(ConfigurationError, match="chat id"):
        service.send_test(chat_id="not a chat", token=TOKEN)


def test_token_is_checked_and_stored_only_in_the_secret_store(bot: FakeBotApi) -> None:
    store = MemorySecretStore(secure=False)
    service = _service(bot, store=store)
    with pytest.raises(ConfigurationError) as info:
        service.set_token("bot" + TOKEN)  # a typical bad paste
    assert TOKEN not in str(info.value)
    with pytest.raises(SecretStoreError, match="NOT encrypted"):
        service.set_token(TOKEN)  # plaintext store: refused without consent
    assert service.status().token_stored is False
    service.set_token(f"  {TOKEN}\n", allow_insecure=True)
    assert store.values == {TOKEN_KEY: TOKEN}
    status = service.status()
    assert status.token_stored and status.backend_warning and TOKEN not in repr(status)
    assert service.clear_token() is True and service.status().token_stored is False


def test_close_gives_up_on_a_dead_api_instead_of_waiting_out_the_backoff(
    bot: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    service, bus = _service(bot, attempts=4, backoff_s=30.0, coalesce_s=0.0), EventBus()
    service.attach(bus)
    bot.down = True
    bus.publish(_fill(1))
    bus.publish(ErrorEvent("1", "later", None, 1))  # queued behind the failing message
    service.close(timeout=0.5)
    assert bot.calls == 1  # the 30 s backoff was cut short, no retry was started
    assert service.failed >= 1 and "not sent" in caplog.text
