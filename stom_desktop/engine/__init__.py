"""Live event-driven trading engine (issue 4): bus, bars, sessions, strategies, the kernel loop.

The public surface of the engine core; order management and risk live in
``engine.order_manager`` / ``engine.risk`` and are re-exported by their own modules.
"""

from stom_desktop.engine.aggregator import BarAggregator
from stom_desktop.engine.bus import EventBus
from stom_desktop.engine.history import BarBuffer, BarHistory
from stom_desktop.engine.kernel import Engine
from stom_desktop.engine.requests import OrderRequest, PlaceResult
from stom_desktop.engine.session import (
    DryRunRouter,
    SessionConfig,
    SessionMode,
    SessionStore,
    TradingSession,
)
from stom_desktop.engine.strategy_runner import (
    IntendedOrderEvent,
    OrderRouter,
    SignalEvent,
    SizingConfig,
    StrategyRunner,
)

__all__ = [
    "BarAggregator",
    "BarBuffer",
    "BarHistory",
    "DryRunRouter",
    "Engine",
    "EventBus",
    "IntendedOrderEvent",
    "OrderRequest",
    "OrderRouter",
    "PlaceResult",
    "SessionConfig",
    "SessionMode",
    "SessionStore",
    "SignalEvent",
    "SizingConfig",
    "StrategyRunner",
    "TradingSession",
]
