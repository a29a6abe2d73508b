"""How a backtest fills orders: capital, fees, slippage, fill timing and sizing (frozen)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from stom_desktop.backtest.simulator import SimOptions
from stom_desktop.core.enums import FillAt
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.strategy.base import Direction, ExitRules


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """Account and execution model of one backtest, validated on construction.

    - ``initial_capital``: starting cash (account currency), > 0.
    - ``fee_pct``: fee per fill as a fraction of notional (0.001 = 0.1%), 0 <= x < 0.1.
    - ``fee_fixed``: fixed fee per fill in account currency, >= 0.
    - ``slippage_bps``: each fill is worse by this many basis points, 0 <= x < 1000.
    - ``fill_at``: ``FillAt.NEXT_OPEN`` (default) or ``FillAt.CLOSE`` of the signal bar.
    - ``fractional``: True sizes in any fraction of a unit (crypto); False floors to whole
      units (stocks).
    - ``size_fraction``: share of equity committed per entry; 1.0 = all-in.
    - ``min_size`` / ``min_notional``: entries smaller than this many units / this much
      currency are not placed (stops a fee-drained account from trading dust).
    - ``lot_size``: optional unit step overriding ``fractional`` (e.g. 1e-8 for satoshi
      lots, 10 for board lots); ``None`` uses 0 (fractional) or 1 (whole units).
    - ``periods_per_year``: optional override for annualising volatility/Sharpe/Sortino;
      ``None`` infers it from the bar timestamps (see ``backtest.metrics``).
    """

    initial_capital: float = 1_000_000.0
    fee_pct: float = 0.0
    fee_fixed: float = 0.0
    slippage_bps: float = 0.0
    fill_at: FillAt = FillAt.NEXT_OPEN
    fractional: bool = True
    size_fraction: float = 1.0
    min_size: float = 0.0
    min_notional: float = 0.0
    lot_size: float | None = None
    periods_per_year: float | None = None

    def __post_init__(self) -> None:
        for name in (
            "initial_capital",
            "fee_pct",
            "fee_fixed",
            "slippage_bps",
            "size_fraction",
            "min_size",
            "min_notional",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigurationError(f"must be a number, got {value!r}", key=name)
            if not math.isfinite(value):
                raise ConfigurationError(f"must be finite, got {value!r}", key=name)
        _check(self.initial_capital > 0, "initial_capital", "must be > 0", self.initial_capital)
        _check(0 <= self.fee_pct < 0.1, "fee_pct", "must be in [0, 0.1)", self.fee_pct)
        _check(self.fee_fixed >= 0, "fee_fixed", "must be >= 0", self.fee_fixed)
        _check(
            0 <= self.slippage_bps < 1000,
            "slippage_bps",
            "must be in [0, 1000)",
            self.slippage_bps,
        )
        _check(
            0 < self.size_fraction <= 1,
            "size_fraction",
            "must be in (0, 1] (1 = all-in)",
            self.size_fraction,
        )
        _check(self.min_size >= 0, "min_size", "must be >= 0", self.min_size)
        _check(self.min_notional >= 0, "min_notional", "must be >= 0", self.min_notional)
        if self.lot_size is not None:
            _check(
                math.isfinite(self.lot_size) and self.lot_size > 0,
                "lot_size",
                "must be > 0 (or None)",
                self.lot_size,
            )
        if self.periods_per_year is not None:
            _check(
                math.isfinite(self.periods_per_year) and self.periods_per_year > 0,
                "periods_per_year",
                "must be > 0 (or None to infer it)",
                self.periods_per_year,
            )
        try:
            object.__setattr__(self, "fill_at", FillAt(self.fill_at))
        except ValueError as exc:
            raise ConfigurationError(
                f"unknown value {self.fill_at!r}; use one of {', '.join(f.value for f in FillAt)}",
                key="fill_at",
            ) from exc
        if not isinstance(self.fractional, bool):
            raise ConfigurationError(
                f"must be true or false, got {self.fractional!r}", key="fractional"
            )

    @property
    def size_step(self) -> float:
        """Unit step the simulator floors sizes to (0 = continuous)."""
        if self.lot_size is not None:
            return float(self.lot_size)
        return 0.0 if self.fractional else 1.0

    def sim_options(
        self, exit_rules: ExitRules | None = None, direction: Direction = "long"
    ) -> SimOptions:
        """The simulator's scalar options for this config, a strategy's exits and sides."""
        rules = exit_rules if exit_rules is not None else ExitRules()
        if direction not in ("long", "short", "both"):
            raise ConfigurationError(
                f"unknown direction {direction!r}; use long, short or both", key="direction"
            )
        return SimOptions(
            fill_at_close=self.fill_at is FillAt.CLOSE,
            fee_pct=float(self.fee_pct),
            fee_fixed=float(self.fee_fixed),
            slippage_bps=float(self.slippage_bps),
            size_step=self.size_step,
            size_fraction=float(self.size_fraction),
            min_size=float(self.min_size),
            min_notional=float(self.min_notional),
            stop_loss=_off_is_nan(rules.stop_loss),
            take_profit=_off_is_nan(rules.take_profit),
            trailing_stop=_off_is_nan(rules.trailing_stop),
            allow_long=direction in ("long", "both"),
            allow_short=direction in ("short", "both"),
            initial_cash=float(self.initial_capital),
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (``fill_at`` as its text)."""
        values = asdict(self)
        values["fill_at"] = self.fill_at.value
        return values


def _check(ok: bool, key: str, rule: str, value: object) -> None:
    if not ok:
        raise ConfigurationError(f"{rule}, got {value!r}", key=key)


def _off_is_nan(value: float | None) -> float:
    # the simulator takes NaN for "off" so every option stays a plain float
    return math.nan if value is None else float(value)
