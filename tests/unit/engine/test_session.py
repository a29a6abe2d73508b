"""TradingSession: state machine, failure isolation with recorded traceback, dry run."""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_fakes import MINUTE, T0, Exploding, FakeRouter, MemoryStore, scripted

from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.events import (
    BarEvent,
    ErrorEvent,
    FillEvent,
    OrderUpdateEvent,
    SessionState,
    SessionStateEvent,
)
from stom_desktop.engine.bus import EventBus
from stom_desktop.engine.history import BarHistory
from stom_desktop.engine.session import (
    DryRunRouter,
    SessionConfig,
    SessionMode,
    TradingSession,
)
from stom_desktop.engine.strategy_runner import IntendedOrderEvent
from stom_desktop.strategy import Strategy


class Rig:
    def __init__(self, strategy: Strategy, mode: SessionMode = SessionMode.PAPER) -> None:
        self.clock = SimulatedClock(T0)
        self.bus = EventBus(self.clock.now_ms)
        self.history = BarHistory()
        self.prices: dict[str, float] = {}
        self.router = FakeRouter(self.bus, self.clock, self.prices.get)
        self.store = MemoryStore()
        self.events: list[object] = []
        self.bus.subscribe(object, self.events.append)
        config = SessionConfig("s1", ("A",), mode=mode, initial_cash=Decimal(1000), db_id=7)
        self.session = TradingSession(
            config, strategy, router=self.router, history=self.history,
            price_of=self.prices.get, clock=self.clock, publish=self.bus.publish,
            store=self.store,
        )  # fmt: skip
        self.bus.subscribe(FillEvent, lambda e: self.session.on_fill(e.fill))
        self.bus.subscribe(OrderUpdateEvent, lambda e: self.session.on_order_update(e.order))
        self.n = 0

    def bar(self, close: float) -> None:
        ts = T0 + self.n * MINUTE
        bar = BarEvent("A", "1m", ts, close, close, close, close, 1.0, True)
        self.clock.set_ms(ts + MINUTE)
        self.history.append(bar)
        self.session.on_bar_closed(bar)
        self.prices["A"] = close
        self.session.flush("A")
        self.n += 1

    def of(self, kind: type) -> list[object]:
        return [e for e in self.events if isinstance(e, kind)]


def test_state_machine_and_recorded_statuses() -> None:
    rig = Rig(scripted())
    s = rig.session
    assert s.state is SessionState.IDLE
    with pytest.raises(ConfigurationError, match="cannot pause while idle"):
        s.pause()
    s.start()
    s.pause("lunch")
    s.resume()
    s.stop()
    s.stop()  # idempotent
    with pytest.raises(ConfigurationError):
        s.resume()
    states = [e.state for e in rig.of(SessionStateEvent)]  # type: ignore[attr-defined]
    assert states == ["running", "paused", "running", "stopped"]
    assert [c[1] for c in rig.store.calls] == ["running", "paused", "running", "stopped"]
    assert all(c[0] == 7 for c in rig.store.calls)


def test_strategy_crash_pauses_records_traceback_and_publishes_error() -> None:
    rig = Rig(Exploding(boom_at=3))
    rig.session.start()
    rig.bar(10)
    rig.bar(10)
    assert rig.session.state is SessionState.RUNNING
    rig.bar(10)  # raises inside signals -> paused, nothing escapes
    assert rig.session.state is SessionState.PAUSED
    (error,) = rig.of(ErrorEvent)
    assert error.session_id == "s1"  # type: ignore[attr-defined]
    assert "ZeroDivisionError" in error.traceback_text  # type: ignore[attr-defined]
    assert "engine_fakes.py" in error.traceback_text  # type: ignore[attr-defined]
    assert rig.session.error_text is not None and "strategy bug" in rig.session.error_text
    status, error_text = rig.store.calls[-1][1], rig.store.calls[-1][3]
    assert status == "paused" and error_text is not None and "ZeroDivisionError" in error_text
    evaluations = rig.session.runner.evaluations
    rig.bar(10)  # paused: not evaluated again
    assert rig.session.runner.evaluations == evaluations
    rig.session.resume()
    assert rig.session.error_text is None


def test_paused_session_still_books_fills_but_sends_nothing() -> None:
    rig = Rig(scripted(entries=[3, 6], exits=[5], stop_loss=0.2))
    rig.session.start()
    for _ in range(5):
        rig.bar(10)  # entry on bar 3, bought at the next price; stop placed at bar 4's close
    assert len(rig.router.requests) == 2
    rig.session.pause()
    (stop_cid,) = rig.router.resting
    rig.router.trigger(stop_cid, 8.0)  # the protective stop still works while paused
    assert len(rig.session.fills) == 2
    assert rig.session.portfolio.position("A").is_flat
    for _ in range(4):
        rig.bar(10)  # exit on bar 5 and entry on bar 6 are not acted on
    assert len(rig.router.requests) == 2


def test_dry_run_publishes_intents_and_never_touches_the_router() -> None:
    rig = Rig(scripted(entries=[3], exits=[5], stop_loss=0.5), SessionMode.DRY_RUN)
    assert isinstance(rig.session.runner.router, DryRunRouter)
    rig.session.start()
    for price in (10, 10, 10, 10, 10, 12, 12):
        rig.bar(price)
    assert rig.router.requests == [], "nothing reached the real router"
    intents = [e.request for e in rig.of(IntendedOrderEvent)]  # type: ignore[attr-defined]
    assert [(r.side.value, r.order_type.value) for r in intents] == [
        ("buy", "market"),
        ("sell", "stop"),
        ("sell", "market"),
    ]
    assert rig.session.portfolio.position("A").is_flat
    assert rig.session.portfolio.cash == Decimal(1000) + 100 * (Decimal(12) - Decimal(10))


def test_session_config_is_validated() -> None:
    with pytest.raises(ConfigurationError, match="symbols"):
        SessionConfig("s", ())
    with pytest.raises(ConfigurationError, match="symbols"):
        SessionConfig("s", ("A", "A"))
    with pytest.raises(ConfigurationError, match="mode"):
        SessionConfig("s", ("A",), mode="yolo")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="timeframe"):
        SessionConfig("s", ("A",), timeframe="1y")
    with pytest.raises(ConfigurationError, match="initial_cash"):
        SessionConfig("s", ("A",), initial_cash=Decimal(0))
