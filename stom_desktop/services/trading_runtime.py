"""One running session: its engine, feed, paper broker, order manager and risk, on one thread.

Each session gets its own ``Engine`` (the engine takes sessions only before it starts, and
sessions may run at different speeds on different feeds, so they cannot share one
simulated clock). Everything a session owns is touched only on its engine thread:
:meth:`SessionRuntime.call` runs a function there and waits for the result, which is how
the service places manual orders, reads positions and stops the session without racing
the kernel loop. Every event of the engine's bus is forwarded to the service's bus.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from stom_desktop.adapters.brokers.paper import PaperBroker
from stom_desktop.adapters.feeds import MarketSimulator, RecordedTickFeed, SimulatorConfig
from stom_desktop.adapters.feeds.recorder import TickRecorder
from stom_desktop.config.settings import Settings
from stom_desktop.core.bars import BarSeries
from stom_desktop.core.clock import SimulatedClock, SystemClock
from stom_desktop.core.errors import ConfigurationError, DataError, StomError
from stom_desktop.core.events import FillEvent, RiskRejectEvent
from stom_desktop.core.fills import Fill
from stom_desktop.core.instruments import Instrument, Venue
from stom_desktop.core.market_rules import FixedTickRules, MarketRules, rules_for
from stom_desktop.core.portfolio import Portfolio
from stom_desktop.core.ports import Feed
from stom_desktop.engine import Engine, EventBus, SessionConfig, SessionMode, SizingConfig
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.recovery import JournalHistory
from stom_desktop.engine.risk import RiskManager, SessionRiskOptions
from stom_desktop.engine.strategy_runner import IntendedOrderEvent
from stom_desktop.engine.venue_orders import VenueOrderManager
from stom_desktop.persistence import Database, SessionRepository
from stom_desktop.persistence.repositories.recordings import RecordingRepository
from stom_desktop.persistence.repositories.risk_events import RiskEventRepository
from stom_desktop.services.trading_journal import SessionJournal
from stom_desktop.services.trading_spec import SessionSpec
from stom_desktop.strategy import Indicators, Signals, Strategy

if TYPE_CHECKING:  # ccxt costs ~60 MB and ~0.5 s: loaded only for live sessions
    from stom_desktop.services.trading_live import LiveVenue

log = logging.getLogger(__name__)
#: How often a venue session publishes its forming bar (market = wall time, ms).
VENUE_PARTIAL_BAR_MS = 1000
T = TypeVar("T")
#: Broker fee of the simulator's instruments (a KRX-like 0.015 % per side), so that
#: paper reports show realistic costs; real venues use their own rules.
SIM_FEE_RATE = Decimal("0.00015")
_MINUTE_MS = 60_000


class ManualStrategy(Strategy):
    """Never signals: a session that only carries manual orders (``stom order``)."""

    name = "manual"

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        """No decisions at all."""
        return Signals()


def instrument_rules(instrument: Instrument) -> MarketRules:
    """Market rules of ``instrument``; simulator symbols get a KRX-like broker fee."""
    if instrument.venue is Venue.SIM:
        tick = instrument.tick_size if instrument.tick_size is not None else Decimal(1)
        return FixedTickRules(tick=tick, lot=instrument.lot_size, fee_rate=SIM_FEE_RATE)
    return rules_for(instrument)


@dataclass(slots=True)
class _Call:
    """A function handed to the engine thread, claimed once (there or by the caller)."""

    fn: Callable[[], Any]
    done: threading.Event
    lock: threading.Lock
    claimed: bool = False
    value: Any = None
    error: BaseException | None = None

    def run(self) -> None:
        with self.lock:
            if self.claimed:
                return
            self.claimed = True
        try:
            self.value = self.fn()
        except BaseException as exc:  # noqa: BLE001 - handed back to the caller
            self.error = exc
        finally:
            self.done.set()


class SessionRuntime:
    """Builds and owns one session's engine stack (see the module docstring)."""

    def __init__(
        self,
        spec: SessionSpec,
        db_id: int,
        strategy: Strategy,
        *,
        settings: Settings,
        database: Database,
        journal: JournalHistory,
        forward: Callable[[object], None],
        halted_reason: str | None = None,
        venue: LiveVenue | None = None,
    ) -> None:
        self.spec = spec
        self.db_id = db_id
        self.sid = f"s{db_id}"  # engine session id and the client order ids' middle part
        self.mode = SessionMode(spec.mode)
        #: A real venue (live, or a dry run on live prices): its feed, rules and broker.
        self.venue = venue
        self.clock: SimulatedClock | SystemClock
        if venue is not None:
            self.feed: Feed = venue.feed
            self.instruments: dict[str, Instrument] = {}
            self.clock = SystemClock()
            self.market_start_ms = self.clock.now_ms()
        else:
            feed, first_ms, instruments = self._build_feed(spec, database)
            self.feed = feed
            self.instruments = instruments
            self.clock = SimulatedClock(first_ms)
            self.market_start_ms = first_ms
        self.bus = EventBus(self.clock.now_ms)
        self.bus.subscribe(object, forward)
        self.broker: PaperBroker | None = None
        self.order_manager: OrderManager | None = None
        self.risk: RiskManager | None = None
        live_broker = venue.broker if venue is not None else None
        if self.mode is SessionMode.LIVE and live_broker is None:
            raise ConfigurationError("a live session needs an exchange broker", key="exchange")
        if self.mode is not SessionMode.DRY_RUN:
            if live_broker is None:
                self.broker = PaperBroker(
                    self.clock,
                    self.rules_for,
                    cash=spec.initial_cash,
                    currency="KRW",
                    instruments=self.instruments,
                    seed=spec.seed,
                )
            self.risk = RiskManager(
                settings.risk,
                clock=self.clock,
                bus=self.bus,
                recorder=RiskEventRepository(database),
            )
            self.risk.set_session_options(self.sid, SessionRiskOptions(timezone=settings.timezone))
            if halted_reason is not None:
                self.risk.engage_kill_switch(halted_reason)
            # A real venue: exits sized by the venue's balances, orphans swept (venue_orders).
            venue_kw: dict[str, Any] = {} if live_broker is None else {"symbols": spec.symbols}
            self.order_manager = (OrderManager if live_broker is None else VenueOrderManager)(
                live_broker if live_broker is not None else self.broker,  # type: ignore[arg-type]
                SessionJournal(journal, db_id),
                self.clock,
                self.bus,
                rules_for=self.rules_for,
                risk=self.risk,
                price_source=self.price_decimal,
                journal_writes="async",  # intents sync; changes group-committed off-thread
                **venue_kw,
            )
        self.engine = Engine(
            clock=self.clock,
            bus=self.bus,
            order_manager=self.order_manager,
            broker=live_broker if live_broker is not None else self.broker,
            session_store=SessionRepository(database),
            broker_poll_s=settings.live.poll_interval_s,
            # A real venue's candle should move between closes (the simulator's sessions
            # run fast enough that closes alone look live); strategies see closed bars only.
            partial_every_ms=VENUE_PARTIAL_BAR_MS if venue is not None else None,
        )
        self.engine.add_feed(self.feed)
        fraction = spec.size_fraction
        if fraction is None:
            fraction = min(1.0 / len(spec.symbols), settings.risk.max_position_pct) * 0.95
        if venue is not None:
            lot = min(venue.lot_size(symbol) for symbol in spec.symbols)
        else:
            lot = min(i.lot_size for i in self.instruments.values())
        self.config = SessionConfig(
            session_id=self.sid,
            symbols=spec.symbols,
            timeframe=spec.timeframe,
            mode=self.mode,
            initial_cash=spec.initial_cash,
            sizing=SizingConfig(size_fraction=fraction, lot_size=lot, fee_pct=float(SIM_FEE_RATE)),
            db_id=db_id,
            currency=venue.quote_currency if venue is not None else "KRW",
        )
        self.session = self.engine.add_session(self.config, strategy)
        if venue is not None:
            venue.bind_prices(self.price_decimal)
        self.recorder: TickRecorder | None = None
        if spec.record:
            self.recorder = TickRecorder(
                RecordingRepository(database), f"session-{db_id}", session_id=db_id
            ).attach(self.bus)
        self.rejections = 0
        self.intended = 0
        self.equity_samples: list[float] = [float(spec.initial_cash)]
        self.bus.subscribe(RiskRejectEvent, self._on_reject)
        self.bus.subscribe(IntendedOrderEvent, self._on_intended)
        self.bus.subscribe(FillEvent, self._on_fill)
        self.stopped = False
        #: Wall-clock time the engine thread was started.
        self.started_wall: datetime | None = None

    # -- construction -----------------------------------------------------------------
    @staticmethod
    def _build_feed(
        spec: SessionSpec, database: Database
    ) -> tuple[Feed, int, dict[str, Instrument]]:
        if spec.feed == "replay":
            assert spec.recording is not None  # checked by SessionSpec
            ticks = RecordingRepository(database).load(spec.recording, symbols=spec.symbols)
            if len(ticks) == 0:
                raise DataError(
                    f"recording {spec.recording!r} has no ticks for {', '.join(spec.symbols)}",
                    source="recorded_ticks",
                )
            missing = sorted(set(spec.symbols) - set(ticks.symbol))
            if missing:
                raise DataError(
                    f"recording {spec.recording!r} has no ticks for {', '.join(missing)}",
                    source="recorded_ticks",
                )
            # Recorded symbols replay on the simulator's instrument model (fixed tick).
            instruments = {s: Instrument.simulated(s) for s in spec.symbols}
            replay = RecordedTickFeed(ticks, speed=spec.feed_speed)
            return replay, int(np.min(ticks.ts)), instruments
        start = spec.start_ms
        if start is None:
            now = SystemClock().now_ms()
            start = now - now % _MINUTE_MS
        duration = None if spec.market_duration_s is None else int(spec.market_duration_s * 1000)
        config = SimulatorConfig(
            seed=spec.seed, start_ms=start, duration_ms=duration, speed=spec.feed_speed
        )
        sim = MarketSimulator(list(spec.symbols), config)
        return sim, start, {s: sim.instrument(s) for s in spec.symbols}

    def rules_for(self, symbol: str) -> MarketRules:
        """Market rules of a session symbol (others: the simulator's instrument model)."""
        if self.venue is not None:
            return self.venue.rules(symbol)
        instrument = self.instruments.get(symbol) or Instrument.simulated(symbol)
        return instrument_rules(instrument)

    def price_decimal(self, symbol: str) -> Decimal | None:
        """Last price seen by the engine, as a Decimal (risk values market orders with it)."""
        price = self.engine.last_price(symbol)
        return None if price is None else Decimal(repr(price))

    # -- engine-thread bookkeeping -----------------------------------------------------
    def _on_reject(self, event: RiskRejectEvent) -> None:
        if event.session_id == self.sid:
            self.rejections += 1

    def _on_intended(self, event: IntendedOrderEvent) -> None:
        if event.session_id == self.sid:
            self.intended += 1

    def _on_fill(self, event: FillEvent) -> None:
        if event.session_id == self.sid:
            self.equity_samples.append(float(self.equity()))

    # -- state (call on the engine thread, or after it ended) ------------------------------
    @property
    def portfolio(self) -> Portfolio:
        """The books orders are judged against (the order manager's; dry run: the session's)."""
        if self.order_manager is not None:
            return self.order_manager.portfolio(self.sid)
        return self.session.portfolio

    @property
    def fills(self) -> list[Fill]:
        """Fills booked in this session, in booking order."""
        return list(self.session.fills)

    def marks(self) -> dict[str, Decimal]:
        """Last price of every open position (its average price if none was seen)."""
        marks: dict[str, Decimal] = {}
        for symbol, position in self.portfolio.open_positions().items():
            marks[symbol] = self.price_decimal(symbol) or position.avg_price
        return marks

    def equity(self) -> Decimal:
        """Cash plus open positions at the last prices."""
        return self.portfolio.equity(self.marks())

    # -- control ------------------------------------------------------------------------
    def start(self) -> None:
        """Start the engine thread (the session goes ``running``)."""
        self.started_wall = datetime.now(UTC)
        self.engine.start()

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` on the engine thread (or here once it ended) and return its result."""
        job = _Call(fn, threading.Event(), threading.Lock())
        self.engine.call_soon(job.run)
        deadline = time.monotonic() + timeout
        while not job.done.wait(0.02):
            if not self.engine.running:
                job.run()  # the loop ended before taking it: run it here (at most once)
                if job.done.is_set():
                    break
            if time.monotonic() > deadline:
                raise StomError(
                    f"session {self.db_id}: the engine did not answer within {timeout} s"
                )
        if job.error is not None:
            raise job.error
        value: T = job.value
        return value

    def wait_flat(self, timeout: float) -> bool:
        """Wait until the session has no open position (flatten orders filled)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.call(lambda: bool(self.portfolio.open_positions())):
                return True
            if not self.engine.running:
                return False  # no market left to fill in
            time.sleep(0.02)
        return False

    def shutdown(self, timeout: float = 5.0) -> None:
        """Stop the session and its engine thread, close the feed, finish the recording."""
        if self.stopped:
            return
        om = self.order_manager

        def stop_here() -> None:
            self.session.stop()
            if om is not None:
                om.cancel_all(self.sid)
                if self.broker is not None:  # let zero-latency cancels take effect now
                    self.broker.advance_to(self.clock.now_ms())
                if self.venue is not None and self.venue.broker is not None:
                    self.venue.settle(om)  # final venue states into the journal

        try:
            self.call(stop_here, timeout)
        finally:
            if not self.engine.stop(timeout):
                log.error(
                    "session %s: the engine thread did not end within %s s", self.db_id, timeout
                )
            self.feed.close()
            if om is not None and not om.close(timeout):
                log.error("session %s: the order journal did not commit in time", self.db_id)
            self.stopped = True
            if self.recorder is not None:
                self.recorder.stop()


def check_mode(spec: SessionSpec) -> None:
    """Refuse what cannot run: a live session needs an exchange and an account."""
    if spec.mode == "live" and (spec.exchange is None or not spec.account):
        raise ConfigurationError(
            "live trading needs an exchange and an account with API keys",
            key="account" if spec.exchange is not None else "exchange",
            hint="add the keys in Settings -> Accounts, then set live.account "
            "(or pass --account) and --exchange binance|binanceusdm|upbit",
        )
