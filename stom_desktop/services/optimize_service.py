"""Optimisation use cases: grid search and walk-forward analysis, each saved to the database."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from stom_desktop.backtest.optimize import OptimizationResult, optimize_grid
from stom_desktop.backtest.param_grid import build_grid
from stom_desktop.backtest.walkforward import WalkForwardResult, walk_forward
from stom_desktop.config import Settings
from stom_desktop.persistence import Database, OptimizationRunRepository
from stom_desktop.services.backtest_service import BacktestRequest, Progress, build_config
from stom_desktop.services.data_service import DataService
from stom_desktop.services.strategy_service import StrategyService


@dataclass(frozen=True, slots=True)
class OptimizeRequest:
    """A grid (``specs`` like ``fast=5:50:5``) over the data and costs of ``base``."""

    base: BacktestRequest
    specs: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    metric: str = "sharpe"
    maximize: bool | None = None
    workers: int | None = None
    walk_forward: str | None = None  # e.g. "6m/1m"; None = plain grid search


@dataclass(frozen=True, slots=True)
class SavedOptimization:
    """A finished optimisation and the id it was stored under in ``optimization_runs``."""

    run_id: int
    grid: OptimizationResult | None = None
    walk_forward: WalkForwardResult | None = None
    grid_size: int = 0
    notes: dict[str, Any] = field(default_factory=dict)


class OptimizeService:
    """Runs grid searches and walk-forward analyses for every driver and stores them."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        strategies: StrategyService,
        data: DataService,
    ) -> None:
        self._settings = settings
        self._runs = OptimizationRunRepository(database)
        self._strategies = strategies
        self._data = data

    def run(
        self,
        request: OptimizeRequest,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> SavedOptimization:
        """Grid search (or walk-forward when ``request.walk_forward`` is set) and save it."""
        base = request.base
        strategy_cls = self._strategies.load_class(base.strategy)
        grid = build_grid(strategy_cls, request.specs, request.constraints)
        config = build_config(self._settings, base)
        bars = self._data.load(base.symbol, base.timeframe, base.start_ms, base.end_ms)
        grid_info = {
            "specs": list(request.specs),
            "constraints": list(request.constraints),
            "size": len(grid),
            "describe": grid.describe(),
        }
        common: dict[str, Any] = {
            "strategy_name": strategy_cls.strategy_name(),
            "symbol": bars.symbol,
            "timeframe": bars.timeframe,
            "start_ts": int(bars.ts[0]),
            "end_ts": int(bars.ts[-1]),
            "metric": request.metric,
            "grid": grid_info,
            "settings": config.as_dict(),
        }
        if request.walk_forward is None:
            result = optimize_grid(
                strategy_cls,
                bars,
                config,
                grid,
                metric=request.metric,
                maximize=request.maximize,
                workers=request.workers,
                progress=progress,
                cancel=cancel,
            )
            run_id = self._runs.save(
                **common,
                best_params=result.best_params,
                results=result.records(),
                walk_forward=None,
                n_evaluated=result.n_evaluated,
                elapsed_s=result.elapsed,
            )
            return SavedOptimization(run_id, grid=result, grid_size=len(grid))
        in_sample, _, out_of_sample = request.walk_forward.partition("/")
        wf = walk_forward(
            strategy_cls,
            bars,
            config,
            grid,
            in_sample=in_sample,
            out_of_sample=out_of_sample,
            metric=request.metric,
            maximize=request.maximize,
            workers=request.workers,
            progress=progress,
            cancel=cancel,
        )
        windows = [
            {str(k): (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
            for row in wf.windows.to_dict(orient="records")
        ]
        run_id = self._runs.save(
            **common,
            best_params=None,
            results=windows,
            walk_forward={
                "spec": request.walk_forward,
                "oos_metrics": wf.metrics.as_dict(),
                "windows": len(windows),
            },
            n_evaluated=len(windows) * len(grid),
            elapsed_s=wf.elapsed,
        )
        return SavedOptimization(run_id, walk_forward=wf, grid_size=len(grid))
