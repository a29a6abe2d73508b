"""Read OHLCV bars from the CSV files that pandas, exchanges, brokers and spreadsheets export.

Supported without editing the file:

* **pandas** ``df.to_csv()`` with a DatetimeIndex (named or unnamed index column), naive or
  with a UTC offset (``2024-01-02 09:00:00+09:00``; mixed DST offsets are fine).
* **Exchanges**: Binance kline dumps without a header (open_time in ms or µs, o, h, l, c, v,
  close_time, ...), ccxt/Upbit style ``timestamp`` in ms, CryptoDataDownload (a URL preamble
  line, ``unix``/``date`` columns, newest first).
* **Korean brokers** (Kiwoom / HTS exports): ``일자,시가,고가,저가,종가,거래량`` and
  ``현재가``/``체결시간``, dates ``20240102`` / ``2024/01/02`` / ``2024.01.02``, separate times
  ``0901`` / ``090100`` / ``09:01:00``, quoted thousands ``"1,234,567"``, CP949/EUC-KR encoding.
* **Yahoo Finance** ``Date,Open,High,Low,Close,Adj Close,Volume`` (``Close`` is used, not
  ``Adj Close``).
* **MetaTrader** ``<DATE>,<TIME>,<OPEN>,...,<TICKVOL>,<VOL>,<SPREAD>`` with ``2024.01.02``
  dates, comma-, tab- or semicolon-separated, and its header-less History Center export.
* **TradingView** ``time`` in Unix seconds.
* **Spreadsheets**: UTF-8 with BOM, Excel's ``sep=;`` first line, ``;`` separator with decimal
  comma (``1.234,56``), quoted thousands separators, UTF-16 "Unicode text" (tab-separated).

Rules (also in :func:`read_bars_csv_with_report`):

* Encoding: UTF-8 (BOM optional), UTF-16 with BOM, else CP949 (a superset of EUC-KR).
* Delimiter: ``,`` ``;`` tab or ``|``, chosen by which one splits the header into known column
  names (or, without a header, the data into >= 5 numeric-looking fields). ``csv.Sniffer`` is
  not used: it prefers ``,`` and so misreads ``;`` files whose prices carry decimal commas.
* Header: the first line (within the first 50 non-blank lines) that names a time column and
  open/high/low/close; lines before it are a preamble and skipped. No such line but numeric
  rows: the file is header-less with columns ``time, open, high, low, close[, volume, ...]``
  (Binance) or ``date, time, open, high, low, close[, volume]`` (MetaTrader).
* Numbers: decimal comma when the separator is not ``,`` and a sampled price has a comma
  followed by other than exactly three digits (``1,5`` / ``1,09412`` / ``1.234,5``). A
  thousands separator (``,``, or ``.`` with a decimal comma; spaces too) is accepted only
  between groups of three digits, so ``"1,5"`` in a comma file or ``1.5`` in a decimal-comma
  file is an error, not 15. (When the first 50 rows use proper groups, pandas strips the
  separator natively for speed and rows further down are not re-checked.)
* Time: epoch numbers by magnitude (< 1e11 seconds, < 1e14 ms, < 1e17 µs, else ns; sub-ms
  is floored), digit dates ``YYYYMMDD[HHMM[SS]]``, and text dates in one consistent format
  (inferred from the first row; ``dd.mm.yyyy`` is day-first, ``a/b/yyyy`` is month-first unless
  a first number above 12 proves it day-first). Text with an offset or ``Z`` is converted to
  UTC; naive text is wall-clock time in ``tz`` (default UTC). Epoch numbers are absolute and
  ignore ``tz``. Timestamps are the bar's open time, stored as int64 ms UTC.
* Order: oldest first. A file that is strictly descending throughout (newest first, as some
  brokers export) is reversed as a whole — it is not sorted; anything else out of order is an
  error naming the line.
* Volume is optional: without a volume column it is 0 and a warning says so. When the volume
  column is all zero and a tick-volume column exists (MetaTrader FX), tick volume is used.
* Prices must be positive (a zero price is refused, unlike zero volume).

Every problem raises :class:`DataError` with ``source`` = the file and ``line`` = the 1-based
line in the file (blank lines and preamble counted). Quoted fields spanning several lines are
not supported (line numbers would drift); no OHLCV export writes them.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from io import BytesIO, StringIO
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from stom_desktop.adapters._csv_layout import (
    _DIGITS_RE,
    _EPOCH_TEXT_RE,
    _GROUPED,
    _PRICES,
    _TIME_OF_DAY_RE,
    _detect,
    _Dialect,
    _iter_lines,
    _Layout,
    _load,
    _Source,
)
from stom_desktop.core.bars import BarSeries, format_ts
from stom_desktop.core.enums import timeframe_seconds
from stom_desktop.core.errors import ConfigurationError, DataError

__all__ = ["CsvImport", "read_bars_csv", "read_bars_csv_with_report"]

_DAY_FIRST_RE = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2\d{4}")
_EPOCH_UNITS = ((1e11, "s", 1), (1e14, "ms", 1), (1e17, "µs", 1000))  # (below, unit, per ms)
_FIELDS_ERROR_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_DIGIT_DATE_FORMATS = {8: "%Y%m%d", 12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}


@dataclass(frozen=True, slots=True)
class CsvImport:
    """A CSV file read into bars, with what was detected and any warnings for the user."""

    bars: BarSeries
    warnings: tuple[str, ...]
    encoding: str
    delimiter: str
    decimal: str
    header_line: int | None  # None: the file has no header row
    first_data_line: int
    columns: dict[str, str]  # role (time, date, time_of_day, open, ..., volume) -> file column
    time_format: str  # e.g. "epoch ms", "ISO8601", "%Y.%m.%d + time of day"
    reversed: bool  # True when a newest-first file was flipped


def read_bars_csv(
    path: Path | str, symbol: str, timeframe: str, *, tz: str | None = None
) -> BarSeries:
    """Read an OHLCV CSV file into a validated :class:`BarSeries` (oldest first, UTC ms).

    ``tz`` is the time zone of naive date/time text (default UTC), e.g. ``"Asia/Seoul"`` for a
    Kiwoom export; it is ignored for epoch numbers and for text carrying an offset. Raises
    :class:`DataError` naming the file and line. Use :func:`read_bars_csv_with_report` to get
    the warnings (e.g. "no volume column") and what was detected.
    """
    return read_bars_csv_with_report(path, symbol, timeframe, tz=tz).bars


def read_bars_csv_with_report(
    path: Path | str, symbol: str, timeframe: str, *, tz: str | None = None
) -> CsvImport:
    """Like :func:`read_bars_csv`, but also return warnings and the detected layout."""
    path = Path(path)
    src = str(path)
    if not symbol.strip():
        raise ConfigurationError("symbol must not be empty", key="symbol")
    tf_ms = timeframe_seconds(timeframe) * 1000
    zone = _zone(tz)
    source = _load(path, src)
    dialect = _detect(source.head, src)
    try:
        frame = _read_frame(source, dialect, src)
    except UnicodeDecodeError:
        source.to_cp949()  # valid UTF-8 at the top, Korean CP949 text further down
        dialect = _detect(source.head, src)
        frame = _read_frame(source, dialect, src)
    lines = _LineMap(source, dialect, src)
    notes: list[str] = []
    n = len(frame)
    if n == 0:
        raise DataError("no data rows after the header", source=src, line=dialect.header_line)
    layout = dialect.layout
    ts, time_format = _parse_times(frame, dialect, zone, lines)
    values: dict[str, npt.NDArray[np.float64]] = {}
    for role in _PRICES:
        values[role] = _to_float(frame[layout.cols[role]], layout.label(role), dialect, lines)
    volume = _volume(frame, dialect, lines, notes, n)
    _check_values(values, volume, dialect.layout, lines)
    ts, values, volume, flipped = _check_order(ts, values, volume, lines)
    if flipped:
        notes.append("the file is newest first: its rows were reversed (not sorted)")
    if n > 1:
        short = int(np.count_nonzero(np.diff(ts) < tf_ms))
        if short:
            notes.append(
                f"{short} of {n - 1} bar intervals are shorter than the timeframe "
                f"{timeframe!r}: is the timeframe right?"
            )
    bars = BarSeries(
        symbol=symbol,
        timeframe=timeframe,
        ts=ts,
        open=values["open"],
        high=values["high"],
        low=values["low"],
        close=values["close"],
        volume=volume,
    )
    return CsvImport(
        bars=bars,
        warnings=tuple(notes),
        encoding=source.encoding,
        delimiter=dialect.sep,
        decimal=dialect.decimal,
        header_line=dialect.header_line,
        first_data_line=dialect.data_line,
        columns=layout.describe(),
        time_format=time_format,
        reversed=flipped,
    )


# --------------------------------------------------------------------------- file and text


def _zone(tz: str | None) -> ZoneInfo | None:
    """The zone for naive times; None means UTC (no conversion needed)."""
    if tz is None or tz.upper() in {"UTC", "Z", "ETC/UTC"}:
        return None
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(
            f"unknown time zone {tz!r}", key="tz", hint="use an IANA name like Asia/Seoul"
        ) from exc


# --------------------------------------------------------------------------- reading


class _LineMap:
    """Maps a data row (0-based, file order) to its 1-based line in the file, lazily.

    pandas skips lines made only of spaces/tabs (a tab counts as content when it is the
    delimiter); this mirrors that rule, so blank lines and a preamble are counted right.
    """

    def __init__(self, source: _Source, dialect: _Dialect, src: str) -> None:
        self.source = source
        self.dialect = dialect
        self.src = src
        self._blank = " \t".replace(dialect.sep, "")

    def line(self, row: int) -> int:
        """File line of data row ``row``."""
        seen = -1
        line_no = self.dialect.data_line
        for _end, _start, content in _iter_lines(self.source.text(), self.dialect.data_offset):
            if content.strip(self._blank):
                seen += 1
                if seen == row:
                    return line_no
            line_no += 1
        return line_no

    def error(self, message: str, row: int, hint: str | None = None) -> DataError:
        """A DataError at data row ``row``."""
        return DataError(message, source=self.src, line=self.line(row), hint=hint)


def _read_frame(source: _Source, dialect: _Dialect, src: str) -> pd.DataFrame:
    """The data rows, via pandas' C parser (columns keyed by their 0-based position)."""
    layout = dialect.layout
    # Time columns stay text (object: much faster than pandas' str dtype) unless they look
    # like epoch numbers: "0901" must not become 901, nor "02.01.2024" a number with '.'
    # thousands. Epoch and digit-date columns are parsed faster by pandas as int64.
    dtype: dict[int, type] = {}
    if dialect.time_is_text or layout.time_of_day is not None or dialect.thousands is not None:
        dtype[layout.time] = object
    if layout.time_of_day is not None:
        dtype[layout.time_of_day] = object
    utf8 = source.encoding.startswith("utf-8")
    if utf8:
        # Hand pandas the bytes: faster than decoding here and re-encoding in pandas.
        start = source.skip + len(source.head[: dialect.data_offset].encode("utf-8"))
        data: BytesIO | StringIO = BytesIO(source.raw[start:])
    else:
        data = StringIO(source.text()[dialect.data_offset :])
    try:
        # All columns, not ``usecols``: pandas then refuses a row with more fields than the
        # first one (e.g. unquoted "1,234" shifting every later column) - and it is faster.
        # low_memory (chunked type inference) is faster too; a column with a stray text cell
        # then comes back as object and _to_float() reports the cell.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.DtypeWarning)
            frame = pd.read_csv(
                data,
                sep=dialect.sep,
                header=None,
                dtype=dtype or None,
                decimal=dialect.decimal,
                thousands=dialect.thousands,
                skipinitialspace=dialect.padded,
                skip_blank_lines=True,
                encoding="utf-8" if utf8 else None,
            )
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=layout.used())
    except UnicodeDecodeError:
        raise  # the caller retries as CP949
    except (pd.errors.ParserError, ValueError) as exc:
        found = _FIELDS_ERROR_RE.search(str(exc))
        if found is None:
            raise DataError(f"malformed CSV: {exc}", source=src) from exc
        expected, line, saw = (int(g) for g in found.groups())
        raise DataError(
            f"malformed CSV row: {saw} fields where the first data row has {expected}",
            source=src,
            line=dialect.data_line + line - 1,
            hint="an unquoted thousands separator or a stray delimiter?",
        ) from exc
    short = [i for i in layout.used() if i not in frame.columns]
    if short:
        raise DataError(
            f"the first data row has {len(frame.columns)} fields but column "
            f"{layout.names[short[0]]!r} is number {short[0] + 1}",
            source=src,
            line=dialect.data_line,
        )
    return frame


