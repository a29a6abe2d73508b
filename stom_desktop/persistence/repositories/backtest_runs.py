"""Stored backtest runs: inputs, metrics and the equity curve as compact float64 bytes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from stom_desktop.persistence.db import Database
from stom_desktop.persistence.models import BacktestRunRow, table_of
from stom_desktop.persistence.records import BacktestRunRecord, BacktestRunSummary
from stom_desktop.persistence.repositories._common import aware, check_text, jsonable

_T = table_of(BacktestRunRow)
_SUMMARY_COLUMNS = [c for c in _T.c if c.name not in ("equity", "equity_ts")]


class BacktestRunRepository:
    """Save, fetch and list backtest runs; curves come back as read-only numpy arrays."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(
        self,
        *,
        strategy_name: str,
        params: dict[str, Any],
        symbol: str,
        timeframe: str,
        start_ts: int,
        end_ts: int,
        settings: dict[str, Any],
        metrics: dict[str, Any],
        n_trades: int,
        equity: npt.ArrayLike,
        equity_ts: npt.ArrayLike,
        strategy_version: int | None = None,
        created_at: datetime | None = None,
    ) -> int:
        """Store one run and return its id.

        ``equity`` (account value per bar) and ``equity_ts`` (epoch-ms) must have the same
        length. JSON fields accept numpy scalars; NaN/inf metrics are stored as null.
        """
        check_text(strategy_name, "strategy name", 128)
        values = np.ascontiguousarray(equity, dtype="<f8")
        times = np.ascontiguousarray(equity_ts, dtype="<i8")
        if values.ndim != 1 or values.shape != times.shape:
            raise ValueError(
                f"backtest of {strategy_name!r}: equity {values.shape} and equity_ts "
                f"{times.shape} must be 1-D arrays of the same length"
            )
        row = {
            "created_at": aware(created_at, "created_at"),
            "strategy_name": strategy_name,
            "strategy_version": strategy_version,
            "params": jsonable(params, "params"),
            "symbol": symbol,
            "timeframe": timeframe,
            "start_ts": int(start_ts),
            "end_ts": int(end_ts),
            "settings": jsonable(settings, "settings"),
            "metrics": jsonable(metrics, "metrics"),
            "n_trades": int(n_trades),
            "equity": values.tobytes(),
            "equity_ts": times.tobytes(),
        }
        with self._db.begin() as conn:
            return int(conn.execute(sa.insert(_T).values(**row).returning(_T.c.id)).scalar_one())

    def get(self, run_id: int) -> BacktestRunRecord | None:
        """The run with its equity curve, or None if there is no such id."""
        with self._db.connect() as conn:
            row = conn.execute(sa.select(_T).where(_T.c.id == run_id)).first()
        if row is None:
            return None
        return BacktestRunRecord(
            summary=_summary(row),
            equity=np.frombuffer(row.equity, dtype="<f8").astype(np.float64, copy=False),
            equity_ts=np.frombuffer(row.equity_ts, dtype="<i8").astype(np.int64, copy=False),
        )

    def list(self, limit: int = 100) -> list[BacktestRunSummary]:
        """The newest ``limit`` runs, newest first, without their curves."""
        query = sa.select(*_SUMMARY_COLUMNS).order_by(_T.c.id.desc()).limit(limit)
        with self._db.connect() as conn:
            return [_summary(row) for row in conn.execute(query)]


def _summary(row: Any) -> BacktestRunSummary:
    return BacktestRunSummary(
        id=row.id,
        created_at=row.created_at,
        strategy_name=row.strategy_name,
        strategy_version=row.strategy_version,
        params=row.params,
        symbol=row.symbol,
        timeframe=row.timeframe,
        start_ts=row.start_ts,
        end_ts=row.end_ts,
        settings=row.settings,
        metrics=row.metrics,
        n_trades=row.n_trades,
    )
