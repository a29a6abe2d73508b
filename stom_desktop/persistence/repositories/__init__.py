"""Repositories: small, typed gateways to the tables, returning plain records."""

from stom_desktop.persistence.repositories.backtest_runs import BacktestRunRepository
from stom_desktop.persistence.repositories.bars import BarRepository
from stom_desktop.persistence.repositories.optimization_runs import OptimizationRunRepository
from stom_desktop.persistence.repositories.orders import FINAL_ORDER_STATUSES, OrderRepository
from stom_desktop.persistence.repositories.recordings import (
    RecordedTicks,
    RecordingInfo,
    RecordingRepository,
)
from stom_desktop.persistence.repositories.sessions import SessionRepository
from stom_desktop.persistence.repositories.strategies import StrategyRepository

__all__ = [
    "FINAL_ORDER_STATUSES",
    "BacktestRunRepository",
    "BarRepository",
    "OptimizationRunRepository",
    "OrderRepository",
    "RecordedTicks",
    "RecordingInfo",
    "RecordingRepository",
    "SessionRepository",
    "StrategyRepository",
]
