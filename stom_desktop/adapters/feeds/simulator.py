"""MarketSimulator: a deterministic, many-symbol quote/trade/order-book feed (the default).

Every ``quote_interval_ms`` of market time, each symbol whose market is open gets one
quote; some get a trade just before it, and each gets a 10-level book every
``book_interval_ms`` (staggered across symbols). One time step is computed for all
symbols at once with numpy, then turned into ``QuoteEvent``/``TradeTick``/
``OrderBookEvent`` tuples, so 2,000 symbols cost little more per event than one.

Model per symbol: the mid follows geometric Brownian motion with an annual volatility
drawn per symbol, scaled by a volatility regime (a Markov chain over
``regime_levels`` with mean stay ``regime_mean_s``) and, for markets with sessions, a
U-shaped intraday profile (busier after the open and before the close). The quote is
the mid's grid price below and the grid price above, widened to 2-3 ticks at random
(more often in the volatile regime). Trades hit the bid or lift the ask; sizes are
log-normal around ``level_notional`` in lots. KRX instruments stay within +/-30 % of the
previous close (``KrxStockRules.price_limits``); a new session opens with an overnight
gap. Outside trading hours nothing is emitted; with ``skip_closed`` the closed period
costs no wall time even when paced.

Determinism: one ``PCG64(seed)`` stream, drawn in fixed shapes per step, and only
correctly rounded arithmetic plus ``det_exp``; the same seed, configuration and
subscription sequence give the identical event sequence, however ``poll`` is called.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from stom_desktop.adapters.feeds._base import BufferedFeed, MonotonicFn, SleepFn
from stom_desktop.adapters.feeds._grid import FloatArray, IntArray, PriceGrid, tick_table
from stom_desktop.adapters.feeds._hours import FOREVER_MS, TradingHours, default_hours
from stom_desktop.adapters.feeds._sim_config import SimulatorConfig
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.events import MarketEvent, OrderBookEvent, QuoteEvent, TradeTick
from stom_desktop.core.instruments import Instrument, TickRule
from stom_desktop.core.market_rules import KrxStockRules
from stom_desktop.core.synthetic import det_exp

BOOK_LEVELS = 10
_CHUNK_EVENTS = 1024  # events generated per refill (at least one whole step)
_MAX_STEPS_PER_REFILL = 4096
_KRX_LIMITS = KrxStockRules()
# Start prices are log-uniform in [low, low * e**span] (the spans are ln(100), ln(1e5)).
_PRICE_RANGE_STOCK = (5_000.0, 4.605170185988092)
_PRICE_RANGE_CRYPTO = (1_000.0, 11.512925464970229)
_QUOTE = partial(tuple.__new__, QuoteEvent)  # builds the NamedTuple without Python frames
_TRADE = partial(tuple.__new__, TradeTick)
_BOOK = partial(tuple.__new__, OrderBookEvent)


class _Step(NamedTuple):
    """One block's arrays, ``(steps, symbols)`` each (``active`` is per symbol)."""

    t0: int
    active: np.ndarray
    trade: np.ndarray
    buy: np.ndarray
    bid: FloatArray
    ask: FloatArray
    last: FloatArray
    bid_size: FloatArray
    ask_size: FloatArray
    trade_size: FloatArray


