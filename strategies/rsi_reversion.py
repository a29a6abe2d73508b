"""RSI mean reversion: buy an oversold dip, sell once RSI has recovered."""

from __future__ import annotations

from stom_desktop.core import BarSeries
from stom_desktop.strategy import Indicators, Param, Signals, Strategy, crossed_below


class RsiReversion(Strategy):
    """Buy when RSI falls below ``oversold``; sell when it rises above ``exit_level``.

    Entries fire on the bar RSI crosses down through the threshold (not on every bar it
    stays below, so a stopped-out trade is not re-entered at once). Exits fire on every bar
    RSI is above ``exit_level``, so a late entry still gets out. A stop loss (fraction of
    the entry price) guards against dips that keep falling.
    """

    period = Param(14, 2, 50, 2, doc="RSI length (bars)")
    oversold = Param(30.0, 5.0, 45.0, 5.0, doc="enter when RSI drops below this level")
    exit_level = Param(55.0, 40.0, 90.0, 5.0, doc="exit when RSI is above this level")
    stop_loss = Param(0.05, 0.0, 0.3, 0.01, doc="stop loss below entry (0.05 = 5%); 0 = off")
    constraints = (("oversold", "exit_level"),)
    direction = "long"

    @property
    def warmup(self) -> int:
        return int(self.p.period) + 1

    def signals(self, bars: BarSeries, ta: Indicators) -> Signals:
        rsi = ta.rsi(self.p.period)
        return Signals(entries=crossed_below(rsi, self.p.oversold), exits=rsi > self.p.exit_level)
