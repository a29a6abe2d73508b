"""SQLAlchemy 2 declarative models: every table STOM Desktop stores.

Conventions, the same in every table:
- times are aware UTC (:class:`UtcDateTime`), market-data times are ``int64`` epoch-ms UTC;
- money (prices, quantities, fees, P&L) is exact :class:`Money` (``numeric(28, 10)``);
- market-data series (bars, recorded ticks) are float64 ``Double``: they are loaded by the
  million straight into numpy arrays, where they are float64 anyway;
- constraints carry stable names (``naming_convention``) so later migrations, including
  SQLite batch migrations, can refer to them.

Repositories return plain dataclass records; these ORM classes stay inside the package.
APScheduler's own job table (``apscheduler_jobs``) is created by its
``SQLAlchemyJobStore`` in the same database, not by these models or our migrations.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from stom_desktop.persistence.column_types import Money, UtcDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SYMBOL = sa.String(64)
ZERO = Decimal(0)


class Base(DeclarativeBase):
    """Declarative base: shared metadata and the Python-type -> column-type map."""

    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UtcDateTime(),
        Decimal: Money(),
        dict[str, Any]: sa.JSON(),
        list[str]: sa.JSON(),
        float: sa.Double(),
    }


class Instrument(Base):
    """A tradable symbol and the market rules orders must respect."""

    __tablename__ = "instruments"
    __table_args__ = (sa.CheckConstraint("asset_class IN ('stock', 'crypto')", name="asset_class"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(SYMBOL, unique=True)
    name: Mapped[str | None] = mapped_column(sa.String(128))
    venue: Mapped[str] = mapped_column(sa.String(32))
    asset_class: Mapped[str] = mapped_column(sa.String(16))
    currency: Mapped[str] = mapped_column(sa.String(16))
    tick_size: Mapped[Decimal | None]
    lot_size: Mapped[Decimal | None]
    min_quantity: Mapped[Decimal | None]
    min_notional: Mapped[Decimal | None]
    timezone: Mapped[str] = mapped_column(sa.String(64))


class BarRow(Base):
    """One OHLCV bar. Read and written in bulk as columns (``BarRepository``), never per row.

    Prices and volume are float64 on purpose: bars are market-data series, loaded by the
    million into numpy for backtests and charts, not account balances. Exactness that
    matters (orders, fills, positions) lives in ``Money`` columns. On SQLite the table is
    ``WITHOUT ROWID``: rows are clustered by (symbol, timeframe, ts), so a range load is one
    sequential scan and no second index is stored. No foreign key to ``instruments``: bars
    may be imported for symbols that have no instrument record.
    """

    __tablename__ = "bars"
    __table_args__ = ({"sqlite_with_rowid": False},)

    symbol: Mapped[str] = mapped_column(SYMBOL, primary_key=True)
    timeframe: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    ts: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    open: Mapped[float]
    high: Mapped[float]
    low: Mapped[float]
    close: Mapped[float]
    volume: Mapped[float]


class StrategyVersion(Base):
    """One saved version of a strategy's source code and default parameters."""

    __tablename__ = "strategies"
    __table_args__ = (sa.UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    version: Mapped[int]
    code: Mapped[str] = mapped_column(sa.Text)
    parameters: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class TradingSession(Base):
    """A paper, live or dry-run trading session: which strategy, which symbols, what state."""

    __tablename__ = "sessions"
    __table_args__ = (sa.CheckConstraint("mode IN ('paper', 'live', 'dry_run')", name="mode"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128))
    strategy_name: Mapped[str] = mapped_column(sa.String(128))
    strategy_version: Mapped[int | None]
    mode: Mapped[str] = mapped_column(sa.String(16))
    symbols: Mapped[list[str]]
    status: Mapped[str] = mapped_column(sa.String(16))
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    config: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(sa.Text)


class OrderRow(Base):
    """An order, recorded (status 'new') before it is sent; one client id for its whole life."""

    __tablename__ = "orders"
    __table_args__ = (sa.CheckConstraint("side IN ('buy', 'sell')", name="side"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_order_id: Mapped[str] = mapped_column(sa.String(64), unique=True)
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="SET NULL"), index=True
    )
    symbol: Mapped[str] = mapped_column(SYMBOL)
    side: Mapped[str] = mapped_column(sa.String(4))
    order_type: Mapped[str] = mapped_column(sa.String(16))
    time_in_force: Mapped[str] = mapped_column(sa.String(8))
    quantity: Mapped[Decimal]
    price: Mapped[Decimal | None]
    stop_price: Mapped[Decimal | None]
    filled_quantity: Mapped[Decimal]
    avg_fill_price: Mapped[Decimal | None]
    # Indexed: start-up recovery asks for every order not in a final state.
    status: Mapped[str] = mapped_column(sa.String(24), index=True)
    venue_order_id: Mapped[str | None] = mapped_column(sa.String(128))
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderEvent(Base):
    """One change of an order's status (the journal the engine replays and the UI shows)."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(sa.String(24))  # None: the order's creation
    to_status: Mapped[str] = mapped_column(sa.String(24))
    at: Mapped[datetime]
    detail: Mapped[str | None] = mapped_column(sa.Text)


class FillRow(Base):
    """One execution of (part of) an order.

    ``venue_fill_id`` is unique per order so a fill reported twice (reconnect, restart
    recovery) is stored once; NULL ids (a venue without fill ids) are not deduplicated.
    """

    __tablename__ = "fills"
    __table_args__ = (sa.UniqueConstraint("order_id", "venue_fill_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        sa.ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    client_order_id: Mapped[str] = mapped_column(sa.String(64))
    venue_fill_id: Mapped[str | None] = mapped_column(sa.String(128))
    quantity: Mapped[Decimal]
    price: Mapped[Decimal]
    fee: Mapped[Decimal]
    fee_currency: Mapped[str | None] = mapped_column(sa.String(16))
    ts: Mapped[datetime]


class PositionRow(Base):
    """A position within a scope: ``'account:<name>'`` or ``'session:<id>'``.

    The scope is one non-null text so (scope, symbol) can be unique on both back-ends
    (a nullable session id would let NULLs duplicate); ``session_id`` is set for session
    scopes so positions join to their session.
    """

    __tablename__ = "positions"
    __table_args__ = (sa.UniqueConstraint("scope", "symbol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(sa.String(64))
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    symbol: Mapped[str] = mapped_column(SYMBOL)
    quantity: Mapped[Decimal]
    avg_price: Mapped[Decimal]
    realized_pnl: Mapped[Decimal]
    updated_at: Mapped[datetime]


class BacktestRunRow(Base):
    """A finished backtest: inputs, metrics and the equity curve.

    The equity curve is stored compactly as two little-endian binary columns: ``equity``
    (float64 values) and ``equity_ts`` (int64 epoch-ms), 16 bytes per point, read back
    with ``numpy.frombuffer`` without parsing. JSON would be ~3x larger and slow to parse
    for a million-point curve.
    """

    __tablename__ = "backtest_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    strategy_name: Mapped[str] = mapped_column(sa.String(128), index=True)
    strategy_version: Mapped[int | None]
    params: Mapped[dict[str, Any]]
    symbol: Mapped[str] = mapped_column(SYMBOL)
    timeframe: Mapped[str] = mapped_column(sa.String(8))
    start_ts: Mapped[int] = mapped_column(sa.BigInteger)
    end_ts: Mapped[int] = mapped_column(sa.BigInteger)
    settings: Mapped[dict[str, Any]]
    metrics: Mapped[dict[str, Any]]
    n_trades: Mapped[int]
    equity: Mapped[bytes] = mapped_column(sa.LargeBinary)
    equity_ts: Mapped[bytes] = mapped_column(sa.LargeBinary)


class OptimizationRun(Base):
    """A grid search or walk-forward analysis: its inputs, every evaluated row, the best.

    ``results`` holds one JSON object per evaluated parameter set (parameters, key metrics,
    error), best first; ``walk_forward`` holds the per-window rows and the stitched
    out-of-sample metrics when the run was a walk-forward analysis.
    """

    __tablename__ = "optimization_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    strategy_name: Mapped[str] = mapped_column(sa.String(128), index=True)
    symbol: Mapped[str] = mapped_column(SYMBOL)
    timeframe: Mapped[str] = mapped_column(sa.String(8))
    start_ts: Mapped[int] = mapped_column(sa.BigInteger)
    end_ts: Mapped[int] = mapped_column(sa.BigInteger)
    metric: Mapped[str] = mapped_column(sa.String(32))
    grid: Mapped[dict[str, Any]]
    settings: Mapped[dict[str, Any]]
    best_params: Mapped[dict[str, Any] | None]
    results: Mapped[list[Any]] = mapped_column(sa.JSON)
    walk_forward: Mapped[dict[str, Any] | None]
    n_evaluated: Mapped[int]
    elapsed_s: Mapped[float]


class RiskEvent(Base):
    """A risk rule fired (order refused, session paused, daily loss limit hit...)."""

    __tablename__ = "risk_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[str] = mapped_column(sa.String(64))
    client_order_id: Mapped[str | None] = mapped_column(sa.String(64))
    detail: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime]


class RecordedTick(Base):
    """One quote/trade tick of a recording, replayed in ``seq`` order.

    ``seq`` numbers the ticks of a recording in arrival order (ticks sharing a
    millisecond keep their order). Market data, so float64 like bars; any field may be
    missing (a trade has no bid/ask, a quote no last).
    """

    __tablename__ = "recorded_ticks"
    __table_args__ = (
        sa.Index(None, "recording_id", "symbol", "ts"),
        {"sqlite_with_rowid": False},
    )

    recording_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger, primary_key=True, autoincrement=False)
    session_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("sessions.id", ondelete="SET NULL")
    )
    symbol: Mapped[str] = mapped_column(SYMBOL)
    ts: Mapped[int] = mapped_column(sa.BigInteger)
    bid: Mapped[float | None]
    ask: Mapped[float | None]
    last: Mapped[float | None]
    volume: Mapped[float | None]
    bid_size: Mapped[float | None]
    ask_size: Mapped[float | None]
    side: Mapped[str | None] = mapped_column(sa.String(4))  # trade aggressor: buy/sell


class JobRun(Base):
    """One run (or missed run) of a scheduled job: the scheduler's "last result" and reports.

    ``status`` is 'running' while the job runs, then 'ok' or 'error'; 'missed' records a
    run that never happened (machine asleep, beyond the misfire grace time).
    """

    __tablename__ = "job_runs"
    __table_args__ = (
        sa.CheckConstraint("status IN ('running', 'ok', 'error', 'missed')", name="status"),
        sa.Index(None, "job_id", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(sa.String(191))
    scheduled_for: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(sa.String(16))
    detail: Mapped[str | None] = mapped_column(sa.Text)


def table_of(model: type[Base]) -> sa.Table:
    """The Core ``Table`` behind a model (repositories use Core for speed and plainness)."""
    table = model.__table__
    if not isinstance(table, sa.Table):  # pragma: no cover - every model maps one table
        raise TypeError(f"{model.__name__} is not mapped to a single table")
    return table
