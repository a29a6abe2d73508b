"""Hand-computed cases for every fill convention of the compiled simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from stom_desktop.backtest.simulator import (
    COL_DIRECTION,
    COL_ENTRY_IDX,
    COL_ENTRY_PRICE,
    COL_EXIT_IDX,
    COL_EXIT_PRICE,
    COL_FEES,
    COL_PNL,
    COL_REASON,
    COL_RETURN,
    COL_SIZE,
    N_TRADE_COLS,
    OPEN_AT_END,
    REVERSAL,
    SIGNAL,
    STOP_LOSS,
    TAKE_PROFIT,
    TRAILING_STOP,
    SimOptions,
    SimOutput,
    simulate,
    simulate_into,
)

CASH = 1000.0


def flags(n: int, *idx: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.bool_)
    out[list(idx)] = True
    return out


def run(
    o: list[float],
    h: list[float] | None = None,
    low: list[float] | None = None,
    c: list[float] | None = None,
    *,
    entries: tuple[int, ...] = (),
    exits: tuple[int, ...] = (),
    short_entries: tuple[int, ...] = (),
    short_exits: tuple[int, ...] = (),
    **opts: float | bool,
) -> SimOutput:
    """Simulate on explicit OHLC (high/low/close default to open) with signal bar indices."""
    op = np.asarray(o, dtype=np.float64)
    cl = op.copy() if c is None else np.asarray(c, dtype=np.float64)
    hi = np.maximum(op, cl) if h is None else np.asarray(h, dtype=np.float64)
    lo = np.minimum(op, cl) if low is None else np.asarray(low, dtype=np.float64)
    n = op.shape[0]
    options = SimOptions(initial_cash=CASH)._replace(**opts)
    return simulate(
        op,
        hi,
        lo,
        cl,
        flags(n, *entries),
        flags(n, *exits),
        flags(n, *short_entries),
        flags(n, *short_exits),
        options,
    )


def trade(out: SimOutput, k: int = 0) -> dict[str, float]:
    row = out.trades[k]
    return {
        "entry_idx": row[COL_ENTRY_IDX],
        "exit_idx": row[COL_EXIT_IDX],
        "direction": row[COL_DIRECTION],
        "size": row[COL_SIZE],
        "entry_price": row[COL_ENTRY_PRICE],
        "exit_price": row[COL_EXIT_PRICE],
        "pnl": row[COL_PNL],
        "return": row[COL_RETURN],
        "fees": row[COL_FEES],
        "reason": row[COL_REASON],
    }


OPEN = [10.0, 10.5, 11.5, 12.5, 13.5]
CLOSE = [10.2, 11.0, 12.0, 13.0, 14.0]


def test_signal_fills_at_next_open_by_default() -> None:
    out = run(OPEN, c=CLOSE, entries=(1,), exits=(3,))
    t = trade(out)
    units = CASH / 11.5
    assert out.n_trades == 1
    assert (t["entry_idx"], t["exit_idx"]) == (2, 4)
    assert (t["entry_price"], t["exit_price"]) == (11.5, 13.5)
    assert t["size"] == pytest.approx(units, rel=1e-15)
    assert t["pnl"] == pytest.approx(units * 2.0, rel=1e-12)
    assert t["return"] == pytest.approx(2.0 / 11.5, rel=1e-12)
    assert t["reason"] == SIGNAL
    # flat until the fill, then marked at each close; flat again after the exit
    np.testing.assert_allclose(
        out.equity, [CASH, CASH, units * 12.0, units * 13.0, units * 13.5], rtol=1e-12
    )


def test_fill_at_close_uses_the_signal_bar_close() -> None:
    out = run(OPEN, c=CLOSE, entries=(1,), exits=(3,), fill_at_close=True)
    t = trade(out)
    assert (t["entry_idx"], t["exit_idx"]) == (1, 3)
    assert (t["entry_price"], t["exit_price"]) == (11.0, 13.0)
    assert out.equity[-1] == pytest.approx(CASH * 13.0 / 11.0, rel=1e-12)


def test_signal_on_last_bar_is_dropped_with_next_open_fills() -> None:
    out = run(OPEN, c=CLOSE, entries=(4,))
    assert out.n_trades == 0
    assert np.all(out.equity == CASH)


def test_position_open_at_end_is_an_open_trade_marked_to_market() -> None:
    out = run(OPEN, c=CLOSE, entries=(1,), fee_pct=0.01)
    t = trade(out)
    units = CASH / (11.5 * 1.01)
    assert t["reason"] == OPEN_AT_END
    assert (t["entry_idx"], t["exit_idx"], t["exit_price"]) == (2, 4, 14.0)
    # no exit fee on the mark: pnl matches the equity curve exactly
    assert t["fees"] == pytest.approx(units * 11.5 * 0.01, rel=1e-12)
    assert out.equity[-1] == pytest.approx(CASH + t["pnl"], rel=1e-12)


def test_short_position_profits_when_price_falls() -> None:
    o = [20.0, 20.0, 18.0, 16.0, 15.0]
    out = run(o, c=[20.0, 19.0, 17.0, 15.5, 15.0], short_entries=(1,), short_exits=(3,),
              allow_long=False, allow_short=True)  # fmt: skip
    t = trade(out)
    units = CASH / 18.0
    assert (t["direction"], t["entry_idx"], t["exit_idx"]) == (-1, 2, 4)
    assert t["pnl"] == pytest.approx(units * 3.0, rel=1e-12)
    assert t["return"] == pytest.approx(3.0 / 18.0, rel=1e-12)
    # equity = cash (incl. short proceeds) - units * close
    assert out.equity[2] == pytest.approx(CASH + units * (18.0 - 17.0), rel=1e-12)
    assert out.equity[-1] == pytest.approx(CASH + units * 3.0, rel=1e-12)


def test_short_signals_are_ignored_when_shorts_are_not_allowed() -> None:
    out = run(OPEN, c=CLOSE, short_entries=(1,), short_exits=(3,))
    assert out.n_trades == 0


def test_opposite_entry_reverses_the_position_at_one_price() -> None:
    o = [10.0, 10.0, 12.0, 11.0, 9.0]
    out = run(o, entries=(0,), short_entries=(2,), allow_short=True)
    assert out.n_trades == 2
    first, second = trade(out, 0), trade(out, 1)
    units_long = CASH / 10.0
    assert (first["entry_idx"], first["exit_idx"], first["reason"]) == (1, 3, REVERSAL)
    assert first["exit_price"] == 11.0
    cash_after = units_long * 11.0
    assert (second["direction"], second["entry_idx"], second["entry_price"]) == (-1, 3, 11.0)
    assert second["size"] == pytest.approx(cash_after / 11.0, rel=1e-12)
    assert second["reason"] == OPEN_AT_END
    assert out.equity[-1] == pytest.approx(cash_after + second["size"] * (11.0 - 9.0), rel=1e-12)


def test_exit_wins_over_entry_on_the_same_bar_and_no_pyramiding() -> None:
    o = [10.0] * 6
    # entry at 0 (filled at 1); entry again at 1 while long is ignored; bar 3 has both an
    # exit and an entry: the exit wins, nothing re-enters
    out = run(o, entries=(0, 1, 3), exits=(3,))
    assert out.n_trades == 1
    t = trade(out)
    assert (t["entry_idx"], t["exit_idx"]) == (1, 4)


def test_long_and_short_entries_on_one_bar_cancel() -> None:
    out = run([10.0] * 4, entries=(1,), short_entries=(1,), allow_short=True)
    assert out.n_trades == 0


def test_stop_loss_fills_at_the_level_when_touched() -> None:
    # entry at open[1] = 100; 5% stop = 95. Bar 1 (entry bar) dips to 90 but stops start
    # on the next bar; bar 2 opens 97 and trades down to 94 -> fill at 95.
    o = [100.0, 100.0, 97.0, 96.0]
    h = [100.0, 101.0, 98.0, 97.0]
    low = [100.0, 90.0, 94.0, 95.5]
    c = [100.0, 98.0, 96.0, 96.0]
    out = run(o, h, low, c, entries=(0,), stop_loss=0.05)
    t = trade(out)
    assert (t["entry_idx"], t["exit_idx"], t["reason"]) == (1, 2, STOP_LOSS)
    assert t["exit_price"] == pytest.approx(95.0, rel=1e-15)
    assert t["return"] == pytest.approx(-0.05, rel=1e-12)


def test_stop_loss_gap_through_fills_at_the_open() -> None:
    o = [100.0, 100.0, 90.0, 91.0]
    h = [100.0, 101.0, 92.0, 92.0]
    low = [100.0, 99.0, 88.0, 90.0]
    out = run(o, h, low, [100.0, 100.0, 91.0, 91.0], entries=(0,), stop_loss=0.05)
    t = trade(out)
    assert (t["exit_idx"], t["exit_price"], t["reason"]) == (2, 90.0, STOP_LOSS)


def test_short_stop_loss_and_take_profit_mirror_the_long_side() -> None:
    o = [100.0, 100.0, 103.0, 100.0]
    h = [100.0, 101.0, 107.0, 100.0]
    low = [100.0, 99.0, 102.0, 100.0]
    out = run(o, h, low, [100.0, 100.0, 104.0, 100.0], short_entries=(0,), stop_loss=0.05,
              allow_long=False, allow_short=True)  # fmt: skip
    t = trade(out)
    assert (t["exit_idx"], t["reason"]) == (2, STOP_LOSS)
    assert t["exit_price"] == pytest.approx(105.0, rel=1e-15)
    o = [100.0, 100.0, 95.0, 100.0]
    out = run(o, [100.0, 101.0, 96.0, 100.0], [100.0, 99.0, 89.0, 100.0],
              [100.0, 100.0, 92.0, 100.0], short_entries=(0,), take_profit=0.1,
              allow_long=False, allow_short=True)  # fmt: skip
    t = trade(out)
    assert (t["exit_idx"], t["reason"]) == (2, TAKE_PROFIT)
    assert t["exit_price"] == pytest.approx(90.0, rel=1e-15)


def test_take_profit_touch_gap_and_stop_first_when_both_touched() -> None:
    o = [100.0, 100.0, 105.0, 100.0]
    c = [100.0, 100.0, 108.0, 100.0]
    touch = run(o, [100.0, 101.0, 112.0, 100.0], [100.0, 99.0, 104.0, 100.0], c,
                entries=(0,), take_profit=0.10)  # fmt: skip
    assert trade(touch)["exit_price"] == pytest.approx(110.0, rel=1e-15)
    assert trade(touch)["reason"] == TAKE_PROFIT
    o_gap = [100.0, 100.0, 115.0, 100.0]
    gap = run(o_gap, [100.0, 101.0, 116.0, 100.0], [100.0, 99.0, 114.0, 100.0],
              [100.0, 100.0, 115.0, 100.0], entries=(0,), take_profit=0.10)  # fmt: skip
    assert (trade(gap)["exit_price"], trade(gap)["reason"]) == (115.0, TAKE_PROFIT)
    both = run(o, [100.0, 101.0, 112.0, 100.0], [100.0, 99.0, 94.0, 100.0], c,
               entries=(0,), take_profit=0.10, stop_loss=0.05)  # fmt: skip
    assert trade(both)["reason"] == STOP_LOSS
    assert trade(both)["exit_price"] == pytest.approx(95.0, rel=1e-15)


def test_trailing_stop_follows_the_peak_of_previous_bars() -> None:
    # entry at open[1]=100; the entry bar's high 105 counts (it came after the fill).
    # bar 2: level 0.9*105 = 94.5, low 100 -> hold; its high 120 raises the peak.
    # bar 3: level 0.9*120 = 108, low 107 -> exit at 108 (trailing, above the 5% stop).
    o = [100.0, 100.0, 104.0, 115.0, 100.0]
    h = [100.0, 105.0, 120.0, 116.0, 100.0]
    low = [100.0, 99.0, 100.0, 107.0, 100.0]
    c = [100.0, 104.0, 115.0, 110.0, 100.0]
    out = run(o, h, low, c, entries=(0,), trailing_stop=0.10, stop_loss=0.05)
    t = trade(out)
    assert (t["exit_idx"], t["reason"]) == (3, TRAILING_STOP)
    assert t["exit_price"] == pytest.approx(108.0, rel=1e-15)


def test_fees_percentage_and_fixed_sized_so_cash_never_goes_negative() -> None:
    o = [10.0, 10.0, 12.0, 12.0]
    out = run(o, entries=(0,), exits=(1,), fee_pct=0.01, fee_fixed=2.0)
    t = trade(out)
    units = (CASH - 2.0) / (10.0 * 1.01)
    fee_in = units * 10.0 * 0.01 + 2.0
    fee_out = units * 12.0 * 0.01 + 2.0
    assert t["size"] == pytest.approx(units, rel=1e-15)
    assert units * 10.0 + fee_in == pytest.approx(CASH, rel=1e-15)
    assert t["fees"] == pytest.approx(fee_in + fee_out, rel=1e-12)
    assert t["pnl"] == pytest.approx(units * 2.0 - fee_in - fee_out, rel=1e-12)
    assert out.equity[1] == pytest.approx(units * 10.0, rel=1e-12)  # cash is 0 while long
    assert out.equity[-1] == pytest.approx(CASH + t["pnl"], rel=1e-12)


def test_slippage_worsens_buys_and_sells() -> None:
    out = run([10.0, 10.0, 12.0, 12.0], entries=(0,), exits=(1,), slippage_bps=50.0)
    t = trade(out)
    assert t["entry_price"] == pytest.approx(10.05, rel=1e-15)
    assert t["exit_price"] == pytest.approx(11.94, rel=1e-15)
    assert t["size"] == pytest.approx(CASH / 10.05, rel=1e-15)
    short = run([10.0, 10.0, 8.0, 8.0], short_entries=(0,), short_exits=(1,),
                slippage_bps=50.0, allow_short=True)  # fmt: skip
    t = trade(short)
    assert (t["entry_price"], t["exit_price"]) == (pytest.approx(9.95), pytest.approx(8.04))


def test_integer_sizing_floors_units() -> None:
    out = run([30.0, 30.0, 33.0, 33.0], entries=(0,), exits=(1,), size_step=1.0)
    t = trade(out)
    assert t["size"] == 33.0
    assert out.equity[1] == pytest.approx(CASH, rel=1e-15)  # 10 left in cash + 33 * 30
    assert out.equity[-1] == pytest.approx(10.0 + 33 * 33.0, rel=1e-15)


def test_integer_sizing_with_fees_includes_the_fee() -> None:
    # 1000 / (10 * 1.01) = 99.0099 -> 99 units; 100 units would cost 1010 with the fee
    out = run([10.0, 10.0, 10.0], entries=(0,), size_step=1.0, fee_pct=0.01)
    assert trade(out)["size"] == 99.0


def test_fixed_fraction_sizing_commits_part_of_equity() -> None:
    out = run([10.0, 10.0, 20.0, 20.0], entries=(0,), exits=(1,), size_fraction=0.5)
    t = trade(out)
    assert t["size"] == pytest.approx(50.0, rel=1e-15)
    assert out.equity[-1] == pytest.approx(CASH + 500.0, rel=1e-15)


def test_min_notional_stops_a_fee_drained_account_trading_dust() -> None:
    # flat prices, 5% fees per fill: every round trip loses ~9.75% of equity
    n = 40
    o = [10.0] * n
    entries = tuple(range(0, n - 2, 2))
    exits = tuple(range(1, n - 2, 2))
    free = run(o, entries=entries, exits=exits, fee_pct=0.05)
    assert free.n_trades == len(entries)  # without a minimum it never stops
    out = run(o, entries=entries, exits=exits, fee_pct=0.05, min_notional=700.0)
    notional = out.trades[:, COL_SIZE] * out.trades[:, COL_ENTRY_PRICE]
    assert np.all(notional >= 700.0)
    assert 0 < out.n_trades < len(entries)
    last_exit = int(out.trades[-1, COL_EXIT_IDX])
    assert np.all(out.equity[last_exit:] == out.equity[last_exit])  # no more orders
    by_units = run(o, entries=entries, exits=exits, fee_pct=0.05, min_size=70.0)
    assert by_units.n_trades == out.n_trades


def test_too_small_trade_buffer_raises() -> None:
    n = 5
    z = np.zeros(n, dtype=np.bool_)
    px = np.full(n, 10.0)
    with pytest.raises(ValueError, match="trade buffer too small"):
        simulate_into(px, px, px, px, flags(n, 0), z, z, z, *SimOptions(),
                      np.empty(n), np.empty((0, N_TRADE_COLS)))  # fmt: skip


def test_rerun_is_identical() -> None:
    rng = np.random.default_rng(7)
    n = 2000
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = np.r_[c[0], c[:-1]]
    h = np.maximum(o, c) * 1.002
    low = np.minimum(o, c) * 0.998
    sig = [rng.random(n) < 0.05 for _ in range(4)]
    opts = SimOptions(fee_pct=0.001, stop_loss=0.02, take_profit=0.05, trailing_stop=0.03,
                      allow_short=True, slippage_bps=3.0)  # fmt: skip
    a = simulate(o, h, low, c, *sig, opts)
    b = simulate(o, h, low, c, *sig, opts)
    assert a.n_trades > 50
    np.testing.assert_array_equal(a.trades, b.trades)
    np.testing.assert_array_equal(a.equity, b.equity)
    # accounting identity: final equity = initial + sum of trade P&L (open trade marked)
    assert a.equity[-1] == pytest.approx(opts.initial_cash + a.trades[:, COL_PNL].sum(), rel=1e-9)
    assert not math.isnan(a.equity[-1])
