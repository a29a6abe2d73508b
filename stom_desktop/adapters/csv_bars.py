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

import csv
import math
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from io import BytesIO, StringIO
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from stom_desktop.core.bars import BarSeries, format_ts
from stom_desktop.core.enums import timeframe_seconds
from stom_desktop.core.errors import ConfigurationError, DataError

__all__ = ["CsvImport", "read_bars_csv", "read_bars_csv_with_report"]

_HEAD_BYTES = 1 << 18  # bytes decoded up front to find the header (UTF-8 files)
_SCAN_LINES = 50  # non-blank lines searched for the header / first data row
_SAMPLE_ROWS = 50  # data rows sampled to decide the number style and the time layout
_DELIMITERS = ("\t", ";", ",", "|")  # order = preference when a header-less file is ambiguous
_PRICES = ("open", "high", "low", "close")

# Aliases are matched after _norm(): lower case, without spaces, _ - . < > ( ) [ ] / quotes.
_TIME_ALIASES = (
    "datetime", "timestamp", "opentime", "unix", "unixtime", "date", "time", "gmttime",
    "localtime", "일시", "일자", "날짜", "체결시간", "시간", "거래일", "dt", "ts", "t",
)  # fmt: skip
_DATE_ALIASES = ("date", "일자", "날짜", "거래일", "day")
_TIME_OF_DAY_ALIASES = ("time", "시간", "시각", "체결시간")
_PRICE_ALIASES: dict[str, tuple[str, ...]] = {
    "open": ("open", "o", "시가", "openprice", "시작가"),
    "high": ("high", "h", "고가", "highprice"),
    "low": ("low", "l", "저가", "lowprice"),
    "close": ("close", "c", "종가", "closeprice", "last", "lastprice", "현재가", "price"),
}
_VOLUME_ALIASES = ("volume", "vol", "v", "거래량", "realvolume", "basevolume")
_TICK_VOLUME_ALIASES = ("tickvol", "tickvolume", "ticks")

_LINE_RE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_NUMBERISH_RE = re.compile(r"[+-]?(?=[\d.,]*\d)[\d.,]+(?:[eE][+-]?\d+)?")
_DECIMAL_COMMA_RE = re.compile(r"[+-]?\d+,(?:\d{1,2}|\d{4,})|[+-]?\d{1,3}(?:\.\d{3})+,\d+")
_GROUPED = {  # decimal mark -> a number with thousands separators in groups of three
    ".": re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"),
    ",": re.compile(r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d*)?"),
}
_TIME_OF_DAY_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?")
_DIGITS_RE = re.compile(r"\d+")
_EPOCH_TEXT_RE = re.compile(r"[+-]?\d+(?:\.\d*)?")
_DAY_FIRST_RE = re.compile(r"(\d{1,2})([./-])(\d{1,2})\2\d{4}")
_EPOCH_UNITS = ((1e11, "s", 1), (1e14, "ms", 1), (1e17, "µs", 1000))  # (below, unit, per ms)
_FIELDS_ERROR_RE = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_SEP_HINT_RE = re.compile(r"\s*\"?sep=(.)\"?\s*")
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


class _Source:
    """The file's bytes and its text; the full text is decoded only when needed.

    For UTF-8 only ``head`` (the first whole lines, enough to find the header) is decoded up
    front: pandas decodes the rest itself, and the whole text is needed only to report the
    line of an error.
    """

    def __init__(self, raw: bytes, encoding: str, skip: int, src: str) -> None:
        self.raw, self.skip, self.src = raw, skip, src
        self._text: str | None = None
        self.encoding = encoding
        self.head = ""
        self._set_encoding(encoding)

    def _set_encoding(self, encoding: str) -> None:
        self.encoding, self._text = encoding, None
        if encoding.startswith("utf-8") and len(self.raw) > _HEAD_BYTES:
            cut = self.raw.rfind(b"\n", self.skip, self.skip + _HEAD_BYTES) + 1
            self.head = _decode(self.raw[self.skip : cut or len(self.raw)], "utf-8", self.src)
        else:
            self.head = self.text()

    def text(self) -> str:
        """The whole decoded text."""
        if self._text is None:
            codec = self.encoding.removesuffix("-sig")
            also = "UTF-8" if codec == "cp949" else None
            self._text = _decode(self.raw[self.skip :], codec, self.src, also=also)
        return self._text

    def to_cp949(self) -> None:
        """Switch to CP949: UTF-8 failed (Korean HTS exports are CP949, a superset of EUC-KR)."""
        self.skip = 0
        self._set_encoding("cp949")


