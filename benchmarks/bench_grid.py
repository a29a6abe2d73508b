"""Benchmark: the 90-pair SMA grid (fast 5..50/5, slow 20..200/20, fast<slow) on 1-minute bars.

Engines, each in its own child process so its peak memory is its own:

- ``stom-threads-N``: ``stom_desktop.backtest.optimize.optimize_grid`` with N workers, the
  full product path: the bundled ``strategies/sma_cross.py`` loaded by the strategy
  loader, memoised ``Indicators``, safe user-code calls, compiled simulator, every
  metric, the ranked DataFrame.
- ``numba-prange``: a plain fused ``@njit(parallel=True)`` loop over the pairs reading
  18 cached SMA rows (crossings, next-open all-in fills, final equity): the practical
  limit, no metrics.
- ``vbt-numba`` / ``vbt-rust``: vectorbt's 2-D run (``MA.run`` with 90 windows on each
  side, ``ma_crossed_above``/``below``, signals shifted one bar, ``Portfolio.from_signals``
  with ``price=open``, ``size=inf``), then final value, trade count and Sharpe.

vectorbt needs many GB for 90 columns of 1M bars (NOTES.md: 13-20 GB, 26-40 s), so by
default it runs on the first ``--vbt-bars`` (300k) bars; stom is then timed on that
same prefix as well, so the vectorbt ratio is measured at equal size, and the 1M-bar
vectorbt time in the table is a linear extrapolation, marked as such.

Every engine's per-pair trade count (the open trade included) and final equity must agree;
the script asserts it. Peak memory is the child's ``ru_maxrss`` (the OS high-water mark of
the resident set, which includes Python, numpy and numba themselves); "extra" subtracts the
RSS measured after imports, data generation and a JIT warm-up, just before the timed runs.

Usage: ``python benchmarks/bench_grid.py [--bars 1000000] [--vbt-bars 300000]
[--repeat 3] [--skip-vbt]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

FAST = list(range(5, 51, 5))
SLOW = list(range(20, 201, 20))
PAIRS = [(f, s) for f in FAST for s in SLOW if f < s]
INIT_CASH = 1_000_000.0
SEED = 42


# -- data ---------------------------------------------------------------------------------------
def make_bars(n: int) -> tuple[Any, str]:
    """Synthetic 1-minute bars: the project's generator if present, else a local GBM."""
    try:
        from stom_desktop.core.synthetic import generate_bars
    except ImportError:  # the generator is a sibling module that may not exist yet
        pass
    else:
        return generate_bars("SIM", "1m", n, SEED), f"stom_desktop.core.synthetic (seed {SEED})"
    from stom_desktop.core.bars import BarSeries

    rng = np.random.default_rng(SEED)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, n)))
    open_ = np.empty(n)
    open_[0] = 100.0
    open_[1:] = close[:-1] * np.exp(rng.normal(0.0, 0.0002, n - 1))
    wick = np.abs(rng.normal(0.0, 0.0005, n))
    high = np.maximum(open_, close) * (1.0 + wick)
    low = np.minimum(open_, close) * (1.0 - wick)
    ts = 1_704_067_200_000 + np.arange(n, dtype=np.int64) * 60_000
    bars = BarSeries.from_arrays("SIM", "1m", ts, open_, high, low, close, np.ones(n))
    return bars, f"local GBM (seed {SEED})"


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


# -- engines (run in a child process) ----------------------------------------------------------
def run_stom(bars: Any, workers: int, repeat: int) -> tuple[float, dict[str, Any]]:
    from stom_desktop.backtest.config import BacktestConfig
    from stom_desktop.backtest.optimize import optimize_grid
    from stom_desktop.backtest.param_grid import build_grid
    from stom_desktop.strategy.loader import load_strategy

    SmaCross = load_strategy("sma_cross")  # the bundled strategy, as `stom optimize` runs it
    grid = build_grid(SmaCross, ["fast=5:50:5", "slow=20:200:20"])
    assert len(grid) == len(PAIRS) == 90
    config = BacktestConfig(initial_capital=INIT_CASH)
    optimize_grid(SmaCross, bars.slice(0, 5000), config, grid, workers=workers)  # JIT warm-up
    baseline = rss_mb()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = optimize_grid(SmaCross, bars, config, grid, metric="sharpe", workers=workers)
        times.append(time.perf_counter() - started)
    table = result.table
    per_pair = {
        f"{int(r.fast)},{int(r.slow)}": [int(r.num_trades) + int(r.open_trades), r.final_equity]
        for r in table.itertuples(index=False)
    }
    best = result.best_params or {}
    return min(times), {
        "baseline_mb": baseline,
        "pairs": per_pair,
        "best_sharpe": [best.get("fast"), best.get("slow")],
        "times": times,
    }


