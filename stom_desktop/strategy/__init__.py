"""Plug-in API for strategies: base class, parameters, indicators, loader.

Strategy files import from here only (plus ``stom_desktop.core`` and numpy)::

    from stom_desktop.strategy import Param, Signals, Strategy, crossed_above, crossed_below
"""

from stom_desktop.strategy.base import Direction, ExitRules, Signals, Strategy
from stom_desktop.strategy.causality import CausalityReport, check_causal
from stom_desktop.strategy.indicator_cache import CacheInfo, Indicators
from stom_desktop.strategy.indicators import (
    atr,
    bollinger,
    crossed_above,
    crossed_below,
    donchian,
    ema,
    highest,
    lowest,
    macd,
    rsi,
    sma,
    true_range,
    vwap,
)
from stom_desktop.strategy.loader import (
    StrategyInfo,
    bundled_dir,
    discover,
    find_file,
    load_file,
    load_from_code,
    load_strategy,
)
from stom_desktop.strategy.params import Param, ParamValues
from stom_desktop.strategy.safe_call import run_signals, safe_call
from stom_desktop.strategy.source_check import Problem, validate_source

__all__ = [
    "CacheInfo",
    "CausalityReport",
    "Direction",
    "ExitRules",
    "Indicators",
    "Param",
    "ParamValues",
    "Problem",
    "Signals",
    "Strategy",
    "StrategyInfo",
    "atr",
    "bollinger",
    "bundled_dir",
    "check_causal",
    "crossed_above",
    "crossed_below",
    "discover",
    "donchian",
    "ema",
    "find_file",
    "highest",
    "load_file",
    "load_from_code",
    "load_strategy",
    "lowest",
    "macd",
    "rsi",
    "run_signals",
    "safe_call",
    "sma",
    "true_range",
    "validate_source",
    "vwap",
]
