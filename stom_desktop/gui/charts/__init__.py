"""Fast charts: level-of-detail candlestick and volume items and the ChartWidget built on them."""

from stom_desktop.gui.charts.candles import CandlestickItem
from stom_desktop.gui.charts.chart_widget import BarsLike, ChartWidget
from stom_desktop.gui.charts.lod import Buckets, OhlcvPyramid, level_for
from stom_desktop.gui.charts.time_axis import TimeAxisItem, format_local
from stom_desktop.gui.charts.volume import VolumeItem

__all__ = [
    "BarsLike",
    "Buckets",
    "CandlestickItem",
    "ChartWidget",
    "OhlcvPyramid",
    "TimeAxisItem",
    "VolumeItem",
    "format_local",
    "level_for",
]