def run_prange(bars: Any, repeat: int) -> tuple[float, dict[str, Any]]:
    from numba import njit, prange

    @njit(cache=True)
    def sma_rows(close: Any, windows: Any) -> Any:
        n = close.shape[0]
        out = np.full((windows.shape[0], n), np.nan)
        for k in range(windows.shape[0]):
            w = windows[k]
            total = 0.0
            for i in range(n):
                total += close[i]
                if i >= w:
                    total -= close[i - w]
                if i >= w - 1:
                    out[k, i] = total / w
        return out

    @njit(cache=True, parallel=True)
    def grid(open_: Any, close: Any, smas: Any, fi: Any, si: Any, cash0: float) -> Any:
        n = close.shape[0]
        n_pairs = fi.shape[0]
        trades = np.zeros(n_pairs, dtype=np.int64)
        final = np.zeros(n_pairs)
        for p in prange(n_pairs):
            f = smas[fi[p]]
            s = smas[si[p]]
            cash = cash0
            units = 0.0
            entry = False
            exit_ = False
            count = 0
            for i in range(1, n):
                if units > 0.0 and exit_:
                    cash += units * open_[i]
                    units = 0.0
                    count += 1
                elif units == 0.0 and entry:
                    units = cash / open_[i]
                    cash -= units * open_[i]
                    cash = max(cash, 0.0)
                entry = f[i] > s[i] and f[i - 1] <= s[i - 1]
                exit_ = f[i] < s[i] and f[i - 1] >= s[i - 1]
            if units > 0.0:
                count += 1  # the open trade, as vectorbt and stom count it
            trades[p] = count
            final[p] = cash + units * close[n - 1]
        return trades, final

    windows = np.array(sorted({w for pair in PAIRS for w in pair}), dtype=np.int64)
    pos = {int(w): k for k, w in enumerate(windows)}
    fi = np.array([pos[f] for f, _ in PAIRS], dtype=np.int64)
    si = np.array([pos[s] for _, s in PAIRS], dtype=np.int64)
    small = bars.slice(0, 5000)
    grid(small.open, small.close, sma_rows(small.close, windows), fi, si, INIT_CASH)  # warm-up
    baseline = rss_mb()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        smas = sma_rows(bars.close, windows)
        trades, final = grid(bars.open, bars.close, smas, fi, si, INIT_CASH)
        times.append(time.perf_counter() - started)
    per_pair = {f"{f},{s}": [int(trades[k]), float(final[k])] for k, (f, s) in enumerate(PAIRS)}
    return min(times), {"baseline_mb": baseline, "pairs": per_pair, "times": times}


def run_vbt(bars: Any, engine: str) -> tuple[float, dict[str, Any]]:
    import pandas as pd
    import vectorbt as vbt

    def pipeline(b: Any) -> Any:
        index = pd.to_datetime(b.ts, unit="ms", utc=True)
        close = pd.Series(b.close, index=index)
        open_ = pd.Series(b.open, index=index)
        fast = vbt.MA.run(close, window=[f for f, _ in PAIRS], short_name="fast")
        slow = vbt.MA.run(close, window=[s for _, s in PAIRS], short_name="slow")
        entries = fast.ma_crossed_above(slow)
        exits = fast.ma_crossed_below(slow)
        # next-open fills: act one bar later at the open
        entries = entries.shift(1, fill_value=False)
        exits = exits.shift(1, fill_value=False)
        pf = vbt.Portfolio.from_signals(
            close, entries, exits, price=open_, size=np.inf, init_cash=INIT_CASH,
            fees=0.0, freq="1min", engine=engine,
        )  # fmt: skip
        return pf, pf.final_value(), pf.trades.count(), pf.sharpe_ratio()

    vbt.settings["engine"] = engine  # every vectorbt step that has a rust path uses it
    pipeline(bars.slice(0, 5000))  # JIT warm-up
    baseline = rss_mb()
    started = time.perf_counter()
    _, final, count, _sharpe = pipeline(bars)
    elapsed = time.perf_counter() - started
    per_pair = {
        f"{int(f)},{int(s)}": [int(count[(f, s)]), float(final[(f, s)])] for (f, s) in final.index
    }
    return elapsed, {"baseline_mb": baseline, "pairs": per_pair, "times": [elapsed]}


