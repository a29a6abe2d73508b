"""The outcome of one backtest: settings, metrics, a trades table and the equity curve."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from stom_desktop.backtest.config import BacktestConfig
from stom_desktop.backtest.metrics import Metrics
from stom_desktop.backtest.simulator import (
    COL_DIRECTION,
    COL_ENTRY_IDX,
    COL_ENTRY_PRICE,
    COL_EXIT_IDX,
    COL_EXIT_PRICE,
    COL_FEES,
    COL_PNL,
    COL_REASON,
    COL_RETURN,
    COL_SIZE,
    EXIT_REASON_NAMES,
    OPEN_AT_END,
)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

TRADE_COLUMNS = (
    "entry_time",
    "exit_time",
    "entry_idx",
    "exit_idx",
    "bars_held",
    "direction",
    "size",
    "entry_price",
    "exit_price",
    "pnl",
    "return",
    "fees",
    "exit_reason",
    "is_open",
)


def trades_frame(trades: FloatArray, ts: IntArray) -> pd.DataFrame:
    """Build the trades table once from the simulator's trade rows.

    Times are tz-aware UTC (the fill bar's timestamp); ``direction`` (``long``/``short``)
    and ``exit_reason`` are categoricals; ``bars_held`` is ``exit_idx - entry_idx``;
    ``is_open`` marks a position still open at the end (exit = last close, marked to
    market).
    """
    entry_idx = trades[:, COL_ENTRY_IDX].astype(np.int64)
    exit_idx = trades[:, COL_EXIT_IDX].astype(np.int64)
    reason = trades[:, COL_REASON].astype(np.int8)
    # Categoricals and datetime64 views: a fraction of the cost of strings/to_datetime
    columns = {
        "entry_time": _utc(ts[entry_idx]),
        "exit_time": _utc(ts[exit_idx]),
        "entry_idx": entry_idx,
        "exit_idx": exit_idx,
        "bars_held": exit_idx - entry_idx,
        "direction": pd.Categorical.from_codes(
            (trades[:, COL_DIRECTION] < 0).astype(np.int8), categories=["long", "short"]
        ),
        "size": trades[:, COL_SIZE],
        "entry_price": trades[:, COL_ENTRY_PRICE],
        "exit_price": trades[:, COL_EXIT_PRICE],
        "pnl": trades[:, COL_PNL],
        "return": trades[:, COL_RETURN],
        "fees": trades[:, COL_FEES],
        "exit_reason": pd.Categorical.from_codes(reason, categories=list(EXIT_REASON_NAMES)),
        "is_open": reason == OPEN_AT_END,
    }
    return pd.DataFrame(columns, copy=False)


def _utc(ms: IntArray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ms.astype("datetime64[ms]")).tz_localize("UTC")


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Everything one backtest produced; immutable.

    ``equity_ts`` (int64 ms UTC, shared with the bars, not copied) and ``equity``
    (float64, marked at each close) are the equity curve.
    """

    strategy: str
    params: dict[str, Any]
    symbol: str
    timeframe: str
    config: BacktestConfig
    metrics: Metrics
    trades: pd.DataFrame
    equity_ts: IntArray
    equity: FloatArray
    elapsed_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def closed_trades(self) -> pd.DataFrame:
        """Trades that were closed before the end (the open one, if any, left out)."""
        return self.trades[~self.trades["is_open"]]

    def equity_series(self) -> pd.Series:
        """The equity curve as a pandas Series on a UTC DatetimeIndex (built on demand)."""
        index = pd.to_datetime(self.equity_ts, unit="ms", utc=True)
        return pd.Series(self.equity, index=index, name="equity")

    def to_json_dict(self, *, include_equity: bool = False) -> dict[str, Any]:
        """Plain JSON-able data: settings, metrics and every trade (``--output json``).

        Non-finite floats become ``None`` (JSON has no NaN/inf); times are ISO-8601 UTC.
        The equity curve (one value per bar) is included only on request.
        """
        trades = []
        for row in self.trades.itertuples(index=False):
            record = dict(zip(TRADE_COLUMNS, row, strict=True))
            record["entry_time"] = record["entry_time"].isoformat()
            record["exit_time"] = record["exit_time"].isoformat()
            trades.append({key: _jsonable(value) for key, value in record.items()})
        data: dict[str, Any] = {
            "strategy": self.strategy,
            "params": {key: _jsonable(value) for key, value in self.params.items()},
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "config": {key: _jsonable(value) for key, value in self.config.as_dict().items()},
            "metrics": {key: _jsonable(value) for key, value in self.metrics.as_dict().items()},
            "trades": trades,
            "bars": int(self.equity.shape[0]),
        }
        if self.equity.shape[0]:
            data["start"] = pd.Timestamp(int(self.equity_ts[0]), unit="ms", tz="UTC").isoformat()
            data["end"] = pd.Timestamp(int(self.equity_ts[-1]), unit="ms", tz="UTC").isoformat()
        if include_equity:
            data["equity"] = {
                "ts": self.equity_ts.tolist(),
                "equity": [_jsonable(v) for v in self.equity.tolist()],
            }
        return data


def _jsonable(value: Any) -> Any:
    """Numpy scalars to Python, non-finite floats to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
