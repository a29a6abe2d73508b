"""TradingSession: one strategy on a set of symbols in one mode, with its own state and failures.

States: ``idle -> running <-> paused -> stopped``; ``error`` when the engine itself failed
inside the session (a bug, not the strategy). A strategy that raises (any exception in its
code becomes a ``StrategyError`` via ``safe_call``) **pauses only its session**: the
traceback is kept in :attr:`TradingSession.error_text`, written to the session store
(``SessionRepository.set_status(..., error=...)``) and published as an ``ErrorEvent``;
other sessions keep trading. A paused session still books fills and keeps its protective
orders working (they guard open positions); it only stops deciding.

Modes: ``paper`` and ``live`` send through the engine's order router (the ``OrderManager``);
``dry_run`` sends nothing: :class:`DryRunRouter` logs and publishes each intended order as an
``IntendedOrderEvent`` and books market orders as virtual fills at the current price so the
strategy's later exits make sense (stop and limit orders are only recorded; they never
trigger in a dry run).
"""

from __future__ import annotations

import itertools
import logging
import traceback
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from stom_desktop.core.enums import FillAt, timeframe_seconds
from stom_desktop.core.errors import ConfigurationError, StomError, StrategyError
from stom_desktop.core.events import BarEvent, ErrorEvent, SessionState, SessionStateEvent
from stom_desktop.core.fills import Fill
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import OrderSnapshot, OrderType
from stom_desktop.core.portfolio import Portfolio
from stom_desktop.engine.history import BarHistory
from stom_desktop.engine.requests import OrderRequest, PlaceResult
from stom_desktop.engine.strategy_runner import (
    Clock,
    IntendedOrderEvent,
    OrderRouter,
    PriceOf,
    Publish,
    SizingConfig,
    StrategyRunner,
)
from stom_desktop.strategy.base import Strategy

log = logging.getLogger(__name__)


class SessionMode(StrEnum):
    """How a session trades."""

    PAPER = "paper"
    LIVE = "live"
    DRY_RUN = "dry_run"


class SessionStore(Protocol):
    """Where session status and errors are recorded (``persistence.SessionRepository``)."""

    def set_status(
        self, session_id: int, status: str, *, at: datetime | None = None, error: str | None = None
    ) -> object:
        """Record a status change (and the error text when failing)."""
        ...


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """What a session trades and how; validated on construction.

    ``db_id`` is the row id in the sessions table when the session is stored (status
    changes are then recorded through the engine's ``SessionStore``).
    """

    session_id: str
    symbols: tuple[str, ...]
    timeframe: str = "1m"
    mode: SessionMode = SessionMode.PAPER
    initial_cash: Decimal = Decimal(10_000_000)
    currency: str = "KRW"
    sizing: SizingConfig = field(default_factory=SizingConfig)
    fill_at: FillAt = FillAt.NEXT_OPEN
    window: int | str | None = "auto"
    db_id: int | None = None

    def __post_init__(self) -> None:
        if not self.session_id:
            raise ConfigurationError("a session needs a non-empty id", key="session_id")
        symbols = tuple(self.symbols)
        if not symbols or len(set(symbols)) != len(symbols):
            raise ConfigurationError(
                f"session {self.session_id}: symbols must be non-empty and unique, got "
                f"{list(symbols)}",
                key="symbols",
            )
        object.__setattr__(self, "symbols", symbols)
        timeframe_seconds(self.timeframe)  # raises ConfigurationError naming the value
        try:
            object.__setattr__(self, "mode", SessionMode(self.mode))
        except ValueError as exc:
            raise ConfigurationError(
                f"unknown mode {self.mode!r}; use paper, live or dry_run", key="mode"
            ) from exc
        if not isinstance(self.initial_cash, Decimal) or self.initial_cash <= 0:
            raise ConfigurationError(
                f"must be a Decimal > 0, got {self.initial_cash!r}", key="initial_cash"
            )


