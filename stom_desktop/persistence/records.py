"""Plain frozen records returned by the repositories (ORM objects never leave the package)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from stom_desktop.core.bars import FloatArray, IntArray


@dataclass(frozen=True, slots=True)
class SeriesInfo:
    """One stored bar series: how many bars and the first/last bar's open time (epoch ms)."""

    symbol: str
    timeframe: str
    count: int
    first_ts: int
    last_ts: int


@dataclass(frozen=True, slots=True)
class StrategyRecord:
    """One saved version of a strategy."""

    id: int
    name: str
    version: int
    code: str
    parameters: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BacktestRunSummary:
    """A stored backtest without its equity curve (for lists)."""

    id: int
    created_at: datetime
    strategy_name: str
    strategy_version: int | None
    params: dict[str, Any]
    symbol: str
    timeframe: str
    start_ts: int
    end_ts: int
    settings: dict[str, Any]
    metrics: dict[str, Any]
    n_trades: int


@dataclass(frozen=True, slots=True)
class BacktestRunRecord:
    """A stored backtest with its equity curve (read-only float64 values, int64 ms times)."""

    summary: BacktestRunSummary
    equity: FloatArray
    equity_ts: IntArray

    @property
    def id(self) -> int:
        """The run's id."""
        return self.summary.id


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A trading session as stored."""

    id: int
    name: str
    strategy_name: str
    strategy_version: int | None
    mode: str
    symbols: list[str]
    status: str
    created_at: datetime
    started_at: datetime | None
    stopped_at: datetime | None
    config: dict[str, Any]
    error: str | None


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order as stored: amounts are exact Decimals, times aware UTC."""

    id: int
    client_order_id: str
    session_id: int | None
    symbol: str
    side: str
    order_type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    filled_quantity: Decimal
    avg_fill_price: Decimal | None
    status: str
    venue_order_id: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OrderEventRecord:
    """One status change of an order (``from_status`` is None for its creation)."""

    id: int
    order_id: int
    from_status: str | None
    to_status: str
    at: datetime
    detail: str | None


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One execution of an order."""

    id: int
    order_id: int
    client_order_id: str
    venue_fill_id: str | None
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str | None
    ts: datetime


@dataclass(frozen=True, slots=True)
class FillOutcome:
    """What ``OrderRepository.add_fill`` did: the order after the fill, and the fill.

    ``duplicate`` is True when this venue fill id was already stored for the order; then
    nothing was written and ``fill`` is the stored one.
    """

    order: OrderRecord
    fill: FillRecord
    duplicate: bool


@dataclass(frozen=True, slots=True)
class OptimizationRunRecord:
    """A stored grid search / walk-forward run with every evaluated row (best first)."""

    id: int
    created_at: datetime
    strategy_name: str
    symbol: str
    timeframe: str
    start_ts: int
    end_ts: int
    metric: str
    grid: dict[str, Any]
    settings: dict[str, Any]
    best_params: dict[str, Any] | None
    results: list[dict[str, Any]]
    walk_forward: dict[str, Any] | None
    n_evaluated: int
    elapsed_s: float
