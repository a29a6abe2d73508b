"""Market-data use cases: import a CSV, generate a synthetic market, list and load bars."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.enums import timeframe_seconds
from stom_desktop.core.errors import DataError
from stom_desktop.core.synthetic import generate_bars
from stom_desktop.persistence import BarRepository, Database, SeriesInfo


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What an import or generation stored."""

    symbol: str
    timeframe: str
    rows: int
    first_ts: int | None
    last_ts: int | None
    source: str
    warnings: tuple[str, ...] = ()


class DataService:
    """Stores and serves OHLCV bars; every write is one transaction (all or nothing)."""

    def __init__(self, database: Database) -> None:
        self._bars = BarRepository(database)

    def import_csv(
        self,
        path: Path,
        symbol: str,
        timeframe: str,
        *,
        tz: str | None = None,
        replace: bool = False,
    ) -> ImportReport:
        """Parse and validate the whole file first, then write it in one transaction."""
        timeframe_seconds(timeframe)  # fail fast on a bad timeframe, before reading the file
        # Imported here: the CSV reader pulls in pandas (~40 MB), which the tray and a
        # trading session never need unless the user imports a file.
        from stom_desktop.adapters.csv_bars import read_bars_csv_with_report

        parsed = read_bars_csv_with_report(path, symbol, timeframe, tz=tz)
        report = self._store(parsed.bars, str(path), replace)
        return dataclasses.replace(report, warnings=tuple(parsed.warnings))

    def generate(
        self,
        symbol: str,
        timeframe: str,
        n_bars: int,
        seed: int,
        *,
        replace: bool = False,
    ) -> ImportReport:
        """Create a deterministic synthetic market and store it."""
        if n_bars < 1:
            raise DataError(f"--bars must be at least 1, got {n_bars}")
        series = generate_bars(symbol, timeframe, n_bars, seed)
        return self._store(series, f"synthetic(seed={seed})", replace)

    def _store(self, series: BarSeries, source: str, replace: bool) -> ImportReport:
        if len(series) == 0:
            raise DataError("no bars to store", source=source)
        written = self._bars.write(series, replace=replace)
        return ImportReport(
            series.symbol,
            series.timeframe,
            written,
            int(series.ts[0]),
            int(series.ts[-1]),
            source,
        )

    def list_series(self) -> list[SeriesInfo]:
        """Every stored (symbol, timeframe) with its bar count and time range."""
        return self._bars.list_series()

    def load(
        self,
        symbol: str,
        timeframe: str,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> BarSeries:
        """Stored bars in ``[start_ms, end_ms)``; a clear error when there are none."""
        series = self._bars.load(symbol, timeframe, start_ms, end_ms)
        if len(series) == 0:
            stored = ", ".join(f"{s.symbol} {s.timeframe}" for s in self.list_series())
            raise DataError(
                f"no {timeframe} bars stored for {symbol!r} in the requested range",
                hint=(
                    f"stored: {stored}"
                    if stored
                    else "import a CSV with `stom data import` or `stom data generate`"
                ),
            )
        return series

    def delete(self, symbol: str, timeframe: str) -> int:
        return self._bars.delete(symbol, timeframe)
