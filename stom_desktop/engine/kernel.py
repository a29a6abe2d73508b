"""Engine: the deterministic kernel loop on its own thread (feeds -> bars -> strategies -> orders).

One engine thread does everything in a fixed order, so a replay is deterministic. For each
market event ``e`` of a polled batch:

1. the simulated clock moves to ``e.ts_ms`` (accelerated/replay runs; a ``SystemClock`` is
   only read);
2. ``e`` goes to the aggregator. If it is at or past the end of its *own symbol's* forming
   bar, that bar closes first: it is published, appended to the history, and handed to the
   sessions trading that symbol/timeframe (phase 1: decide, re-arm stops, queue orders).
   Then ``e`` is folded into the symbol's new bar. Bars close per symbol, on the symbol's
   own first event past the boundary, so a decision waits only for its own strategy
   evaluation, not for every other symbol's (2,000 bars closing on one quote made the last
   decision wait ~2,000 evaluations);
3. ``e`` is published on the bus and given to the broker's ``on_market`` hook (any broker
   with one; the PaperBroker matches resting orders there). Phase 1 ran before the broker
   saw ``e``, so re-armed stops can trigger on it, as in the backtester;
4. orders queued for ``e.symbol`` at a bar close are sent (phase 2): the broker has just
   seen the symbol's first price after the close, i.e. the next bar's open.

A symbol that goes quiet still gets its bar closed: once market time is ``quiet_close_ms``
past a bar's end (the *sweep*: any event, or the wall clock with a ``SystemClock``), every
bar that ended is closed as in step 2 (the bar's content is the same either way: no event
of that symbol arrived in between). A ``BarEvent`` from a bar feed is published and given
to the broker first, then decided on (its orders wait for the next bar).

Fills and order updates come back synchronously from the order manager as ``FillEvent`` /
``OrderUpdateEvent`` on the bus; the engine routes them to their session by ``session_id``.
When every feed is finished the forming bars are closed (their signals have no next bar to
fill on, as in the backtester) and the loop ends; the order journal's queued writes are
committed (``flush_journal``) whenever the loop ends. A background journal write that
failed pauses its order's session (``OrderManager.check_journal``, run every step).

Quote events are published only while someone subscribes to ``QuoteEvent`` (checked once
per polled batch: a subscription made from another thread takes effect at the next batch).

Threading: :meth:`Engine.start` runs the loop on a daemon thread and :meth:`Engine.stop`
joins it; :meth:`Engine.run_until` runs it on the caller's thread (tests, CLI). Control calls
from other threads (pause/resume/stop a session) are queued and executed by the loop
between batches, and wait for completion. While the loop runs, ``sys.setswitchinterval``
is lowered to at most 1 ms and the start-up heap is ``gc.freeze()``-d (NOTES.md: GUI stalls
from full GC passes dropped from 39 ms to 3.6 ms max); both are undone on exit (a host
that tuned the process itself, like the GUI, keeps its own settings: see ``_tuned``).
"""

from __future__ import annotations

import gc
import logging
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.clock import SimulatedClock, SystemClock
from stom_desktop.core.errors import BrokerAuthError, ConfigurationError, DataError, StomError
from stom_desktop.core.events import (
    BarEvent,
    ErrorEvent,
    FillEvent,
    OrderUpdateEvent,
    QuoteEvent,
    TradeTick,
)
from stom_desktop.core.ports import Feed
from stom_desktop.engine.aggregator import BarAggregator, PriceSource
from stom_desktop.engine.bus import EventBus
from stom_desktop.engine.history import BarHistory
from stom_desktop.engine.session import SessionConfig, SessionMode, SessionStore, TradingSession
from stom_desktop.engine.strategy_runner import OrderRouter
from stom_desktop.strategy.base import Strategy

log = logging.getLogger(__name__)

T = TypeVar("T")
#: ``session_id`` of ErrorEvents about the engine itself (a feed or broker hook failed).
ENGINE_SOURCE = "engine"


