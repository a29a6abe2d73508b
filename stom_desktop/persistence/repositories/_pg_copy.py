"""PostgreSQL binary COPY of bar columns, built and parsed with numpy (no per-row Python).

The binary COPY format is a 19-byte header, then per row a big-endian int16 field count
and, per field, an int32 byte length and the value (int8 and float8 big-endian), then an
int16 -1 trailer. A numpy structured dtype with exactly that layout turns whole columns
into the wire format and back in one vectorised step; float8 travels as its IEEE bytes,
so values round-trip exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from psycopg import sql
from sqlalchemy.engine import Connection

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import PersistenceError

_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
_HEADER = _SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags, extension length
_TRAILER = b"\xff\xff"
_VALUES = ("ts", "open", "high", "low", "close", "volume")
_CHUNK_ROWS = 200_000  # rows per write() call, so a huge series is not copied twice at once


def _row_dtype(prefix: list[tuple[str, str]]) -> np.dtype[Any]:
    fields: list[tuple[str, str]] = [("n_fields", ">i2"), *prefix]
    for name in _VALUES:
        fields += [(f"len_{name}", ">i4"), (name, ">i8" if name == "ts" else ">f8")]
    return np.dtype(fields)


# Rows read back by copy_out: six 8-byte fields.
_OUT_ROW = _row_dtype([])


def copy_in(conn: Connection, series: BarSeries) -> None:
    """COPY the whole series into ``bars`` inside ``conn``'s open transaction."""
    symbol = series.symbol.encode("utf-8")
    timeframe = series.timeframe.encode("utf-8")
    dtype = _row_dtype(
        [
            ("len_symbol", ">i4"),
            ("symbol", f"S{len(symbol)}"),
            ("len_timeframe", ">i4"),
            ("timeframe", f"S{len(timeframe)}"),
        ]
    )
    rows = np.empty(len(series), dtype=dtype)
    rows["n_fields"] = 2 + len(_VALUES)
    rows["len_symbol"] = len(symbol)
    rows["symbol"] = symbol
    rows["len_timeframe"] = len(timeframe)
    rows["timeframe"] = timeframe
    for name in _VALUES:
        rows[f"len_{name}"] = 8
        rows[name] = getattr(series, name)
    raw = conn.connection.driver_connection
    statement = (
        "COPY bars (symbol, timeframe, ts, open, high, low, close, volume) "
        "FROM STDIN (FORMAT BINARY)"
    )
    with raw.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
        copy.write(_HEADER)
        for start in range(0, rows.shape[0], _CHUNK_ROWS):
            copy.write(rows[start : start + _CHUNK_ROWS].tobytes())
        copy.write(_TRAILER)


def copy_out(
    conn: Connection, symbol: str, timeframe: str, start_ms: int | None, end_ms: int | None
) -> tuple[np.ndarray, ...]:
    """The ts/OHLCV columns of one series with ``start_ms <= ts < end_ms``, oldest first."""
    # COPY takes no server-side parameters: values go in as safely quoted literals.
    conditions = [
        sql.SQL("symbol = {}").format(sql.Literal(symbol)),
        sql.SQL("timeframe = {}").format(sql.Literal(timeframe)),
    ]
    if start_ms is not None:
        conditions.append(sql.SQL("ts >= {}").format(sql.Literal(int(start_ms))))
    if end_ms is not None:
        conditions.append(sql.SQL("ts < {}").format(sql.Literal(int(end_ms))))
    query = sql.SQL(
        "COPY (SELECT ts, open, high, low, close, volume FROM bars WHERE {} ORDER BY ts) "
        "TO STDOUT (FORMAT BINARY)"
    ).format(sql.SQL(" AND ").join(conditions))
    raw = conn.connection.driver_connection
    chunks: list[bytes] = []
    with raw.cursor() as cursor, cursor.copy(query) as copy:  # type: ignore[union-attr]
        for chunk in copy:
            chunks.append(bytes(chunk))
    data = b"".join(chunks)
    if not data.startswith(_SIGNATURE) or not data.endswith(_TRAILER):
        raise PersistenceError("unexpected binary COPY stream from PostgreSQL (bars load)")
    extension = int.from_bytes(data[15:19], "big")
    body = memoryview(data)[19 + extension : -len(_TRAILER)]
    rows = np.frombuffer(body, dtype=_OUT_ROW)
    if rows.size and not (rows["n_fields"] == len(_VALUES)).all():
        raise PersistenceError("unexpected field count in binary COPY stream (bars load)")
    return tuple(rows[name].astype(np.int64 if name == "ts" else np.float64) for name in _VALUES)
