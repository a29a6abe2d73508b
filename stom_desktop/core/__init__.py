"""Domain: pure types and rules (stdlib + numpy only; no Qt, SQLAlchemy, network)."""

from stom_desktop.core.bars import BarSeries, format_ts, to_ms
from stom_desktop.core.enums import FillAt, Side, timeframe_seconds
from stom_desktop.core.errors import (
    BrokerError,
    ConfigurationError,
    DataError,
    OrderRejected,
    PersistenceError,
    StomError,
    StrategyError,
    TemporaryBrokerError,
)

__all__ = [
    "BarSeries",
    "BrokerError",
    "ConfigurationError",
    "DataError",
    "FillAt",
    "OrderRejected",
    "PersistenceError",
    "Side",
    "StomError",
    "StrategyError",
    "TemporaryBrokerError",
    "format_ts",
    "timeframe_seconds",
    "to_ms",
]
