"""SMA crossover: long when the fast average crosses above the slow one."""

from __future__ import annotations

from stom_desktop.core import BarSeries
from stom_desktop.strategy import Indicators, Param, Signals, Strategy, crossed_above, crossed_below


class SmaCross(Strategy):
    """Buy when the fast SMA crosses above the slow SMA; sell when it crosses below.

    Long only. ``stop_loss`` and ``take_profit`` are fractions of the entry price; they are
    off by default (empty or 0) and can be optimised including 0 for "off".
    """

    fast = Param(10, 2, 50, 2, doc="fast SMA length (bars)")
    slow = Param(30, 10, 200, 10, doc="slow SMA length (bars)")
    stop_loss = Param(None, 0.0, 0.2, 0.01, doc="stop loss below entry (0.02 = 2%); empty = off")
    take_profit = Param(None, 0.0, 1.0, 0.05, doc="take profit above entry; empty = off")
    constraints = (("fast", "slow"),)
    direction = "long"

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        fast = ta.sma(self.p.fast)
        slow = ta.sma(self.p.slow)
        return Signals(entries=crossed_above(fast, slow), exits=crossed_below(fast, slow))
