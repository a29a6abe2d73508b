"""Single backtest, speed and memory: STOM vs vectorbt, backtesting.py and a fused @njit loop.

SMA(10,30) crossover, long only, next-open fills, all-in fractional sizing, no fees, on
synthetic 24/7 1-minute bars (100k, 1M, 5M). Every engine runs in its own fresh process
(``--worker``): load the bars, warm up (compile) on a small slice, then one measured run
for memory and ``N`` timed runs (best of N). Every engine must produce the same trade list
(entry/exit bars and prices) and final equity; the benchmark asserts it.

What each engine's time includes:

- ``stom``: the full ``run_backtest``: signals from the strategy (indicators computed
  fresh), the compiled simulator, all metrics, the trades DataFrame and the result.
- ``vectorbt-numba`` / ``vectorbt-rust``: ``Portfolio.from_signals`` (signals shifted one
  bar, ``price=open``, ``size=inf``), trade records, the equity curve, total return,
  Sharpe and max drawdown. Its input signals are precomputed (not timed), so it gets no
  indicator cost at all.
- ``backtesting.py``: ``FractionalBacktest(fractional_unit=1e-8).run()`` (its loop plus its
  stats) on precomputed signals, tqdm off. Skipped at 5M when 1M takes > 12 s
  (projected > 60 s), as the table says.
- ``fused-njit``: one hand-written ``@njit`` loop doing SMA + crossover + fills + equity
  (no metrics, no report): the practical limit.

Peak extra memory is the rise of the process's peak RSS (Linux ``VmHWM``, reset through
``/proc/self/clear_refs`` just before the measured run) above the RSS after loading the
bars and warming up, so the price arrays and imports are not counted.

Run: ``python benchmarks/bench_backtest.py`` (``--sizes``, ``--repeats``, ``--engines``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit

SIZES = (100_000, 1_000_000, 5_000_000)
ENGINES = ("stom", "fused-njit", "vectorbt-rust", "vectorbt-numba", "backtesting.py")
FAST, SLOW = 10, 30
CASH = 1_000_000.0
MINUTE_MS = 60_000
BT_MAX_SECONDS = 60.0
RESYNC_BARS = 8192  # must equal stom_desktop.strategy._kernels.RESYNC_BARS (checked)

Trades = dict[str, np.ndarray]


# -- data ----------------------------------------------------------------------------------
def make_bars(n: int, seed: int = 7) -> dict[str, np.ndarray]:
    """Deterministic 24/7 1-minute OHLCV: log-normal walk, open = previous close + noise."""
    rng = np.random.default_rng(seed)
    close = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 6e-4, n)))
    open_ = np.empty(n)
    open_[0] = 30_000.0
    open_[1:] = close[:-1] * np.exp(rng.normal(0.0, 1e-4, n - 1))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 3e-4, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 3e-4, n)))
    ts = 1_704_067_200_000 + np.arange(n, dtype=np.int64) * MINUTE_MS
    return {"ts": ts, "open": open_, "high": high, "low": low, "close": close,
            "volume": rng.uniform(1.0, 10.0, n)}  # fmt: skip


def load_bars(path: Path) -> Any:
    from stom_desktop.core.bars import BarSeries

    with np.load(path) as data:
        cols = {k: np.ascontiguousarray(data[k]) for k in data.files}
    return BarSeries("SIM", "1m", cols["ts"], cols["open"], cols["high"], cols["low"],
                     cols["close"], cols["volume"])  # fmt: skip


def bench_strategy() -> Any:
    """The SMA cross as a normal STOM strategy (the library's indicators and crossover)."""
    from stom_desktop.strategy.base import Signals, Strategy
    from stom_desktop.strategy.indicators import crossed_above, crossed_below
    from stom_desktop.strategy.params import Param

    class BenchSmaCross(Strategy):
        name = "bench_sma_cross"
        fast = Param(FAST, 2, 500)
        slow = Param(SLOW, 3, 1000)

        def signals(self, bars: Any, ta: Any) -> Signals:
            f, s = ta.sma(self.p.fast), ta.sma(self.p.slow)
            return Signals(entries=crossed_above(f, s), exits=crossed_below(f, s))

    return BenchSmaCross()


def peer_signals(bars: Any) -> tuple[np.ndarray, np.ndarray]:
    """The same signals for the peers (computed once, untimed)."""
    from stom_desktop.strategy.indicators import crossed_above, crossed_below, sma

    f, s = sma(bars.close, FAST), sma(bars.close, SLOW)
    return crossed_above(f, s), crossed_below(f, s)


# -- the practical limit: one fused loop -------------------------------------------------
@njit(cache=True, nogil=True)
def _sma_step(x: np.ndarray, i: int, p: int, total: float, same: int) -> tuple[float, float]:
    """One step of the library's re-synced running-sum SMA (bit-identical values)."""
    block = max(p * 16, RESYNC_BARS)
    if i < p - 1:
        return np.nan, 0.0
    if (i - (p - 1)) % block == 0:
        total = 0.0
        for k in range(i - p + 1, i + 1):
            total += x[k]
    else:
        total += x[i] - x[i - p]
    return (x[i] if same >= p else total / p), total


@njit(cache=True, nogil=True)
def fused_sma_cross(
    open_: np.ndarray, close: np.ndarray, fast: int, slow: int, cash: float
) -> tuple[np.ndarray, int, np.ndarray]:
    """SMA + crossover + next-open all-in fills + equity in a single pass over the bars."""
    n = close.shape[0]
    equity = np.empty(n)
    trades = np.empty((1024, 4))  # entry_idx, exit_idx, entry_price, exit_price
    count = 0
    units = 0.0
    entry_idx = 0
    entry_price = 0.0
    f_prev = np.nan
    s_prev = np.nan
    f_tot = 0.0
    s_tot = 0.0
    same = 1
    want_in = False
    want_out = False
    for i in range(n):
        px = open_[i]
        if want_out and units > 0.0:
            cash += units * px
            if count == trades.shape[0]:
                bigger = np.empty((2 * count, 4))
                bigger[:count] = trades
                trades = bigger
            trades[count, 0] = entry_idx
            trades[count, 1] = i
            trades[count, 2] = entry_price
            trades[count, 3] = px
            count += 1
            units = 0.0
        elif want_in and units == 0.0:
            units = cash / px
            cash = max(cash - units * px, 0.0)
            entry_idx = i
            entry_price = px
        if i > 0:
            same = same + 1 if close[i] == close[i - 1] else 1
        f, f_tot = _sma_step(close, i, fast, f_tot, same)
        s, s_tot = _sma_step(close, i, slow, s_tot, same)
        want_in = f > s and f_prev <= s_prev
        want_out = f < s and f_prev >= s_prev
        f_prev = f
        s_prev = s
        equity[i] = cash + units * close[i]
    return trades, count, equity


# -- engines: each returns a zero-argument runner producing (closed trades, final equity) --
def _closed(entry_idx: Any, exit_idx: Any, entry_px: Any, exit_px: Any) -> Trades:
    return {
        "entry_idx": np.asarray(entry_idx, dtype=np.int64),
        "exit_idx": np.asarray(exit_idx, dtype=np.int64),
        "entry_price": np.asarray(entry_px, dtype=np.float64),
        "exit_price": np.asarray(exit_px, dtype=np.float64),
    }


def engine_runner(engine: str, bars: Any) -> Callable[[], tuple[Trades, float]]:
    """Set up ``engine`` on ``bars`` (untimed) and return its timed run."""
    if engine == "stom":
        from stom_desktop.backtest import BacktestConfig, run_backtest

        strategy = bench_strategy()
        config = BacktestConfig(initial_capital=CASH, fractional=True)

        def run_stom() -> tuple[Trades, float]:
            result = run_backtest(strategy, bars, config)
            t = result.closed_trades
            return _closed(t["entry_idx"], t["exit_idx"], t["entry_price"], t["exit_price"]), float(
                result.equity[-1]
            )

        return run_stom
    if engine == "fused-njit":

        def run_fused() -> tuple[Trades, float]:
            trades, count, equity = fused_sma_cross(bars.open, bars.close, FAST, SLOW, CASH)
            t = trades[:count]
            return _closed(t[:, 0], t[:, 1], t[:, 2], t[:, 3]), float(equity[-1])

        return run_fused
    if engine.startswith("vectorbt"):
        import pandas as pd
        import vectorbt as vbt

        which = engine.split("-")[1]
        entries, exits = peer_signals(bars)
        index = pd.DatetimeIndex(bars.ts.astype("datetime64[ms]"))
        close = pd.Series(bars.close, index=index)
        open_ = pd.Series(bars.open, index=index)
        # next-open fills: bar i's decision executes on bar i+1 at its open
        shifted_e = pd.Series(np.r_[False, entries[:-1]], index=index)
        shifted_x = pd.Series(np.r_[False, exits[:-1]], index=index)

        def run_vbt() -> tuple[Trades, float]:
            pf = vbt.Portfolio.from_signals(close, shifted_e, shifted_x, price=open_,
                                            size=np.inf, init_cash=CASH, freq="1min",
                                            engine=which)  # fmt: skip
            rec = pf.trades.records
            value = pf.value().to_numpy()
            pf.total_return(), pf.sharpe_ratio(), pf.max_drawdown()
            rec = rec[rec["status"] == 1]  # closed
            return _closed(rec["entry_idx"], rec["exit_idx"], rec["entry_price"],
                           rec["exit_price"]), float(value[-1])  # fmt: skip

        return run_vbt
    if engine == "backtesting.py":
        import backtesting.backtesting as btmod
        import pandas as pd
        from backtesting import Strategy as BtStrategy
        from backtesting.lib import FractionalBacktest

        btmod._tqdm = lambda seq, **_: seq  # type: ignore[attr-defined]
        entries, exits = peer_signals(bars)
        df = pd.DataFrame(
            {"Open": bars.open, "High": bars.high, "Low": bars.low, "Close": bars.close,
             "Volume": bars.volume},
            index=pd.DatetimeIndex(bars.ts.astype("datetime64[ms]")),
        )  # fmt: skip

        class Precomputed(BtStrategy):
            def init(self) -> None:
                pass

            def next(self) -> None:
                i = len(self.data) - 1
                if exits[i] and self.position:
                    self.position.close()
                if entries[i] and not self.position:
                    self.buy(size=1 - 1e-12)

        def run_bt() -> tuple[Trades, float]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                stats = FractionalBacktest(df, Precomputed, cash=CASH, fractional_unit=1e-8).run()
            t = stats["_trades"]
            return _closed(t["EntryBar"], t["ExitBar"], t["EntryPrice"], t["ExitPrice"]), float(
                stats["Equity Final [$]"]
            )

        return run_bt
    raise SystemExit(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")


# -- measurement (inside the worker process) --------------------------------------------
def _proc_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def worker(engine: str, data: Path, repeats: int, out: Path) -> None:
    """Run one engine on one data file; write timings, memory and trades to ``out``."""
    bars = load_bars(data)
    warm = engine_runner(engine, bars.slice(0, min(len(bars), 20_000)))
    warm()  # compile / first-call costs, on a small slice
    run = engine_runner(engine, bars)
    gc.collect()
    rss_before = _proc_kb("VmRSS")
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak-RSS watermark (VmHWM)
    started = time.perf_counter()
    trades, final = run()
    first = time.perf_counter() - started
    peak_extra_kb = max(0, _proc_kb("VmHWM") - rss_before)
    times = [first]
    for _ in range(repeats - 1):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    np.savez(out.with_suffix(".npz"), **trades)
    out.write_text(json.dumps({"times": times, "peak_extra_kb": peak_extra_kb, "final": final}))


def first_run_worker(data: Path, out: Path, block_scipy: bool) -> None:
    """A fresh process: import + the first run_backtest, numba code loaded from disk cache.

    numba's first compiled call imports ``scipy.linalg.cython_blas`` when scipy is
    installed (numba.np.arraymath checks for BLAS), ~0.3-0.5 s here. scipy is not a STOM
    runtime dependency (it arrives with vectorbt, a test/bench extra), so the run is
    measured both ways; ``block_scipy`` makes that import fail as in a runtime-only install.
    """
    if block_scipy:
        sys.modules["scipy"] = None  # type: ignore[assignment]
    t0 = time.perf_counter()
    from stom_desktop.backtest import BacktestConfig, run_backtest

    t_import = time.perf_counter() - t0
    bars = load_bars(data)
    strategy = bench_strategy()
    t1 = time.perf_counter()
    run_backtest(strategy, bars, BacktestConfig(initial_capital=CASH))
    t_first = time.perf_counter() - t1
    t2 = time.perf_counter()
    run_backtest(strategy, bars, BacktestConfig(initial_capital=CASH))
    t_second = time.perf_counter() - t2
    out.write_text(json.dumps({"import": t_import, "first": t_first, "second": t_second}))


# -- orchestration -------------------------------------------------------------------------
def _spawn(args: list[str]) -> None:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    subprocess.run([sys.executable, __file__, *args], check=True, env=env)


def measure(engine: str, data: Path, repeats: int, folder: Path) -> dict[str, Any]:
    out = folder / f"{engine}-{data.stem}.json"
    _spawn(["--worker", engine, str(data), str(repeats), str(out)])
    result: dict[str, Any] = json.loads(out.read_text())
    with np.load(out.with_suffix(".npz")) as npz:
        result["trades"] = {k: npz[k] for k in npz.files}
    return result


def assert_same_trades(name: str, ref: dict[str, Any], other: dict[str, Any], rtol: float) -> None:
    a, b = ref["trades"], other["trades"]
    if len(a["entry_idx"]) != len(b["entry_idx"]):
        raise AssertionError(f"{name}: {len(b['entry_idx'])} trades vs {len(a['entry_idx'])}")
    for key in ("entry_idx", "exit_idx"):
        np.testing.assert_array_equal(b[key], a[key], err_msg=f"{name}: {key}")
    for key in ("entry_price", "exit_price"):
        np.testing.assert_allclose(b[key], a[key], rtol=1e-12, err_msg=f"{name}: {key}")
    np.testing.assert_allclose(other["final"], ref["final"], rtol=rtol, err_msg=f"{name}: equity")


def grid_rows(folder: Path, repeats: int) -> list[str]:
    """Hook for the 90-pair grid comparison (fast 5..50/5 x slow 20..200/20, fast<slow) on
    1M bars vs vectorbt's 2-D run; the optimisation work fills it in (see bench_grid.py)."""
    raise NotImplementedError("grid benchmark: see benchmarks/bench_grid.py")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--worker", nargs=4, metavar=("ENGINE", "DATA", "REPEATS", "OUT"))
    parser.add_argument("--first-run", nargs=3, metavar=("DATA", "OUT", "BLOCK_SCIPY"))
    args = parser.parse_args()
    if args.worker:
        engine, data, repeats, out = args.worker
        worker(engine, Path(data), int(repeats), Path(out))
        return
    if args.first_run:
        first_run_worker(Path(args.first_run[0]), Path(args.first_run[1]), args.first_run[2] == "1")
        return

    from stom_desktop.strategy import _kernels

    assert _kernels.RESYNC_BARS == RESYNC_BARS, "fused loop must re-sync like the library SMA"
    sizes = [int(s) for s in args.sizes.split(",")]
    engines = [e for e in args.engines.split(",") if e]
    rows: list[tuple[int, str, str, str, str, str, str, str]] = []
    notes: list[str] = []
    fresh: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="stom-bench-") as tmp:
        folder = Path(tmp)
        bt_1m: float | None = None
        for n in sizes:
            data = folder / f"bars{n}.npz"
            np.savez(data, **make_bars(n))
            results: dict[str, dict[str, Any]] = {}
            for engine in engines:
                if engine == "backtesting.py" and n > 1_000_000 and bt_1m is not None:
                    projected = bt_1m * n / 1_000_000
                    if projected > BT_MAX_SECONDS:
                        notes.append(
                            f"backtesting.py skipped at {n:,} bars: 1M took {bt_1m:.1f} s, "
                            f"projected {projected:.0f} s > {BT_MAX_SECONDS:.0f} s"
                        )
                        continue
                reps = 1 if engine == "backtesting.py" and n >= 1_000_000 else args.repeats
                if engine == "backtesting.py" and n < 1_000_000:
                    reps = 2
                print(f"  {n:>9,} bars  {engine:<15} ...", flush=True)
                results[engine] = measure(engine, data, reps, folder)
                if engine == "backtesting.py" and n == 1_000_000:
                    bt_1m = min(results[engine]["times"])
            ref_name = "stom" if "stom" in results else next(iter(results))
            ref = results[ref_name]
            for engine, res in results.items():
                if engine != ref_name:
                    # FractionalBacktest trades whole 1e-8 lots: equity differs by ~1e-8 rel
                    tol = 1e-6 if engine == "backtesting.py" else 1e-9
                    assert_same_trades(f"{engine} at {n:,} bars", ref, res, tol)
            n_trades = len(ref["trades"]["entry_idx"])
            notes.append(f"{n:,} bars: all {len(results)} engines agree on {n_trades:,} closed "
                         f"trades (entry/exit bars and prices) and final equity")  # fmt: skip
            ref_time = min(ref["times"])
            for engine, res in results.items():
                best = min(res["times"])
                kb = res["peak_extra_kb"]
                once = "" if len(res["times"]) > 1 else " (1 run)"
                rows.append((
                    n, engine, f"{best * 1e3:,.1f} ms{once}",
                    f"{n / best / 1e6:,.1f}M", f"{kb / 1024:,.1f} MB",
                    f"{kb * 1024 / n:,.1f}", f"{best / ref_time:,.2f}x",
                    f"{best * 1e3 / n * 1e6:,.1f} ms",
                ))  # fmt: skip
        if "stom" in engines:
            data = folder / f"bars{1_000_000}.npz"
            if not data.exists():
                np.savez(data, **make_bars(1_000_000))
            for label, block in (("scipy installed", "0"), ("scipy blocked", "1")):
                for attempt in (1, 2):  # the first may still write the numba cache
                    out = folder / f"fresh{block}{attempt}.json"
                    _spawn(["--first-run", str(data), str(out), block])
                    fresh[label] = json.loads(out.read_text())

    header = ("bars", "engine", "time (best)", "bars/s", "peak extra", "B/bar", "vs stom", "per 1M")
    widths = [max(len(str(r[k])) for r in [header, *rows]) for k in range(len(header))]
    print()
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    print()
    for note in notes:
        print("- " + note)
    for label, f in fresh.items():
        print(f"- fresh process, 1M bars, numba disk cache, {label}: import {f['import']:.2f} s,"
              f" first run_backtest {f['first']:.3f} s, second {f['second']:.3f} s")  # fmt: skip
    print("- time: best of N after a warm-up in the same process; 'vs stom' = engine time / "
          "stom time; peak extra = rise of peak RSS (VmHWM) during one run over the RSS with "
          "the bars loaded")  # fmt: skip
    try:
        for line in grid_rows(Path(tempfile.gettempdir()), args.repeats):
            print(line)
    except NotImplementedError as exc:
        print(f"- {exc}")


if __name__ == "__main__":
    main()
