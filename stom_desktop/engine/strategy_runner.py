"""Runs the SAME ``Strategy`` class as the backtester, bar by bar, and turns decisions into orders.

On every closed bar of a session symbol the runner calls
``run_signals(strategy, history, Indicators(history))`` and acts on the *last* element of
the four arrays. Signals are causal, so that element is what the backtester computed for
the same bar: there is no second implementation of any strategy. What the backtester's
compiled simulator does with the arrays (``backtest/simulator.py`` docstring) is mirrored
here, decision for decision, so a replay gives identical trades (the acceptance test
``tests/acceptance/test_backtest_live_consistency.py`` proves it):

* **Two phases per bar.** :meth:`StrategyRunner.on_bar_closed` runs when bar ``k`` closes
  (before the broker sees the next market event of the symbol): it evaluates the signals,
  cancels protective orders when a signal exit is due, re-arms the stops for bar ``k+1``
  and *queues* the market orders. :meth:`StrategyRunner.flush` sends them once the broker
  has seen the symbol's next event, i.e. at the next bar's open (``FillAt.NEXT_OPEN``), and
  sizes entries at that price. With ``FillAt.CLOSE`` they are sent at once, at the close.
* **Order of decisions**: exits before entries; ``short_entries`` closes a long (reversal);
  entry and exit of a side on one bar: the exit wins; long and short entries cancel; no
  pyramiding. The decision uses the position as it was when the bar closed.
* **Protective exits** (``strategy.exit_rules()``) are resting broker orders: a stop
  (level ``max(entry*(1-sl), peak*(1-trail))``, reason ``stop_loss``/``trailing_stop``) and
  a take-profit limit (``entry*(1+tp)``), shorts mirrored. They are placed when the entry
  bar closes (a next-open entry is first protected on the bar after its fill, as in the
  backtester) and re-placed at every close when the trailing level moved. ``peak`` is the
  entry price raised by the highs of the bars held (the entry bar's own high counts for
  next-open entries, not for close entries). When one fills the other is cancelled.
  The fill price is the broker's: a broker filling a stop at its level within a bar and
  at the open after a gap reproduces the backtester exactly.
* **Sizing** (:class:`SizingConfig`): ``units = (budget - fee_fixed) / (price * (1 +
  fee_pct))`` with ``budget = min(equity * size_fraction, cash)``, floored to ``lot_size``;
  for one symbol and a flat book this is the backtester's formula.

History window: the signals are computed over the newest ``window`` bars only, so a bar
costs the same after a day as after a minute. The default is ``max(10 * warmup, 500)``.
Rolling-window indicators (SMA, highest/lowest, Donchian, Bollinger) are then exact;
recursive ones (EMA, RSI, ATR, MACD) start from a different seed and converge, differing by
about ``exp(-20)`` of their initial error after ``10 * period`` bars, so a signal can only
differ in a near-tie. Signals equal the backtest's exactly while the whole history fits in
the window; pass ``window=None`` for full history (what the consistency test does).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Protocol

from stom_desktop.core.bars import to_ms
from stom_desktop.core.clock import SimulatedClock, SystemClock
from stom_desktop.core.enums import FillAt, Side, timeframe_seconds
from stom_desktop.core.errors import BrokerError, ConfigurationError
from stom_desktop.core.events import BarEvent
from stom_desktop.core.fills import Fill
from stom_desktop.core.orders import OrderSnapshot, OrderType
from stom_desktop.core.portfolio import Portfolio, Position
from stom_desktop.engine.history import BarHistory
from stom_desktop.engine.requests import OrderRequest, PlaceResult
from stom_desktop.strategy.base import Strategy
from stom_desktop.strategy.indicator_cache import Indicators
from stom_desktop.strategy.safe_call import run_signals, safe_call, strategy_file

log = logging.getLogger(__name__)

Clock = SystemClock | SimulatedClock
Publish = Callable[[object], None]
PriceOf = Callable[[str], float | None]


class OrderRouter(Protocol):
    """Where a runner sends orders: the engine's ``OrderManager`` or the dry-run recorder."""

    def place(self, request: OrderRequest) -> PlaceResult:
        """Risk-check, journal and send one order."""
        ...

    def cancel(self, client_order_id: str) -> object:
        """Ask for an order to be cancelled."""
        ...