# --------------------------------------------------------------------------- time


def _parse_times(
    frame: pd.DataFrame, dialect: _Dialect, zone: ZoneInfo | None, lines: _LineMap
) -> tuple[npt.NDArray[np.int64], str]:
    """Bar open times as int64 ms UTC, and a description of the format found."""
    layout = dialect.layout
    column = frame[layout.time]
    label = layout.label("time")
    missing = np.flatnonzero(column.isna().to_numpy())
    if missing.size:
        raise lines.error(f"empty date/time cell in column {label}", int(missing[0]))
    if layout.time_of_day is not None:
        ms, fmt, aware = _text_times(column, label, lines)
        ms = ms + _time_of_day_ms(frame[layout.time_of_day], layout, lines)
        fmt += " + time of day"
    elif pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
        column.dtype
    ):
        ms, fmt, aware = _numeric_times(column.to_numpy(), label, lines)
    elif _EPOCH_TEXT_RE.fullmatch(str(column.iloc[0]).strip()):
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        bad = np.flatnonzero(np.isnan(numbers))
        if bad.size:
            row = int(bad[0])
            raise lines.error(f"unparsable date/time {column.iloc[row]!r} in column {label}", row)
        ms, fmt, aware = _numeric_times(numbers, label, lines)
    else:
        ms, fmt, aware = _text_times(column, label, lines)
    if not aware and zone is not None:
        ms = _localize(ms, zone, label, lines)
    return ms, fmt