def _load(path: Path, src: str) -> _Source:
    """Open the file and pick its encoding: UTF-8 (BOM optional), UTF-16 with BOM, or CP949."""
    if not path.exists():
        raise DataError("file not found", source=src)
    if not path.is_file():
        raise DataError("not a file (is it a folder?)", source=src)
    raw = path.read_bytes()
    if not raw or raw.isspace():
        raise DataError("the file is empty", source=src)
    if raw.startswith(b"PK\x03\x04"):
        raise DataError(
            "not a CSV file: this is a zip/Excel workbook", source=src, hint="save it as CSV"
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _Source(raw, "utf-16", 0, src)
    nul = raw.find(b"\x00", 0, _HEAD_BYTES)
    if nul >= 0:
        raise DataError(
            "not a CSV text file (binary content)", source=src, line=raw.count(b"\n", 0, nul) + 1
        )
    if raw.startswith(b"\xef\xbb\xbf"):
        return _Source(raw, "utf-8-sig", 3, src)
    try:
        return _Source(raw, "utf-8", 0, src)
    except DataError:
        return _Source(raw, "cp949", 0, src)


def _decode(raw: bytes, encoding: str, src: str, also: str | None = None) -> str:
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        tried = encoding.upper() if also is None else f"{also} or {encoding.upper()}"
        raise DataError(
            f"not a text file in {tried} (undecodable byte {raw[exc.start : exc.start + 1]!r})",
            source=src,
            line=raw.count(b"\n", 0, exc.start) + 1,
        ) from exc


def _iter_lines(text: str, start: int = 0) -> Iterator[tuple[int, int, str]]:
    """(end offset after the terminator, start offset, content) for each line from ``start``."""
    for match in _LINE_RE.finditer(text, start):
        yield match.end(), match.start(), match.group().rstrip("\r\n")


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-.<>()\[\]/\"'\ufeff]", "", name).lower()


def _split(line: str, sep: str) -> list[str]:
    return next(csv.reader([line], delimiter=sep, skipinitialspace=True), [])


# --------------------------------------------------------------------------- layout detection


@dataclass
class _Layout:
    """Which file column (0-based) holds each role, and the column names for messages."""

    names: list[str]
    cols: dict[str, int] = field(default_factory=dict)  # open, high, low, close
    time: int = 0  # full timestamp, or the date when ``time_of_day`` is set
    time_of_day: int | None = None
    volume: int | None = None
    tick_volume: int | None = None
    has_header: bool = True

    def _index(self, role: str) -> int | None:
        extra = {"time": self.time, "time_of_day": self.time_of_day, "volume": self.volume}
        return extra[role] if role in extra else self.cols.get(role)

    def name(self, role: str) -> str:
        """The column's header text, or ``column N`` in a header-less file."""
        index = self._index(role)
        if index is None:
            return role
        text = self.names[index].strip().lstrip("\ufeff") if self.has_header else ""
        return text or f"column {index + 1}"

    def label(self, role: str) -> str:
        """How messages name a role's column: ``'Close'`` or ``column 5 (close)``."""
        return repr(self.name(role)) if self.has_header else f"{self.name(role)} ({role})"

    def describe(self) -> dict[str, str]:
        """Role -> column name as shown in the import report."""
        split = self.time_of_day is not None
        out = {("date" if split else "time"): self.name("time")}
        if split:
            out["time_of_day"] = self.name("time_of_day")
        for role in (*_PRICES, "volume"):
            if self._index(role) is not None:
                out[role] = self.name(role)
        return out

    def used(self) -> list[int]:
        idx = {self.time, *self.cols.values()}
        for extra in (self.time_of_day, self.volume, self.tick_volume):
            if extra is not None:
                idx.add(extra)
        return sorted(idx)


@dataclass
class _Dialect:
    sep: str
    header_line: int | None
    data_offset: int  # character offset in the text where data rows start
    data_line: int  # 1-based file line of that offset
    layout: _Layout
    decimal: str = "."
    thousands: str | None = None
    padded: bool = False  # "a, b": spaces after the delimiter (pandas is faster without)
    time_is_text: bool = True


def _find(normed: list[str], aliases: tuple[str, ...]) -> int | None:
    for alias in aliases:
        if alias in normed:
            return normed.index(alias)
    return None


def _match_header(fields: list[str]) -> tuple[_Layout, list[str]]:
    """Map header names to roles; return the layout and the missing required roles."""
    normed = [_norm(f) for f in fields]
    layout = _Layout(names=fields)
    missing: list[str] = []
    for role in _PRICES:
        index = _find(normed, _PRICE_ALIASES[role])
        if index is None:
            missing.append(role)
        else:
            layout.cols[role] = index
    time = _find(normed, _TIME_ALIASES)
    if time is None and normed and normed[0] in {"", "index", "unnamed0"}:
        time = 0  # pandas to_csv() of an unnamed DatetimeIndex writes an empty first name
    if time is None:
        missing.insert(0, "time")
    else:
        layout.time = time
    date = _find(normed, _DATE_ALIASES)
    tod = _find(normed, _TIME_OF_DAY_ALIASES)
    if date is not None and tod is not None and date != tod:
        layout.time, layout.time_of_day = date, tod  # confirmed against the data later
    layout.volume = _find(normed, _VOLUME_ALIASES)
    if layout.volume is None:
        layout.volume = next(
            (i for i, n in enumerate(normed) if n.startswith("volume") and i not in layout.used()),
            None,
        )
    layout.tick_volume = _find(normed, _TICK_VOLUME_ALIASES)
    return layout, missing


def _numberish(text: str) -> bool:
    return _NUMBERISH_RE.fullmatch(text.strip()) is not None


