"""Vectorised tick-grid arithmetic over a universe of symbols with different tick tables.

Symbols sharing a ``core.market_rules.TickTable`` (KRX tiers, Upbit KRW tiers, one fixed
tick) form a group; each operation runs once per group on whole arrays. Rounding uses
the same formula as ``TickTable.round_array`` (tier chosen by each price, 1e-9 tick
tolerance against binary noise), then snaps sub-unit ticks to their shortest decimal
so that ``Decimal(repr(price))`` lies exactly on the grid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from stom_desktop.core.instruments import Instrument, TickRule
from stom_desktop.core.market_rules import KRX_TICKS, UPBIT_KRW_TICKS, Rounding, TickTable

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_EPS = 1e-9


def tick_table(instrument: Instrument) -> TickTable:
    """The price grid of ``instrument`` as a ``TickTable``."""
    if instrument.tick_rule is TickRule.KRX:
        return KRX_TICKS
    if instrument.tick_rule is TickRule.UPBIT_KRW:
        return UPBIT_KRW_TICKS
    tick = instrument.tick_size if instrument.tick_size is not None else Decimal(1)
    return TickTable((Decimal(0),), (tick,))


@dataclass(frozen=True, slots=True)
class _Group:
    bounds: FloatArray
    ticks: FloatArray
    decimals: int  # digits after the point of the finest tick (0 for whole ticks)
    aligned: bool  # every tier bound is on the grid below it: p +/- tick(p) stays on grid


_GroupFn = Callable[[_Group, FloatArray], FloatArray]


def _group(table: TickTable) -> _Group:
    exponent = min(int(t.normalize().as_tuple().exponent) for t in table.ticks)
    bounds, ticks = table.lower_bounds, table.ticks
    aligned = all(bounds[i] % ticks[i - 1] == 0 for i in range(1, len(bounds)))
    return _Group(
        np.array([float(b) for b in bounds]),
        np.array([float(t) for t in ticks]),
        max(0, -exponent),
        aligned,
    )


class PriceGrid:
    """Tick-grid operations for a vector of symbols.

    Price arrays have the symbols on their last axis (``(n,)`` or ``(steps, n)``).
    """

    __slots__ = ("_gid", "_groups", "_members")

    def __init__(self, groups: Sequence[_Group], gid: IntArray) -> None:
        self._groups = list(groups)
        self._gid = gid
        # None: every symbol is in the one group (no fancy indexing on the hot path).
        self._members: list[IntArray | None]
        if len(self._groups) == 1:
            self._members = [None]
        else:
            self._members = [np.flatnonzero(gid == g) for g in range(len(self._groups))]

    @classmethod
    def for_tables(cls, tables: Sequence[TickTable]) -> PriceGrid:
        """A grid for symbols whose tick tables are ``tables`` (one per symbol)."""
        index: dict[TickTable, int] = {}
        gid = np.array([index.setdefault(t, len(index)) for t in tables], dtype=np.int64)
        groups = [_group(t) for t in index] or [_group(KRX_TICKS)]
        return cls(groups, gid)

    def __len__(self) -> int:
        return int(self._gid.shape[0])

    def take(self, rows: IntArray) -> PriceGrid:
        """The grid of the symbols at positions ``rows`` (in that order)."""
        return PriceGrid(self._groups, self._gid[rows])

    def _apply(self, fn: _GroupFn, prices: FloatArray) -> FloatArray:
        if self._members[0] is None:
            return fn(self._groups[0], prices)
        out = np.empty_like(prices)
        for group, rows in zip(self._groups, self._members, strict=True):
            if rows is not None and rows.size:
                out[..., rows] = fn(group, prices[..., rows])
        return out

    def tick(self, prices: FloatArray) -> FloatArray:
        """Tick size that applies at each price."""
        return self._apply(_tick_at, prices)

    def min_price(self) -> FloatArray:
        """Smallest valid price of each symbol (its finest tick)."""
        return np.array([float(self._groups[g].ticks[0]) for g in self._gid.tolist()])

    def round(self, prices: FloatArray, mode: Rounding = "nearest") -> FloatArray:
        """Round each price onto its grid (``down``/``up`` = floor/ceiling)."""
        if mode == "down":
            return self._apply(_round_down, prices)
        if mode == "up":
            return self._apply(_round_up, prices)
        return self._apply(_round_nearest, prices)

    def up(self, prices: FloatArray) -> FloatArray:
        """The next grid price above each (on-grid) price."""
        return self._apply(_step_up, prices)

    def down(self, prices: FloatArray) -> FloatArray:
        """The next grid price below each (on-grid) price (may be 0 at the very bottom)."""
        return self._apply(_step_down, prices)

    def ladder(self, prices: FloatArray, levels: int, *, up: bool) -> FloatArray:
        """``(levels, n)``: each price and the next ``levels - 1`` grid prices above/below."""
        start = np.broadcast_to(prices, (levels, prices.shape[-1])).copy()
        return self._apply(_ladder_up if up else _ladder_down, start)


def _tick_at(group: _Group, prices: FloatArray) -> FloatArray:
    idx = np.searchsorted(group.bounds, prices, side="right") - 1
    result: FloatArray = group.ticks[np.maximum(idx, 0)]
    return result


def _snap(group: _Group, prices: FloatArray) -> FloatArray:
    if group.decimals == 0:
        return prices
    result: FloatArray = np.round(prices, group.decimals)
    return result


def _round_down(group: _Group, prices: FloatArray) -> FloatArray:
    tick = _tick_at(group, prices)
    return _snap(group, np.floor(prices / tick + _EPS) * tick)


def _round_up(group: _Group, prices: FloatArray) -> FloatArray:
    tick = _tick_at(group, prices)
    return _snap(group, np.ceil(prices / tick - _EPS) * tick)


def _round_nearest(group: _Group, prices: FloatArray) -> FloatArray:
    tick = _tick_at(group, prices)
    return _snap(group, np.floor(prices / tick + 0.5 + _EPS) * tick)


def _step_up(group: _Group, prices: FloatArray) -> FloatArray:
    stepped = prices + _tick_at(group, prices)
    if group.aligned:  # p + tick(p) is at most the next tier bound, which is on the grid
        return _snap(group, stepped)
    # Otherwise p + tick(p) may land inside a coarser tier off its grid: round up onto it.
    return _round_up(group, stepped)


def _step_down(group: _Group, prices: FloatArray) -> FloatArray:
    # The tick that applies just below p (p may sit exactly on a tier bound).
    idx = np.searchsorted(group.bounds, prices, side="left") - 1
    below = np.maximum(prices - group.ticks[np.maximum(idx, 0)], 0.0)
    if group.aligned:
        return _snap(group, below)
    return _round_down(group, below)


def _ladder(group: _Group, start: FloatArray, up: bool) -> FloatArray:
    """Row 0 of ``start`` stepped ``len(start) - 1`` times along the grid.

    Fast path: the whole ladder stays in the first price's tier (on an aligned table), so
    it is the first price plus multiples of one tick; the few ladders that cross a tier
    bound are stepped one level at a time.
    """
    first = start[0]
    levels = start.shape[0]
    tick = _tick_at(group, first) if up else _tick_below(group, first)
    offsets = np.arange(levels, dtype=np.float64)[:, None] * (tick if up else -tick)
    out = _snap(group, first + offsets)
    far = out[-1] - (tick if up else 0.0)  # the last level's tier (its lower side when up)
    same_tier = (_tick_at(group, far) if up else _tick_below(group, out[-1] + tick)) == tick
    slow = np.flatnonzero(~same_tier | (out[-1] <= 0) | (not group.aligned))
    if slow.size:
        step = _step_up if up else _step_down
        for j in range(1, levels):
            out[j, slow] = step(group, out[j - 1, slow])
    return out


def _ladder_up(group: _Group, start: FloatArray) -> FloatArray:
    return _ladder(group, start, True)


def _ladder_down(group: _Group, start: FloatArray) -> FloatArray:
    return _ladder(group, start, False)


def _tick_below(group: _Group, prices: FloatArray) -> FloatArray:
    """The tick that applies just below each price (it may sit exactly on a tier bound)."""
    idx = np.searchsorted(group.bounds, prices, side="left") - 1
    result: FloatArray = group.ticks[np.maximum(idx, 0)]
    return result