@dataclass(frozen=True, slots=True)
class SignalEvent:
    """A strategy decision on a closed bar (published in every mode; charts draw markers).

    ``action`` is one of ``enter_long``, ``exit_long``, ``enter_short``, ``exit_short``.
    """

    session_id: str
    symbol: str
    timeframe: str
    bar_ts_ms: int
    action: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class IntendedOrderEvent:
    """An order a dry-run session would have sent (nothing reached a broker)."""

    session_id: str
    request: OrderRequest
    client_order_id: str
    ts_ms: int


@dataclass(frozen=True, slots=True)
class SizingConfig:
    """How a session sizes entries (see the module docstring for the formula).

    ``lot_size`` is the quantity step (1 = whole shares; 0 = continuous). Entries below
    ``min_quantity`` units or ``min_notional`` currency are not placed. ``fee_pct`` /
    ``fee_fixed`` are the fees to leave room for, as in ``BacktestConfig``.
    """

    size_fraction: float = 1.0
    lot_size: Decimal = Decimal(1)
    min_quantity: Decimal = Decimal(0)
    min_notional: float = 0.0
    fee_pct: float = 0.0
    fee_fixed: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.size_fraction <= 1.0:
            raise ConfigurationError(
                f"must be in (0, 1], got {self.size_fraction!r}", key="size_fraction"
            )
        if not isinstance(self.lot_size, Decimal) or self.lot_size < 0:
            raise ConfigurationError(
                f"must be a Decimal >= 0, got {self.lot_size!r}", key="lot_size"
            )
        if not 0.0 <= self.fee_pct < 0.1 or self.fee_fixed < 0 or self.min_notional < 0:
            raise ConfigurationError("fees and min_notional must be >= 0 (fee_pct < 0.1)")

    def quantity(self, cash: float, equity: float, price: float) -> Decimal | None:
        """Units to buy/sell short at ``price``; None when below the minimums."""
        if not price > 0.0:
            return None
        budget = min(equity * self.size_fraction, cash)
        units = (budget - self.fee_fixed) / (price * (1.0 + self.fee_pct))
        if not units > 0.0 or not math.isfinite(units):
            return None
        qty = Decimal(repr(units))
        if self.lot_size > 0:
            qty = (qty / self.lot_size).to_integral_value(rounding=ROUND_FLOOR) * self.lot_size
        if qty <= 0 or qty < self.min_quantity or float(qty) * price < self.min_notional:
            return None
        return qty


@dataclass(slots=True)
class _Held:
    """Protective-exit state of one open position."""

    direction: int  # +1 long, -1 short
    entry_price: float
    track_from_ts: int  # bars with ts >= this raise the peak / lower the trough
    extreme: float
    stop_cid: str | None = None
    stop_level: float = math.nan
    stop_reason: str = "stop_loss"
    target_cid: str | None = None


@dataclass(slots=True)
class _Queued:
    """Actions decided at a bar close, sent at the symbol's next market event."""

    bar_ts: int
    close: bool
    close_reason: str
    enter: int  # 0 none, +1 long, -1 short
    extra: list[str] = field(default_factory=list)


