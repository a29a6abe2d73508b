"""The live engine and the backtester make identical trades on the same bars (issue 4 item 10).

Each bar is replayed through the real ``Engine`` as four trade ticks, O, L, H, C (low
before high: for a long position the stop is met before the target, the backtester's
conservative rule). The engine aggregates them back into bars, runs the SAME strategy
class through ``run_signals`` at every close, and sends orders through a router to a
broker whose fill model is the backtester's: market orders fill at the price the broker
last saw (the next bar's open), resting stop/limit orders fill at their level when the
price crosses it within a bar and at the bar's first price when it opened through it
(a gap). No slippage; fees as configured on both sides.

The trades (entry/exit bar, price, size, side) must be identical to
``stom_desktop.backtest.runner.run_backtest``: this is the proof that the engine has no
second implementation of the strategy or of its exit rules.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from stom_desktop.backtest.config import BacktestConfig
from stom_desktop.backtest.runner import run_backtest
from stom_desktop.core.bars import BarSeries, to_ms
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import FillAt, Side
from stom_desktop.core.events import FillEvent, MarketEvent, OrderUpdateEvent, TradeTick
from stom_desktop.core.fills import Fill
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderType
from stom_desktop.core.synthetic import generate_bars
from stom_desktop.engine import Engine, EventBus, SessionConfig, SizingConfig
from stom_desktop.engine.requests import OrderRequest, PlaceResult
from stom_desktop.strategy import Strategy, load_strategy

MINUTE = 60_000


class BarTickFeed:
    """Replays bars as trade ticks O, L, H, C at +0/+15/+30/+45 s of each bar."""

    def __init__(self, bars: BarSeries, batch: int = 257) -> None:
        events: list[TradeTick] = []
        for i in range(len(bars)):
            ts = int(bars.ts[i])
            size = float(bars.volume[i]) / 4.0
            for k, price in enumerate((bars.open[i], bars.low[i], bars.high[i], bars.close[i])):
                events.append(TradeTick(bars.symbol, ts + k * 15_000, float(price), size))
        self._events = events
        self._pos = 0
        self._batch = batch  # odd batch size: bar boundaries fall inside batches too

    def subscribe(self, symbols: Sequence[str]) -> None:
        pass

    def poll(self, max_events: int = 1024) -> Sequence[MarketEvent]:
        n = min(max_events, self._batch)
        out = self._events[self._pos : self._pos + n]
        self._pos += len(out)
        return out

    @property
    def finished(self) -> bool:
        return self._pos >= len(self._events)

    def close(self) -> None:
        pass


class BacktestFillBroker:
    """A router + broker with the backtester's fill model (see the module docstring)."""

    def __init__(
        self, bus: EventBus, clock: SimulatedClock, bar_ms: int, fee_pct: float = 0.0
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._bar_ms = bar_ms
        self._fee_pct = fee_pct
        self._ids = itertools.count(1)
        self._last: dict[str, tuple[float, int]] = {}  # symbol -> (price, bucket)
        self._resting: dict[str, tuple[Order, str]] = {}
        self.placed: list[OrderRequest] = []
        self.market_ids: set[str] = set()

    # market data -------------------------------------------------------------------
    def on_market(self, event: Any) -> None:
        price = event.price if isinstance(event, TradeTick) else event.last
        bucket = event.ts_ms - event.ts_ms % self._bar_ms
        previous = self._last.get(event.symbol)
        first_of_bar = previous is None or previous[1] != bucket
        self._last[event.symbol] = (price, bucket)
        for cid, (order, _session) in list(self._resting.items()):
            if cid not in self._resting or order.symbol != event.symbol:
                continue  # cancelled by a fill earlier in this loop (OCO sibling)
            level = float(order.stop_price if order.stop_price is not None else order.price)  # type: ignore[arg-type]
            sell = order.side is Side.SELL
            if order.order_type is OrderType.STOP:
                hit = price <= level if sell else price >= level
            else:
                hit = price >= level if sell else price <= level
            if hit:
                self._fill(cid, price if first_of_bar else level)

    # router -----------------------------------------------------------------------
    def place(self, request: OrderRequest) -> PlaceResult:
        self.placed.append(request)
        cid = f"T{next(self._ids)}"
        order = Order(
            cid,
            request.symbol,
            request.side,
            request.quantity,
            created_at=self._clock.now(),
            order_type=request.order_type,
            price=request.price,
            stop_price=request.stop_price,
            session_id=request.session_id,
            tag=request.tag,
        )
        order.submit(self._clock.now(), venue_order_id=cid)
        self._resting[cid] = (order, request.session_id)
        if request.order_type is OrderType.MARKET:
            self.market_ids.add(cid)
            self._fill(cid, self._last[request.symbol][0])
        return PlaceResult(True, cid, status=order.status)

    def cancel(self, client_order_id: str) -> None:
        entry = self._resting.pop(client_order_id, None)
        if entry is not None:
            order, session = entry
            order.cancel(self._clock.now())
            self._bus.publish(OrderUpdateEvent(session, order.snapshot(), self._clock.now_ms()))

    def _fill(self, cid: str, price: float) -> None:
        order, session = self._resting.pop(cid)
        px = Decimal(price)  # exact: float(px) == price
        fee = Decimal(repr(float(order.quantity) * price * self._fee_pct))
        now = self._clock.now()
        order.apply_fill(order.quantity, px, now)
        fill = Fill(f"F-{cid}", cid, order.symbol, order.side, order.quantity, px, fee, "KRW", now)
        self._bus.publish(FillEvent(session, fill, self._clock.now_ms()))
        self._bus.publish(OrderUpdateEvent(session, order.snapshot(), self._clock.now_ms()))


def engine_trades(
    fills: Sequence[Fill], bars: BarSeries, close_fill_ids: Collection[str] = ()
) -> list[dict[str, Any]]:
    """Round trips from the session's fills, in the backtester's trade terms.

    A fill's bar is the bar holding its time, except market orders of a close-fill session
    (``close_fill_ids``): they are sent as bar ``k`` closes, i.e. at bar ``k+1``'s open time.
    """
    trades: list[dict[str, Any]] = []
    pos = Decimal(0)
    current: dict[str, Any] | None = None
    for fill in fills:
        idx = int(np.searchsorted(bars.ts, to_ms(fill.ts), side="right")) - 1
        if fill.client_order_id in close_fill_ids:
            idx -= 1
        signed = fill.signed_quantity
        if pos == 0:
            current = {
                "entry_idx": idx,
                "direction": "long" if signed > 0 else "short",
                "size": float(fill.quantity),
                "entry_price": float(fill.price),
            }
            pos = signed
            continue
        assert current is not None
        assert pos + signed == 0, "consistency trades never scale in or partially exit"
        current.update(exit_idx=idx, exit_price=float(fill.price), is_open=False)
        trades.append(current)
        pos, current = Decimal(0), None
    if current is not None:
        current.update(exit_idx=len(bars) - 1, exit_price=float(bars.close[-1]), is_open=True)
        trades.append(current)
    return trades


def backtest_trades(result: Any) -> list[dict[str, Any]]:
    keys = ("entry_idx", "direction", "size", "entry_price", "exit_idx", "exit_price", "is_open")
    out = []
    for row in result.trades.itertuples(index=False):
        record = row._asdict()
        out.append({k: (str(record[k]) if k == "direction" else record[k]) for k in keys})
        for k in ("entry_idx", "exit_idx"):
            out[-1][k] = int(out[-1][k])
        out[-1]["size"] = float(out[-1]["size"])
        out[-1]["is_open"] = bool(out[-1]["is_open"])
    return out


def run_engine(
    strategy: Strategy,
    bars: BarSeries,
    *,
    capital: float,
    fee_pct: float,
    fill_at: FillAt = FillAt.NEXT_OPEN,
) -> tuple[list[dict[str, Any]], Engine, BacktestFillBroker]:
    clock = SimulatedClock(int(bars.ts[0]))
    bus = EventBus(clock.now_ms)
    router = BacktestFillBroker(bus, clock, MINUTE, fee_pct=fee_pct)
    engine = Engine(clock=clock, bus=bus, order_manager=router, broker=router, tune_runtime=False)
    engine.add_feed(BarTickFeed(bars))
    session = engine.add_session(
        SessionConfig(
            "consistency",
            (bars.symbol,),
            timeframe="1m",
            initial_cash=Decimal(repr(capital)),
            sizing=SizingConfig(lot_size=Decimal(1), fee_pct=fee_pct),
            window=None,  # full history: exactly the backtester's view
            fill_at=fill_at,
        ),
        strategy,
    )
    assert engine.run_until(timeout_s=120)
    assert engine.finished
    close_ids = router.market_ids if fill_at is FillAt.CLOSE else set()
    return engine_trades(session.fills, bars, close_ids), engine, router


NEXT, CLOSE = FillAt.NEXT_OPEN, FillAt.CLOSE
STOPS = {"stop_loss": 0.004, "take_profit": 0.006}
CASES = [
    pytest.param("sma_cross", {}, 0.0, NEXT, id="sma_cross-defaults"),
    pytest.param("sma_cross", {"fast": 8, "slow": 40}, 0.001, NEXT, id="sma_cross-fees"),
    pytest.param("sma_cross", STOPS, 0.0, NEXT, id="sma_cross-stop-and-target"),
    pytest.param("rsi_reversion", {}, 0.0, NEXT, id="rsi_reversion-stop_loss"),
    pytest.param("donchian_breakout", {"trailing_stop": 0.005}, 0.0, NEXT, id="donchian-trail"),
    pytest.param("sma_cross", STOPS, 0.001, CLOSE, id="sma_cross-stops-close-fill"),
    pytest.param(
        "donchian_breakout", {"trailing_stop": 0.005}, 0.0, CLOSE, id="donchian-close-fill"
    ),
]


@pytest.mark.parametrize(("name", "params", "fee_pct", "fill_at"), CASES)
def test_engine_replay_makes_the_backtesters_trades(
    name: str, params: dict[str, Any], fee_pct: float, fill_at: FillAt
) -> None:
    bars = generate_bars("SIM", "1m", 2500, seed=11, annual_vol=0.8)
    capital = 1_000_000.0
    strategy_cls = load_strategy(name)
    expected = backtest_trades(
        run_backtest(
            strategy_cls(**params),
            bars,
            BacktestConfig(
                initial_capital=capital, fractional=False, fee_pct=fee_pct, fill_at=fill_at
            ),
        )
    )
    got, engine, router = run_engine(
        strategy_cls(**params), bars, capital=capital, fee_pct=fee_pct, fill_at=fill_at
    )

    assert len(expected) >= 5, "the case must trade to prove anything"
    assert got == expected
    # the engine rebuilt the very same bars from the ticks
    rebuilt = engine.history.series("SIM", "1m")
    for column in ("ts", "open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(rebuilt, column), getattr(bars, column))
    if params.get("stop_loss") or params.get("trailing_stop") or name == "rsi_reversion":
        kinds = {r.order_type for r in router.placed}
        assert OrderType.STOP in kinds, "protective exits must be real resting orders"


def test_cases_exercise_protective_exits() -> None:
    """Guard against a vacuous pass: stops and targets really end trades in these cases."""
    bars = generate_bars("SIM", "1m", 2500, seed=11, annual_vol=0.8)
    reasons: set[str] = set()
    for name, params in (
        ("sma_cross", {"stop_loss": 0.004, "take_profit": 0.006}),
        ("rsi_reversion", {}),
        ("donchian_breakout", {"trailing_stop": 0.005}),
    ):
        result = run_backtest(load_strategy(name)(**params), bars, BacktestConfig(fractional=False))
        reasons |= set(result.trades["exit_reason"].astype(str))
    assert {"stop_loss", "take_profit", "trailing_stop", "signal"} <= reasons


def test_every_order_status_in_the_replay_is_final() -> None:
    """Nothing is left working by mistake: protective siblings are cancelled (OCO)."""
    bars = generate_bars("SIM", "1m", 1500, seed=5, annual_vol=0.8)
    strategy = load_strategy("sma_cross")(stop_loss=0.004, take_profit=0.006)
    _, _engine, router = run_engine(strategy, bars, capital=1_000_000.0, fee_pct=0.0)
    open_left = [order for order, _ in router._resting.values()]
    # at most the two protective orders of a position still open at the end
    assert len(open_left) <= 2
    assert all(order.status is OrderStatus.SUBMITTED for order in open_left)
