"""Recorded quote/trade ticks: append in batches (one transaction each), load in order.

A recording is every row of ``recorded_ticks`` sharing a ``recording_id``, numbered by
``seq`` in arrival order. A quote row has ``bid`` and ``ask``; a trade row has neither,
its price in ``last`` and its size in ``volume``. Writes go straight to the driver
(``executemany`` on SQLite, ``COPY`` on PostgreSQL): Core inserts with one dict per row
cost several times more, and a recorder writes thousands of rows a second.
Quote sizes and the trade aggressor (``side``) are stored too, so a replay reproduces
the recorded events field for field.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
import sqlalchemy as sa

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence.db import Database, database_error
from stom_desktop.persistence.models import RecordedTick, table_of
from stom_desktop.persistence.repositories._common import check_text

_T = table_of(RecordedTick)
_COLUMNS = (
    "recording_id",
    "seq",
    "session_id",
    "symbol",
    "ts",
    "bid",
    "ask",
    "last",
    "volume",
    "bid_size",
    "ask_size",
    "side",
)
# Fixed statements over the fixed column list (never built per call).
_COLUMN_LIST = ", ".join(_COLUMNS)
_PG_COPY = "COPY recorded_ticks (" + _COLUMN_LIST + ") FROM STDIN"
_PLACEHOLDERS = ", ".join("?" * len(_COLUMNS))
_SQLITE_INSERT = "INSERT INTO recorded_ticks (" + _COLUMN_LIST + ") VALUES (" + _PLACEHOLDERS + ")"


@dataclass(frozen=True, slots=True)
class RecordedTicks:
    """A recording's rows as columns, in ``seq`` order; NaN / None where a value is missing."""

    seq: npt.NDArray[np.int64]
    symbol: list[str]
    ts: npt.NDArray[np.int64]
    bid: npt.NDArray[np.float64]
    ask: npt.NDArray[np.float64]
    last: npt.NDArray[np.float64]
    volume: npt.NDArray[np.float64]
    bid_size: npt.NDArray[np.float64]
    ask_size: npt.NDArray[np.float64]
    side: list[str | None]

    def __len__(self) -> int:
        return int(self.seq.shape[0])


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """Summary of one stored recording."""

    recording_id: str
    ticks: int
    symbols: int
    first_ts: int
    last_ts: int


def _num(value: float | None) -> float | None:
    # NaN becomes NULL on both back-ends (SQLite would store NULL, PostgreSQL 'NaN').
    return None if value is None or math.isnan(value) else float(value)