def _looks_time_of_day(text: str) -> bool:
    text = text.strip()
    return _TIME_OF_DAY_RE.fullmatch(text) is not None or (
        _DIGITS_RE.fullmatch(text) is not None and 3 <= len(text) <= 6
    )


def _headerless_layout(fields: list[str]) -> _Layout | None:
    """Layout of a header-less data row, or None when the row does not look like bar data."""
    if len(fields) < 5 or not fields[0].strip()[:1].isdigit():
        return None
    names = [f"column {i + 1}" for i in range(len(fields))]
    split = len(fields) >= 6 and ":" in fields[1] and _looks_time_of_day(fields[1])
    first = 2 if split else 1
    if not all(_numberish(f) for f in fields[first : first + 4]):
        return None
    layout = _Layout(names=names, has_header=False)
    layout.cols = {role: first + i for i, role in enumerate(_PRICES)}
    layout.time_of_day = 1 if split else None
    if len(fields) > first + 4 and _numberish(fields[first + 4]):
        layout.volume = first + 4
    return layout


def _detect(text: str, src: str) -> _Dialect:
    """Find delimiter, header (or none), preamble, column layout and number style."""
    forced: str | None = None
    best: tuple[int, int, list[str], list[str]] | None = None  # score, line, fields, missing
    seen = 0
    for line_no, (end, start, content) in enumerate(_iter_lines(text), start=1):
        if not content.strip():
            continue
        seen += 1
        if seen > _SCAN_LINES:
            break
        hint_line = _SEP_HINT_RE.fullmatch(content) if seen == 1 else None
        if hint_line is not None:
            forced = hint_line.group(1)  # Excel's "sep=;" first line
            continue
        for sep in (forced,) if forced else _DELIMITERS:
            fields = _split(content, sep)
            if len(fields) < 2:
                continue
            layout, missing = _match_header(fields)
            if not missing:
                return _finish(text, _Dialect(sep, line_no, end, line_no + 1, layout))
            score = 5 - len(missing)
            if score >= 2 and (best is None or score > best[0]):
                best = (score, line_no, fields, missing)
        if best is None:
            for sep in (forced,) if forced else _DELIMITERS:
                layout_or_none = _headerless_layout(_split(content, sep))
                if layout_or_none is not None:
                    return _finish(text, _Dialect(sep, None, start, line_no, layout_or_none))
    if seen == 0:
        raise DataError("the file is empty (only blank lines)", source=src)
    if best is not None:
        _score, line_no, fields, missing = best
        looked = "; ".join(
            f"{role}: " + "/".join(_TIME_ALIASES if role == "time" else _PRICE_ALIASES[role])
            for role in missing
        )
        names = ", ".join(repr(f.strip()) for f in fields)
        raise DataError(
            f"missing required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)}; columns found: {names}",
            source=src,
            line=line_no,
            hint=f"accepted names (any case) — {looked}",
        )
    raise DataError(
        f"not a CSV file of bars: no header with time/open/high/low/close columns and no "
        f"numeric data rows in the first {_SCAN_LINES} non-blank lines",
        source=src,
    )


def _finish(text: str, dialect: _Dialect) -> _Dialect:
    """Sample the first data rows: confirm date + time-of-day columns, pick the number style."""
    rows: list[list[str]] = []
    for _end, _start, content in _iter_lines(text, dialect.data_offset):
        if content.strip():
            rows.append(_split(content, dialect.sep))
            dialect.padded = dialect.padded or f"{dialect.sep} " in content
            if len(rows) >= _SAMPLE_ROWS:
                break
    layout = dialect.layout
    if layout.time_of_day is not None and rows:
        first = rows[0]
        tod_ok = layout.time_of_day < len(first) and _looks_time_of_day(first[layout.time_of_day])
        date_ok = layout.time < len(first) and not re.search(r"[\d]\s+\d|T\d", first[layout.time])
        if layout.has_header and not (tod_ok and date_ok):
            # e.g. a full datetime in 'date' plus an unrelated 'time': use one column.
            normed = [_norm(f) for f in layout.names]
            layout.time = _find(normed, _TIME_ALIASES) or 0
            layout.time_of_day = None
    if rows and layout.time < len(rows[0]):
        dialect.time_is_text = _EPOCH_TEXT_RE.fullmatch(rows[0][layout.time].strip()) is None
    samples = [
        row[i].strip()
        for row in rows
        for i in (*layout.cols.values(), layout.volume)
        if i is not None and i < len(row)
    ]
    if dialect.sep != "," and any(_DECIMAL_COMMA_RE.fullmatch(s) for s in samples):
        dialect.decimal = ","
    # Tell pandas the thousands mark (C speed) only when the sample uses it in proper groups
    # of three and never otherwise: pandas drops the mark anywhere ("1,5" would read as 15).
    # Cells further down that pandas cannot parse go through _to_float's checked slow path.
    mark = "," if dialect.decimal == "." else "."
    with_mark = [s for s in samples if mark in s]
    if with_mark and all(_GROUPED[dialect.decimal].fullmatch(s) for s in with_mark):
        dialect.thousands = mark
    return dialect


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