class TradingSession:
    """A strategy + symbols + mode, isolated from every other session's failures."""

    def __init__(
        self,
        config: SessionConfig,
        strategy: Strategy,
        *,
        router: OrderRouter,
        history: BarHistory,
        price_of: PriceOf,
        clock: Clock,
        publish: Publish,
        store: SessionStore | None = None,
        portfolio: Portfolio | None = None,
    ) -> None:
        self.config = config
        self.session_id = config.session_id
        self._clock = clock
        self._publish = publish
        self._store = store
        self.portfolio = (
            portfolio if portfolio is not None else Portfolio(config.initial_cash, config.currency)
        )
        if config.mode is SessionMode.DRY_RUN:
            router = DryRunRouter(self, price_of, clock, publish)
        self.runner = StrategyRunner(
            config.session_id,
            strategy,
            config.timeframe,
            history,
            router,
            self.portfolio,
            price_of,
            clock,
            publish,
            sizing=config.sizing,
            fill_at=config.fill_at,
            window=config.window,
        )
        self._state = SessionState.IDLE
        #: Message and traceback of the failure that paused/stopped the session, if any.
        self.error_message: str | None = None
        self.error_text: str | None = None
        #: Fills booked in this session, in booking order.
        self.fills: list[Fill] = []

    @property
    def state(self) -> SessionState:
        """Current state."""
        return self._state

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols the session trades."""
        return self.config.symbols

    @property
    def timeframe(self) -> str:
        """Bar timeframe the strategy runs on."""
        return self.config.timeframe

    # -- control ------------------------------------------------------------------------
    def start(self) -> None:
        """``idle -> running``."""
        self._require({SessionState.IDLE}, "start")
        self._set_state(SessionState.RUNNING)

    def pause(self, message: str | None = None) -> None:
        """``running -> paused``: no new decisions; queued orders are dropped."""
        self._require({SessionState.RUNNING}, "pause")
        self.runner.drop_queued()
        self._set_state(SessionState.PAUSED, message)

    def resume(self) -> None:
        """``paused -> running``; clears a recorded strategy error."""
        self._require({SessionState.PAUSED}, "resume")
        self.error_message = self.error_text = None
        self._set_state(SessionState.RUNNING)

    def stop(self) -> None:
        """Stop for good: drop queued orders and cancel protective orders (positions stay)."""
        if self._state is SessionState.STOPPED:
            return
        self.runner.drop_queued()
        try:
            self.runner.cancel_all_protection()
        except StomError as exc:
            log.error("session %s: cancelling on stop failed: %s", self.session_id, exc)
        self._set_state(SessionState.STOPPED)

    def _require(self, allowed: set[SessionState], what: str) -> None:
        if self._state not in allowed:
            raise ConfigurationError(
                f"session {self.session_id}: cannot {what} while {self._state.value}",
                hint=f"allowed from: {', '.join(sorted(s.value for s in allowed))}",
            )

    # -- engine callbacks (never raise) ---------------------------------------------------------
    def on_bar_closed(self, bar: BarEvent) -> None:
        """Let the strategy decide on a closed bar (only while running)."""
        if self._state is not SessionState.RUNNING:
            return
        try:
            self.runner.on_bar_closed(bar)
        except StrategyError as exc:
            self._fail(exc, exc.traceback_text, SessionState.PAUSED)
        except Exception as exc:  # noqa: BLE001 - engine bug inside this session: isolate it
            self._fail(exc, None, SessionState.ERROR)

    def flush(self, symbol: str) -> None:
        """Send orders queued for ``symbol`` (the broker has its next price)."""
        if self._state is not SessionState.RUNNING:
            self.runner.drop_queued()
            return
        try:
            self.runner.flush(symbol)
        except Exception as exc:  # noqa: BLE001 - isolate the session
            self._fail(exc, None, SessionState.ERROR)

    def has_queued(self, symbol: str) -> bool:
        """Whether orders wait for ``symbol``'s next market event."""
        return self.runner.has_queued(symbol)

    def on_fill(self, fill: Fill) -> None:
        """Book a fill of this session (in every state: the venue executed it)."""
        try:
            if not self.portfolio.apply_fill(fill):
                return  # duplicate report
            self.fills.append(fill)
            self.runner.on_fill(fill)
        except Exception as exc:  # noqa: BLE001 - isolate the session
            self._fail(exc, None, SessionState.ERROR)

    def on_order_update(self, order: OrderSnapshot) -> None:
        """An order of this session changed."""
        try:
            self.runner.on_order_update(order)
        except Exception as exc:  # noqa: BLE001 - isolate the session
            self._fail(exc, None, SessionState.ERROR)

    # -- failure and state recording ---------------------------------------------------------
    def _fail(self, exc: BaseException, tb_text: str | None, state: SessionState) -> None:
        text = tb_text or "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        message = f"session {self.session_id}: {exc}"
        log.error("%s\n%s", message, text)
        self.error_message, self.error_text = message, text
        self.runner.drop_queued()
        self._publish(ErrorEvent(self.session_id, message, text, self._clock.now_ms()))
        if self._state is SessionState.RUNNING or state is SessionState.ERROR:
            self._set_state(state, message, error=text)

    def _set_state(
        self, state: SessionState, message: str | None = None, *, error: str | None = None
    ) -> None:
        self._state = state
        self._publish(SessionStateEvent(self.session_id, state, self._clock.now_ms(), message))
        if self._store is not None and self.config.db_id is not None:
            try:
                self._store.set_status(
                    self.config.db_id, state.value, at=self._clock.now(), error=error
                )
            except StomError as exc:  # the session keeps its state; the record is behind
                log.error("session %s: recording state %s failed: %s", self.session_id, state, exc)


class DryRunRouter:
    """Records intended orders instead of sending them (``SessionMode.DRY_RUN``)."""

    def __init__(
        self, session: TradingSession, price_of: PriceOf, clock: Clock, publish: Publish
    ) -> None:
        self._session = session
        self._price_of = price_of
        self._clock = clock
        self._publish = publish
        self._ids = itertools.count(1)
        #: Every intended order, in order.
        self.intended: list[OrderRequest] = []

    def place(self, request: OrderRequest) -> PlaceResult:
        """Log and publish the intent; book a market order as a virtual fill."""
        cid = f"dry-{request.session_id}-{next(self._ids)}"
        self.intended.append(request)
        now_ms = self._clock.now_ms()
        log.info(
            "dry run %s: would %s %s %s (%s) [%s]",
            request.session_id,
            request.side.value,
            request.quantity,
            request.symbol,
            request.order_type.value,
            request.tag,
        )
        self._publish(IntendedOrderEvent(request.session_id, request, cid, now_ms))
        if request.order_type is not OrderType.MARKET:
            return PlaceResult(True, cid, status=OrderStatus.SUBMITTED)
        price = self._price_of(request.symbol)
        if price is None:
            return PlaceResult(False, cid, reason="no price for a virtual fill", rule="dry_run")
        fill = Fill(
            fill_id=cid,
            client_order_id=cid,
            symbol=request.symbol,
            side=request.side,
            quantity=request.quantity,
            price=Decimal(repr(price)),
            fee=Decimal(0),
            fee_currency=self._session.config.currency,
            ts=self._clock.now(),
        )
        self._session.on_fill(fill)
        return PlaceResult(True, cid, status=OrderStatus.FILLED)

    def cancel(self, client_order_id: str) -> None:
        """Nothing was sent, so nothing to cancel; logged for the record."""
        log.info("dry run: would cancel %s", client_order_id)