class RecordingRepository:
    """Write and read tick recordings (``recorded_ticks``)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def next_seq(self, recording_id: str) -> int:
        """The ``seq`` the next appended tick gets: 0 for a new recording."""
        query = sa.select(sa.func.max(_T.c.seq)).where(_T.c.recording_id == recording_id)
        with self._db.connect() as conn:
            top = conn.execute(query).scalar()
        return 0 if top is None else int(top) + 1

    def append(
        self,
        recording_id: str,
        first_seq: int,
        *,
        symbol: Sequence[str],
        ts: Sequence[int],
        bid: Sequence[float | None],
        ask: Sequence[float | None],
        last: Sequence[float | None],
        volume: Sequence[float | None],
        bid_size: Sequence[float | None] | None = None,
        ask_size: Sequence[float | None] | None = None,
        side: Sequence[str | None] | None = None,
        session_id: int | None = None,
    ) -> int:
        """Store ticks numbered ``first_seq, first_seq + 1, ...`` in one transaction.

        Columns are parallel sequences (``None``/NaN = missing). Returns the row count. A
        ``seq`` already stored raises ``PersistenceError`` and nothing is written.
        """
        check_text(recording_id, "recording id", 64)
        n = len(symbol)
        missing = [None] * n
        columns: list[Sequence[Any]] = [
            ts,
            bid,
            ask,
            last,
            volume,
            missing if bid_size is None else bid_size,
            missing if ask_size is None else ask_size,
            missing if side is None else side,
        ]
        if any(len(col) != n for col in columns):
            raise ValueError(f"recording {recording_id!r}: tick columns differ in length")
        if n == 0:
            return 0
        rows: list[tuple[Any, ...]] = []
        for i, (sym, t, b, a, px, vol, bsz, asz, sd) in enumerate(
            zip(symbol, *columns, strict=True)
        ):
            key = (recording_id, first_seq + i, session_id, sym, int(t))
            rows.append((*key, _num(b), _num(a), _num(px), _num(vol), _num(bsz), _num(asz), sd))
        try:
            with self._db.begin() as conn:
                raw = conn.connection.driver_connection
                if conn.dialect.name == "postgresql":
                    with raw.cursor() as cursor, cursor.copy(_PG_COPY) as copy:  # type: ignore[union-attr]
                        for row in rows:
                            copy.write_row(row)
                else:
                    cursor = raw.cursor()  # type: ignore[union-attr]
                    try:
                        cursor.executemany(_SQLITE_INSERT, rows)
                    finally:
                        cursor.close()
        except (sqlite3.Error, psycopg.Error) as exc:
            error = database_error(exc, self._db.display_url, "write")
            raise PersistenceError(
                f"recording {recording_id!r}: ticks seq {first_seq}..{first_seq + n - 1} "
                f"not written: {error.message}",
                hint="a seq that is already stored means two recorders share this id",
            ) from exc
        return n

    def load(
        self,
        recording_id: str,
        *,
        start_ms: int | None = None,
        end_ms: int | None = None,
        symbols: Sequence[str] | None = None,
    ) -> RecordedTicks:
        """Ticks of ``recording_id`` with ``start_ms <= ts < end_ms`` in ``seq`` order."""
        names = ("seq", "symbol", "ts", "bid", "ask", "last", "volume", "bid_size", "ask_size")
        cols = [_T.c[name] for name in (*names, "side")]
        query = sa.select(*cols).where(_T.c.recording_id == recording_id)
        if start_ms is not None:
            query = query.where(_T.c.ts >= start_ms)
        if end_ms is not None:
            query = query.where(_T.c.ts < end_ms)
        if symbols is not None:
            query = query.where(_T.c.symbol.in_(list(symbols)))
        with self._db.connect() as conn:
            rows = conn.execute(query.order_by(_T.c.seq)).all()
        n = len(rows)
        data: dict[str, list[Any]] = {c.name: [] for c in cols}
        if n:
            for col, values in zip(cols, zip(*rows, strict=True), strict=True):
                data[col.name] = list(values)
        return RecordedTicks(
            seq=np.array(data["seq"], dtype=np.int64),
            symbol=data["symbol"],
            ts=np.array(data["ts"], dtype=np.int64),
            bid=_floats(data["bid"]),
            ask=_floats(data["ask"]),
            last=_floats(data["last"]),
            volume=_floats(data["volume"]),
            bid_size=_floats(data["bid_size"]),
            ask_size=_floats(data["ask_size"]),
            side=list(data["side"]),
        )

    def list_recordings(self) -> list[RecordingInfo]:
        """Every recording with its tick count, symbol count and time range."""
        query = (
            sa.select(
                _T.c.recording_id,
                sa.func.count(),
                sa.func.count(sa.distinct(_T.c.symbol)),
                sa.func.min(_T.c.ts),
                sa.func.max(_T.c.ts),
            )
            .group_by(_T.c.recording_id)
            .order_by(_T.c.recording_id)
        )
        with self._db.connect() as conn:
            rows = conn.execute(query).all()
        return [RecordingInfo(r[0], int(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]

    def delete(self, recording_id: str) -> int:
        """Delete a recording; returns how many ticks were removed."""
        with self._db.begin() as conn:
            result = conn.execute(sa.delete(_T).where(_T.c.recording_id == recording_id))
            return int(result.rowcount)


def _floats(values: Sequence[float | None]) -> npt.NDArray[np.float64]:
    # None (NULL) becomes NaN.
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
