"""TradingService: start, watch and stop trading sessions; manual orders; kill switch; reports.

The one API that the CLI (``stom trade``, ``stom order``, ``stom replay``), the GUI and
scheduled jobs call for trading. Each session runs on its own engine thread
(``trading_runtime.SessionRuntime``: engine + market simulator or recorded-tick replay +
PaperBroker + OrderManager journaling to the app database + RiskManager on
``settings.risk``); several sessions run at once. Every event of every session is
re-published on :attr:`TradingService.events`.

Manual orders (:meth:`TradingService.place_order`) go to the session trading the symbol
and through the same ``OrderManager.place`` as strategy orders: idempotency, risk,
market rules, journal-first. Live mode refuses until an exchange broker exists (issue 7).

Restart safety: on construction the service looks for sessions the database still shows
as active whose process is gone (a crash or kill). The paper venue died with that process,
so each such session's unfinished orders are reconciled by ``engine.recovery`` against an
empty venue (never sent -> rejected, acknowledged -> cancelled as unknown at the venue:
nothing is resent, nothing stays open), its positions are rebuilt from the stored fills,
and it is marked stopped with what was found. Such a session is not resumed: a new
session starts from its own cash (resuming positions needs the engine to accept a
rebuilt portfolio, see the report).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from stom_desktop.adapters.brokers.paper import PaperBroker
from stom_desktop.adapters.secrets import KeyringSecretStore
from stom_desktop.config import AppPaths, Settings
from stom_desktop.core.clock import SystemClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import ConfigurationError, StomError
from stom_desktop.core.fills import Fill
from stom_desktop.core.instruments import Instrument
from stom_desktop.core.market_rules import MarketRules
from stom_desktop.core.orders import OrderSnapshot, OrderType
from stom_desktop.core.portfolio import Portfolio
from stom_desktop.core.ports import Broker
from stom_desktop.engine import EventBus, OrderRequest, PlaceResult
from stom_desktop.engine.recovery import fill_from_stored, recover
from stom_desktop.persistence import Database, SessionRecord, SessionRepository
from stom_desktop.persistence.repositories.recordings import RecordingInfo, RecordingRepository
from stom_desktop.persistence.repositories.risk_events import RiskEventRepository
from stom_desktop.services.account_service import AccountService
from stom_desktop.services.equity_history import EquityHistory, build_history
from stom_desktop.services.strategy_service import StrategyService
from stom_desktop.services.trading_journal import SessionJournal, order_journal
from stom_desktop.services.trading_report import (
    daily_markdown,
    max_drawdown_pct,
    round_trips,
    session_markdown,
    win_rate,
    write_report,
)
from stom_desktop.services.trading_runtime import (
    ManualStrategy,
    SessionRuntime,
    check_mode,
    instrument_rules,
)
from stom_desktop.services.trading_spec import (
    MANUAL_STRATEGY,
    DailyReport,
    DailySessionLine,
    FillView,
    PositionView,
    SessionReport,
    SessionSpec,
    SessionStatus,
    account_exchange,
)
from stom_desktop.services.venue_adoption import reconciliation_note
from stom_desktop.strategy import Strategy

if TYPE_CHECKING:  # ccxt (~60 MB) loads only when a live session starts
    from stom_desktop.services.trading_live import ExchangeFactory, LiveVenue
    from stom_desktop.services.venue_kill import VenueKillReport

log = logging.getLogger(__name__)
#: Stored statuses of a session that has not ended.
ACTIVE_STATUSES = frozenset({"created", "idle", "running", "paused"})
_ZERO = Decimal(0)
DEFAULT_CASH = Decimal(10_000_000)


@dataclass(frozen=True, slots=True)
class RecoveredSession:
    """An interrupted session found at start-up and closed with its books reconciled."""

    session_id: int
    never_sent: tuple[str, ...]
    unknown_at_venue: tuple[str, ...]
    positions: dict[str, Decimal]
    cash: Decimal


@dataclass(frozen=True, slots=True)
class TradingSnapshot:
    """Everything a dashboard shows, read consistently per session."""

    sessions: tuple[SessionStatus, ...]
    positions: tuple[PositionView, ...]
    open_orders: tuple[OrderSnapshot, ...]
    fills: tuple[FillView, ...]


class TradingService:
    """Trading use cases over the engine (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        strategies: StrategyService,
        paths: AppPaths,
        *,
        recover_interrupted: bool = True,
        accounts: AccountService | None = None,
        exchange_factory: ExchangeFactory | None = None,
    ) -> None:
        self._settings = settings
        # Live sessions read their keys here (default: the OS keyring) and build their
        # ccxt clients with ``exchange_factory`` (tests inject short timeouts).
        self._accounts = accounts
        self._exchange_factory = exchange_factory
        self._db = database
        self._strategies = strategies
        self._paths = paths
        self._tz = ZoneInfo(settings.timezone)
        self._journal = order_journal(database)
        self._repo = SessionRepository(database)
        self._runtimes: dict[int, SessionRuntime] = {}
        self._reports: dict[int, SessionReport] = {}
        self._lock = threading.RLock()
        self._halt_reason: str | None = None
        #: The engines' events, all sessions (subscribe for fills, orders, errors...).
        self.events = EventBus()
        #: Sessions found interrupted at start-up (see the module docstring).
        self.recovered: list[RecoveredSession] = (
            self.recover_interrupted() if recover_interrupted else []
        )

    # -- sessions ---------------------------------------------------------------------
    def start_session(self, spec: SessionSpec) -> int:
        """Start a session on its own engine thread; returns its id (the database row)."""
        spec = self._with_live_defaults(spec)
        check_mode(spec)
        strategy = self._strategy(spec)
        venue = self._venue(spec) if spec.exchange is not None else None
        if venue is not None:  # live: the account against the journal, cash from the venue
            spec = venue.reconcile_start(spec, self._journal, self._repo.list(limit=10_000))
        config = {"spec": spec.to_dict(), "pid": os.getpid(), "host": socket.gethostname()}
        if venue is not None and venue.start is not None:
            config["venue_reconciliation"] = venue.start.to_dict()
        record = self._repo.create(
            spec.name, spec.strategy, spec.mode, list(spec.symbols), config=config
        )
        try:
            if venue is not None:  # reported in every case; raises when the policy halts
                venue.announce(record.id, RiskEventRepository(self._db).record, self.events.publish)
            runtime = SessionRuntime(
                spec,
                record.id,
                strategy,
                settings=self._settings,
                database=self._db,
                journal=self._journal,
                forward=self.events.publish,
                halted_reason=self._halt_reason,
                venue=venue,
            )
            if venue is not None:
                venue.adopt_into(runtime, self._journal)  # journaled: rebuilds see it
            runtime.start()
        except Exception as exc:
            self._repo.set_status(record.id, "error", error=f"could not start: {exc}")
            raise
        with self._lock:
            self._runtimes[record.id] = runtime
        log.info("session %s (%s) started: %s", record.id, spec.name, spec.to_dict())
        return record.id

    def pause_session(self, session_id: int) -> None:
        """Pause a running session: no new decisions (working orders stay)."""
        runtime = self._active(session_id)
        runtime.engine.pause_session(runtime.sid)

    def resume_session(self, session_id: int) -> None:
        """Resume a paused session."""
        runtime = self._active(session_id)
        runtime.engine.resume_session(runtime.sid)

    def stop_session(
        self, session_id: int, *, liquidate: bool = False, settle_s: float = 5.0
    ) -> SessionReport:
        """Stop a session (optionally flattening it first) and return its report.

        With ``liquidate``, open orders are cancelled and positions flattened with market
        orders, and the engine runs up to ``settle_s`` seconds for them to fill. The
        report is also written to ``reports_dir/session-<id>.md|.json``.
        """
        with self._lock:
            if session_id in self._reports:
                return self._reports[session_id]
        runtime = self._active(session_id)
        om = runtime.order_manager
        if liquidate and om is not None:
            runtime.call(lambda: self._flatten(runtime))
            if not runtime.wait_flat(settle_s):
                log.warning("session %s: positions still open after %s s", session_id, settle_s)
        runtime.shutdown()
        report = self._session_report(runtime)
        md, _json = write_report(
            self._paths.reports_dir,
            f"session-{session_id}",
            session_markdown(report, self._settings.timezone),
            report.to_dict(),
        )
        report = replace(report, path=md)
        with self._lock:
            self._reports[session_id] = report
        return report

    def session_finished(self, session_id: int) -> bool:
        """Whether the session's feed has ended (a replay or a bounded simulation is over)."""
        with self._lock:
            if session_id in self._reports:
                return True
        runtime = self._runtime(session_id)
        return runtime.engine.finished or not runtime.engine.running

    def sessions(self) -> list[SessionStatus]:
        """Sessions started by this service, oldest first."""
        return list(self.snapshot().sessions)

    def positions(self) -> list[PositionView]:
        """Open positions of every session."""
        return list(self.snapshot().positions)

    def open_orders(self) -> list[OrderSnapshot]:
        """Working orders of every session."""
        return list(self.snapshot().open_orders)

    def recent_fills(self, limit: int = 50) -> list[FillView]:
        """The newest ``limit`` fills over every session, newest last."""
        fills = sorted(self.snapshot().fills, key=lambda f: f.ts)
        return fills[-limit:] if limit > 0 else []

    def snapshot(self) -> TradingSnapshot:
        """Sessions, positions, open orders and fills in one read per session."""
        with self._lock:
            runtimes = list(self._runtimes.values())
        parts = [self._read(rt) for rt in runtimes]
        return TradingSnapshot(
            sessions=tuple(p.sessions[0] for p in parts),
            positions=tuple(x for p in parts for x in p.positions),
            open_orders=tuple(x for p in parts for x in p.open_orders),
            fills=tuple(x for p in parts for x in p.fills),
        )

    # -- orders -----------------------------------------------------------------------
    def place_order(
        self,
        symbol: str,
        side: Side | str,
        quantity: Decimal | int | str,
        price: Decimal | int | str | None = None,
        *,
        order_type: OrderType | str | None = None,
        stop_price: Decimal | int | str | None = None,
        session_id: int | None = None,
        intent_key: str | None = None,
    ) -> PlaceResult:
        """A manual order through the same checks as strategy orders; never raises on refusal.

        ``order_type`` defaults to limit when ``price`` is given, else market. The order
        goes to ``session_id`` or to the one running session that trades ``symbol``.
        ``intent_key`` makes a retry (a double click) idempotent.
        """
        try:
            request_side = Side(side)
            qty = Decimal(str(quantity))
            limit = None if price is None else Decimal(str(price))
            stop = None if stop_price is None else Decimal(str(stop_price))
            kind = OrderType(order_type) if order_type is not None else None
        except (ValueError, InvalidOperation) as exc:
            return PlaceResult(False, None, f"invalid order: {exc}", "order.invalid")
        if kind is None:
            kind = OrderType.LIMIT if limit is not None else OrderType.MARKET
        if not qty.is_finite() or qty <= 0:
            return PlaceResult(
                False, None, f"quantity must be > 0, got {quantity}", "order.invalid"
            )
        runtime, refusal = self._route(symbol, session_id)
        if runtime is None:
            return PlaceResult(False, None, refusal, "session")
        if kind is OrderType.STOP and stop is None:
            stop, limit = limit, None  # a stop order's one price is its trigger
        request = OrderRequest(
            session_id=runtime.sid,
            symbol=symbol,
            side=request_side,
            quantity=qty,
            order_type=kind,
            price=limit,
            stop_price=stop,
            tag="manual",
            reason_text="manual order",
            intent_key=intent_key,
        )
        om = runtime.order_manager
        if om is not None:
            return runtime.call(lambda: om.place(request))
        # Dry run: the session's router records the intent and sends nothing.
        router = runtime.session.runner.router
        return runtime.call(lambda: router.place(request))

    def liquidate(self, session_id: int | None = None) -> list[PlaceResult]:
        """Cancel working orders and flatten every position (one session, or all)."""
        with self._lock:
            targets = [
                rt
                for sid, rt in self._runtimes.items()
                if not rt.stopped and (session_id is None or sid == session_id)
            ]
        if session_id is not None and not targets:
            self._active(session_id)  # raises naming the session
        results: list[PlaceResult] = []
        for runtime in targets:
            if runtime.order_manager is not None:
                results += runtime.call(lambda rt=runtime: self._flatten(rt))  # type: ignore[misc]
        return results

    def kill_switch(
        self, engage: bool, reason: str = "manual kill switch"
    ) -> list[VenueKillReport]:
        """Engage: refuse new orders, cancel all, flatten all (every session); or release.

        Live sessions are swept and flattened at the venue and then verified there; their
        reports come back (also logged and stored as risk events).
        """
        reports = []
        with self._lock:
            self._halt_reason = reason if engage else None
            runtimes = [rt for rt in self._runtimes.values() if not rt.stopped]
        for runtime in runtimes:
            om = runtime.order_manager
            if om is None:
                continue
            if engage and runtime.venue is not None and runtime.venue.broker is not None:
                reports.append(runtime.venue.kill_switch(runtime, reason))
            elif engage:
                runtime.call(lambda om=om: om.engage_kill_switch(reason))  # type: ignore[misc]
            else:
                runtime.call(om.release_kill_switch)
        return [r for r in reports if r is not None]

    def last_price(self, symbol: str, session_id: int | None = None) -> Decimal | None:
        """The last price of ``symbol`` in the session trading it (None before the first)."""
        runtime, _ = self._route(symbol, session_id)
        if runtime is None:
            return None
        return runtime.call(lambda: runtime.price_decimal(symbol))

    def recordings(self) -> list[RecordingInfo]:
        """Stored tick recordings (``stom trade --record`` makes them) for replay."""
        return RecordingRepository(self._db).list_recordings()

    def recording_symbols(self, recording_id: str) -> list[str]:
        """Symbols present in a recording (empty when it does not exist)."""
        return sorted(set(RecordingRepository(self._db).load(recording_id).symbol))

    @property
    def halted(self) -> bool:
        """Whether the kill switch is engaged."""
        return self._halt_reason is not None

    # -- reports ----------------------------------------------------------------------
    def daily_report(self, day: date | None = None) -> DailyReport:
        """Sessions created on ``day`` (exchange time zone; default today), written as files.

        P&L is realized from the stored fills (fees shown apart); open positions are listed.
        Files: ``reports_dir/daily-<day>.md`` and ``.json`` (``report.path``/``json_path``).
        """
        report = self._daily(day)
        md, js = write_report(
            self._paths.reports_dir,
            f"daily-{report.day.isoformat()}",
            daily_markdown(report),
            report.to_dict(),
        )
        return replace(report, path=md, json_path=js)

    def today_pnl(self) -> Decimal:
        """Today's P&L: live sessions at their marks, ended ones realized net of fees."""
        report = self._daily(None)
        with self._lock:
            live = {sid: rt for sid, rt in self._runtimes.items() if not rt.stopped}
        total = _ZERO
        for line in report.sessions:
            runtime = live.get(line.session_id)
            if runtime is not None:
                total += runtime.call(lambda rt=runtime: rt.equity() - rt.spec.initial_cash)  # type: ignore[misc]
            else:
                total += line.net_realized
        return total

    def equity_history(self, days: int | None = 90, mode: str = "all") -> EquityHistory:
        """Per-day P&L, fees and equity of stored sessions (see ``services.equity_history``)."""
        records = self._repo.list(limit=10_000)
        line, cash = self._daily_line, _initial_cash
        return build_history(records, line, cash, _currency, self._tz, days=days, mode=mode)

    # -- lifecycle --------------------------------------------------------------------
    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop every running session cleanly (no liquidation)."""
        with self._lock:
            active = [sid for sid, rt in self._runtimes.items() if not rt.stopped]
        for sid in active:
            try:
                self.stop_session(sid)
            except StomError as exc:
                log.error("shutdown: session %s did not stop cleanly: %s", sid, exc)

    def recover_interrupted(self) -> list[RecoveredSession]:
        """Close the books of sessions whose process died (see the module docstring)."""
        found = []
        with self._lock:
            mine = set(self._runtimes)
        for record in self._repo.list(limit=10_000):
            if record.status not in ACTIVE_STATUSES or record.id in mine:
                continue
            if _owned_by_live_process(record):
                continue
            found.append(self._close_interrupted(record))
        return found

    # -- live venues -------------------------------------------------------------------
    def _with_live_defaults(self, spec: SessionSpec) -> SessionSpec:
        """A live spec without exchange/account takes them from ``settings.live``."""
        if spec.mode != "live":
            return spec
        live = self._settings.live
        return replace(
            spec, exchange=spec.exchange or live.exchange, account=spec.account or live.account
        )

    def credentials(self, spec: SessionSpec) -> tuple[str, str]:
        """The API key pair of ``spec.account`` from the keyring, or a clear ``StomError``."""
        name = spec.account or ""
        if self._accounts is None:
            self._accounts = AccountService(KeyringSecretStore())
        try:
            creds = self._accounts.credentials(name)
        except StomError as exc:
            raise ConfigurationError(
                f"no usable API keys for account {name!r}: {exc}",
                key=f"accounts.{name}",
                hint="add the account's key and secret in Settings -> Accounts",
            ) from None
        # A Binance account's keys also trade its USDT-M futures (account_exchange).
        if creds.exchange and account_exchange(creds.exchange) != account_exchange(spec.exchange):
            raise ConfigurationError(
                f"account {name!r} is for {creds.exchange}, not {spec.exchange}",
                key=f"accounts.{name}",
                hint="pick an account of that exchange in Settings -> Accounts",
            )
        return creds.api_key, creds.secret

    def _factory(self) -> ExchangeFactory:
        if self._exchange_factory is not None:
            return self._exchange_factory
        from stom_desktop.services.trading_live import default_exchange_factory

        return default_exchange_factory

    def _venue(self, spec: SessionSpec) -> LiveVenue:
        """The venue of a live session (with keys) or of a live-priced dry run (without)."""
        keys = self.credentials(spec) if spec.mode == "live" else None
        from stom_desktop.services.trading_live import LiveVenue

        return LiveVenue(spec, self._settings, credentials=keys, factory=self._factory())

    # -- internals --------------------------------------------------------------------
    def _strategy(self, spec: SessionSpec) -> Strategy:
        if spec.strategy == MANUAL_STRATEGY:
            return ManualStrategy()
        return self._strategies.create(spec.strategy, spec.params)

    def _runtime(self, session_id: int) -> SessionRuntime:
        with self._lock:
            runtime = self._runtimes.get(session_id)
        if runtime is None:
            raise ConfigurationError(
                f"no session {session_id} in this process",
                hint="`stom trade` sessions live in the process that started them",
            )
        return runtime

    def _active(self, session_id: int) -> SessionRuntime:
        runtime = self._runtime(session_id)
        if runtime.stopped:
            raise ConfigurationError(f"session {session_id} is stopped")
        return runtime

    def _route(self, symbol: str, session_id: int | None) -> tuple[SessionRuntime | None, str]:
        with self._lock:
            active = {sid: rt for sid, rt in self._runtimes.items() if not rt.stopped}
        if session_id is not None:
            runtime = active.get(session_id)
            if runtime is None:
                return None, f"session {session_id} is not running in this process"
            if symbol not in runtime.spec.symbols:
                return None, (
                    f"session {session_id} does not trade {symbol} "
                    f"(it trades {', '.join(runtime.spec.symbols)}): no market data for it"
                )
            return runtime, ""
        matches = [rt for rt in active.values() if symbol in rt.spec.symbols]
        if not matches:
            return None, f"no running session trades {symbol}; start one or pass session_id"
        if len(matches) > 1:
            ids = ", ".join(str(rt.db_id) for rt in matches)
            return None, f"sessions {ids} all trade {symbol}: pass session_id"
        return matches[0], ""

    @staticmethod
    def _flatten(runtime: SessionRuntime) -> list[PlaceResult]:
        om = runtime.order_manager
        assert om is not None
        om.cancel_all(runtime.sid)
        return om.flatten(runtime.sid, tag="liquidate")

    def _read(self, runtime: SessionRuntime) -> TradingSnapshot:
        def read() -> TradingSnapshot:
            portfolio = runtime.portfolio
            marks = runtime.marks()
            equity = portfolio.equity(marks)
            session = runtime.session
            risk = runtime.risk
            status = SessionStatus(
                id=runtime.db_id,
                name=runtime.spec.name,
                strategy=runtime.spec.strategy,
                mode=runtime.spec.mode,
                state=session.state.value,
                symbols=runtime.spec.symbols,
                pnl=equity - runtime.spec.initial_cash,
                equity=equity,
                cash=portfolio.cash,
                fills=len(session.fills),
                started_at=runtime.started_wall,
                market_time=runtime.clock.now(),
                feed_finished=runtime.engine.finished,
                halted=risk is not None and risk.halted,
                error=session.error_message,
            )
            positions = tuple(
                PositionView(
                    runtime.db_id,
                    symbol,
                    pos.quantity,
                    pos.avg_price,
                    runtime.price_decimal(symbol),
                    pos.unrealized_pnl(marks[symbol]),
                    pos.realized_pnl,
                )
                for symbol, pos in portfolio.open_positions().items()
            )
            om = runtime.order_manager
            orders = tuple(om.orders(runtime.sid, open_only=True)) if om is not None else ()
            fills = tuple(_fill_view(runtime.db_id, f) for f in session.fills[-200:])
            return TradingSnapshot((status,), positions, orders, fills)

        return read() if runtime.stopped else runtime.call(read)

    def _session_report(self, runtime: SessionRuntime) -> SessionReport:
        portfolio = runtime.portfolio
        marks = runtime.marks()
        equity = portfolio.equity(marks)
        fills = runtime.fills
        trades = round_trips(fills, marks)
        om, venue = runtime.order_manager, runtime.venue
        initial = runtime.spec.initial_cash
        total = equity - initial
        return SessionReport(
            session_id=runtime.db_id,
            name=runtime.spec.name,
            strategy=runtime.spec.strategy,
            mode=runtime.spec.mode,
            symbols=runtime.spec.symbols,
            state=runtime.session.state.value,
            initial_cash=initial,
            cash=portfolio.cash,
            equity=equity,
            realized_pnl=portfolio.realized_pnl,
            unrealized_pnl=portfolio.unrealized_pnl(marks),
            fees=portfolio.fees_paid,
            total_pnl=total,
            return_pct=float(total / initial),
            orders=len(om.orders(runtime.sid)) if om is not None else runtime.intended,
            fills=len(fills),
            rejections=runtime.rejections,
            trades=tuple(trades),
            win_rate=win_rate(trades),
            max_drawdown_pct=max_drawdown_pct([*runtime.equity_samples, float(equity)]),
            open_positions={s: p.quantity for s, p in portfolio.open_positions().items()},
            intended_orders=runtime.intended,
            market_start=datetime.fromtimestamp(runtime.market_start_ms / 1000, tz=UTC),
            market_end=runtime.clock.now(),
            error=runtime.session.error_message,
            venue_reconciliation=None if venue is None else venue.reconciliation_note(),
        )

    def _daily(self, day: date | None) -> DailyReport:
        when = day if day is not None else datetime.now(self._tz).date()
        lines = [
            self._daily_line(record)
            for record in sorted(self._repo.list(limit=10_000), key=lambda r: r.id)
            if record.created_at.astimezone(self._tz).date() == when
        ]
        return DailyReport(
            day=when,
            sessions=tuple(lines),
            orders=sum(line.orders for line in lines),
            fills=sum(line.fills for line in lines),
            realized_pnl=sum((line.realized_pnl for line in lines), _ZERO),
            fees=sum((line.fees for line in lines), _ZERO),
            net_realized=sum((line.net_realized for line in lines), _ZERO),
        )

    def _daily_line(self, record: SessionRecord) -> DailySessionLine:
        portfolio = self._rebuild(record)
        orders = self._journal.orders(record.id)
        return DailySessionLine(
            session_id=record.id,
            name=record.name,
            strategy=record.strategy_name,
            mode=record.mode,
            status=record.status,
            orders=len(orders),
            fills=portfolio.fill_count,
            realized_pnl=portfolio.realized_pnl,
            fees=portfolio.fees_paid,
            net_realized=portfolio.realized_pnl - portfolio.fees_paid,
            open_positions={s: p.quantity for s, p in portfolio.open_positions().items()},
            error=record.error,
            venue_reconciliation=reconciliation_note(record.config.get("venue_reconciliation")),
        )

    def _rebuild(self, record: SessionRecord) -> Portfolio:
        orders = {o.client_order_id: o for o in self._journal.orders(record.id)}
        fills = [
            fill_from_stored(
                row,
                orders[row.client_order_id].symbol,
                orders[row.client_order_id].side,
                _currency(record),
            )
            for row in self._journal.all_fills(record.id)
        ]
        return Portfolio.rebuild(_initial_cash(record), fills, currency=_currency(record))

    def _live_broker(self, record: SessionRecord) -> Broker | None:
        """A broker on the venue of an interrupted *live* session (None: a paper one)."""
        raw = record.config.get("spec") if isinstance(record.config, dict) else None
        if not isinstance(raw, dict) or raw.get("mode") != "live" or not raw.get("exchange"):
            return None
        spec = SessionSpec.from_dict(raw)
        api_key, secret = self.credentials(spec)
        from stom_desktop.adapters.brokers.ccxt_broker import CcxtBroker

        exchange = self._factory()(str(spec.exchange), api_key, secret)
        broker = CcxtBroker(exchange, str(spec.exchange), symbols=spec.symbols)
        broker.load_markets()
        return broker

    def _close_interrupted(self, record: SessionRecord) -> RecoveredSession:
        clock = SystemClock()
        # A live session's orders are reconciled with the venue itself (adopted when they
        # reached it, rejected when not); a paper venue died with its process.
        venue = self._live_broker(record) or PaperBroker(
            clock, instrument_rules_for, cash=_initial_cash(record)
        )
        sid = f"s{record.id}"
        report = recover(
            venue,
            SessionJournal(self._journal, record.id),
            clock=clock,
            initial_cash={sid: _initial_cash(record)},
            currency=_currency(record),  # a live session's books are in its quote currency
        )
        # From this session's stored fills (recovery's additions included), adoptions too.
        books = self._rebuild(record)
        positions = {s: p.quantity for s, p in books.open_positions().items()}
        cash = books.cash
        note = (
            f"interrupted: the process that ran it ended; at restart {len(report.never_sent)} "
            f"unsent order(s) were rejected, {len(report.missing_at_venue)} working order(s) "
            f"were closed as unknown at the venue; positions from stored fills: "
            f"{ {s: str(q) for s, q in positions.items()} or 'flat' }, cash {cash}"
        )
        log.warning("session %s %s", record.id, note)
        self._repo.set_status(record.id, "stopped", error=note)
        return RecoveredSession(
            record.id, tuple(report.never_sent), tuple(report.missing_at_venue), positions, cash
        )


def instrument_rules_for(symbol: str) -> MarketRules:
    """Rules used to reconcile an interrupted session (the simulator's instrument model)."""
    return instrument_rules(Instrument.simulated(symbol))


def _initial_cash(record: SessionRecord) -> Decimal:
    spec = record.config.get("spec") if isinstance(record.config, dict) else None
    if isinstance(spec, dict) and "initial_cash" in spec:
        return Decimal(str(spec["initial_cash"]))
    return DEFAULT_CASH


def _currency(record: SessionRecord) -> str:
    """The books' currency of a stored session: a venue session's quote, else KRW (paper)."""
    spec = record.config.get("spec") if isinstance(record.config, dict) else None
    if isinstance(spec, dict) and spec.get("exchange") and spec.get("symbols"):
        return str(spec["symbols"][0]).split("/")[-1].split(":")[0]
    return "KRW"


def _owned_by_live_process(record: SessionRecord) -> bool:
    """True when the session's process still runs (on this host): not interrupted."""
    config = record.config if isinstance(record.config, dict) else {}
    pid, host = config.get("pid"), config.get("host")
    if not isinstance(pid, int) or host != socket.gethostname() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


def _fill_view(session_id: int, fill: Fill) -> FillView:
    return FillView(
        session_id,
        fill.client_order_id,
        fill.symbol,
        fill.side,
        fill.quantity,
        fill.price,
        fill.fee,
        fill.ts,
    )
