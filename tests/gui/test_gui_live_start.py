"""Start live session dialog: typed confirmation, accounts from the keyring, dry run, the spec.

Accounts come from the real ``AccountService`` over an in-memory secret store; the trading
service is the recording fake, so each test reads the exact ``SessionSpec`` it was given.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from gui_fakes import FakeTrading
from memory_secrets import MemorySecretStore

from stom_desktop.config import Settings
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.gui.live_start_dialog import CONFIRM_PHRASE, LiveStartDialog
from stom_desktop.services.account_service import AccountService
from stom_desktop.services.trading_spec import SessionSpec

STRATEGIES = ["donchian_breakout", "sma_cross", "rsi_reversion"]


def _accounts(*entries: tuple[str, str]) -> AccountService:
    service = AccountService(MemorySecretStore())
    for name, exchange in entries:
        service.set_account(name, f"key-{name}-0123456789", f"secret-{name}", exchange=exchange)
    return service


def _dialog(
    qtbot: Any,
    trading: FakeTrading,
    accounts: AccountService | None,
    settings: Settings | None = None,
    opened: list[bool] | None = None,
) -> LiveStartDialog:
    dialog = LiveStartDialog(
        trading,
        accounts,
        settings or Settings(),
        STRATEGIES,
        open_accounts=(lambda: opened.append(True)) if opened is not None else None,
    )
    qtbot.addWidget(dialog)
    dialog.show()
    if accounts is not None:
        qtbot.waitUntil(lambda: not dialog._loading, timeout=5000)
    return dialog


def _venue(dialog: LiveStartDialog, venue: str) -> None:
    dialog.exchange.setCurrentIndex(dialog.exchange.findData(venue))
    assert dialog.exchange_id() == venue


def _started_spec(qtbot: Any, dialog: LiveStartDialog, trading: FakeTrading) -> SessionSpec:
    with qtbot.waitSignal(dialog.started, timeout=5000) as blocker:
        dialog.start_button.click()
    assert blocker.args == [7]
    assert trading.names() == ["start_session"]
    assert "MainThread" not in trading.threads  # the service is called off the GUI thread
    spec = trading.calls[0][1]
    assert isinstance(spec, SessionSpec)
    return spec


def test_start_stays_disabled_until_the_phrase_is_typed(qtbot: Any, trading: FakeTrading) -> None:
    accounts = _accounts(("binance-main", "binance"), ("upbit-main", "upbit"))
    dialog = _dialog(qtbot, trading, accounts)
    assert [dialog.account.itemText(i) for i in range(dialog.account.count())] == ["binance-main"]
    assert dialog.no_account.isHidden()
    assert not dialog.start_button.isEnabled()
    assert "REAL MONEY" in dialog.start_button.toolTip()
    for wrong in ("real money", "REAL", "REAL  MONEY", "binance"):
        dialog.phrase.setText(wrong)
        assert not dialog.start_button.isEnabled(), wrong
    dialog.phrase.setText(CONFIRM_PHRASE)
    assert dialog.start_button.isEnabled()
    assert dialog.start_button.text() == "Start LIVE session"
    assert "real orders with real money go to Binance spot from account 'binance-main'" in (
        dialog.summary.text()
    )
    # Another venue: the confirmation is cleared and must be typed again.
    _venue(dialog, "upbit")
    assert dialog.phrase.text() == "" and not dialog.start_button.isEnabled()
    assert dialog.account.currentText() == "upbit-main"
    assert dialog.symbols.text() == "BTC/KRW"
    dialog.start_button.click()  # disabled: nothing happens
    assert trading.calls == []


def test_the_spec_carries_the_chosen_values(qtbot: Any, trading: FakeTrading) -> None:
    accounts = _accounts(("alt", ""), ("binance-main", "binance"))
    dialog = _dialog(qtbot, trading, accounts)
    dialog.strategy.setCurrentText("rsi_reversion")
    dialog.symbols.setText("btc/usdt, ETH/USDT ,")
    dialog.timeframe.setCurrentText("5m")
    dialog.account.setCurrentText("binance-main")
    dialog.budget.setValue(2500)
    dialog.phrase.setText(f"  {CONFIRM_PHRASE} ")
    spec = _started_spec(qtbot, dialog, trading)
    assert spec.mode == "live" and spec.exchange == "binance" and spec.feed == "venue"
    assert spec.account == "binance-main"
    assert spec.strategy == "rsi_reversion" and spec.name == "rsi_reversion-live"
    assert spec.symbols == ("BTC/USDT", "ETH/USDT")
    assert spec.timeframe == "5m" and spec.speed == 1.0
    assert spec.initial_cash == Decimal("2500.0")
    assert dialog.session_id == 7 and dialog.result() == LiveStartDialog.DialogCode.Accepted


def test_no_account_says_so_and_offers_settings(qtbot: Any, trading: FakeTrading) -> None:
    opened: list[bool] = []
    dialog = _dialog(qtbot, trading, _accounts(("upbit-main", "upbit")), opened=opened)
    assert dialog.account.count() == 0
    assert not dialog.no_account.isHidden()
    assert "No account with API keys for binance is stored in the keyring" in (
        dialog.no_account_text.text()
    )
    dialog.phrase.setText(CONFIRM_PHRASE)
    assert not dialog.start_button.isEnabled()
    assert "an account with API keys" in dialog.start_button.toolTip()
    dialog.open_accounts_button.click()
    assert opened == [True]
    # An account whose secret is missing from the keyring is not offered either.
    store = MemorySecretStore()
    half = AccountService(store)
    half.set_account("binance-main", "key-0123456789abcdef", "secret", exchange="binance")
    store.delete("binance-main:secret")
    dialog2 = _dialog(qtbot, trading, half)
    assert dialog2.account.count() == 0 and not dialog2.no_account.isHidden()


def test_no_keyring_at_all_is_reported(qtbot: Any, trading: FakeTrading) -> None:
    dialog = _dialog(qtbot, trading, AccountService(MemorySecretStore(available=False)))
    assert "the keyring is not available" in dialog.no_account_text.text()
    dialog = _dialog(qtbot, trading, None)
    assert "no account store is wired" in dialog.no_account_text.text()


def test_dry_run_needs_no_account_or_phrase_and_sends_nothing(
    qtbot: Any, trading: FakeTrading
) -> None:
    dialog = _dialog(qtbot, trading, _accounts())
    _venue(dialog, "upbit")
    assert not dialog.start_button.isEnabled()
    dialog.dry_run.setChecked(True)
    assert dialog.start_button.isEnabled() and dialog.start_button.text() == "Start dry run"
    assert not dialog.phrase.isEnabled() and not dialog.account.isEnabled()
    assert "nothing is sent" in dialog.summary.text()
    spec = _started_spec(qtbot, dialog, trading)
    assert spec.mode == "dry_run" and spec.account is None
    assert spec.exchange == "upbit" and spec.symbols == ("BTC/KRW",)
    assert spec.strategy == "sma_cross"


def test_caps_come_from_settings(qtbot: Any, trading: FakeTrading) -> None:
    settings = Settings(live={"per_order_notional_cap": 250, "per_day_notional_cap": 2000})
    dialog = _dialog(qtbot, trading, _accounts(), settings)
    assert "\u2264 250.00 USDT per order" in dialog.caps.text()
    assert "\u2264 2,000.00 USDT per day (UTC)" in dialog.caps.text()
    assert dialog.budget.value() == 2000.0
    _venue(dialog, "upbit")
    assert "250.00 KRW" in dialog.caps.text()


def test_a_refused_start_keeps_the_dialog_open_with_the_reason(
    qtbot: Any, trading: FakeTrading
) -> None:
    trading.fail_start = ConfigurationError(
        "no usable API keys for account 'binance-main'", key="accounts.binance-main"
    )
    dialog = _dialog(qtbot, trading, _accounts(("binance-main", "binance")))
    dialog.phrase.setText(CONFIRM_PHRASE)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: "did not start" in dialog.status.text(), timeout=5000)
    assert "no usable API keys for account 'binance-main'" in dialog.status.text()
    assert dialog.isVisible() and dialog.start_button.isEnabled() and dialog.session_id is None


def test_tray_opens_a_fresh_dialog_and_settings(qtbot: Any, controller: Any) -> None:
    action = controller.actions["live"]
    assert action.text() == "Start live session\u2026" and action.isEnabled()
    action.trigger()
    first = controller.windows["live"]
    assert isinstance(first, LiveStartDialog) and first.isVisible()
    assert first.strategy.currentText() == "sma_cross"
    first.phrase.setText(CONFIRM_PHRASE)
    action.trigger()  # a new dialog: the typed confirmation does not carry over
    second = controller.windows["live"]
    assert second is not first and not first.isVisible() and second.phrase.text() == ""
    second.open_accounts_button.click()
    assert controller.windows["settings"].isVisible()


@pytest.mark.parametrize("symbols", ["", " , "])
def test_symbols_are_required(qtbot: Any, trading: FakeTrading, symbols: str) -> None:
    dialog = _dialog(qtbot, trading, _accounts())
    dialog.dry_run.setChecked(True)
    dialog.symbols.setText(symbols)
    assert not dialog.start_button.isEnabled()
    assert "symbols" in dialog.start_button.toolTip()


def test_usdm_futures_trade_with_a_binance_account(qtbot: Any, trading: FakeTrading) -> None:
    dialog = _dialog(qtbot, trading, _accounts(("binance-main", "binance"), ("up", "upbit")))
    _venue(dialog, "binanceusdm")
    assert dialog.symbols.text() == "BTC/USDT:USDT"
    assert [dialog.account.itemText(i) for i in range(dialog.account.count())] == ["binance-main"]
    assert "USDT" in dialog.caps.text()
    dialog.phrase.setText(CONFIRM_PHRASE)
    spec = _started_spec(qtbot, dialog, trading)
    assert (spec.exchange, spec.account, spec.symbols) == (
        "binanceusdm",
        "binance-main",
        ("BTC/USDT:USDT",),
    )