class Engine:
    """Owns feeds, sessions, the bus, bar aggregation and history; runs the kernel loop.

    ``order_manager`` routes orders of ``paper``/``live`` sessions (``OrderManager``);
    ``broker`` gets market data through its ``on_market(event)`` hook when it has one.
    ``timeframes`` adds bar timeframes beyond the sessions' (e.g. for charts).
    ``partial_every_ms`` publishes in-progress bars that often (market time; None: never).
    ``realtime_flush_ms``: with a wall clock, orders queued at a bar close are sent after
    this long even if the symbol has not ticked again. ``quiet_close_ms``: a bar whose
    symbol has not ticked since its end is closed this long after the end (market time).
    ``broker_poll_s``: a broker with a ``poll()`` method (a live venue, which reports
    fills only when asked) is polled that often (wall time), followed by the order
    manager's ``tick()`` (reconciliation of submits whose outcome was unknown).
    """

    def __init__(
        self,
        *,
        clock: SystemClock | SimulatedClock | None = None,
        bus: EventBus | None = None,
        order_manager: OrderRouter | None = None,
        broker: object | None = None,
        session_store: SessionStore | None = None,
        history: BarHistory | None = None,
        timeframes: Iterable[str] = (),
        partial_every_ms: int | None = None,
        price_source: PriceSource = "last",
        batch_size: int = 4096,
        idle_sleep_s: float = 0.001,
        realtime_flush_ms: int = 1000,
        quiet_close_ms: int = 1000,
        tune_runtime: bool = True,
        broker_poll_s: float = 1.0,
    ) -> None:
        if quiet_close_ms < 0:
            raise ConfigurationError("must be >= 0", key="quiet_close_ms")
        self.clock = clock if clock is not None else SimulatedClock()
        self.bus = bus if bus is not None else EventBus(self.clock.now_ms)
        self.history = history if history is not None else BarHistory()
        self.order_manager = order_manager
        self.broker = broker
        self._on_market: Callable[[Any], None] | None = getattr(broker, "on_market", None)
        self._broker_poll: Callable[[], object] | None = getattr(broker, "poll", None)
        self._om_tick: Callable[[], object] | None = getattr(order_manager, "tick", None)
        self._broker_poll_s = broker_poll_s
        self._next_broker_poll = 0.0  # time.monotonic() of the next poll
        self._store = session_store
        self._extra_timeframes = list(timeframes)
        self._partial_ms = partial_every_ms
        self._price_source = price_source
        self._batch = batch_size
        self._idle_sleep = idle_sleep_s
        self._realtime_flush_ms = realtime_flush_ms
        self._quiet_ms = quiet_close_ms
        self._tune = tune_runtime
        self._feeds: list[Feed] = []
        self._sessions: dict[str, TradingSession] = {}
        self._by_key: dict[tuple[str, str], list[TradingSession]] = {}
        self._queued: dict[str, int] = {}  # symbol -> clock ms when orders were queued
        self._agg: BarAggregator | None = None
        self._commands: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stop_requested = threading.Event()
        self._finished = False
        #: Market events processed so far.
        self.events_processed = 0
        #: The exception that ended the loop, if it crashed.
        self.crashed: BaseException | None = None
        self.bus.subscribe(FillEvent, self._route_fill)
        self.bus.subscribe(OrderUpdateEvent, self._route_order_update)
        # A background journal write that failed pauses the order's session (engine thread).
        set_handler = getattr(order_manager, "set_journal_failure_handler", None)
        if set_handler is not None:
            set_handler(self._journal_failed)
        self._check_journal: Callable[[], object] | None = getattr(
            order_manager, "check_journal", None
        )

    # -- set-up ----
    def add_feed(self, feed: Feed) -> None:
        """Add a market data feed (before start)."""
        self._require_not_started("add a feed")
        self._feeds.append(feed)

    def add_session(self, config: SessionConfig, strategy: Strategy) -> TradingSession:
        """Create a session (idle until :meth:`start` or :meth:`start_session`)."""
        self._require_not_started("add a session")
        if config.session_id in self._sessions:
            raise ConfigurationError(f"session {config.session_id!r} exists already")
        if config.mode is not SessionMode.DRY_RUN and self.order_manager is None:
            raise ConfigurationError(
                f"session {config.session_id}: mode {config.mode.value} needs an order "
                "manager; pass Engine(order_manager=...) or use dry_run"
            )
        router: OrderRouter = self.order_manager if self.order_manager is not None else _NoRouter()
        session = TradingSession(
            config,
            strategy,
            router=router,
            history=self.history,
            price_of=self.last_price,
            clock=self.clock,
            publish=self.bus.publish,
            store=self._store,
        )
        # An OrderManager keeps a portfolio per session: register it with the same cash.
        register = getattr(self.order_manager, "register_session", None)
        if register is not None and config.mode is not SessionMode.DRY_RUN:
            register(
                config.session_id,
                initial_cash=config.initial_cash,
                currency=config.currency,
                journal_session_id=config.db_id,
            )
        self._sessions[config.session_id] = session
        for symbol in config.symbols:
            self._by_key.setdefault((symbol, config.timeframe), []).append(session)
        return session

    def warm_up(self, bars: BarSeries) -> None:
        """Load stored bars into history before live bars (strategies see them at once)."""
        self.history.warm_up(bars)

    @property
    def sessions(self) -> dict[str, TradingSession]:
        """Sessions by id (read-only use from other threads)."""
        return dict(self._sessions)

    def session(self, session_id: str) -> TradingSession:
        """One session; ``ConfigurationError`` naming the id if unknown."""
        try:
            return self._sessions[session_id]
        except KeyError:
            raise ConfigurationError(f"no session {session_id!r}") from None

    def last_price(self, symbol: str) -> float | None:
        """Latest price of ``symbol`` seen by the aggregator."""
        return None if self._agg is None else self._agg.last_price(symbol)

    @property
    def aggregator(self) -> BarAggregator:
        """The bar aggregator (built on first use from the sessions' timeframes)."""
        if self._agg is None:
            frames = [s.timeframe for s in self._sessions.values()] + self._extra_timeframes
            self._agg = BarAggregator(
                frames or ["1m"],
                self._on_bar,
                partial_every_ms=self._partial_ms,
                price_source=self._price_source,
            )
        return self._agg

    # -- running ----
    def start(self) -> None:
        """Start idle sessions and run the loop on a new thread."""
        if self._thread is not None:
            raise ConfigurationError("the engine was started already")
        self._prepare()
        self._thread = threading.Thread(target=self._thread_main, name="stom-engine", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Ask the loop to end and wait up to ``timeout`` s; True when it has ended."""
        self._stop_requested.set()
        thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def running(self) -> bool:
        """Whether the engine thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def finished(self) -> bool:
        """Every feed is finished and the last bars were closed."""
        return self._finished

    def run_until(
        self, predicate: Callable[[], bool] | None = None, *, timeout_s: float | None = None
    ) -> bool:
        """Run the loop on this thread until ``predicate()`` holds, the feeds end or time is up.

        Returns True when it stopped because of the predicate or the end of the feeds.
        """
        if self.running:
            raise ConfigurationError("run_until while the engine thread runs; use stop() first")
        self._prepare()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with _tuned(self._tune):
            try:
                while True:
                    self._run_commands()
                    if predicate is not None and predicate():
                        return True
                    if self._finished:
                        return True
                    if deadline is not None and time.monotonic() >= deadline:
                        return False
                    if self.step() == 0 and not self._finished:
                        time.sleep(self._idle_sleep)
            finally:
                self._flush_journal()

    def step(self) -> int:
        """Poll every feed once and process the events; returns how many were processed."""
        agg = self.aggregator
        total = 0
        for feed in list(self._feeds):
            try:
                events = feed.poll(self._batch)
            except Exception as exc:  # noqa: BLE001 - a broken feed must not end the engine
                self._engine_error(f"feed {type(feed).__name__} failed and was removed", exc)
                self._feeds.remove(feed)
                continue
            if events:
                self._dispatch(events)
                self.events_processed += len(events)
                total += len(events)
        if isinstance(self.clock, SystemClock):
            now = self.clock.now_ms()
            agg.close_due(now - self._quiet_ms)
            self._flush_stale(now)
        if self._check_journal is not None:
            self._check_journal()
        if self._broker_poll is not None:
            self._poll_broker()
        if not total and not self._finished and all(f.finished for f in self._feeds):
            self._finish()
        return total

    def _poll_broker(self) -> None:
        """Ask a polling broker for fills/updates, then let the order manager reconcile."""
        now = time.monotonic()
        if now < self._next_broker_poll:
            return
        self._next_broker_poll = now + self._broker_poll_s
        for what, fn in (("broker poll", self._broker_poll), ("order manager tick", self._om_tick)):
            if fn is None:
                continue
            try:
                fn()
            except BrokerAuthError as exc:
                # Credentials refused: nothing can succeed any more; stop deciding.
                self._engine_error(f"{what}: credentials refused, sessions paused", exc)
                for session in list(self._sessions.values()):  # on the engine thread
                    session.pause(f"credentials refused: {exc}")
                self._broker_poll = None
                return
            except Exception as exc:  # noqa: BLE001 - report, retried at the next poll
                self._engine_error(f"{what} failed", exc)

    def _dispatch(self, events: Sequence[Any]) -> None:
        # The hot path: locals only, one type test per event, no allocation of our own.
        # Market events are tuples with (symbol, ts_ms) first: indexing is cheaper than
        # the NamedTuple properties.
        agg = self.aggregator
        on_quote, on_trade = agg.on_quote, agg.on_trade
        publish = self.bus.publish
        publish_quotes = self.bus.has_subscribers(QuoteEvent)
        on_market = self._on_market
        queued = self._queued
        quiet = self._quiet_ms
        clock = self.clock if isinstance(self.clock, SimulatedClock) else None
        last_ts = clock.now_ms() if clock is not None else 0
        for event in events:
            ts = event[1]
            if ts > last_ts and clock is not None:
                clock.set_ms(ts)
                last_ts = ts
            if ts >= agg.next_close_ms + quiet:  # the sweep: bars of quiet symbols
                agg.close_due(ts - quiet)
            kind = type(event)
            # steps 2: the symbol's ended bar closes (decisions), then e is folded in
            if kind is QuoteEvent:
                on_quote(event)
                if publish_quotes:
                    publish(event)
            else:
                if kind is TradeTick:
                    on_trade(event)
                publish(event)
            if on_market is not None:
                try:
                    on_market(event)
                except Exception as exc:  # noqa: BLE001 - report, keep the market moving
                    self._engine_error("broker on_market failed", exc)
            if kind is BarEvent:
                # A bar feed: orders queued at the previous close go first (the broker has
                # seen this bar), then this bar is decided on; its orders wait for the next.
                if queued and event[0] in queued:
                    del queued[event[0]]
                    self._flush(event[0])
                if event.closed:
                    agg.note_price(event[0], event.close)
                    self._handle_closed_bar(event)
                continue
            if queued and event[0] in queued:
                del queued[event[0]]
                self._flush(event[0])

    # -- bars and orders ----
    def _on_bar(self, bar: BarEvent) -> None:
        """Aggregator sink: publish every bar; closed bars go to history and sessions."""
        self.bus.publish(bar)
        if bar.closed:
            self._handle_closed_bar(bar)

    def _handle_closed_bar(self, bar: BarEvent) -> None:
        sessions = self._by_key.get((bar.symbol, bar.timeframe))
        try:
            self.history.append(bar)
        except DataError as exc:  # e.g. overlaps the warm-up: skip, do not decide twice
            log.warning("bar not stored: %s", exc)
            return
        if not sessions:
            return
        for session in sessions:
            session.on_bar_closed(bar)
            if session.has_queued(bar.symbol):
                self._queued.setdefault(bar.symbol, self.clock.now_ms())

    def _flush(self, symbol: str) -> None:
        for session in self._sessions.values():
            if session.has_queued(symbol):
                session.flush(symbol)

    def _flush_stale(self, now_ms: int) -> None:
        for symbol, since in list(self._queued.items()):
            if now_ms - since >= self._realtime_flush_ms:
                del self._queued[symbol]
                self._flush(symbol)

    def _flush_journal(self) -> None:
        """Make every queued journal write durable (the loop is ending)."""
        flush = getattr(self.order_manager, "flush_journal", None)
        if flush is not None and not flush():
            log.error("the order journal did not commit its queue in time")

    def _journal_failed(self, session_id: str, message: str) -> None:
        """Pause the session whose order the journal failed to record (all, if unknown)."""
        owner = self._sessions.get(session_id)
        targets = [owner] if owner is not None else list(self._sessions.values())
        for session in targets:
            if session.state.value == "running":
                session.pause(message)

    def _route_fill(self, event: FillEvent) -> None:
        session = self._sessions.get(event.session_id)
        if session is not None:
            session.on_fill(event.fill)

    def _route_order_update(self, event: OrderUpdateEvent) -> None:
        session = self._sessions.get(event.session_id)
        if session is not None:
            session.on_order_update(event.order)

    def _finish(self) -> None:
        # End of every feed: close the forming bars (their decisions have no next price,
        # like signals on the backtest's last bar) and drop what stays queued.
        self.aggregator.flush()
        for session in self._sessions.values():
            session.runner.drop_queued()
        self._queued.clear()
        self._finished = True

    # -- session control (thread-safe) ----
    def start_session(self, session_id: str) -> None:
        """Start an idle session."""
        self._call(lambda: self.session(session_id).start())

    def pause_session(self, session_id: str, message: str | None = None) -> None:
        """Pause a running session (no new decisions)."""
        self._call(lambda: self.session(session_id).pause(message))

    def resume_session(self, session_id: str) -> None:
        """Resume a paused session."""
        self._call(lambda: self.session(session_id).resume())

    def stop_session(self, session_id: str) -> None:
        """Stop a session for good."""
        self._call(lambda: self.session(session_id).stop())

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the engine thread between batches (or now when not running)."""
        if self.running and threading.current_thread() is not self._thread:
            self._commands.put(fn)
        else:
            fn()

    def _call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        if not self.running or threading.current_thread() is self._thread:
            return fn()
        done = threading.Event()
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller below
                box["error"] = exc
            finally:
                done.set()

        self._commands.put(run)
        if not done.wait(timeout):
            raise StomError(f"the engine did not run the command within {timeout} s")
        if "error" in box:
            raise box["error"]
        value: T = box["value"]
        return value

    def _run_commands(self) -> None:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                command()
            except StomError as exc:
                log.error("engine command failed: %s", exc)

    # -- internals ----
    def _prepare(self) -> None:
        self.aggregator  # noqa: B018 - build it now, with the sessions' timeframes
        symbols = sorted({s for session in self._sessions.values() for s in session.symbols})
        if symbols:
            for feed in self._feeds:
                feed.subscribe(symbols)
        for session in self._sessions.values():
            if session.state.value == "idle":
                session.start()

    def _thread_main(self) -> None:
        try:
            with _tuned(self._tune):
                while not self._stop_requested.is_set():
                    self._run_commands()
                    if self._finished:
                        break
                    if self.step() == 0 and not self._finished:
                        time.sleep(self._idle_sleep)
                self._run_commands()
                self._flush_journal()
        except BaseException as exc:  # noqa: BLE001 - recorded and reported, thread ends
            self.crashed = exc
            self._engine_error("engine loop crashed", exc)

    def _require_not_started(self, what: str) -> None:
        if self._thread is not None or self._agg is not None:
            raise ConfigurationError(f"cannot {what} after the engine has started")

    def _engine_error(self, message: str, exc: BaseException) -> None:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        log.error("%s: %s\n%s", message, exc, text)
        self.bus.publish(ErrorEvent(ENGINE_SOURCE, f"{message}: {exc}", text, self.clock.now_ms()))


class _NoRouter:
    """Router of an engine without an order manager (only dry-run sessions are allowed)."""

    def place(self, request: Any) -> Any:
        raise ConfigurationError("this engine has no order manager")

    def cancel(self, client_order_id: str) -> None:
        raise ConfigurationError("this engine has no order manager")


class _tuned:  # lower-case: used like a function, ``with _tuned(flag):``
    """Lower the GIL switch interval and freeze the start-up heap while the loop runs.

    A host that tuned the process already (the GUI's ``tune_for_gui``: a shorter interval
    and a frozen heap) keeps its settings: the interval is never raised, the full
    ``gc.collect()`` (100-200 ms holding the GIL with the services loaded, a GUI stall at
    every session start) is skipped, and the host's frozen heap is not unfrozen on exit.
    """

    def __init__(self, enabled: bool) -> None:
        self._enabled = enabled
        self._previous = sys.getswitchinterval()
        self._froze_all = False

    def __enter__(self) -> None:
        if self._enabled:
            self._previous = sys.getswitchinterval()
            sys.setswitchinterval(min(self._previous, 0.001))
            self._froze_all = gc.get_freeze_count() == 0
            if self._froze_all:
                gc.collect()
            gc.freeze()  # cheap: moves the tracked objects to the permanent generation

    def __exit__(self, *exc: object) -> None:
        if self._enabled:
            if self._froze_all:
                gc.unfreeze()
            sys.setswitchinterval(self._previous)