def child(engine: str, n_bars: int, repeat: int) -> None:
    bars, source = make_bars(n_bars)
    if engine.startswith("stom-threads-"):
        elapsed, info = run_stom(bars, int(engine.rsplit("-", 1)[1]), repeat)
    elif engine == "numba-prange":
        elapsed, info = run_prange(bars, repeat)
    elif engine in ("vbt-numba", "vbt-rust"):
        elapsed, info = run_vbt(bars, engine.split("-")[1])
    else:
        raise SystemExit(f"unknown engine {engine}")
    info.update(engine=engine, bars=n_bars, time_s=elapsed, peak_mb=peak_rss_mb(), data=source)
    print("RESULT " + json.dumps(info))


# -- parent ---------------------------------------------------------------------------------------
def spawn(engine: str, n_bars: int, repeat: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", engine, "--bars", str(n_bars)]
    cmd += ["--repeat", str(repeat)]
    print(f"  running {engine} on {n_bars:,} bars ...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{engine} failed:\n{proc.stdout}\n{proc.stderr}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line[len("RESULT ") :]))


def check_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Per-pair trade counts equal and final equity equal to 1e-9 relative."""
    assert a["pairs"].keys() == b["pairs"].keys(), (a["engine"], b["engine"])
    for key, (trades_a, final_a) in a["pairs"].items():
        trades_b, final_b = b["pairs"][key]
        assert trades_a == trades_b, f"{key}: {a['engine']} {trades_a} vs {b['engine']} {trades_b}"
        assert abs(final_a - final_b) <= 1e-9 * abs(final_b), (key, final_a, final_b)
    best_a = max(a["pairs"], key=lambda k: a["pairs"][k][1])
    best_b = max(b["pairs"], key=lambda k: b["pairs"][k][1])
    assert best_a == best_b, (best_a, best_b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--vbt-bars", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-vbt", action="store_true")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        child(args.child, args.bars, args.repeat)
        return

    cores = os.cpu_count() or 1
    print(f"90-pair SMA grid, {cores} cores, load average {os.getloadavg()[0]:.2f}")
    runs = [
        spawn("stom-threads-2", args.bars, args.repeat),
        spawn("stom-threads-1", args.bars, args.repeat),
        spawn("numba-prange", args.bars, args.repeat),
    ]
    check_same(runs[0], runs[1])
    check_same(runs[0], runs[2])
    small: list[dict[str, Any]] = []
    if not args.skip_vbt:
        n_small = min(args.vbt_bars, args.bars)
        small.append(spawn("stom-threads-2", n_small, args.repeat))
        for engine in ("vbt-numba", "vbt-rust"):
            small.append(spawn(engine, n_small, 1))
            check_same(small[0], small[-1])
    print(f"data: {runs[0]['data']}; all engines agree on every pair's trades and final equity")
    best = max(runs[0]["pairs"], key=lambda k: runs[0]["pairs"][k][1])
    print(f"best by final equity (fast,slow) = {best}; best by Sharpe (stom) = "
          f"{runs[0]['best_sharpe']}")  # fmt: skip
    ref = runs[0]["time_s"]
    print()
    print("| engine | bars | time (s) | peak RSS (MB) | extra over baseline (MB) | "
          "time / stom-threads-2 |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['engine']} | {r['bars']:,} | {r['time_s']:.3f} | {r['peak_mb']:.0f} | "
              f"{r['peak_mb'] - r['baseline_mb']:.0f} | {r['time_s'] / ref:.2f}x |")  # fmt: skip
    if small:
        ref_small = small[0]["time_s"]
        scale = args.bars / small[0]["bars"]
        for r in small:
            print(f"| {r['engine']} | {r['bars']:,} | {r['time_s']:.3f} | {r['peak_mb']:.0f} | "
                  f"{r['peak_mb'] - r['baseline_mb']:.0f} | "
                  f"{r['time_s'] / ref_small:.1f}x (same size) |")  # fmt: skip
        for r in small[1:]:
            print(f"| {r['engine']} (extrapolated x{scale:.2f}) | {args.bars:,} | "
                  f"~{r['time_s'] * scale:.1f} | n/a | n/a | "
                  f"~{r['time_s'] * scale / ref:.0f}x |")  # fmt: skip
    print()
    print("time: best of --repeat runs after a JIT warm-up (vectorbt: one run); peak RSS:")
    print("the child's ru_maxrss; extra: peak minus RSS after imports, data and warm-up.")


if __name__ == "__main__":
    main()
