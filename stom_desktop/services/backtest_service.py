"""Backtest use case: load bars and strategy, run the compiled backtester, save the run."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from stom_desktop.backtest.config import BacktestConfig
from stom_desktop.backtest.result import BacktestResult
from stom_desktop.backtest.runner import run_backtest
from stom_desktop.config import Settings
from stom_desktop.core.enums import FillAt
from stom_desktop.persistence import BacktestRunRepository, Database
from stom_desktop.services.data_service import DataService
from stom_desktop.services.strategy_service import StrategyService

#: ``progress(fraction, text)`` as drivers (rich bar, Qt progress bar) expect it.
Progress = Callable[[float, str], None]


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    """What to backtest; ``None`` fields take the defaults from ``Settings.backtest``."""

    strategy: str
    symbol: str
    timeframe: str = "1d"
    start_ms: int | None = None
    end_ms: int | None = None
    params: dict[str, Any] | None = None
    initial_capital: float | None = None
    fee_pct: float | None = None
    fee_fixed: float | None = None
    slippage_bps: float | None = None
    fill_at: str | None = None
    fractional: bool | None = None
    size_fraction: float | None = None
    min_notional: float | None = None


@dataclass(frozen=True, slots=True)
class SavedBacktest:
    """A finished backtest and the id it was stored under in ``backtest_runs``."""

    run_id: int
    result: BacktestResult


def build_config(defaults: Settings, request: BacktestRequest) -> BacktestConfig:
    """Merge a request's overrides onto the settings' backtest defaults (validated)."""
    base = defaults.backtest
    config = BacktestConfig(
        initial_capital=base.initial_capital,
        fee_pct=base.fee_pct,
        fee_fixed=base.fee_fixed,
        slippage_bps=base.slippage_bps,
        fill_at=FillAt(base.fill_at),
        fractional=base.fractional,
        min_notional=base.min_notional,
    )
    overrides: dict[str, Any] = {
        name: getattr(request, name)
        for name in (
            "initial_capital",
            "fee_pct",
            "fee_fixed",
            "slippage_bps",
            "fractional",
            "size_fraction",
            "min_notional",
        )
        if getattr(request, name) is not None
    }
    if request.fill_at is not None:
        overrides["fill_at"] = FillAt(request.fill_at)
    return replace(config, **overrides)


class BacktestService:
    """Runs backtests for every driver (CLI, GUI, scheduler) and stores each run."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        strategies: StrategyService,
        data: DataService,
    ) -> None:
        self._settings = settings
        self._runs = BacktestRunRepository(database)
        self._strategies = strategies
        self._data = data

    def run(self, request: BacktestRequest, progress: Progress | None = None) -> SavedBacktest:
        """Backtest, save to ``backtest_runs`` and return the result with its run id."""
        config = build_config(self._settings, request)
        strategy = self._strategies.create(request.strategy, request.params)
        report = progress if progress is not None else _no_progress
        report(0.0, "loading bars")
        bars = self._data.load(request.symbol, request.timeframe, request.start_ms, request.end_ms)
        result = run_backtest(
            strategy,
            bars,
            config,
            progress=lambda stage, fraction: report(0.1 + 0.8 * fraction, stage),
        )
        report(0.9, "saving")
        run_id = self._runs.save(
            strategy_name=result.strategy,
            params=result.params,
            symbol=result.symbol,
            timeframe=result.timeframe,
            start_ts=int(bars.ts[0]),
            end_ts=int(bars.ts[-1]),
            settings=config.as_dict(),
            metrics=result.metrics.as_dict(),
            n_trades=result.metrics.num_trades,
            equity=result.equity,
            equity_ts=result.equity_ts,
        )
        report(1.0, "done")
        return SavedBacktest(run_id, result)


def _no_progress(_fraction: float, _text: str) -> None:
    """Progress sink for callers that do not show progress."""
