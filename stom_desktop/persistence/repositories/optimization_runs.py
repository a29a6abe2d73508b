"""Stored optimisation runs (grid search and walk-forward): every row, best first."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from stom_desktop.persistence.db import Database
from stom_desktop.persistence.models import OptimizationRun, table_of
from stom_desktop.persistence.records import OptimizationRunRecord
from stom_desktop.persistence.repositories._common import aware, check_text, jsonable

_T = table_of(OptimizationRun)


class OptimizationRunRepository:
    """Save, fetch and list optimisation runs as plain records."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def save(
        self,
        *,
        strategy_name: str,
        symbol: str,
        timeframe: str,
        start_ts: int,
        end_ts: int,
        metric: str,
        grid: dict[str, Any],
        settings: dict[str, Any],
        best_params: dict[str, Any] | None,
        results: list[dict[str, Any]],
        walk_forward: dict[str, Any] | None,
        n_evaluated: int,
        elapsed_s: float,
    ) -> int:
        """Store one run in one transaction and return its id."""
        check_text(strategy_name, "strategy name", 128)
        row = {
            "created_at": aware(None, "created_at"),
            "strategy_name": strategy_name,
            "symbol": symbol,
            "timeframe": timeframe,
            "start_ts": int(start_ts),
            "end_ts": int(end_ts),
            "metric": metric,
            "grid": jsonable(grid, "optimization grid"),
            "settings": jsonable(settings, "optimization settings"),
            "best_params": jsonable(best_params, "optimization best params"),
            "results": jsonable(results, "optimization results"),
            "walk_forward": jsonable(walk_forward, "walk-forward results"),
            "n_evaluated": int(n_evaluated),
            "elapsed_s": float(elapsed_s),
        }
        with self._db.begin() as conn:
            return int(conn.execute(sa.insert(_T).values(row).returning(_T.c.id)).scalar_one())

    def get(self, run_id: int) -> OptimizationRunRecord | None:
        """One run with all its rows, or ``None``."""
        with self._db.connect() as conn:
            row = conn.execute(sa.select(_T).where(_T.c.id == run_id)).mappings().first()
        return None if row is None else OptimizationRunRecord(**dict(row))

    def list(self, limit: int = 50) -> list[OptimizationRunRecord]:
        """The newest runs first."""
        query = sa.select(_T).order_by(_T.c.id.desc()).limit(limit)
        with self._db.connect() as conn:
            return [OptimizationRunRecord(**dict(r)) for r in conn.execute(query).mappings()]
