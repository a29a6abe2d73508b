"""Donchian channel breakout (Turtle style) with an ATR chandelier exit."""

from __future__ import annotations

from stom_desktop.core import BarSeries
from stom_desktop.strategy import Indicators, Param, Signals, Strategy


class DonchianBreakout(Strategy):
    """Buy when the close breaks above the previous ``entry_period`` bars' high; sell when it
    breaks below the previous ``exit_period`` bars' low or falls ``atr_mult`` ATRs below the
    highest high of the last ``entry_period`` bars (a chandelier exit; 0 = off).

    ``trailing_stop`` (fraction of price, empty = off) is handed to the fill simulator. The
    mirror-image short signals are computed too; they are traded only when ``direction`` is
    ``"both"`` (copy this file and change it; the default trades long only).
    """

    entry_period = Param(20, 5, 100, 5, doc="breakout look-back (bars)")
    exit_period = Param(10, 2, 50, 2, doc="exit channel look-back (bars)")
    atr_period = Param(14, 2, 50, 2, doc="ATR length for the chandelier exit")
    atr_mult = Param(3.0, 0.0, 6.0, 0.5, doc="chandelier distance in ATRs; 0 = off")
    trailing_stop = Param(None, 0.0, 0.3, 0.01, doc="trailing stop (0.1 = 10%); empty = off")
    direction = "long"

    @property
    def warmup(self) -> int:
        return max(int(self.p.entry_period), int(self.p.exit_period), int(self.p.atr_period)) + 1

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        close = bars.close
        entry_high, entry_low, _ = ta.donchian(self.p.entry_period)
        exit_high, exit_low, _ = ta.donchian(self.p.exit_period)
        long_exit = close < exit_low
        short_exit = close > exit_high
        if self.p.atr_mult > 0:
            stretch = self.p.atr_mult * ta.atr(self.p.atr_period)
            long_exit |= close < ta.highest(self.p.entry_period, "high") - stretch
            short_exit |= close > ta.lowest(self.p.entry_period, "low") + stretch
        return Signals(
            entries=close > entry_high,
            exits=long_exit,
            short_entries=close < entry_low,
            short_exits=short_exit,
        )