def _numeric_times(
    values: npt.NDArray[np.generic], label: str, lines: _LineMap
) -> tuple[npt.NDArray[np.int64], str, bool]:
    """Epoch numbers (unit by magnitude) or digit dates like 20240102 / 20240102090100."""
    if values.dtype.kind == "f" and np.all(values == np.floor(values)):
        values = values.astype(np.int64)
    if values.dtype.kind in "iu":
        digits = len(str(abs(int(values[0]))))
        fmt = _DIGIT_DATE_FORMATS.get(digits)
        if fmt is not None and not pd.isna(
            pd.to_datetime(str(int(values[0])), format=fmt, errors="coerce")
        ):
            return _digit_times(values.astype(np.int64), digits, label, lines), fmt, False
    floats = values.astype(np.float64)
    biggest = float(np.max(np.abs(floats)))
    if biggest < 1e8:
        raise lines.error(
            f"numeric time {values[0].item()!r} in column {label} is not a Unix timestamp "
            f"(it would be in 1970)",
            0,
            hint="an Excel serial date? save the dates as text (yyyy-mm-dd)",
        )
    # Unit by magnitude: 1e11 s is the year 5138, 1e11 ms is 1973, and so on.
    unit, per_ms = next(
        ((u, d) for limit, u, d in _EPOCH_UNITS if biggest < limit), ("ns", 1_000_000)
    )
    if values.dtype.kind in "iu":
        ints = values.astype(np.int64)
        ms = ints * 1000 if unit == "s" else ints // per_ms
    else:
        # Fractional epochs (e.g. 1704153600.5): 1e-6 ms absorbs float noise, not data.
        factor = 1000.0 if unit == "s" else 1.0 / per_ms
        ms = np.floor(floats * factor + 1e-6).astype(np.int64)
    return ms, f"epoch {unit}", True


