"""Pre-trade risk: account limits, per-session time windows, cooldowns and the kill switch.

``RiskManager.check`` looks at one ``OrderRequest`` in its ``RiskContext`` (the session's
position, open symbols and equity) and returns ``None`` or a ``RiskVerdict`` naming the
rule that refused it. Exits (orders that only reduce a position) are never blocked by
entry rules, so a strategy can always get out; only the kill switch blocks them (it
flattens by itself). ``reject`` records every refusal (risk_events, through a
``RiskEventRecorder``) and publishes a ``RiskRejectEvent``. The actions (cancel all,
flatten, forced liquidation) belong to the ``OrderManager``, which owns the broker.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Protocol
from zoneinfo import ZoneInfo

from stom_desktop.config.settings import RiskLimits
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import PersistenceError
from stom_desktop.core.events import ErrorEvent, RiskRejectEvent
from stom_desktop.core.ports import Clock, EventSink
from stom_desktop.engine.requests import OrderRequest

log = logging.getLogger(__name__)
_ZERO = Decimal(0)


class RiskEventRecorder(Protocol):
    """Where rejections are stored (``persistence.RiskEventRepository`` implements it)."""

    def record(
        self,
        rule: str,
        detail: str,
        *,
        session_id: int | None = None,
        client_order_id: str | None = None,
        at: datetime | None = None,
    ) -> object:
        """Store one risk event in its own transaction."""
        ...


@dataclass(frozen=True, slots=True)
class SessionRiskOptions:
    """Per-session rules on top of the account limits (times are exchange-local)."""

    timezone: str = "Asia/Seoul"
    entry_start: time | None = None  # no new entries before this local time
    entry_end: time | None = None  # no new entries at or after this local time
    liquidation_time: time | None = None  # flatten everything at or after this local time
    limits: RiskLimits | None = None  # overrides the account limits for this session


@dataclass(frozen=True, slots=True)
class RiskContext:
    """What risk needs to know about the session when judging one request."""

    position: Decimal  # signed position in the request's symbol
    open_symbols: frozenset[str]  # symbols held or with an open entry order
    equity: Decimal  # cash + positions marked to market
    now: datetime


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    """A refusal: ``rule`` names the check, ``reason`` explains it to a person."""

    rule: str
    reason: str


def is_entry(side: Side, quantity: Decimal, position: Decimal) -> bool:
    """Whether an order opens or increases exposure (a flip through zero counts)."""
    if position == 0:
        return True
    if (side is Side.BUY) == (position > 0):
        return True
    return quantity > abs(position)


class RiskManager:
    """Judges requests against the limits; holds the kill switch and per-symbol cooldowns."""

    def __init__(
        self,
        limits: RiskLimits,
        *,
        clock: Clock,
        bus: EventSink | None = None,
        recorder: RiskEventRecorder | None = None,
        options: Mapping[str, SessionRiskOptions] | None = None,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._bus = bus
        self._recorder = recorder
        self._options: dict[str, SessionRiskOptions] = dict(options or {})
        self._default_options = SessionRiskOptions()
        self._last_exit: dict[tuple[str, str], datetime] = {}
        self._day_start: dict[str, tuple[date, Decimal]] = {}
        self._liquidated_on: dict[str, date] = {}
        self._halt_reason: str | None = None
        self._lock = threading.Lock()

    # -- configuration ---------------------------------------------------------------
    def set_session_options(self, session_id: str, options: SessionRiskOptions) -> None:
        """Set the time windows / limit overrides of one session."""
        ZoneInfo(options.timezone)  # fail now on an unknown zone, not at the first order
        self._options[session_id] = options

    def options_for(self, session_id: str) -> SessionRiskOptions:
        """The session's options (defaults when none were set)."""
        return self._options.get(session_id, self._default_options)

    def limits_for(self, session_id: str) -> RiskLimits:
        """The limits that apply to the session."""
        return self.options_for(session_id).limits or self.limits

    # -- kill switch -----------------------------------------------------------------
    @property
    def halted(self) -> bool:
        """True while the kill switch is engaged: every new order is refused."""
        return self._halt_reason is not None

    @property
    def halt_reason(self) -> str | None:
        """Why the kill switch was engaged (``None`` when released)."""
        return self._halt_reason

    def engage_kill_switch(self, reason: str) -> None:
        """Refuse every new order until ``release_kill_switch``."""
        with self._lock:
            self._halt_reason = reason or "kill switch"

    def release_kill_switch(self) -> None:
        """Allow orders again (no restart needed)."""
        with self._lock:
            self._halt_reason = None

    # -- state fed by the order manager ---------------------------------------------
    def observe_equity(self, session_id: str, equity: Decimal, now: datetime) -> None:
        """Remember the session's equity at the first look of each exchange day."""
        today = self._local(session_id, now).date()
        current = self._day_start.get(session_id)
        if current is None or current[0] != today:
            self._day_start[session_id] = (today, equity)

    def on_position_change(
        self, session_id: str, symbol: str, before: Decimal, after: Decimal, at: datetime
    ) -> None:
        """Start the symbol's cooldown when a fill reduced or closed the position."""
        if before != 0 and (after == 0 or abs(after) < abs(before) or (after > 0) != (before > 0)):
            self._last_exit[(session_id, symbol)] = at

    def liquidation_due(self, session_id: str, now: datetime) -> bool:
        """True once per exchange day when the forced-liquidation time has passed."""
        when = self.options_for(session_id).liquidation_time
        if when is None:
            return False
        local = self._local(session_id, now)
        if local.time() < when or self._liquidated_on.get(session_id) == local.date():
            return False
        self._liquidated_on[session_id] = local.date()
        return True

    # -- the checks ------------------------------------------------------------------
    def check(self, request: OrderRequest, ctx: RiskContext) -> RiskVerdict | None:
        """``None`` if the request may go on, else the first rule it breaks."""
        if self._halt_reason is not None:
            return RiskVerdict("risk.kill_switch", f"trading halted: {self._halt_reason}")
        sid, symbol = request.session_id, request.symbol
        limits = self.limits_for(sid)
        entry = is_entry(request.side, request.quantity, ctx.position)
        self.observe_equity(sid, ctx.equity, ctx.now)
        if entry:
            verdict = self._entry_rules(request, ctx, limits)
            if verdict is not None:
                return verdict
        price = request.limit_or_reference_price
        if price is None or price <= 0:
            return RiskVerdict(
                "risk.no_price",
                f"cannot value the {request.order_type} order for {symbol}: "
                "no limit price and no reference price",
            )
        notional = request.quantity * price
        max_notional = _dec(limits.max_order_notional)
        if notional > max_notional:
            return RiskVerdict(
                "risk.max_order_notional",
                f"order notional {notional} ({request.quantity} x {price}) exceeds "
                f"the limit {max_notional}",
            )
        if entry:
            signed = request.quantity if request.side is Side.BUY else -request.quantity
            after_value = abs(ctx.position + signed) * price
            cap = _dec(limits.max_position_pct) * ctx.equity
            if ctx.equity <= 0 or after_value > cap:
                return RiskVerdict(
                    "risk.max_position_pct",
                    f"position in {symbol} would be worth {after_value}, above "
                    f"{limits.max_position_pct:.2%} of equity {ctx.equity} ({cap})",
                )
        return None

    def _entry_rules(
        self, request: OrderRequest, ctx: RiskContext, limits: RiskLimits
    ) -> RiskVerdict | None:
        sid, symbol = request.session_id, request.symbol
        if symbol in limits.blacklist:
            return RiskVerdict("risk.blacklist", f"{symbol} is blacklisted: no new entries")
        options = self.options_for(sid)
        local = self._local(sid, ctx.now)
        if options.entry_start is not None and local.time() < options.entry_start:
            return RiskVerdict(
                "risk.entry_window",
                f"no new entries before {options.entry_start} {options.timezone} "
                f"(now {local:%H:%M:%S})",
            )
        if options.entry_end is not None and local.time() >= options.entry_end:
            return RiskVerdict(
                "risk.entry_window",
                f"no new entries after {options.entry_end} {options.timezone} "
                f"(now {local:%H:%M:%S})",
            )
        day = self._day_start.get(sid)
        if day is not None and day[1] > 0:
            pnl = ctx.equity - day[1]
            loss_cap = _dec(limits.daily_loss_limit_pct) * day[1]
            if pnl <= -loss_cap:
                return RiskVerdict(
                    "risk.daily_loss_limit",
                    f"today's P&L {pnl} reached the daily loss limit -{loss_cap} "
                    f"({limits.daily_loss_limit_pct:.2%} of {day[1]}): no new entries",
                )
            if limits.daily_profit_lock_pct is not None:
                lock = _dec(limits.daily_profit_lock_pct) * day[1]
                if pnl >= lock:
                    return RiskVerdict(
                        "risk.daily_profit_lock",
                        f"today's P&L {pnl} reached the profit lock {lock}: no new entries",
                    )
        last_exit = self._last_exit.get((sid, symbol))
        if last_exit is not None and limits.cooldown_seconds > 0:
            until = last_exit + timedelta(seconds=limits.cooldown_seconds)
            if ctx.now < until:
                return RiskVerdict(
                    "risk.cooldown",
                    f"{symbol} was exited at {last_exit.isoformat()}; no re-entry before "
                    f"{until.isoformat()} ({limits.cooldown_seconds} s cooldown)",
                )
        opens_new = ctx.position == 0 and symbol not in ctx.open_symbols
        if opens_new and len(ctx.open_symbols) >= limits.max_open_positions:
            return RiskVerdict(
                "risk.max_open_positions",
                f"{len(ctx.open_symbols)} positions/entries open "
                f"(limit {limits.max_open_positions}): cannot open {symbol}",
            )
        return None

    # -- recording -------------------------------------------------------------------
    def reject(
        self,
        request: OrderRequest,
        verdict: RiskVerdict,
        *,
        journal_session_id: int | None = None,
        client_order_id: str | None = None,
    ) -> None:
        """Record the refusal (risk_events) and publish a ``RiskRejectEvent``."""
        now = self._clock.now()
        detail = (
            f"{request.side.value} {request.quantity} {request.symbol} "
            f"({request.order_type.value}): {verdict.reason}"
        )
        self.record(
            verdict.rule,
            detail,
            session_id=request.session_id,
            journal_session_id=journal_session_id,
            client_order_id=client_order_id,
        )
        if self._bus is not None:
            self._bus.publish(
                RiskRejectEvent(
                    session_id=request.session_id,
                    symbol=request.symbol,
                    side=request.side,
                    quantity=request.quantity,
                    rule=verdict.rule,
                    reason=verdict.reason,
                    ts_ms=self._clock.now_ms(),
                    client_order_id=client_order_id,
                )
            )
        log.info(
            "risk refused %s: %s (%s) at %s", request.symbol, verdict.reason, verdict.rule, now
        )

    def record(
        self,
        rule: str,
        detail: str,
        *,
        session_id: str,
        journal_session_id: int | None = None,
        client_order_id: str | None = None,
    ) -> None:
        """Store one risk event; a storage failure is logged and published, not raised.

        The refusal itself already happened (the order is not sent); failing the caller
        because the audit row could not be written would only hide the refusal.
        """
        if self._recorder is None:
            return
        try:
            self._recorder.record(
                rule,
                detail,
                session_id=journal_session_id,
                client_order_id=client_order_id,
                at=self._clock.now(),
            )
        except PersistenceError as exc:
            log.error("could not record risk event %s for session %s: %s", rule, session_id, exc)
            if self._bus is not None:
                self._bus.publish(
                    ErrorEvent(
                        session_id=session_id,
                        message=f"risk event '{rule}' not recorded: {exc}",
                        traceback_text=None,
                        ts_ms=self._clock.now_ms(),
                    )
                )

    def _local(self, session_id: str, now: datetime) -> datetime:
        return now.astimezone(ZoneInfo(self.options_for(session_id).timezone))


def _dec(value: float | int) -> Decimal:
    # Settings hold floats; str() gives the shortest repr, so 0.05 becomes exactly 0.05.
    return Decimal(str(value))
