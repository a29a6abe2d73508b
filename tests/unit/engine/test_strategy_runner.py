"""StrategyRunner: bar-close decisions, next-open orders, sizing and protective exits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from engine_fakes import MINUTE, T0, FakeRouter, scripted

from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import ConfigurationError, StrategyError
from stom_desktop.core.events import BarEvent, FillEvent, OrderUpdateEvent
from stom_desktop.core.orders import OrderType
from stom_desktop.core.portfolio import Portfolio
from stom_desktop.engine.bus import EventBus
from stom_desktop.engine.history import BarHistory
from stom_desktop.engine.strategy_runner import SignalEvent, SizingConfig, StrategyRunner
from stom_desktop.strategy import Strategy


class Rig:
    """A runner wired to a fake router, with helpers to close bars and move prices."""

    def __init__(self, strategy: Strategy, **kwargs: object) -> None:
        self.clock = SimulatedClock(T0)
        self.bus = EventBus(self.clock.now_ms)
        self.history = BarHistory()
        self.prices: dict[str, float] = {}
        self.router = FakeRouter(self.bus, self.clock, self.prices.get)
        self.portfolio = Portfolio(Decimal(10_000))
        self.events: list[object] = []
        self.bus.subscribe(object, self.events.append)
        self.runner = StrategyRunner(
            "s1", strategy, "1m", self.history, self.router, self.portfolio,
            self.prices.get, self.clock, self.bus.publish, **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip
        self.bus.subscribe(FillEvent, self._fill)
        self.bus.subscribe(OrderUpdateEvent, lambda e: self.runner.on_order_update(e.order))
        self.n = 0

    def _fill(self, event: FillEvent) -> None:
        self.portfolio.apply_fill(event.fill)
        self.runner.on_fill(event.fill)

    def bar(self, close: float, high: float | None = None, low: float | None = None) -> None:
        """Close bar ``n`` (open == previous close), then open bar ``n+1`` at ``close``."""
        ts = T0 + self.n * MINUTE
        bar = BarEvent("A", "1m", ts, close, high or close, low or close, close, 1.0, True)
        self.clock.set_ms(ts + MINUTE)
        self.history.append(bar)
        self.runner.on_bar_closed(bar)
        self.prices["A"] = close
        self.runner.flush("A")
        self.n += 1


def test_sizing_matches_the_backtest_formula() -> None:
    sizing = SizingConfig(lot_size=Decimal(1), fee_pct=0.001, fee_fixed=5.0)
    assert sizing.quantity(10_000.0, 10_000.0, 99.0) == Decimal(int((10_000 - 5) / (99 * 1.001)))
    half = SizingConfig(size_fraction=0.5, lot_size=Decimal("0.001"))
    assert half.quantity(10_000.0, 10_000.0, 3.0) == Decimal("1666.666")
    assert half.quantity(1_000.0, 10_000.0, 3.0) == Decimal("333.333"), "capped by cash"
    assert SizingConfig(min_notional=5_000).quantity(1_000.0, 1_000.0, 10.0) is None
    assert SizingConfig().quantity(5.0, 5.0, 10.0) is None, "less than one whole unit"
    assert SizingConfig(lot_size=Decimal(0)).quantity(5.0, 5.0, 10.0) == Decimal("0.5")
    with pytest.raises(ConfigurationError):
        SizingConfig(size_fraction=1.5)


def test_no_evaluation_before_warmup_then_entry_at_next_price() -> None:
    rig = Rig(scripted(entries=[1, 3]))  # warm-up 3: bar 1's signal is never seen
    for price in (10.0, 10.0, 10.0):
        rig.bar(price)
    assert rig.runner.evaluations == 1 and rig.router.requests == []
    rig.bar(20.0)  # bar 3 closes with an entry; the order goes at the next price (20)
    (request,) = rig.router.requests
    assert request.side is Side.BUY and request.order_type is OrderType.MARKET
    assert request.quantity == Decimal(500)  # 10_000 / 20
    assert request.intent_key == f"s1:A:{T0 + 3 * MINUTE}:entry:long"
    assert rig.portfolio.position("A").quantity == 500
    signals = [e for e in rig.events if isinstance(e, SignalEvent)]
    assert [(s.action, s.bar_ts_ms) for s in signals] == [("enter_long", T0 + 3 * MINUTE)]


def test_exit_signal_closes_the_whole_position() -> None:
    rig = Rig(scripted(entries=[3], exits=[6]))
    for price in (10, 10, 10, 10, 11, 12, 13, 14):
        rig.bar(price)
    sides = [(r.side, r.quantity) for r in rig.router.requests]
    assert sides == [(Side.BUY, Decimal(1000)), (Side.SELL, Decimal(1000))]
    assert rig.portfolio.position("A").is_flat
    assert rig.portfolio.cash == Decimal(10_000) + 1000 * (Decimal(13) - Decimal(10))


def test_entry_while_holding_is_ignored_and_queue_waits_for_flush() -> None:
    rig = Rig(scripted(entries=[3, 4]))
    for price in (10, 10, 10, 10, 10, 10):
        rig.bar(price)
    assert len(rig.router.requests) == 1, "no pyramiding"
    ts = T0 + rig.n * MINUTE
    rig.runner.on_bar_closed(BarEvent("A", "1m", ts, 10, 10, 10, 10, 1, True))
    assert not rig.runner.has_queued("A")


def test_protective_orders_from_the_entry_bar_close_and_oco() -> None:
    rig = Rig(scripted(entries=[3], stop_loss=0.1, take_profit=0.2))
    for price in (10, 10, 10, 10):
        rig.bar(price)
    assert rig.router.by_type(OrderType.STOP) == [], "not during the entry bar"
    rig.bar(10.5, high=10.8, low=9.9)  # the entry bar (bar 4) closes: protect from bar 5
    (stop,) = rig.router.by_type(OrderType.STOP)
    (target,) = rig.router.by_type(OrderType.LIMIT)
    assert stop.side is Side.SELL and float(stop.stop_price) == 10.0 * (1.0 - 0.1)  # type: ignore[arg-type]
    assert float(target.price) == 10.0 * (1.0 + 0.2)  # type: ignore[arg-type]
    assert stop.quantity == target.quantity == Decimal(1000)
    rig.bar(10.6)  # fixed levels: nothing re-placed
    assert len(rig.router.requests) == 3
    stop_cid = next(c for c, (o, _) in rig.router.resting.items() if o.order_type is OrderType.STOP)
    target_cid = next(c for c in rig.router.resting if c != stop_cid)
    rig.router.trigger(stop_cid, 9.0)
    assert rig.portfolio.position("A").is_flat
    assert target_cid in rig.router.cancelled, "the sibling take-profit is cancelled"


def test_trailing_stop_follows_the_peak_and_exit_signal_cancels_it() -> None:
    rig = Rig(scripted(entries=[3], exits=[8], trailing_stop=0.1))
    for price in (10, 10, 10, 10):
        rig.bar(price)
    rig.bar(11.0, high=12.0)  # entry bar: its high counts for a next-open entry
    rig.bar(11.0, high=11.5)  # lower high: the stop stays
    rig.bar(13.0, high=15.0)
    levels = [float(r.stop_price) for r in rig.router.by_type(OrderType.STOP)]  # type: ignore[arg-type]
    assert levels == [12.0 * (1 - 0.1), 15.0 * (1 - 0.1)]
    assert len(rig.router.cancelled) == 1, "the old stop was replaced"
    rig.bar(13.0)
    rig.bar(13.0)  # bar 8 closes with an exit signal: stop cancelled, market sell
    assert rig.router.requests[-1].order_type is OrderType.MARKET
    assert rig.router.requests[-1].side is Side.SELL
    assert len(rig.router.cancelled) == 2 and rig.router.resting == {}


def test_refused_order_leaves_position_flat_and_is_not_retried_as_working() -> None:
    rig = Rig(scripted(entries=[3]))
    rig.router.refuse = "risk says no"
    for price in (10, 10, 10, 10, 10):
        rig.bar(price)
    assert len(rig.router.requests) == 1
    assert rig.portfolio.position("A").is_flat
    assert rig.runner._working == {}


def test_strategy_errors_propagate_as_strategy_error() -> None:
    from engine_fakes import Exploding

    rig = Rig(Exploding(boom_at=2))
    rig.bar(10.0)
    with pytest.raises(StrategyError, match="ZeroDivisionError"):
        rig.bar(10.0)


def test_window_defaults_and_validation() -> None:
    strategy = scripted()
    assert Rig(strategy).runner.window == 500
    assert Rig(strategy, window=None).runner.window is None
    with pytest.raises(ConfigurationError, match="window"):
        Rig(strategy, window=1)