def _digit_times(
    ints: npt.NDArray[np.int64], digits: int, label: str, lines: _LineMap
) -> npt.NDArray[np.int64]:
    """YYYYMMDD[HHMM[SS]] integers -> wall-clock ms, by integer arithmetic (no strings)."""
    date, rest = np.divmod(ints, 10 ** (digits - 8))
    zeros = np.zeros_like(rest)
    # 8 digits: date only; 12: + HHMM; 14: + HHMMSS.
    hour = {8: zeros, 12: rest // 100, 14: rest // 10000}[digits]
    minute = {8: zeros, 12: rest % 100, 14: rest // 100 % 100}[digits]
    second = rest % 100 if digits == 14 else zeros
    fields = {"year": date // 10000, "month": date // 100 % 100, "day": date % 100}
    parts = pd.DataFrame({**fields, "hour": hour, "minute": minute, "second": second})
    parsed = pd.to_datetime(parts, errors="coerce")
    # to_datetime rolls 25:00 over to the next day: range-check the clock fields ourselves.
    bad = parsed.isna().to_numpy() | (hour > 23) | (minute > 59) | (second > 59)
    bad |= (ints < 10 ** (digits - 1)) | (ints >= 10**digits)
    row = _first(bad)
    if row is not None:
        raise lines.error(f"unparsable date/time '{ints[row]}' in column {label}", row)
    out: npt.NDArray[np.int64] = parsed.to_numpy().astype("datetime64[ms]").view(np.int64)
    return out


def _text_times(
    text: pd.Series, label: str, lines: _LineMap
) -> tuple[npt.NDArray[np.int64], str, bool]:
    """Date/time text in one consistent format -> ms (UTC if aware, else wall clock)."""
    first = str(text.iloc[0]).strip()
    fmt = _guess_format(first, text)
    if fmt is None:
        raise lines.error(f"unparsable date/time {first!r} in column {label}", 0)
    aware = "%z" in fmt or "%Z" in fmt
    pandas_fmt = "ISO8601" if fmt.startswith("%Y-%m-%d") else fmt
    parsed = pd.to_datetime(text, format=pandas_fmt, errors="coerce", utc=aware)
    if parsed.isna().any():
        # Stripping 1M strings costs more than parsing them: only when something failed.
        text = text.astype(str).str.strip()
        parsed = pd.to_datetime(text, format=pandas_fmt, errors="coerce", utc=aware)
    row = _first(parsed.isna().to_numpy())
    if row is not None:
        raise lines.error(
            f"unparsable date/time {str(text.iloc[row]).strip()!r} in column {label} "
            f"(expected the format of the first row, {first!r}: {fmt})",
            row,
        )
    index = pd.DatetimeIndex(parsed)
    if aware:
        index = index.tz_convert("UTC").tz_localize(None)
    ms: npt.NDArray[np.int64] = index.to_numpy().astype("datetime64[ms]").view(np.int64)
    return ms, pandas_fmt, aware


def _guess_format(first: str, text: pd.Series) -> str | None:
    """strptime format of the column, judged from its first value (day/month order checked)."""
    digits = _DIGITS_RE.fullmatch(first)
    if digits is not None:
        return _DIGIT_DATE_FORMATS.get(len(first))
    match = _DAY_FIRST_RE.match(first)
    if match is None:
        return guess_datetime_format(first)
    if match.group(2) == ".":
        day_first = True  # dd.mm.yyyy: the German/European style
    else:
        # a/b/yyyy: US month-first unless some first number is above 12 (then it is the day).
        firsts = pd.to_numeric(text.str.extract(r"^\s*(\d{1,2})", expand=False), errors="coerce")
        day_first = bool((firsts > 12).any())
    return guess_datetime_format(first, dayfirst=day_first)


def _time_of_day_ms(column: pd.Series, layout: _Layout, lines: _LineMap) -> npt.NDArray[np.int64]:
    """A time-of-day column (``0901``, ``090100``, ``9:01``, ``09:01:00.5``) as ms after 0:00."""
    label = layout.label("time_of_day")
    codes, uniques = pd.factorize(column)  # few distinct times: parse each once
    if (codes < 0).any():
        raise lines.error(f"empty time cell in column {label}", int(np.argmax(codes < 0)))
    offsets = np.empty(len(uniques), dtype=np.int64)
    for i, value in enumerate(uniques):
        parsed = _one_time_of_day(str(value).strip())
        if parsed is None:
            row = int(np.argmax(codes == i))
            raise lines.error(f"unparsable time of day {str(value)!r} in column {label}", row)
        offsets[i] = parsed
    return offsets[codes]


def _one_time_of_day(text: str) -> int | None:
    match = _TIME_OF_DAY_RE.fullmatch(text)
    if match is not None:
        hh, mm = int(match.group(1)), int(match.group(2))
        ss = int(match.group(3) or 0)
        frac = int((match.group(4) or "0").ljust(6, "0")) // 1000
    elif _DIGITS_RE.fullmatch(text) and 3 <= len(text) <= 6:
        padded = text.zfill(4 if len(text) <= 4 else 6)  # "901" was "0901" before Excel
        hh, mm = int(padded[:2]), int(padded[2:4])
        ss, frac = int(padded[4:6] or 0), 0
    else:
        return None
    if hh > 23 or mm > 59 or ss > 59:
        return None
    return ((hh * 60 + mm) * 60 + ss) * 1000 + frac


def _localize(
    ms: npt.NDArray[np.int64], zone: ZoneInfo, label: str, lines: _LineMap
) -> npt.NDArray[np.int64]:
    """Wall-clock ms in ``zone`` -> UTC ms; DST gaps and ambiguous hours are errors."""
    index = pd.DatetimeIndex(ms.astype("datetime64[ms]"))
    try:
        local = index.tz_localize(zone, ambiguous="infer", nonexistent="raise")
    except (ValueError, TypeError) as exc:
        # Find the row: localise again marking the bad wall-clock times as NaT.
        marked = index.tz_localize(zone, ambiguous="NaT", nonexistent="NaT")
        bad = np.flatnonzero(marked.isna())
        row = int(bad[0]) if bad.size else 0
        raise lines.error(
            f"time {format_ts(int(ms[row]))[:19]} in column {label} does not exist or is "
            f"ambiguous in {zone.key} (daylight-saving change): {exc}",
            row,
            hint="export the file in UTC or with a UTC offset",
        ) from exc
    out: npt.NDArray[np.int64] = (
        local.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[ms]").view(np.int64)
    )
    return out


# --------------------------------------------------------------------------- values


def _to_float(
    column: pd.Series, label: str, dialect: _Dialect, lines: _LineMap
) -> npt.NDArray[np.float64]:
    """A price/volume column as float64; a non-numeric cell is an error quoting it."""
    if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype):
        # A copy: pandas hands out read-only views (copy-on-write); BarSeries owns its arrays.
        return np.array(column.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
    # Slow path: pandas left text - a stray cell, or thousands separators it was not told of
    # (they first appear after the sampled rows). Plain numbers convert in C; only the cells
    # that fail go through Python, where a separator counts only between groups of three.
    # (With a decimal comma every text cell goes through Python: to_numeric would accept
    # "1.5", which in such a file is a malformed thousands group, not one and a half.)
    if dialect.decimal == ".":
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    else:
        numbers = np.full(len(column), np.nan)
    failed = np.flatnonzero(np.isnan(numbers) & column.notna().to_numpy())
    if failed.size:
        numbers = np.array(numbers, dtype=np.float64)  # writeable
        cells = column.to_numpy(dtype=object)
        for i in failed:
            numbers[i] = _parse_number(str(cells[i]), dialect.decimal)
        row = _first(np.isnan(numbers[failed]))
        if row is not None:
            bad_row = int(failed[row])
            raise lines.error(
                f"non-numeric value {str(cells[bad_row])!r} in column {label}", bad_row
            )
    return numbers


def _parse_number(text: str, decimal: str) -> float:
    """One cell with optional thousands separators (``1,234.5`` / ``1.234,5`` / ``1 234,5``)."""
    text = text.strip().replace("\u00a0", "").replace(" ", "")
    mark = "," if decimal == "." else "."
    if mark in text:
        if _GROUPED[decimal].fullmatch(text) is None:
            return math.nan
        text = text.replace(mark, "")
    try:
        return float(text.replace(decimal, "."))
    except ValueError:
        return math.nan


def _volume(
    frame: pd.DataFrame, dialect: _Dialect, lines: _LineMap, notes: list[str], n: int
) -> npt.NDArray[np.float64]:
    layout = dialect.layout
    if layout.volume is None and layout.tick_volume is None:
        notes.append("no volume column: volume set to 0")
        return np.zeros(n, dtype=np.float64)
    volume = None
    if layout.volume is not None:
        volume = _to_float(frame[layout.volume], layout.label("volume"), dialect, lines)
    if layout.tick_volume is not None and (volume is None or not np.any(volume)):
        if volume is not None:
            notes.append(
                f"volume column {layout.label('volume')} is all zero: using tick volume "
                f"{layout.names[layout.tick_volume]!r}"
            )
        layout.volume = layout.tick_volume
        volume = _to_float(frame[layout.volume], layout.label("volume"), dialect, lines)
    assert volume is not None
    return volume


def _first(mask: npt.NDArray[np.bool_]) -> int | None:
    if not mask.any():
        return None
    return int(np.argmax(mask))


def _check_values(
    values: dict[str, npt.NDArray[np.float64]],
    volume: npt.NDArray[np.float64],
    layout: _Layout,
    lines: _LineMap,
) -> None:
    """Refuse empty/NaN, infinite, non-positive prices, negative volume and impossible bars."""
    columns = {**values, "volume": volume}
    for role, array in columns.items():
        label = layout.label(role)
        row = _first(np.isnan(array))
        if row is not None:
            raise lines.error(f"empty or NaN cell in column {label}", row)
        row = _first(np.isinf(array))
        if row is not None:
            raise lines.error(f"value {float(array[row])!r} in column {label} is not finite", row)
        if role == "volume":
            row = _first(array < 0)
            if row is not None:
                raise lines.error(f"negative volume {float(array[row])!r} in column {label}", row)
        else:
            row = _first(array <= 0)
            if row is not None:
                kind = "negative" if array[row] < 0 else "zero"
                raise lines.error(f"{kind} price {float(array[row])!r} in column {label}", row)
    high, low = values["high"], values["low"]
    row = _first(high < low)
    if row is not None:
        raise lines.error(f"high {float(high[row])!r} is below low {float(low[row])!r}", row)
    for role in ("open", "close"):
        array = values[role]
        row = _first((array > high) | (array < low))
        if row is not None:
            raise lines.error(
                f"{role} {float(array[row])!r} is outside the bar's low..high "
                f"({float(low[row])!r}..{float(high[row])!r})",
                row,
            )


def _check_order(
    ts: npt.NDArray[np.int64],
    values: dict[str, npt.NDArray[np.float64]],
    volume: npt.NDArray[np.float64],
    lines: _LineMap,
) -> tuple[
    npt.NDArray[np.int64], dict[str, npt.NDArray[np.float64]], npt.NDArray[np.float64], bool
]:
    """Require strictly increasing times; reverse a strictly descending (newest-first) file."""
    if len(ts) < 2:
        return ts, values, volume, False
    steps = np.diff(ts)
    descending = steps[0] < 0
    row = _first(steps >= 0) if descending else _first(steps <= 0)
    if row is None:
        if not descending:
            return ts, values, volume, False
        flipped = {k: np.ascontiguousarray(v[::-1]) for k, v in values.items()}
        return np.ascontiguousarray(ts[::-1]), flipped, np.ascontiguousarray(volume[::-1]), True
    here, before = int(ts[row + 1]), int(ts[row])
    previous = f"line {lines.line(row)}"
    if here == before:
        message = f"duplicate timestamp {format_ts(here)} (same as {previous})"
    elif descending:
        message = (
            f"timestamp {format_ts(here)} is later than {format_ts(before)} on {previous}: "
            "the file starts newest first but is not strictly descending"
        )
    else:
        message = (
            f"non-increasing timestamp {format_ts(here)} (after {format_ts(before)} on {previous})"
        )
    raise lines.error(message, row + 1, hint="one bar per timestamp, oldest first")