class MarketSimulator(BufferedFeed):
    """A simulated market of many symbols; implements ``core.ports.Feed`` (see module doc).

    ``instruments`` may mix KRX, Upbit and simulator instruments (a plain string becomes
    ``Instrument.simulated``). ``subscribe`` adds symbols; they join at the next
    generated step. ``clock`` (optional) is moved to the market time of each batch;
    ``sleep``/``monotonic`` replace ``time.sleep``/``time.monotonic`` (tests).
    """

    def __init__(
        self,
        instruments: Iterable[Instrument | str] = (),
        config: SimulatorConfig | None = None,
        *,
        clock: SimulatedClock | None = None,
        hours: Callable[[Instrument], TradingHours] = default_hours,
        sleep: SleepFn | None = None,
        monotonic: MonotonicFn | None = None,
        max_wait_s: float = 0.05,
    ) -> None:
        cfg = config if config is not None else SimulatorConfig()
        super().__init__(
            speed=cfg.speed, clock=clock, sleep=sleep, monotonic=monotonic, max_wait_s=max_wait_s
        )
        self.config = cfg
        self._hours_for = hours
        self._rng = np.random.Generator(np.random.PCG64(cfg.seed))
        self._levels = np.array(cfg.regime_levels, dtype=np.float64)
        self._switch_p = min(1.0, cfg.quote_interval_ms / (1000.0 * cfg.regime_mean_s))
        self._t = cfg.start_ms
        self._end = None if cfg.duration_ms is None else cfg.start_ms + cfg.duration_ms
        self._step_no = 0
        self._instruments: list[Instrument] = []
        self._index: dict[str, int] = {}
        self._pending: list[Instrument] = []
        self._schedules: list[TradingHours] = []
        self._sessions: list[tuple[int, int]] = []
        self._state: dict[str, Any] = {}
        self._syms: list[str] = []
        self._grid = PriceGrid.for_tables([])
        for item in instruments:
            self.add_instrument(Instrument.simulated(item) if isinstance(item, str) else item)
        self._apply_pending()

    # -- public ---------------------------------------------------------------------------
    def subscribe(self, symbols: Iterable[str]) -> None:
        """Deliver ``symbols`` too; unknown ones become simulator instruments."""
        for symbol in symbols:
            if symbol not in self._index and all(i.symbol != symbol for i in self._pending):
                self.add_instrument(Instrument.simulated(symbol))

    def add_instrument(self, instrument: Instrument) -> None:
        """Add one instrument (from the next generated step); a duplicate raises."""
        if instrument.symbol in self._index or any(
            i.symbol == instrument.symbol for i in self._pending
        ):
            raise ConfigurationError(f"simulator: symbol {instrument.symbol!r} added twice")
        self._pending.append(instrument)

    @property
    def symbols(self) -> list[str]:
        """Symbols simulated so far, in emission order."""
        return [*self._syms, *(i.symbol for i in self._pending)]

    def instrument(self, symbol: str) -> Instrument:
        """The instrument behind ``symbol``."""
        for inst in [*self._instruments, *self._pending]:
            if inst.symbol == symbol:
                return inst
        raise KeyError(f"simulator: unknown symbol {symbol!r}")

    def price_limits(self, symbol: str) -> tuple[float, float] | None:
        """Current KRX daily limits (lower, upper) of ``symbol``; None if it has none."""
        row = self._index[symbol]
        if not self._state["limited"][row] or self._state["session"][row] < 0:
            return None
        return float(self._state["lo"][row]), float(self._state["hi"][row])

    def prev_close(self, symbol: str) -> float | None:
        """The close the current session's limits are based on (None before the first)."""
        row = self._index[symbol]
        value = float(self._state["prev_close"][row])
        return None if self._state["session"][row] < 0 else value

    # -- generation -----------------------------------------------------------------------
    def _refill(self) -> bool:
        self._apply_pending()
        if not self._syms:
            return True  # nothing to simulate yet; a later subscribe() may add symbols
        steps = 0
        while len(self._events) < _CHUNK_EVENTS and steps < _MAX_STEPS_PER_REFILL:
            if self._end is not None and self._t >= self._end:
                return bool(self._events)
            self._step()  # False when it jumped over a closed period instead
            steps += 1
        return True

    def _apply_pending(self) -> None:
        if not self._pending:
            return
        new, self._pending = self._pending, []
        cfg, rng = self.config, self._rng
        k = len(new)
        u = rng.random((2, k))  # start price, volatility
        sched, sqrt_dt, limited, lot, notional = [], [], [], [], []
        for inst in new:
            hours = self._hours_for(inst)
            if hours not in self._schedules:
                self._schedules.append(hours)
                self._sessions.append(hours.session(self._t))
            sched.append(self._schedules.index(hours))
            sqrt_dt.append(float(np.sqrt(cfg.quote_interval_ms / 1000.0 / _year_seconds(hours))))
            limited.append(inst.tick_rule is TickRule.KRX)
            lot.append(float(inst.lot_size))
            notional.append(
                cfg.level_notional
                if cfg.level_notional is not None
                else (2e7 if inst.quote_currency == "KRW" else 2e4)
            )
        crypto = np.array([i.asset_class == "crypto" for i in new])
        low = np.where(crypto, _PRICE_RANGE_CRYPTO[0], _PRICE_RANGE_STOCK[0])
        span = np.where(crypto, _PRICE_RANGE_CRYPTO[1], _PRICE_RANGE_STOCK[1])
        drawn = low * det_exp(u[0] * span)
        start = np.array(
            [cfg.start_prices.get(i.symbol, float(p)) for i, p in zip(new, drawn, strict=True)]
        )
        lo_vol, hi_vol = cfg.annual_vol
        lot_arr = np.array(lot)
        add: dict[str, Any] = {
            "mid": start,
            "vol": lo_vol + (hi_vol - lo_vol) * u[1],
            "sqrt_dt": np.array(sqrt_dt),
            "sched": np.array(sched, dtype=np.int64),
            "limited": np.array(limited, dtype=bool),
            "lot": lot_arr,
            "lot_dec": np.array([_decimals(i.lot_size) for i in new], dtype=np.int64),
            "base": np.maximum(np.array(notional) / start / lot_arr, 1.0),  # in lots
            "regime": np.full(k, min(1, len(self._levels) - 1), dtype=np.int64),
            "session": np.full(k, -1, dtype=np.int64),
            "prev_close": np.full(k, np.nan),
            "lo": np.zeros(k),
            "hi": np.full(k, np.inf),
        }
        for inst in new:
            self._index[inst.symbol] = len(self._syms)
            self._syms.append(inst.symbol)
            self._instruments.append(inst)
        state = self._state
        for key, values in add.items():
            state[key] = values if key not in state else np.concatenate([state[key], values])
        self._grid = PriceGrid.for_tables([tick_table(i) for i in self._instruments])
        n = len(self._syms)
        state["minp"] = self._grid.min_price()
        new_rows = slice(n - k, n)
        state["mid"][new_rows] = self._grid.round(state["mid"], "nearest")[new_rows]
        state["mid"][new_rows] = np.maximum(state["mid"][new_rows], 10 * state["minp"][new_rows])
        state["last"] = np.concatenate([state.get("last", np.empty(0)), state["mid"][new_rows]])
        state["offset"] = (np.arange(n, dtype=np.int64) * self.config.quote_interval_ms) // n
        state["rows"] = np.arange(n, dtype=np.int64)

    def _open_schedules(self, t: int) -> tuple[np.ndarray, int] | None:
        """Which schedules trade at ``t`` and until when nothing changes; None if none
        trades (then the time jumps to the next open)."""
        flags = np.zeros(len(self._schedules), dtype=bool)
        change = self._end if self._end is not None else FOREVER_MS
        for s, hours in enumerate(self._schedules):
            open_ms, close_ms = self._sessions[s]
            if t >= close_ms:
                open_ms, close_ms = self._sessions[s] = hours.session(t)
            flags[s] = open_ms <= t
            change = min(change, close_ms if flags[s] else open_ms)
        if flags.any():
            return flags, change
        next_open = min(o for o, _ in self._sessions)
        if self.config.skip_closed and self._pacer.paced:
            self._pacer.skip(t, next_open)
        self._t = next_open
        return None

    def _roll_sessions(self, rows: IntArray) -> None:
        """Symbols ``rows`` start a new session: overnight gap, prev close, KRX limits."""
        st, cfg = self._state, self.config
        first = st["session"][rows] < 0
        gap = det_exp(cfg.overnight_vol * self._rng.standard_normal(rows.size))
        mid = np.where(first, st["mid"][rows], st["mid"][rows] * gap)
        prev = st["last"][rows].copy()
        for j, row in enumerate(rows.tolist()):
            if first[j] and self._syms[row] in cfg.prev_closes:
                prev[j] = cfg.prev_closes[self._syms[row]]
            if st["limited"][row]:
                lower, upper = _KRX_LIMITS.price_limits(Decimal(repr(float(prev[j]))))
                st["lo"][row], st["hi"][row] = float(lower), float(upper)
            else:
                st["lo"][row] = 10 * st["minp"][row]
        st["prev_close"][rows] = prev
        st["mid"][rows] = np.clip(mid, st["lo"][rows], st["hi"][rows])
        sched_open = np.array([o for o, _ in self._sessions], dtype=np.int64)
        st["session"][rows] = sched_open[st["sched"][rows]]

    def _step(self) -> bool:
        """Generate a block of time steps; False if the market was closed (time jumped).

        A block is ``steps x symbols``: one step for a large universe, many for a small
        one (numpy's per-call cost then spreads over many events). It never crosses a
        session boundary, so who is open is fixed within it.
        """
        t0, cfg = self._t, self.config
        opened = self._open_schedules(t0)
        if opened is None:
            return False
        flags, change_ms = opened
        st, rng, grid, n = self._state, self._rng, self._grid, len(self._syms)
        interval = cfg.quote_interval_ms
        steps = max(1, min(_CHUNK_EVENTS // n, -(-(change_ms - t0) // interval)))
        active = flags[st["sched"]]
        sched_open = np.array([o for o, _ in self._sessions], dtype=np.int64)
        rolled = np.flatnonzero(active & (st["session"] != sched_open[st["sched"]]))
        if rolled.size:
            self._roll_sessions(rolled)

        shape = (steps, n)
        z = rng.standard_normal(shape)
        u = rng.random((4, *shape))  # regime switch, spread, trade, aggressor
        new_regime = rng.integers(0, len(self._levels), shape)
        size_u = rng.random((3, *shape))  # bid size, ask size, trade size
        step_idx = np.arange(steps, dtype=np.int64)[:, None]

        # Regime: the draw of the latest switch so far, else the carried-in regime.
        switched = np.where(u[0] < self._switch_p, step_idx, -1)
        latest = np.maximum.accumulate(switched, axis=0)
        regime = np.where(
            latest >= 0,
            np.take_along_axis(new_regime, np.maximum(latest, 0), axis=0),
            st["regime"],
        )
        st["regime"] = regime[-1]
        level = self._levels[regime]
        ts_steps = t0 + step_idx[:, 0] * interval
        sigma = st["vol"] * level * self._intraday(ts_steps)[:, st["sched"]] * st["sqrt_dt"]
        factor = np.where(active, det_exp(sigma * z - 0.5 * sigma * sigma), 1.0)
        mid = self._mid_path(factor)

        bid0 = grid.round(mid, "down")
        ask0 = grid.up(bid0)
        volatile = level > 1.5
        wide2 = u[1] >= np.where(volatile, 0.35, 0.6)  # spread of 2+ ticks
        wide3 = u[1] >= np.where(volatile, 0.75, 0.9)  # spread of 3 ticks
        bid = np.maximum(np.where(wide2, grid.down(bid0), bid0), st["lo"])
        ask = np.minimum(np.where(wide3, grid.up(ask0), ask0), st["hi"])
        bid = np.where(bid >= ask, grid.down(ask), bid)  # locked at the upper limit
        # Sizes: uniform 0.2..1.8 x the typical level (mean 1), in whole lots.
        sizes = self._lots(st["base"] * (0.2 + 1.6 * size_u[:2]), st["lot"], st["lot_dec"])

        p_trade = np.minimum(0.95, cfg.trade_probability * level)
        trade = active & (u[2] < p_trade)
        buy = u[3] < 0.5 + 0.2 * np.sign(z)  # buyers lift the ask more on up-moves
        # Trades: mostly small, sometimes large (0.03..0.57 x a level, mean 0.21).
        trade_size = self._lots(
            st["base"] * (0.03 + 0.54 * size_u[2] * size_u[2]), st["lot"], st["lot_dec"]
        )
        # Last: the latest trade price so far in the block, else the carried-in last.
        traded = np.where(trade, step_idx, -1)
        latest = np.maximum.accumulate(traded, axis=0)
        trade_px = np.where(buy, ask, bid)
        last = np.where(
            latest >= 0, np.take_along_axis(trade_px, np.maximum(latest, 0), axis=0), st["last"]
        )
        st["last"] = last[-1]

        every = cfg.book_every
        books = None
        if every:
            books = active & ((self._step_no + step_idx + st["rows"]) % every == 0)
        step = _Step(t0, active, trade, buy, bid, ask, last, sizes[0], sizes[1], trade_size)
        self._emit(step, books)
        self._t = t0 + steps * interval
        self._step_no += steps
        return True

    def _mid_path(self, factor: FloatArray) -> FloatArray:
        """Mids over a block: carried-in mid x running product, kept inside [lo, hi]."""
        st = self._state
        path = st["mid"] * np.cumprod(factor, axis=0)
        lo, hi = st["lo"], st["hi"]
        outside = np.flatnonzero(((path < lo) | (path > hi)).any(axis=0))
        if outside.size:  # near a limit: clamp step by step, for those symbols only
            m, f = st["mid"][outside], factor[:, outside]
            lo_o, hi_o = lo[outside], hi[outside]
            for b in range(factor.shape[0]):
                m = np.clip(m * f[b], lo_o, hi_o)
                path[b, outside] = m
        st["mid"] = path[-1].copy()
        return path

    def _intraday(self, ts: IntArray) -> FloatArray:
        """Volatility multiplier per step and schedule: U-shaped over a session, else 1."""
        out = np.ones((ts.size, len(self._schedules)))
        for s, (open_ms, close_ms) in enumerate(self._sessions):
            if not self._schedules[s].always_open:
                x = (ts - open_ms) / (close_ms - open_ms)
                near_open = np.maximum(0.0, 1.0 - x / 0.1)
                near_close = np.maximum(0.0, 1.0 - (1.0 - x) / 0.1)
                out[:, s] = 1.0 + 1.5 * near_open + 0.7 * near_close
        return out

    @staticmethod
    def _lots(raw_lots: FloatArray, lot: FloatArray, lot_dec: IntArray) -> FloatArray:
        """Whole lots (at least one) as quantities, snapped to the lot's decimals.

        ``raw_lots`` has symbols on its last axis (``lot``/``lot_dec`` are per symbol).
        """
        qty: FloatArray = np.maximum(np.floor(raw_lots + 1e-9), 1.0) * lot
        if lot_dec.any():
            for dec in np.unique(lot_dec).tolist():
                if dec:
                    rows = lot_dec == dec
                    qty[..., rows] = np.round(qty[..., rows], dec)
        return qty

    def _emit(self, step: _Step, books: np.ndarray | None) -> None:
        """Turn a block's ``(steps, symbols)`` arrays into events, in time order.

        Within a step symbol ``i`` is stamped ``offset[i]`` after the step (spread over
        the interval, increasing with ``i``); at one symbol's instant the trade comes
        first, then the quote showing it, then the book.
        """
        st, syms, n = self._state, self._syms, len(self._syms)
        steps = step.bid.shape[0]
        interval = self.config.quote_interval_ms
        ts = (step.t0 + np.arange(steps, dtype=np.int64)[:, None] * interval + st["offset"]).ravel()
        flat = {name: getattr(step, name).ravel() for name in _Step._fields[2:]}
        if step.active.all():
            qi = np.arange(steps * n, dtype=np.int64)
            q_syms = syms * steps
        else:
            qi = np.flatnonzero(np.broadcast_to(step.active, (steps, n)))
            q_syms = [syms[i] for i in (qi % n).tolist()]
        q_ts = ts[qi]
        events: list[MarketEvent] = list(
            map(
                _QUOTE,
                zip(
                    q_syms,
                    q_ts.tolist(),
                    flat["bid"][qi].tolist(),
                    flat["ask"][qi].tolist(),
                    flat["last"][qi].tolist(),
                    flat["bid_size"][qi].tolist(),
                    flat["ask_size"][qi].tolist(),
                    strict=True,
                ),
            )
        )
        ti = np.flatnonzero(flat["trade"])
        bi = np.flatnonzero(books) if books is not None else ti[:0]
        if ti.size == 0 and bi.size == 0:
            self._events.extend(events)
            self._due.extend(q_ts.tolist())
            return
        events += map(
            _TRADE,
            zip(
                [syms[i] for i in (ti % n).tolist()],
                ts[ti].tolist(),
                flat["last"][ti].tolist(),
                flat["trade_size"][ti].tolist(),
                [Side.BUY if b else Side.SELL for b in flat["buy"][ti].tolist()],
                strict=True,
            ),
        )
        if bi.size:
            events += self._books(
                bi % n,
                ts[bi],
                flat["bid"][bi],
                flat["ask"][bi],
                flat["bid_size"][bi],
                flat["ask_size"][bi],
            )
        keys = np.concatenate([3 * qi + 1, 3 * ti, 3 * bi + 2])
        order = np.argsort(keys, kind="stable")
        self._events.extend(map(events.__getitem__, order.tolist()))
        self._due.extend(np.concatenate([q_ts, ts[ti], ts[bi]])[order].tolist())

    def _books(
        self,
        cols: IntArray,
        ts: IntArray,
        bid: FloatArray,
        ask: FloatArray,
        bid_size: FloatArray,
        ask_size: FloatArray,
    ) -> list[OrderBookEvent]:
        """10-level books for symbols ``cols``; levels beyond a KRX limit are left out."""
        st, grid = self._state, self._grid.take(cols)
        k = cols.size
        bp = grid.ladder(bid, BOOK_LEVELS, up=False).T
        ap = grid.ladder(ask, BOOK_LEVELS, up=True).T
        depth = 1.0 + 0.25 * np.arange(BOOK_LEVELS)[:, None]  # deeper levels hold more
        noise = 0.2 + 1.6 * self._rng.random((2, BOOK_LEVELS, k))
        lot, dec = st["lot"][cols], st["lot_dec"][cols]
        level_sizes = self._lots(st["base"][cols] * depth * noise, lot, dec)  # (2, levels, k)
        bs, az = level_sizes[0].T.copy(), level_sizes[1].T.copy()
        bs[:, 0], az[:, 0] = bid_size, ask_size
        floor = np.where(st["limited"][cols], st["lo"][cols], st["minp"][cols])
        n_bid = (bp >= floor[:, None]).sum(axis=1).tolist()
        n_ask = (ap <= st["hi"][cols, None]).sum(axis=1).tolist()
        syms = [self._syms[i] for i in cols.tolist()]
        if min(n_bid) == BOOK_LEVELS and min(n_ask) == BOOK_LEVELS:  # no limit in reach
            columns = (bp, bs, ap, az)
            bid_p, bid_s, ask_p, ask_s = (list(map(tuple, c.tolist())) for c in columns)
            return list(map(_BOOK, zip(syms, ts.tolist(), bid_p, bid_s, ask_p, ask_s, strict=True)))
        out: list[OrderBookEvent] = []
        for sym, t, b, bz, a, az_row, nb, na in zip(
            syms,
            ts.tolist(),
            bp.tolist(),
            bs.tolist(),
            ap.tolist(),
            az.tolist(),
            n_bid,
            n_ask,
            strict=True,
        ):
            out.append(
                _BOOK((sym, t, tuple(b[:nb]), tuple(bz[:nb]), tuple(a[:na]), tuple(az_row[:na])))
            )
        return out


def _year_seconds(hours: TradingHours) -> float:
    """Trading seconds per year: 252 sessions for exchanges with hours, else 365 x 24 h."""
    if hours.open is None or hours.close is None:
        return 365.0 * 86_400.0
    session = (hours.close.hour * 3600 + hours.close.minute * 60) - (
        hours.open.hour * 3600 + hours.open.minute * 60
    )
    return 252.0 * session


def _decimals(step: Decimal) -> int:
    exponent = int(step.normalize().as_tuple().exponent)
    return max(0, -exponent)
