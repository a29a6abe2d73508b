"""Look-ahead detection: a strategy's signals on a prefix of the bars must match the full run.

The live engine runs ``signals`` on the growing history and acts on the last element; the
backtester runs it once over everything. Both agree only if element ``i`` depends on bars
``0..i`` alone. ``check_causal`` recomputes the signals on a few prefixes and compares them
with the full run; any difference is a look-ahead bug (``np.roll(close, -1)``, a centred
window, normalising by the whole history's max...).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stom_desktop.core.bars import BarSeries, format_ts
from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy.base import Strategy
from stom_desktop.strategy.indicator_cache import Indicators
from stom_desktop.strategy.safe_call import run_signals

_NAMES = ("entries", "exits", "short_entries", "short_exits")


@dataclass(frozen=True, slots=True)
class CausalityReport:
    """The prefix lengths checked (all matched the full run)."""

    strategy: str
    bars: int
    prefixes: tuple[int, ...]


def sample_prefixes(n: int, warmup: int, samples: int) -> list[int]:
    """Prefix lengths to test: spread evenly from just past the warm-up to ``n - 1``.

    The shortest is ``2 * warmup`` (at least ``warmup + 1``) so every indicator has history
    to work with; the longest is ``n - 1``, the "one bar before the end" case the engine
    meets on every bar.
    """
    if n < 3:
        return []
    low = min(n - 1, max(2 * warmup, warmup + 1, 2))
    points = np.linspace(low, n - 1, num=max(samples, 1))
    return [int(v) for v in np.unique(np.rint(points).astype(np.int64))]


def check_causal(strategy: Strategy, bars: BarSeries, samples: int = 8) -> CausalityReport:
    """Raise ``StrategyError`` if ``strategy``'s signals look ahead on ``bars``.

    The error names the strategy, the first bar (index and time) whose signal differs
    between a prefix run and the full run, which signal, and the prefix length used.
    """
    name = strategy.strategy_name()
    full = run_signals(strategy, bars, Indicators(bars))
    prefixes = sample_prefixes(len(bars), strategy.warmup, samples)
    first: tuple[int, str, int] | None = None  # (bar index, signal name, prefix length)
    for length in prefixes:
        prefix = bars.slice(0, length)
        try:
            partial = run_signals(strategy, prefix, Indicators(prefix))
        except StrategyError as exc:
            raise StrategyError(
                f"{name}: signals failed on the first {length} of {len(bars)} bars "
                f"(the live engine sees such shorter histories): {exc.message}",
                path=exc.path,
                line=exc.line,
                hint=exc.hint,
                traceback_text=exc.traceback_text,
            ) from exc
        for signal, got, want in zip(_NAMES, partial, full, strict=True):
            diff = np.flatnonzero(got != want[:length])
            if diff.size and (first is None or int(diff[0]) < first[0]):
                first = (int(diff[0]), signal, length)
    if first is not None:
        index, signal, length = first
        raise StrategyError(
            f"strategy {name} looks ahead: {signal}[{index}] (bar at "
            f"{format_ts(int(bars.ts[index]))}) is {bool(full[_NAMES.index(signal)][index])} "
            f"on all {len(bars)} bars but differs when only the first {length} bars are known",
            path=strategy.source_location(),
            hint="a signal at bar i may use bars 0..i only; look for negative shifts, "
            "np.roll(x, -k), centred windows or statistics over the whole array",
        )
    return CausalityReport(strategy=name, bars=len(bars), prefixes=tuple(prefixes))
