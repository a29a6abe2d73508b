"""Market data feed adapters: the simulator, bar/tick replays and the tick recorder."""

from stom_desktop.adapters.feeds._base import Pacer, check_speed
from stom_desktop.adapters.feeds._hours import (
    ALWAYS_OPEN,
    KRX_HOURS,
    TradingHours,
    default_hours,
)
from stom_desktop.adapters.feeds._sim_config import DEFAULT_SIM_START_MS, SimulatorConfig
from stom_desktop.adapters.feeds.recorder import TickRecorder, TickSink
from stom_desktop.adapters.feeds.replay import RecordedTickFeed, RecordedTicks, ReplayFeed
from stom_desktop.adapters.feeds.simulator import BOOK_LEVELS, MarketSimulator

__all__ = [
    "ALWAYS_OPEN",
    "BOOK_LEVELS",
    "DEFAULT_SIM_START_MS",
    "KRX_HOURS",
    "MarketSimulator",
    "Pacer",
    "RecordedTickFeed",
    "RecordedTicks",
    "ReplayFeed",
    "SimulatorConfig",
    "TickRecorder",
    "TickSink",
    "TradingHours",
    "check_speed",
    "default_hours",
]
