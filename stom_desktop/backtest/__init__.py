"""Fast vectorised/compiled backtester, metrics and optimisation.

Public surface: :func:`run_backtest` (strategy + bars -> :class:`BacktestResult`),
:class:`BacktestConfig`, :class:`Metrics`, and for optimisers the array-level
:func:`simulate_arrays` / compiled :func:`simulate_metrics_into`.
"""

from stom_desktop.backtest.config import BacktestConfig
from stom_desktop.backtest.metrics import METRIC_NAMES, Metrics, compute_metrics
from stom_desktop.backtest.result import BacktestResult, trades_frame
from stom_desktop.backtest.runner import (
    compute_signals,
    run_backtest,
    simulate_arrays,
    simulate_metrics_into,
)
from stom_desktop.backtest.simulator import SimOptions, SimOutput, simulate

__all__ = [
    "METRIC_NAMES",
    "BacktestConfig",
    "BacktestResult",
    "Metrics",
    "SimOptions",
    "SimOutput",
    "compute_metrics",
    "compute_signals",
    "run_backtest",
    "simulate",
    "simulate_arrays",
    "simulate_metrics_into",
    "trades_frame",
]
