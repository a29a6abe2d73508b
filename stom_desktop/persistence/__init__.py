"""SQLAlchemy 2 models, repositories and Alembic migrations."""

from stom_desktop.persistence.column_types import Money, UtcDateTime, to_money
from stom_desktop.persistence.db import Database, create_database, mask_url
from stom_desktop.persistence.records import (
    BacktestRunRecord,
    BacktestRunSummary,
    FillOutcome,
    FillRecord,
    OptimizationRunRecord,
    OrderEventRecord,
    OrderRecord,
    SeriesInfo,
    SessionRecord,
    StrategyRecord,
)
from stom_desktop.persistence.repositories import (
    FINAL_ORDER_STATUSES,
    BacktestRunRepository,
    BarRepository,
    OptimizationRunRepository,
    OrderRepository,
    RecordedTicks,
    RecordingInfo,
    RecordingRepository,
    SessionRepository,
    StrategyRepository,
)

__all__ = [
    "FINAL_ORDER_STATUSES",
    "BacktestRunRecord",
    "BacktestRunRepository",
    "BacktestRunSummary",
    "BarRepository",
    "Database",
    "FillOutcome",
    "FillRecord",
    "Money",
    "OptimizationRunRecord",
    "OptimizationRunRepository",
    "OrderEventRecord",
    "OrderRecord",
    "OrderRepository",
    "RecordedTicks",
    "RecordingInfo",
    "RecordingRepository",
    "SeriesInfo",
    "SessionRecord",
    "SessionRepository",
    "StrategyRecord",
    "StrategyRepository",
    "UtcDateTime",
    "create_database",
    "mask_url",
    "to_money",
]
