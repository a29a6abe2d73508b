"""Engine throughput and latency: 2,000 symbols x 1 quote/s x 10 simulated minutes, full path.

Path measured (one thread, as fast as possible): feed -> ``Engine`` kernel (bus publish,
PaperBroker ``on_market``, bar aggregation) -> at each 1-minute close the strategy runner
(an SMA(2)/SMA(4) crossover through ``run_signals``/``Indicators``) -> risk -> order
manager -> PaperBroker -> fills -> portfolios, journaled to SQLite (WAL,
``synchronous=FULL``) through ``OrderRepository`` as the trading service does it: each
order intent committed synchronously before the broker sees the order, state changes and
fills group-committed by the journal writer thread (its final flush is inside the timed
run). The same quotes then go through a bare pure-Python loop (quote ->
1m bar -> incremental SMA(2)/SMA(4) -> crossover decision), like NOTES.md's prototype.

Numbers:
- events/s: quotes / wall time of the engine run. The quotes are generated once before
  the timed run (untimed) and fed from a list of prebuilt batches, so the number is the
  engine's own throughput; the generator's rate is its own row.
- per-bar decision latency: from the moment the engine starts handling one closed bar
  to the end of that bar's decision (strategy + any order placement).
- quote-to-decision latency: from the moment the engine starts closing a bar because of
  a quote to the end of that bar's decision. When a bar is closed by its own symbol's
  first quote past the boundary, that is the quote's bar close (the aggregator's sink is
  entered a few hundred ns after the quote reaches the engine); when one quote closes
  many bars (a time sweep), every bar is timed from that quote, so bar k includes the
  k-1 decisions before it. The bars still forming when the feed ends are closed together
  by the end-of-feed flush (no quote closes them; 1 bar in 10 per symbol here): they are
  timed from the flush and reported on their own row, not in quote-to-decision.
- intent commit: time of ``OrderRepository.record_intent`` (one committed transaction).
- CPU time (process) and RSS at start, middle and end of the run.

Run: ``python benchmarks/bench_engine.py [--symbols 2000] [--minutes 10]``.
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from stom_desktop.adapters.brokers.paper import PaperBroker
from stom_desktop.config.settings import RiskLimits
from stom_desktop.core.bars import BarSeries
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.events import FillEvent, MarketEvent, QuoteEvent
from stom_desktop.core.instruments import Instrument
from stom_desktop.engine import Engine, EventBus, SessionConfig, SizingConfig
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.risk import RiskManager
from stom_desktop.persistence import OrderRepository, create_database
from stom_desktop.services.trading_runtime import instrument_rules
from stom_desktop.strategy import (
    Indicators,
    Param,
    Signals,
    Strategy,
    crossed_above,
    crossed_below,
)
from stom_desktop.strategy.safe_call import run_signals

T0 = 1_704_240_000_000
_QUOTE = partial(tuple.__new__, QuoteEvent)


class BenchCross(Strategy):
    """SMA(2)/SMA(4) crossover, long only: a simple strategy that decides within minutes."""

    fast = Param(2, 2, 10, 1)
    slow = Param(4, 3, 20, 1)

    def signals(self, bars: Any, ta: Indicators) -> Signals:
        fast, slow = ta.sma(self.p.fast), ta.sma(self.p.slow)
        return Signals(entries=crossed_above(fast, slow), exits=crossed_below(fast, slow))


class WalkFeed:
    """``n`` symbols, one quote each per simulated second, from a precomputed random walk."""

    def __init__(self, n: int, seconds: int, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        start = np.exp(rng.uniform(np.log(5_000), np.log(200_000), n)).round()
        steps = rng.normal(0.0, 0.0015, (seconds, n))
        # a slow sine per symbol makes SMA crossovers happen within minutes
        phase = rng.uniform(0, 2 * np.pi, n)
        t = np.arange(seconds)[:, None]
        drift = 0.004 * np.sin(2 * np.pi * t / 240.0 + phase)
        self._mid = np.maximum((start * np.exp(np.cumsum(steps, axis=0) + drift)).round(), 10.0)
        self._symbols = [f"S{i:04d}" for i in range(n)]
        self._second = 0
        self._seconds = seconds
        self._pending: list[MarketEvent] = []

    def subscribe(self, symbols: Sequence[str]) -> None:
        """All symbols are always sent."""

    @property
    def finished(self) -> bool:
        return self._second >= self._seconds and not self._pending

    def close(self) -> None:
        self._second = self._seconds
        self._pending = []

    def poll(self, max_events: int = 4096) -> list[MarketEvent]:
        """Build the next ``max_events`` quotes from the walk."""
        while len(self._pending) < max_events and self._second < self._seconds:
            mid = self._mid[self._second].tolist()
            ts = T0 + self._second * 1000
            syms = self._symbols
            self._pending.extend(
                _QUOTE((s, ts, m - 1.0, m + 1.0, m, 500.0, 500.0))
                for s, m in zip(syms, mid, strict=True)
            )
            self._second += 1
        out, self._pending = self._pending[:max_events], self._pending[max_events:]
        return out


class ListFeed:
    """Prebuilt batches of quotes, handed out one per poll: feeding costs nothing."""

    def __init__(self, batches: list[list[MarketEvent]]) -> None:
        self._batches = batches
        self._next = 0

    def subscribe(self, symbols: Sequence[str]) -> None:
        """All symbols are always sent."""

    @property
    def finished(self) -> bool:
        return self._next >= len(self._batches)

    def close(self) -> None:
        self._next = len(self._batches)

    def poll(self, max_events: int = 4096) -> list[MarketEvent]:
        if self._next >= len(self._batches):
            return []
        batch = self._batches[self._next]
        self._next += 1
        return batch


def pregenerate(n: int, minutes: int, batch: int = 4096) -> tuple[list[list[MarketEvent]], float]:
    """Every quote of the run in batches (untimed for the engine); returns the quote rate."""
    feed = WalkFeed(n, minutes * 60)
    t0 = time.perf_counter()
    batches = []
    count = 0
    while not feed.finished:
        chunk = feed.poll(batch)
        count += len(chunk)
        batches.append(chunk)
    return batches, count / (time.perf_counter() - t0)


def warm_up_kernels() -> None:
    """Load the compiled indicator kernels once (numba's cache load is a one-off per process,
    paid when a session starts, not per bar): untimed, like the quote generation."""
    closes = np.linspace(100.0, 110.0, 50)
    ts = T0 + np.arange(50, dtype=np.int64) * 60_000
    bars = BarSeries("W", "1m", ts, closes, closes, closes, closes, np.zeros(50))
    run_signals(BenchCross(), bars, Indicators(bars))


def disk_commit_us(folder: Path, n: int = 200) -> np.ndarray:
    """Latency of a bare fsync'ed SQLite commit (WAL, synchronous=FULL) on this disk: the
    floor under any durable intent commit."""
    conn = sqlite3.connect(folder / "fsync.sqlite", isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)")
    out = []
    for _ in range(n):
        t = time.perf_counter_ns()
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (x) VALUES ('stom-bench-000001')")
        conn.execute("COMMIT")
        out.append(time.perf_counter_ns() - t)
    conn.close()
    return np.array(out, dtype=np.float64) / 1000.0


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def run_engine(
    n: int, minutes: int, folder: Path, batches: list[list[MarketEvent]]
) -> dict[str, Any]:
    clock = SimulatedClock(T0)
    bus = EventBus(clock.now_ms)
    rules = instrument_rules(Instrument.simulated("S0000"))
    broker = PaperBroker(clock, rules, cash=Decimal(10**12))
    db = create_database(f"sqlite:///{folder / 'bench.sqlite'}")
    journal = OrderRepository(db)
    commit_ns: list[int] = []
    record_intent = journal.record_intent

    def timed_intent(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter_ns()
        try:
            return record_intent(*args, **kwargs)
        finally:
            commit_ns.append(time.perf_counter_ns() - t)

    journal.record_intent = timed_intent  # type: ignore[method-assign]
    limits = RiskLimits(max_open_positions=10 * n, max_position_pct=0.01, max_order_notional=1e12)
    risk = RiskManager(limits, clock=clock, bus=bus)
    om = OrderManager(
        broker, journal, clock, bus, rules_for=lambda s: rules, risk=risk, journal_writes="async"
    )
    engine = Engine(clock=clock, bus=bus, order_manager=om, broker=broker)
    engine.add_feed(ListFeed(batches))
    symbols = tuple(f"S{i:04d}" for i in range(n))
    session = engine.add_session(
        SessionConfig(
            "bench",
            symbols,
            initial_cash=Decimal(10**10),
            sizing=SizingConfig(size_fraction=0.5 / n),
        ),
        BenchCross(),
    )
    fills: list[FillEvent] = []
    bus.subscribe(FillEvent, fills.append)
    # Instrumentation: when the quote started closing bars, and per-bar timings. A sweep
    # (close_due) times every bar it closes from its start; a bar closed on its own is
    # timed from the moment the aggregator hands it to the engine (the sink).
    agg = engine.aggregator
    close_due = agg.close_due
    crossing = [0]
    sweeping = [False]
    at_end = [False]  # the end-of-feed flush (close_due(2**62)): no quote closed these

    def timed_close_due(now_ms: int) -> int:
        crossing[0] = time.perf_counter_ns()
        sweeping[0] = True
        at_end[0] = now_ms >= 2**61
        try:
            return close_due(now_ms)
        finally:
            sweeping[0] = at_end[0] = False

    agg.close_due = timed_close_due  # type: ignore[method-assign]
    sink = agg._sink

    def timed_sink(bar: Any) -> None:
        if not sweeping[0]:
            crossing[0] = time.perf_counter_ns()
        sink(bar)

    agg._sink = timed_sink
    per_bar: list[int] = []
    queued: list[int] = []
    end_queued: list[int] = []
    on_bar = session.runner.on_bar_closed

    def timed_on_bar(bar: Any) -> None:
        t = time.perf_counter_ns()
        on_bar(bar)
        end = time.perf_counter_ns()
        per_bar.append(end - t)
        (end_queued if at_end[0] else queued).append(end - crossing[0])

    session.runner.on_bar_closed = timed_on_bar  # type: ignore[method-assign]
    total = n * minutes * 60
    samples = {"start": rss_mb()}
    cpu0, wall0 = time.process_time(), time.perf_counter()
    half = [False]

    def mid_sample() -> bool:
        if not half[0] and engine.events_processed >= total // 2:
            samples["middle"] = rss_mb()
            half[0] = True
        return False

    engine.run_until(mid_sample)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    samples["end"] = rss_mb()
    db.dispose()
    return {
        "events": engine.events_processed,
        "wall": wall,
        "cpu": cpu,
        "rss": samples,
        "per_bar": np.array(per_bar, dtype=np.float64) / 1000.0,
        "queued": np.array(queued, dtype=np.float64) / 1000.0,
        "end_queued": np.array(end_queued, dtype=np.float64) / 1000.0,
        "commit": np.array(commit_ns, dtype=np.float64) / 1000.0,
        "evaluations": session.runner.evaluations,
        "orders": len(om.orders()),
        "fills": len(fills),
    }


def bare_loop(batches: list[list[MarketEvent]]) -> dict[str, Any]:
    """Quote -> 1m bar -> incremental SMA(2)/SMA(4) -> crossover decision, plain Python."""
    feed = ListFeed(batches)
    bars: dict[str, list[float]] = {}
    state: dict[str, list[Any]] = {}  # symbol -> [minute, open, high, low, close]
    prev: dict[str, tuple[float, float]] = {}
    decisions = 0
    latencies: list[int] = []
    t0 = time.perf_counter()
    events = 0
    while not feed.finished:
        for q in feed.poll(4096):
            events += 1
            sym, ts, price = q[0], q[1], q[4]
            minute = ts // 60_000
            st = state.get(sym)
            if st is None:
                state[sym] = [minute, price, price, price, price]
                continue
            if minute != st[0]:
                t = time.perf_counter_ns()
                closes = bars.setdefault(sym, [])
                closes.append(st[4])
                if len(closes) >= 4:
                    fast = (closes[-1] + closes[-2]) / 2.0
                    slow = (closes[-1] + closes[-2] + closes[-3] + closes[-4]) / 4.0
                    before = prev.get(sym)
                    if before is not None and fast > slow and before[0] <= before[1]:
                        decisions += 1
                    prev[sym] = (fast, slow)
                latencies.append(time.perf_counter_ns() - t)
                state[sym] = [minute, price, price, price, price]
            else:
                if price > st[2]:
                    st[2] = price
                if price < st[3]:
                    st[3] = price
                st[4] = price
    wall = time.perf_counter() - t0
    return {
        "events": events,
        "wall": wall,
        "decisions": decisions,
        "lat": np.array(latencies, dtype=np.float64) / 1000.0,
    }


def pct(values: np.ndarray, q: float) -> str:
    return "-" if values.size == 0 else f"{np.percentile(values, q):,.1f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--minutes", type=int, default=10)
    args = parser.parse_args(argv)
    n, minutes = args.symbols, args.minutes
    print(
        f"python {sys.version.split()[0]}, {n} symbols x {minutes * 60} s = "
        f"{n * minutes * 60:,} quotes"
    )
    batches, feed_rate = pregenerate(n, minutes)
    warm_up_kernels()
    # The prebuilt quotes (~1.2M tuples) are harness memory: freeze them so the engine's
    # start-up gc.collect() (kernel._tuned) does not walk them inside the timed run.
    gc.collect()
    gc.freeze()
    with tempfile.TemporaryDirectory() as tmp:
        full = run_engine(n, minutes, Path(tmp), batches)
        fsync = disk_commit_us(Path(tmp))
    gc.collect()
    bare = bare_loop(batches)
    del batches
    rate = full["events"] / full["wall"]
    bare_rate = bare["events"] / bare["wall"]
    rss = full["rss"]
    rows = [
        ("quote events/s (full path)", f"{rate:,.0f}", ">= 500,000", rate >= 500_000),
        ("quote events/s (bare loop)", f"{bare_rate:,.0f}", "-", None),
        ("quote generation (untimed for the engine)", f"{feed_rate:,.0f}", "-", None),
        (
            "per-bar decision p50 / p99 (us)",
            f"{pct(full['per_bar'], 50)} / {pct(full['per_bar'], 99)}",
            "p99 <= 100",
            np.percentile(full["per_bar"], 99) <= 100,
        ),
        (
            "quote-to-decision p50 / p99 (us)",
            f"{pct(full['queued'], 50)} / {pct(full['queued'], 99)}",
            "p99 <= 100",
            np.percentile(full["queued"], 99) <= 100,
        ),
        (
            f"end-of-feed flush: {full['end_queued'].size:,} bars, p50 / p99 (us)",
            f"{pct(full['end_queued'], 50)} / {pct(full['end_queued'], 99)}",
            "-",
            None,
        ),
        (
            "bare loop bar decision p50 / p99 (us)",
            f"{pct(bare['lat'], 50)} / {pct(bare['lat'], 99)}",
            "-",
            None,
        ),
        (
            "intent commit p50 / p99 (us)",
            f"{pct(full['commit'], 50)} / {pct(full['commit'], 99)}",
            "p99 <= 1,000",
            full["commit"].size > 0 and np.percentile(full["commit"], 99) <= 1000,
        ),
        (
            "bare SQLite fsync commit on this disk p50 / p99 (us)",
            f"{pct(fsync, 50)} / {pct(fsync, 99)}",
            "-",
            None,
        ),
        ("wall / CPU time (s)", f"{full['wall']:.2f} / {full['cpu']:.2f}", "-", None),
        (
            "RSS start / middle / end (MB)",
            f"{rss['start']:.0f} / {rss.get('middle', float('nan')):.0f} / {rss['end']:.0f}",
            "flat",
            rss["end"] - rss["start"] < 50,
        ),
        (
            "strategy evaluations / orders / fills",
            f"{full['evaluations']:,} / {full['orders']:,} / {full['fills']:,}",
            "-",
            None,
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"\n| {'metric':<{width}} | value | target | met |\n|{'-' * (width + 2)}|---|---|---|")
    for name, value, target, met in rows:
        mark = "" if met is None else ("yes" if met else "NO")
        print(f"| {name:<{width}} | {value} | {target} | {mark} |")


if __name__ == "__main__":
    main()
