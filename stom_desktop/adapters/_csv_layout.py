"""CSV layout detection for the bar importer: encoding, delimiter, header, number style.

Private to :mod:`stom_desktop.adapters.csv_bars`; split out so the reader (parsing and
validating values) and the detection of how a file is laid out are each one concept.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stom_desktop.core.errors import DataError

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
_SEP_HINT_RE = re.compile(r"\s*\"?sep=(.)\"?\s*")


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