class StrategyRunner:
    """Evaluates one strategy on closed bars of its symbols and places the orders.

    ``portfolio`` is the session's (its fills are applied by the session before
    :meth:`on_fill` is called). ``price_of(symbol)`` gives the latest price (the
    aggregator's), used for sizing and marks. ``window`` as in the module docstring
    (``"auto"`` = ``max(10 * warmup, 500)``, None = full history).
    """

    def __init__(
        self,
        session_id: str,
        strategy: Strategy,
        timeframe: str,
        history: BarHistory,
        router: OrderRouter,
        portfolio: Portfolio,
        price_of: PriceOf,
        clock: Clock,
        publish: Publish,
        *,
        sizing: SizingConfig | None = None,
        fill_at: FillAt = FillAt.NEXT_OPEN,
        window: int | str | None = "auto",
    ) -> None:
        self.session_id = session_id
        self.strategy = strategy
        self.timeframe = timeframe
        self._tf_ms = timeframe_seconds(timeframe) * 1000
        self._history = history
        self.router = router
        self._portfolio = portfolio
        self._price_of = price_of
        self._clock = clock
        self._publish = publish
        self.sizing = sizing if sizing is not None else SizingConfig()
        self.fill_at = FillAt(fill_at)
        self.warmup = max(int(strategy.warmup), 1)
        if window == "auto":
            self.window: int | None = max(10 * self.warmup, 500)
        elif window is None or (isinstance(window, int) and window >= self.warmup):
            self.window = window
        else:
            raise ConfigurationError(
                f"must be 'auto', None or an int >= warmup ({self.warmup}), got {window!r}",
                key="window",
            )
        rules = safe_call(
            strategy.exit_rules,
            where=f"{strategy.strategy_name()}.exit_rules",
            user_file=strategy_file(type(strategy)),
        )
        self._sl = rules.stop_loss
        self._tp = rules.take_profit
        self._trail = rules.trailing_stop
        self._allow_long = strategy.direction in ("long", "both")
        self._allow_short = strategy.direction in ("short", "both")
        self._held: dict[str, _Held] = {}
        self._queued: dict[str, _Queued] = {}
        self._working: dict[str, str] = {}  # symbol -> signal order still in flight
        self._closing_bar: int | None = None  # bar being closed (for close-mode entries)
        # symbol -> (position, float quantity, float average price): see _equity
        self._floats: dict[str, tuple[Position, float, float]] = {}
        #: Number of bars on which the strategy was evaluated.
        self.evaluations = 0

    # -- phase 1: a bar closed ------------------------------------------------------------
    def on_bar_closed(self, bar: BarEvent) -> None:
        """Evaluate the strategy on ``bar`` (already in history) and decide.

        Raises ``StrategyError`` when the strategy's code fails (the session pauses).
        """
        symbol = bar.symbol
        self._update_extreme(symbol, bar)
        buf = self._history.buffer(symbol, self.timeframe)
        if len(buf) < self.warmup:
            self._rearm(symbol)
            return
        bars = buf.series(self.window)
        entries, exits, short_entries, short_exits = run_signals(
            self.strategy, bars, Indicators(bars)
        )
        self.evaluations += 1
        entry, exit_, s_entry, s_exit = (
            bool(entries[-1]),
            bool(exits[-1]),
            bool(short_entries[-1]),
            bool(short_exits[-1]),
        )
        go_long = self._allow_long and entry and not exit_
        go_short = self._allow_short and s_entry and not s_exit
        if go_long and go_short:
            go_long = go_short = False
        for flag, action in (
            (entry, "enter_long"),
            (exit_, "exit_long"),
            (s_entry, "enter_short"),
            (s_exit, "exit_short"),
        ):
            if flag:
                self._publish(
                    SignalEvent(
                        self.session_id,
                        symbol,
                        self.timeframe,
                        bar.ts_ms,
                        action,
                        self._clock.now_ms(),
                    )
                )
        pos = self._direction(symbol)
        close = (pos > 0 and (exit_ or go_short)) or (pos < 0 and (s_exit or go_long))
        enter = 0
        if pos == 0 or close:
            enter = 1 if go_long else -1 if go_short else 0
        if symbol in self._working and (close or enter):
            log.warning(
                "%s %s: an order is still working (%s); decision on bar %d skipped",
                self.session_id,
                symbol,
                self._working[symbol],
                bar.ts_ms,
            )
            return
        if close:
            self._cancel_protection(symbol)
        else:
            self._rearm(symbol)
        if not close and not enter:
            return
        reason = "reversal" if close and enter else "signal"
        self._queued[symbol] = _Queued(bar.ts_ms, close, reason, enter)
        if self.fill_at is FillAt.CLOSE:
            self._closing_bar = bar.ts_ms
            try:
                self.flush(symbol)
            finally:
                self._closing_bar = None
            self._rearm(symbol)  # a close entry is protected from the next bar on

    # -- phase 2: the broker has seen the next price ----------------------------------------
    def has_queued(self, symbol: str) -> bool:
        """Whether orders decided at a bar close wait for this symbol's next event."""
        return symbol in self._queued

    def queued_symbols(self) -> list[str]:
        """Symbols with queued actions."""
        return list(self._queued)

    def drop_queued(self) -> None:
        """Forget queued actions (the session was paused or stopped)."""
        self._queued.clear()

    def flush(self, symbol: str) -> None:
        """Send the actions queued for ``symbol``, sized at its current price."""
        action = self._queued.pop(symbol, None)
        if action is None:
            return
        qty = self._position(symbol)
        if action.close and qty != 0:
            side = Side.SELL if qty > 0 else Side.BUY
            self._send(symbol, side, abs(qty), action.bar_ts, f"exit:{action.close_reason}")
            qty = self._position(symbol)
        if action.enter and qty == 0:
            price = self._price_of(symbol)
            if price is None:
                log.warning("%s %s: no price to size the entry; skipped", self.session_id, symbol)
                return
            cash = float(self._portfolio.cash)
            units = self.sizing.quantity(cash, self._equity(cash), price)
            if units is None:
                log.info(
                    "%s %s: entry too small at cash %.2f, price %s",
                    self.session_id,
                    symbol,
                    cash,
                    price,
                )
                return
            side = Side.BUY if action.enter > 0 else Side.SELL
            tag = "entry:long" if action.enter > 0 else "entry:short"
            self._send(symbol, side, units, action.bar_ts, tag, reference=price)

    def _send(
        self,
        symbol: str,
        side: Side,
        quantity: Decimal,
        bar_ts: int,
        tag: str,
        *,
        reference: float | None = None,
    ) -> None:
        price = reference if reference is not None else self._price_of(symbol)
        request = OrderRequest(
            session_id=self.session_id,
            symbol=symbol,
            side=side,
            quantity=quantity,
            order_type=OrderType.MARKET,
            tag=tag,
            reason_text=f"{self.strategy.strategy_name()} {tag} on bar {bar_ts}",
            intent_key=f"{self.session_id}:{symbol}:{bar_ts}:{tag}",
            reference_price=None if price is None else Decimal(repr(price)),
        )
        result = self.router.place(request)
        if not result.ok:
            log.warning(
                "%s %s %s %s refused: %s (%s)",
                self.session_id,
                side.value,
                quantity,
                symbol,
                result.reason,
                result.rule,
            )
            return
        status = result.status
        if result.client_order_id is not None and (status is None or status.is_open):
            self._working[symbol] = result.client_order_id

    # -- fills and order updates from the session --------------------------------------------
    def on_fill(self, fill: Fill) -> None:
        """A fill of this session was booked in the portfolio: update protective state."""
        symbol = fill.symbol
        position = self._portfolio.position(symbol)
        held = self._held.get(symbol)
        direction = 0 if position.quantity == 0 else (1 if position.quantity > 0 else -1)
        if direction == 0:
            self._floats.pop(symbol, None)  # flat: no longer in the equity sum
        if held is not None and held.direction != direction:
            self._cancel_protection(symbol)  # closed (or reversed) by this fill
            held = None
        if direction != 0 and held is None:
            entry = float(position.avg_price)
            fill_ms = _ms(fill)
            if self._closing_bar is not None:
                track_from = self._closing_bar + 1  # a close entry: this bar's high is past
            else:
                track_from = fill_ms - fill_ms % self._tf_ms
            self._held[symbol] = _Held(direction, entry, track_from, entry)

    def on_order_update(self, order: OrderSnapshot) -> None:
        """Clear in-flight tracking when an order finished; forget finished protective ids."""
        if order.status.is_open:
            return
        cid = order.client_order_id
        if self._working.get(order.symbol) == cid:
            del self._working[order.symbol]
        held = self._held.get(order.symbol)
        if held is not None:
            if held.stop_cid == cid:
                held.stop_cid = None
            if held.target_cid == cid:
                held.target_cid = None

    # -- protective exits --------------------------------------------------------------------
    def _update_extreme(self, symbol: str, bar: BarEvent) -> None:
        held = self._held.get(symbol)
        if held is None or bar.ts_ms < held.track_from_ts:
            return
        if held.direction > 0:
            held.extreme = max(held.extreme, bar.high)
        else:
            held.extreme = min(held.extreme, bar.low)

    def _rearm(self, symbol: str) -> None:
        """Place or move the protective orders of ``symbol``'s position for the next bar."""
        held = self._held.get(symbol)
        if held is None or (self._sl is None and self._tp is None and self._trail is None):
            return
        qty = abs(self._position(symbol))
        if qty == 0:
            return
        entry, extreme = held.entry_price, held.extreme
        # Same float operations, in the same order, as backtest.simulator._protective_exit.
        if held.direction > 0:
            stop, reason = -math.inf, "stop_loss"
            if self._sl is not None:
                stop = entry * (1.0 - self._sl)
            if self._trail is not None:
                trail = extreme * (1.0 - self._trail)
                if trail > stop:
                    stop, reason = trail, "trailing_stop"
            target = entry * (1.0 + self._tp) if self._tp is not None else None
            exit_side = Side.SELL
        else:
            stop, reason = math.inf, "stop_loss"
            if self._sl is not None:
                stop = entry * (1.0 + self._sl)
            if self._trail is not None:
                trail = extreme * (1.0 + self._trail)
                if trail < stop:
                    stop, reason = trail, "trailing_stop"
            target = entry * (1.0 - self._tp) if self._tp is not None else None
            exit_side = Side.BUY
        if math.isfinite(stop) and (held.stop_cid is None or stop != held.stop_level):
            if held.stop_cid is not None:
                self._cancel(held.stop_cid)
                held.stop_cid = None
            held.stop_cid = self._place_protective(
                symbol, exit_side, qty, OrderType.STOP, stop, reason
            )
            held.stop_level, held.stop_reason = stop, reason
        if target is not None and target > 0 and held.target_cid is None:
            held.target_cid = self._place_protective(
                symbol, exit_side, qty, OrderType.LIMIT, target, "take_profit"
            )

    def _place_protective(
        self, symbol: str, side: Side, qty: Decimal, kind: OrderType, level: float, reason: str
    ) -> str | None:
        price = Decimal(level)  # exact binary value: the broker fills at the same float
        request = OrderRequest(
            session_id=self.session_id,
            symbol=symbol,
            side=side,
            quantity=qty,
            order_type=kind,
            price=price if kind is OrderType.LIMIT else None,
            stop_price=price if kind is OrderType.STOP else None,
            tag=f"exit:{reason}",
            reason_text=f"{self.strategy.strategy_name()} {reason} at {level!r}",
        )
        result = self.router.place(request)
        if not result.ok:
            log.warning(
                "%s %s: %s order refused: %s", self.session_id, symbol, reason, result.reason
            )
            return None
        if result.status is not None and not result.status.is_open:
            return None
        return result.client_order_id

    def _cancel_protection(self, symbol: str) -> None:
        held = self._held.pop(symbol, None)
        if held is None:
            return
        for cid in (held.stop_cid, held.target_cid):
            if cid is not None:
                self._cancel(cid)

    def _cancel(self, cid: str) -> None:
        try:
            self.router.cancel(cid)
        except BrokerError as exc:  # already filled or gone: the fill/update will tell
            log.info("%s: cancel of %s refused: %s", self.session_id, cid, exc)

    def cancel_all_protection(self) -> None:
        """Cancel every protective order (session stop)."""
        for symbol in list(self._held):
            held = self._held[symbol]
            for cid in (held.stop_cid, held.target_cid):
                if cid is not None:
                    self._cancel(cid)
            held.stop_cid = held.target_cid = None

    # -- helpers --------------------------------------------------------------------------
    def _position(self, symbol: str) -> Decimal:
        return self._portfolio.position(symbol).quantity

    def _direction(self, symbol: str) -> int:
        qty = self._position(symbol)
        return 0 if qty == 0 else (1 if qty > 0 else -1)

    def _equity(self, cash: float) -> float:
        # Asked on every entry, over every open position (hundreds in a wide session), so
        # the Decimal -> float conversions are cached per Position object (immutable; a
        # fill replaces it). The sum keeps the portfolio's order and the same float
        # operations, so the result is bit-identical to converting afresh.
        cache = self._floats
        price_of = self._price_of
        equity = cash
        for symbol, position in self._portfolio.open_positions().items():
            held = cache.get(symbol)
            if held is None or held[0] is not position:
                held = (position, float(position.quantity), float(position.avg_price))
                cache[symbol] = held
            mark = price_of(symbol)
            equity += held[1] * (mark if mark is not None else held[2])
        return equity


def _ms(fill: Fill) -> int:
    # Fill.ts is timezone-aware; integer arithmetic keeps the ms exact.
    return to_ms(fill.ts)
