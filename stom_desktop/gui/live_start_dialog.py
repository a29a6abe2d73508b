"""Start a live (or dry-run) session on a real exchange from the tray, with a typed confirmation.

The dialog collects strategy, exchange, symbols, account and budget, shows the notional
caps from ``settings.live`` and builds a ``SessionSpec``; ``TradingService.start_session``
(on a worker) does the rest, exactly as ``stom trade --mode live`` does. Real money needs
an account whose key pair is in the keyring (listed through the account service, never
shown) and the phrase :data:`CONFIRM_PHRASE` typed by hand before Start enables; the CLI's
counterpart is ``--i-understand-real-money``. "Dry run" sends nothing and needs no keys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from PyQt6.QtCore import QEvent, pyqtSignal
from PyQt6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from stom_desktop.core.errors import StomError
from stom_desktop.gui.ports import AccountPort, TradingPort
from stom_desktop.gui.workers import run_in_worker
from stom_desktop.services.trading_spec import account_exchange

log = logging.getLogger(__name__)

#: What the user must type before real orders can be sent.
CONFIRM_PHRASE = "REAL MONEY"
#: Venue id -> label (``binanceusdm`` trades with the keys of a ``binance`` account).
EXCHANGES = {
    "binance": "Binance spot",
    "binanceusdm": "Binance USDT-M futures",
    "upbit": "Upbit (KRW)",
}
TIMEFRAMES = ("1m", "5m", "15m", "1h", "1d")
DEFAULT_SYMBOLS = {"binance": "BTC/USDT", "binanceusdm": "BTC/USDT:USDT", "upbit": "BTC/KRW"}
_RED = "color: #ef9a9a;"


def usable_accounts(accounts: Sequence[Any], exchange: str) -> list[str]:
    """Names of accounts with both key and secret stored whose keys trade ``exchange``.

    An account without an exchange is offered everywhere (the service checks it at start).
    """
    keys_of = account_exchange(exchange)
    return [
        a.name
        for a in accounts
        if getattr(a, "complete", False) and getattr(a, "exchange", "") in ("", keys_of)
    ]


def quote_of(symbols: Sequence[str]) -> str:
    """The quote currency the caps are in (``BTC/USDT`` -> ``USDT``), ``quote`` if unknown."""
    quotes = {s.split("/")[-1].split(":")[0] for s in symbols if "/" in s}
    return quotes.pop() if len(quotes) == 1 else "quote currency"


class LiveStartDialog(QDialog):
    """Choose what to trade where, see the caps, confirm, start; ``started(id)`` on success."""

    started = pyqtSignal(int)
    accounts_loaded = pyqtSignal()

    def __init__(
        self,
        trading: TradingPort,
        accounts: AccountPort | None,
        settings: Any,
        strategies: Sequence[str],
        *,
        open_accounts: Callable[[], Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("STOM Desktop \u2014 Start live session")
        self.resize(560, 0)
        self.trading = trading
        self.account_service = accounts
        self.live = settings.live
        self.open_accounts = open_accounts
        self.session_id: int | None = None
        self._all_accounts: list[Any] = []
        self._loading = accounts is not None
        self._starting = False
        self._recheck = False

        self.strategy = QComboBox()
        self.strategy.addItems(list(strategies))
        if "sma_cross" in strategies:
            self.strategy.setCurrentText("sma_cross")
        self.exchange = QComboBox()
        for venue, label in EXCHANGES.items():
            self.exchange.addItem(label, venue)
        self.exchange.setCurrentIndex(max(0, self.exchange.findData(self.live.exchange)))
        self.symbols = QLineEdit(DEFAULT_SYMBOLS.get(self.live.exchange, ""))
        self.symbols.setPlaceholderText("comma-separated ccxt symbols, one quote currency")
        self.timeframe = QComboBox()
        self.timeframe.addItems(list(TIMEFRAMES))
        self.account = QComboBox()
        self.budget = QDoubleSpinBox()
        self.budget.setRange(1.0, 1e12)
        self.budget.setDecimals(2)
        self.budget.setGroupSeparatorShown(True)
        self.budget.setValue(float(self.live.per_day_notional_cap))
        self.budget.setToolTip("The session's starting cash in its books (strategy sizing)")
        self.caps = QLabel()
        self.caps_note = QLabel(
            "Caps come from Settings (live.per_order_notional_cap, live.per_day_notional_cap): "
            "an order above them is refused before it is sent."
        )
        self.caps_note.setWordWrap(True)

        self.no_account = QFrame()
        self.no_account.setObjectName("banner")
        self.no_account_text = QLabel()
        self.no_account_text.setWordWrap(True)
        self.no_account_text.setStyleSheet(_RED)
        self.open_accounts_button = QPushButton("Open Settings \u2192 Accounts\u2026")
        self.open_accounts_button.clicked.connect(self._open_accounts)
        box = QHBoxLayout(self.no_account)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.no_account_text, 1)
        box.addWidget(self.open_accounts_button)
        self.no_account.hide()

        self.dry_run = QCheckBox("Dry run (send nothing): live prices, intended orders are logged")
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.phrase_label = QLabel(f"Type {CONFIRM_PHRASE} to confirm:")
        self.phrase = QLineEdit()
        self.phrase.setPlaceholderText(CONFIRM_PHRASE)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)

        form = QFormLayout()
        form.addRow("Strategy", self.strategy)
        form.addRow("Exchange", self.exchange)
        form.addRow("Symbols", self.symbols)
        form.addRow("Timeframe", self.timeframe)
        form.addRow("Account", self.account)
        form.addRow("Budget", self.budget)
        form.addRow("Caps", self.caps)
        confirm = QHBoxLayout()
        confirm.addWidget(self.phrase_label)
        confirm.addWidget(self.phrase, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        # Grow with the "no account" banner and wrapped notes instead of squeezing the rows.
        layout.setSizeConstraint(QLayout.SizeConstraint.SetMinimumSize)
        layout.addLayout(form)
        layout.addWidget(self.caps_note)
        layout.addWidget(self.no_account)
        layout.addWidget(self.dry_run)
        layout.addWidget(self.summary)
        layout.addLayout(confirm)
        layout.addWidget(self.status)
        layout.addLayout(buttons)

        self.exchange.currentIndexChanged.connect(self._exchange_changed)
        for signal in (
            self.symbols.textChanged,
            self.phrase.textChanged,
            self.account.currentTextChanged,
            self.strategy.currentTextChanged,
        ):
            signal.connect(self._update)
        self.dry_run.toggled.connect(self._update)
        self._update()
        self.reload_accounts()

    # -- accounts ----------------------------------------------------------------------------
    def reload_accounts(self) -> None:
        """Re-read the stored accounts on a worker (a keyring may block to be unlocked)."""
        service = self.account_service
        if service is None:
            self._accounts_failed("no account store is wired (keyring unavailable)")
            return
        self._loading = True
        self._update()

        def load() -> list[Any]:
            status = service.backend_status()
            if not status.available:
                raise StomError(f"the keyring is not available: {status.warning}")
            return service.list_accounts()

        run_in_worker(
            load,
            what="list accounts for a live session",
            on_done=self._accounts_ready,
            on_error=lambda exc: self._accounts_failed(str(exc)),
        )

    def _accounts_ready(self, listed: list[Any]) -> None:
        self._loading = False
        self._all_accounts = list(listed)
        self._fill_accounts()
        self.accounts_loaded.emit()

    def _accounts_failed(self, why: str) -> None:
        self._loading = False
        self._all_accounts = []
        self._fill_accounts(why)
        self.accounts_loaded.emit()

    def exchange_id(self) -> str:
        """The chosen venue's id (``binance``, ``binanceusdm``, ``upbit``)."""
        return str(self.exchange.currentData())

    def _fill_accounts(self, why: str | None = None) -> None:
        exchange = self.exchange_id()
        names = usable_accounts(self._all_accounts, exchange)
        self.account.blockSignals(True)
        self.account.clear()
        self.account.addItems(names)
        if self.live.account in names:
            self.account.setCurrentText(self.live.account)
        self.account.blockSignals(False)
        if names:
            self.no_account.hide()
        else:
            reason = f" ({why})" if why else ""
            self.no_account_text.setText(
                f"No account with API keys for {account_exchange(exchange)} is stored in the "
                f"keyring{reason}. "
                "Live trading needs one; a dry run does not."
            )
            self.no_account.show()
        self._update()
        self._fit_height()

    def _fit_height(self) -> None:
        # The banner comes and goes after the dialog is shown; wrapped labels need the
        # height for the current width, which the minimum-size constraint underestimates.
        layout = self.layout()
        if layout is not None and layout.hasHeightForWidth():
            needed = layout.totalHeightForWidth(self.width())
            if needed > self.height():
                self.resize(self.width(), needed)

    def _open_accounts(self) -> None:
        if self.open_accounts is not None:
            self._recheck = True  # re-read the accounts when the user comes back
            self.open_accounts()

    def event(self, event: QEvent | None) -> bool:
        """Re-read the accounts when the user returns from Settings -> Accounts."""
        if (
            event is not None
            and event.type() == QEvent.Type.WindowActivate
            and self._recheck
            and not self._loading
        ):
            self._recheck = False
            self.reload_accounts()
        return super().event(event)

    # -- form --------------------------------------------------------------------------------
    def _exchange_changed(self, _index: int) -> None:
        if self.symbols.text().strip() in DEFAULT_SYMBOLS.values():
            self.symbols.setText(DEFAULT_SYMBOLS.get(self.exchange_id(), ""))
        self.phrase.clear()  # a confirmation given for one venue does not carry to another
        self._fill_accounts()

    def symbol_list(self) -> tuple[str, ...]:
        """The symbols typed, upper-cased, empty entries dropped."""
        return tuple(s.strip().upper() for s in self.symbols.text().split(",") if s.strip())

    @property
    def confirmed(self) -> bool:
        """The phrase is typed exactly (surrounding spaces ignored)."""
        return self.phrase.text().strip() == CONFIRM_PHRASE

    def _update(self, *_: Any) -> None:
        symbols = self.symbol_list()
        quote = quote_of(symbols)
        self.caps.setText(
            f"\u2264 {self.live.per_order_notional_cap:,.2f} {quote} per order \u00b7 "
            f"\u2264 {self.live.per_day_notional_cap:,.2f} {quote} per day (UTC)"
        )
        self.budget.setSuffix(f" {quote}" if quote != "quote currency" else "")
        dry = self.dry_run.isChecked()
        exchange, account = self.exchange.currentText(), self.account.currentText()  # labels
        self.account.setEnabled(not dry)
        for widget in (self.phrase, self.phrase_label):
            widget.setEnabled(not dry)
        if dry:
            self.summary.setStyleSheet("")
            self.summary.setText(
                f"Dry run on {exchange}'s live prices: every order the strategy would send "
                "is logged; nothing is sent and no keys are used."
            )
            self.start_button.setText("Start dry run")
        else:
            self.summary.setStyleSheet(_RED)
            self.summary.setText(
                f"LIVE: real orders with real money go to {exchange}"
                + (f" from account '{account}'." if account else ".")
            )
            self.start_button.setText("Start LIVE session")
        missing = self.missing()
        self.start_button.setEnabled(not missing and not self._starting)
        self.start_button.setToolTip("" if not missing else f"Needs: {missing}")

    def missing(self) -> str:
        """What is still needed before Start enables ('' when ready)."""
        needs = []
        if not self.strategy.currentText():
            needs.append("a strategy")
        if not self.symbol_list():
            needs.append("symbols")
        if not self.dry_run.isChecked():
            if self._loading:
                needs.append("the account list (loading)")
            elif not self.account.currentText():
                needs.append("an account with API keys")
            if not self.confirmed:
                needs.append(f"the phrase {CONFIRM_PHRASE}")
        return ", ".join(needs)

    def spec(self) -> Any:
        """The ``SessionSpec`` the form describes (``ConfigurationError`` when invalid)."""
        from stom_desktop.services.trading_spec import SessionSpec

        dry = self.dry_run.isChecked()
        strategy = self.strategy.currentText()
        mode = "dry_run" if dry else "live"
        return SessionSpec(
            name=f"{strategy}-{mode}",
            strategy=strategy,
            symbols=self.symbol_list(),
            mode=mode,
            timeframe=self.timeframe.currentText(),
            speed=1.0,
            initial_cash=Decimal(str(self.budget.value())),
            exchange=self.exchange_id(),
            account=None if dry else self.account.currentText(),
        )

    # -- start -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the session on a worker; the dialog closes when the service accepted it."""
        if self.missing() or self._starting:
            return
        try:
            spec = self.spec()
        except StomError as exc:
            self._show(f"Cannot start: {exc}", error=True)
            return
        self._starting = True
        self._update()
        self._show(f"Starting {spec.strategy} ({spec.mode}) on {spec.exchange}\u2026", error=False)
        log.info(
            "tray: starting %s session %s on %s (%s), account %s",
            spec.mode,
            spec.strategy,
            spec.exchange,
            ", ".join(spec.symbols),
            spec.account or "-",
        )
        trading = self.trading
        run_in_worker(
            lambda: trading.start_session(spec),
            what=f"start {spec.mode} session",
            on_done=self._started,
            on_error=self._failed,
        )

    def _started(self, session_id: Any) -> None:
        self._starting = False
        self.session_id = int(session_id)
        self._show(f"Started session {self.session_id}.", error=False)
        self.started.emit(self.session_id)
        self.accept()

    def _failed(self, exc: BaseException) -> None:
        self._starting = False
        self._update()
        self._show(f"The session did not start: {exc}", error=True)

    def _show(self, text: str, *, error: bool) -> None:
        self.status.setStyleSheet(_RED if error else "")
        self.status.setText(text)


def dialog_for_tray(controller: Any) -> LiveStartDialog:
    """A fresh dialog on the tray controller's services (Settings opens from its button)."""
    settings = controller.settings
    if settings is None:
        from stom_desktop.config import load_settings

        settings = load_settings()
    names: list[str] = []
    strategies = getattr(controller.ctx, "strategies", None)
    if strategies is not None:
        try:
            names = [info.name for info in strategies.list() if info.ok]
        except StomError as exc:
            log.warning("live start: cannot list strategies: %s", exc)
    dialog = LiveStartDialog(
        controller.trading,
        controller.accounts,
        settings,
        names or ["sma_cross"],
        open_accounts=lambda: controller.show_window("settings"),
    )
    dialog.started.connect(lambda sid: controller.refresh_pnl())
    return dialog
