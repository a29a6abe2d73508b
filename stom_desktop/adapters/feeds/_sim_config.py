"""SimulatorConfig: the typed, validated settings of the market simulator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from stom_desktop.adapters.feeds._base import check_speed
from stom_desktop.core.errors import ConfigurationError

#: 2024-01-03T00:00:00Z = 09:00 in Seoul on a Wednesday (a KRX session opens).
DEFAULT_SIM_START_MS = 1_704_240_000_000


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """How the simulated market behaves; every field is checked on construction.

    ``speed``: None = as fast as possible, 1.0 = real time, 60.0 = 60x. ``duration_ms``
    None = endless. ``level_notional`` is the typical value of one book level in the
    quote currency (default 20M for KRW instruments, 20k otherwise). ``start_prices``
    and ``prev_closes`` fix a symbol's first mid and the base of its first KRX limit.
    """

    seed: int = 0
    start_ms: int = DEFAULT_SIM_START_MS
    duration_ms: int | None = None
    quote_interval_ms: int = 1_000
    book_interval_ms: int = 10_000
    trade_probability: float = 0.3
    annual_vol: tuple[float, float] = (0.2, 0.6)
    regime_levels: tuple[float, ...] = (0.5, 1.0, 2.5)
    regime_mean_s: float = 900.0
    overnight_vol: float = 0.01
    level_notional: float | None = None
    start_prices: Mapping[str, float] = field(default_factory=dict)
    prev_closes: Mapping[str, float] = field(default_factory=dict)
    speed: float | None = None
    skip_closed: bool = True

    def __post_init__(self) -> None:
        check_speed(self.speed)
        lo_vol, hi_vol = self.annual_vol
        checks: tuple[tuple[str, bool, str], ...] = (
            ("seed", isinstance(self.seed, int) and self.seed >= 0, "an integer >= 0"),
            ("start_ms", isinstance(self.start_ms, int), "epoch milliseconds (int)"),
            ("duration_ms", self.duration_ms is None or self.duration_ms > 0, "> 0 or None"),
            ("quote_interval_ms", self.quote_interval_ms >= 1, "at least 1 ms"),
            ("book_interval_ms", self.book_interval_ms >= 0, ">= 0 (0 = no books)"),
            ("trade_probability", 0.0 <= self.trade_probability <= 1.0, "within 0..1"),
            ("annual_vol", 0.0 <= lo_vol <= hi_vol < 50.0, "(low, high) with 0 <= low <= high"),
            ("regime_levels", bool(self.regime_levels), "at least one level"),
            ("regime_levels", all(v > 0 for v in self.regime_levels), "levels > 0"),
            ("regime_mean_s", self.regime_mean_s > 0, "> 0 seconds"),
            ("overnight_vol", 0.0 <= self.overnight_vol < 1.0, "within 0..1"),
            ("level_notional", self.level_notional is None or self.level_notional > 0, "> 0"),
        )
        for key, ok, rule in checks:
            if not ok:
                raise ConfigurationError(f"must be {rule}", key=f"simulator.{key}")
        for what, prices in (
            ("start_prices", self.start_prices),
            ("prev_closes", self.prev_closes),
        ):
            for symbol, price in prices.items():
                if not price > 0:
                    raise ConfigurationError(
                        f"{symbol}: price must be > 0, got {price!r}", key=f"simulator.{what}"
                    )

    @property
    def book_every(self) -> int:
        """Books per symbol every this many steps (0 = never)."""
        if self.book_interval_ms == 0:
            return 0
        return max(1, -(-self.book_interval_ms // self.quote_interval_ms))
