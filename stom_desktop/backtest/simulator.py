"""The one compiled fill simulator: signals + OHLC in, trades and an equity curve out.

One ``@njit(cache=True, nogil=True)`` function serves every strategy: all options are
plain scalars, so it is compiled once (and cached on disk) and can run in a ``prange``
or a thread pool over parameter sets (it releases the GIL and allocates nothing when the
caller passes its own buffers to :func:`simulate_into`).

Conventions (each one is covered by a hand-computed unit test):

Signals and fills
    A signal on bar ``i`` is decided once bar ``i`` has closed. With ``fill_at_close``
    False (the default, no look-ahead) it fills at ``open[i+1]``; signals on the last bar
    are dropped (there is no next bar). With ``fill_at_close`` True it fills at
    ``close[i]``. The fill bar is the trade's ``entry_idx`` / ``exit_idx``.
Order of decisions on one bar
    Exits before entries. A long is closed by ``exits`` or, when shorts are allowed, by a
    ``short_entries`` signal, which then opens the short at the same price (a reversal:
    two fills, two fees). Mirror image for shorts. An entry and an exit of the same side on
    the same bar: the exit wins (the entry is dropped). Long and short entries on the same
    bar cancel each other. An entry while already holding that side is ignored (no
    pyramiding); entries on a side that is not allowed are ignored.
Protective exits (stop-loss, take-profit, trailing stop)
    Fractions of the entry fill price; NaN means off. They are evaluated intra-bar with
    ``high``/``low`` on bars strictly after the entry bar (a position filled at
    ``open[i]`` is first checked on bar ``i+1``). Long: stop level
    ``max(entry*(1-sl), peak*(1-trail))`` where ``peak`` is the highest high since the
    entry *up to the previous bar* (the entry price at first; the entry bar's own high
    counts for next-open entries because it happened after the fill). If the bar opens
    through the stop, the fill is at the open (gap-through); otherwise if the low touches
    it, at the stop level. Then take-profit ``entry*(1+tp)``: a gap above it fills at the
    open, a touch at the level. When stop and take-profit are both touched in one bar the
    stop is assumed first (conservative). Shorts mirror this (trough, ``1+sl``, ``1-tp``).
    The exit reason is the binding level (stop-loss vs trailing stop). In close-fill mode
    protective exits on bar ``i`` are processed before that bar's signals, so a stopped
    position can re-enter at the same close.
Prices, fees, slippage
    Slippage worsens every fill (signal, stop and take-profit alike) by ``slippage_bps``:
    buys at ``p*(1+bps/1e4)``, sells at ``p*(1-bps/1e4)``. Fees per fill are
    ``fee_pct * notional + fee_fixed`` on entry and on exit.
Sizing
    Only from flat (a reversal closes first). Budget ``B = cash * size_fraction``
    (``size_fraction=1`` is all-in; cash equals equity when flat). Units are
    ``(B - fee_fixed) / (price * (1 + fee_pct))`` so the entry and its fee fit in the
    budget and cash never goes negative, the same formula as vectorbt (``size=np.inf``)
    and backtesting.py (``size<1``). Shorts use the same units (1x notional, proceeds
    credited to cash). ``size_step > 0`` floors units to multiples of the step:
    ``1.0`` is integer sizing (whole shares, backtesting.py's default), ``1e-8`` a
    satoshi lot (``FractionalBacktest``), ``0.0`` continuous. An entry below ``min_size``
    units, below ``min_notional``, or with zero units is not placed, so an account ground
    down by fees stops trading dust. Exits are always placed.
Trades and equity
    ``equity[i]`` is cash plus the position marked at ``close[i]`` after every fill of bar
    ``i`` (no hypothetical exit fee). Trade ``pnl`` is net of both fees; ``return`` is
    ``pnl / (size * entry_price)`` (backtesting.py's ``ReturnPct``). A position still open
    after the last bar is reported as a trade with reason :data:`OPEN_AT_END`, exit price
    ``close[-1]`` and no exit fee, i.e. marked to market exactly as in the equity curve.
    backtesting.py with ``finalize_trades=False`` (its default) leaves such a position
    out of ``_trades`` but in equity, so compare its trades with ours minus the open one;
    with ``finalize_trades=True`` it closes it by re-running the last bar, i.e. at the
    last *open* with an exit fee (not our mark at the last close). vectorbt's
    ``trades.count()`` includes the open trade (status Open, marked at the last close, no
    exit fee), exactly as ours. Metrics count closed trades (``num_trades``) and the open
    one separately (``open_trades``).
Reuse in a grid
    :func:`simulate_into` allocates nothing and releases the GIL: a ``prange`` or thread
    pool over parameter sets can call it (or ``runner.simulate_metrics_into``) with one
    equity/trade buffer per worker and signal arrays built from cached indicator rows.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from numba import njit

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Column layout of the trade buffer (float64, one row per trade; integers stored exactly).
COL_ENTRY_IDX = 0
COL_EXIT_IDX = 1
COL_DIRECTION = 2  # +1 long, -1 short
COL_SIZE = 3  # units, always positive
COL_ENTRY_PRICE = 4
COL_EXIT_PRICE = 5
COL_PNL = 6
COL_RETURN = 7
COL_FEES = 8
COL_REASON = 9
N_TRADE_COLS = 10

# Exit reasons.
SIGNAL = 0
REVERSAL = 1
STOP_LOSS = 2
TAKE_PROFIT = 3
TRAILING_STOP = 4
OPEN_AT_END = 5
EXIT_REASON_NAMES = ("signal", "reversal", "stop_loss", "take_profit", "trailing_stop", "open")


@njit(cache=True, nogil=True)
def _record(
    trades: FloatArray,
    n: int,
    entry_idx: int,
    exit_idx: int,
    direction: int,
    size: float,
    entry_price: float,
    exit_price: float,
    entry_fee: float,
    exit_fee: float,
    reason: int,
) -> None:
    """Write trade row ``n`` (net P&L and return derived here, once)."""
    if n >= trades.shape[0]:
        raise ValueError("trade buffer too small: pass capacity >= number of entry signals + 1")
    pnl = direction * size * (exit_price - entry_price) - entry_fee - exit_fee
    row = trades[n]
    row[COL_ENTRY_IDX] = entry_idx
    row[COL_EXIT_IDX] = exit_idx
    row[COL_DIRECTION] = direction
    row[COL_SIZE] = size
    row[COL_ENTRY_PRICE] = entry_price
    row[COL_EXIT_PRICE] = exit_price
    row[COL_PNL] = pnl
    row[COL_RETURN] = pnl / (size * entry_price)
    row[COL_FEES] = entry_fee + exit_fee
    row[COL_REASON] = reason


@njit(cache=True, nogil=True, inline="always")
def _protective_exit(
    i: int,
    pos: int,
    size: float,
    entry_price: float,
    entry_fee: float,
    entry_idx: int,
    extreme: float,
    cash: float,
    n_trades: int,
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    slip: float,
    fee_pct: float,
    fee_fixed: float,
    use_sl: bool,
    stop_loss: float,
    use_tp: bool,
    take_profit: float,
    use_tr: bool,
    trailing_stop: float,
    trades_out: FloatArray,
) -> tuple[int, float, int, float]:
    """Stop-loss / take-profit / trailing stop on bar ``i``: ``(pos, cash, n_trades, extreme)``."""
    exit_px = np.nan
    reason = SIGNAL
    if pos == 1:
        stop = -np.inf
        if use_sl:
            stop = entry_price * (1.0 - stop_loss)
            reason = STOP_LOSS
        if use_tr:
            trail = extreme * (1.0 - trailing_stop)
            if trail > stop:
                stop = trail
                reason = TRAILING_STOP
        target = entry_price * (1.0 + take_profit) if use_tp else np.inf
        if open_[i] <= stop:  # gapped through the stop: fill at the open
            exit_px = open_[i]
        elif open_[i] >= target:  # gapped over the target: the better open
            exit_px = open_[i]
            reason = TAKE_PROFIT
        elif low[i] <= stop:  # stop before target when both are touched
            exit_px = stop
        elif high[i] >= target:
            exit_px = target
            reason = TAKE_PROFIT
        if np.isnan(exit_px):
            return pos, cash, n_trades, max(extreme, high[i])
        fill = exit_px * (1.0 - slip)
        fee = size * fill * fee_pct + fee_fixed
        cash += size * fill - fee
    else:
        stop = np.inf
        if use_sl:
            stop = entry_price * (1.0 + stop_loss)
            reason = STOP_LOSS
        if use_tr:
            trail = extreme * (1.0 + trailing_stop)
            if trail < stop:
                stop = trail
                reason = TRAILING_STOP
        target = entry_price * (1.0 - take_profit) if use_tp else -np.inf
        if open_[i] >= stop:
            exit_px = open_[i]
        elif open_[i] <= target:
            exit_px = open_[i]
            reason = TAKE_PROFIT
        elif high[i] >= stop:
            exit_px = stop
        elif low[i] <= target:
            exit_px = target
            reason = TAKE_PROFIT
        if np.isnan(exit_px):
            return pos, cash, n_trades, min(extreme, low[i])
        fill = exit_px * (1.0 + slip)
        fee = size * fill * fee_pct + fee_fixed
        cash -= size * fill + fee
    _record(
        trades_out, n_trades, entry_idx, i, pos, size, entry_price, fill, entry_fee, fee, reason
    )
    return 0, cash, n_trades + 1, extreme


@njit(cache=True, nogil=True)
def simulate_into(
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    entries: BoolArray,
    exits: BoolArray,
    short_entries: BoolArray,
    short_exits: BoolArray,
    fill_at_close: bool,
    fee_pct: float,
    fee_fixed: float,
    slippage_bps: float,
    size_step: float,
    size_fraction: float,
    min_size: float,
    min_notional: float,
    stop_loss: float,
    take_profit: float,
    trailing_stop: float,
    allow_long: bool,
    allow_short: bool,
    initial_cash: float,
    equity_out: FloatArray,
    trades_out: FloatArray,
) -> int:
    """Simulate fills into caller-owned buffers; return the number of trade rows written.

    ``equity_out`` has one element per bar; ``trades_out`` is ``(capacity, N_TRADE_COLS)``
    with ``capacity >= count(entries) + count(short_entries) + 1`` (each trade needs an
    entry signal). Conventions: see the module docstring.
    """
    n_bars = close.shape[0]
    slip = slippage_bps * 1e-4
    use_sl = not np.isnan(stop_loss)
    use_tp = not np.isnan(take_profit)
    use_tr = not np.isnan(trailing_stop)
    protective = use_sl or use_tp or use_tr
    # signal of bar j = i - lag fills at fill_px[i]
    lag = 0 if fill_at_close else 1
    fill_px = close if fill_at_close else open_

    cash = initial_cash
    pos = 0  # +1 long, -1 short, 0 flat
    size = 0.0
    entry_price = 0.0
    entry_fee = 0.0
    entry_idx = 0
    extreme = 0.0  # peak (long) / trough (short) since entry, for the trailing stop
    n_trades = 0

    for i in range(min(lag, n_bars)):  # next-open: nothing can fill on bar 0
        equity_out[i] = cash
    i = lag
    while i < n_bars:
        if pos == 0 or not protective:
            # Tight inner loop over bars with nothing to do: no signal to fill and no stop
            # to watch. Kept apart from the event code below so it stays in registers
            # (measured 2-3x faster than one loop carrying all the branches).
            held = pos * size
            while i < n_bars and not (
                entries[i - lag] | exits[i - lag] | short_entries[i - lag] | short_exits[i - lag]
            ):
                equity_out[i] = cash + held * close[i]
                i += 1
            if i >= n_bars:
                break
        j = i - lag
        # Close-fill mode: the bar's intra-bar stops happen before its closing signals.
        if fill_at_close and protective and pos != 0 and i > entry_idx:
            pos, cash, n_trades, extreme = _protective_exit(
                i, pos, size, entry_price, entry_fee, entry_idx, extreme, cash, n_trades,
                open_, high, low, slip, fee_pct, fee_fixed, use_sl, stop_loss, use_tp,
                take_profit, use_tr, trailing_stop, trades_out,
            )  # fmt: skip

        if entries[j] | exits[j] | short_entries[j] | short_exits[j]:
            px = fill_px[i]
            go_long = allow_long and entries[j] and not exits[j]
            go_short = allow_short and short_entries[j] and not short_exits[j]
            if go_long and go_short:
                go_long = False
                go_short = False
            if (pos == 1 and (exits[j] or go_short)) or (pos == -1 and (short_exits[j] or go_long)):
                fill = px * (1.0 - slip * pos)
                fee = size * fill * fee_pct + fee_fixed
                cash += pos * size * fill - fee
                reversal = go_short if pos == 1 else go_long
                _record(
                    trades_out, n_trades, entry_idx, i, pos, size, entry_price, fill,
                    entry_fee, fee, REVERSAL if reversal else SIGNAL,
                )  # fmt: skip
                n_trades += 1
                pos = 0
            if pos == 0 and (go_long or go_short):
                direction = 1 if go_long else -1
                fill = px * (1.0 + slip * direction)
                budget = cash * size_fraction
                units = (budget - fee_fixed) / (fill * (1.0 + fee_pct))
                if size_step > 0.0:
                    units = np.floor(units / size_step) * size_step
                if units > 0.0 and units >= min_size and units * fill >= min_notional:
                    fee = units * fill * fee_pct + fee_fixed
                    if direction == 1:
                        # max(): all-in sizing can overshoot by one ulp of rounding
                        cash = max(cash - (units * fill + fee), 0.0)
                    else:
                        cash += units * fill - fee
                    pos = direction
                    size = units
                    entry_price = fill
                    entry_fee = fee
                    entry_idx = i
                    # a next-open entry saw this bar's range after its fill
                    if fill_at_close:
                        extreme = fill
                    elif direction == 1:
                        extreme = max(fill, high[i])
                    else:
                        extreme = min(fill, low[i])

        # Next-open mode: stops on bars after the entry bar, after the open's orders.
        if not fill_at_close and protective and pos != 0 and i > entry_idx:
            pos, cash, n_trades, extreme = _protective_exit(
                i, pos, size, entry_price, entry_fee, entry_idx, extreme, cash, n_trades,
                open_, high, low, slip, fee_pct, fee_fixed, use_sl, stop_loss, use_tp,
                take_profit, use_tr, trailing_stop, trades_out,
            )  # fmt: skip

        # Mark to market at the close.
        equity_out[i] = cash + pos * size * close[i]
        i += 1

    if pos != 0:
        _record(
            trades_out, n_trades, entry_idx, n_bars - 1, pos, size, entry_price,
            close[n_bars - 1], entry_fee, 0.0, OPEN_AT_END,
        )  # fmt: skip
        n_trades += 1
    return n_trades


class SimOptions(NamedTuple):
    """The simulator's scalar options, in :func:`simulate_into`'s argument order."""

    fill_at_close: bool = False
    fee_pct: float = 0.0
    fee_fixed: float = 0.0
    slippage_bps: float = 0.0
    size_step: float = 0.0
    size_fraction: float = 1.0
    min_size: float = 0.0
    min_notional: float = 0.0
    stop_loss: float = np.nan
    take_profit: float = np.nan
    trailing_stop: float = np.nan
    allow_long: bool = True
    allow_short: bool = False
    initial_cash: float = 10_000.0


class SimOutput(NamedTuple):
    """What :func:`simulate` returns: the equity curve and the trade rows (views)."""

    equity: FloatArray
    trades: FloatArray  # (n_trades, N_TRADE_COLS)

    @property
    def n_trades(self) -> int:
        return int(self.trades.shape[0])

    def column(self, col: int) -> FloatArray:
        """One trade column, e.g. ``out.column(COL_PNL)``."""
        return self.trades[:, col]


def trade_capacity(entries: BoolArray, short_entries: BoolArray, options: SimOptions) -> int:
    """Upper bound on trades: one per allowed entry signal, plus one spare row."""
    count = 1
    if options.allow_long:
        count += int(np.count_nonzero(entries))
    if options.allow_short:
        count += int(np.count_nonzero(short_entries))
    return count


def simulate(
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    entries: BoolArray,
    exits: BoolArray,
    short_entries: BoolArray,
    short_exits: BoolArray,
    options: SimOptions,
) -> SimOutput:
    """Allocate the buffers (trades sized from the signal count) and run the simulator."""
    n = close.shape[0]
    for name, arr in (("open", open_), ("high", high), ("low", low)):
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} bars, close has {n}")
    signals = {
        "entries": entries,
        "exits": exits,
        "short_entries": short_entries,
        "short_exits": short_exits,
    }
    for key, flags in signals.items():
        if flags.shape[0] != n:
            raise ValueError(f"signal array {key} has {flags.shape[0]} elements, bars have {n}")
    equity = np.empty(n, dtype=np.float64)
    trades = np.empty((trade_capacity(entries, short_entries, options), N_TRADE_COLS))
    count = simulate_into(
        open_, high, low, close, entries, exits, short_entries, short_exits,
        *options, equity, trades,
    )  # fmt: skip
    return SimOutput(equity, trades[:count])
