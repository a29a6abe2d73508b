"""The order journal's hot path on a file SQLite database: raw DBAPI writes, one connection.

``record_intent`` and the journal writer's group commit run here instead of through a
SQLAlchemy Core execution per call (about 5x cheaper, NOTES.md): statements are compiled
once by SQLAlchemy with the columns' own bind processors, so the rows are identical to
the Core path's. Intents commit with ``synchronous=FULL``, batches with ``NORMAL``
(see ``orders``' module docstring for why), each on its own connection set once: no
``PRAGMA`` switch on the intent path. Both connections share the WAL file, so an intent's
fsync also makes the batches committed before it durable (fsync flushes the file, not a
descriptor), exactly as with one connection.

WAL checkpoints: SQLite's automatic checkpoint runs inside the COMMIT that pushes the WAL
past its limit. On the batch connection that COMMIT holds the repository's write lock, so
an intent would wait for the whole checkpoint: that connection's limit is raised to
10,000 pages (a bound only) and the journal writer thread calls
:meth:`FastSqliteJournal.checkpoint` when idle (PASSIVE, on a third connection, without
the write lock: it never blocks a writer and no writer waits for it). The intent
connection keeps SQLite's 1,000 pages: a checkpoint that runs concurrently with intents
cannot let the WAL restart (the next writer must begin after a complete checkpoint), and
a WAL that only grows makes every intent's fsync dearer (measured: p50 +150 us), so during
bursts of intents the intent connection still checkpoints inline (about one intent in
150). :meth:`FastSqliteJournal.close` checkpoints and truncates the WAL. Durability is
unchanged: a checkpoint only copies committed pages.

Group commits can be cut short: ``write_batch(ops, stop)`` commits after the first op
for which ``stop()`` is true (the writer passes "an intent is waiting"), so an intent
waits for one operation and a COMMIT, not for a batch of hundreds (measured: that wait,
up to ~7 ms, was most of the intent-commit p99).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence.column_types import to_money
from stom_desktop.persistence.db import Database
from stom_desktop.persistence.repositories._common import aware, check_text
from stom_desktop.persistence.repositories._orders_common import (
    EVENTS,
    FILLS,
    INITIAL_STATUS,
    ORDERS,
    JournalOp,
    average_price,
    check_fill,
)

log = logging.getLogger(__name__)

# PRAGMA values cannot be bound parameters: only these literal statements are ever run.
_SYNCHRONOUS_PRAGMAS = {
    "FULL": "PRAGMA synchronous = FULL",
    "NORMAL": "PRAGMA synchronous = NORMAL",
}
_BATCH_AUTOCHECKPOINT = "PRAGMA wal_autocheckpoint = 10000"  # a bound: see the module doc
_AUTOCHECKPOINT_DEFAULT = "PRAGMA wal_autocheckpoint = 1000"  # SQLite's default
_CHECKPOINT_PRAGMAS = {
    "PASSIVE": "PRAGMA wal_checkpoint(PASSIVE)",
    "TRUNCATE": "PRAGMA wal_checkpoint(TRUNCATE)",
}


class _Raw:
    """A statement compiled once by SQLAlchemy for SQLite, run on a DBAPI cursor.

    The parameters go through the columns' own bind processors (``Money`` as fixed-point
    text, ``UtcDateTime`` as naive UTC text), so a row is stored exactly as the Core path
    stores it.
    """

    __slots__ = ("binds", "sql")

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.binds = tuple(
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in compiled.positiontup or ()
        )

    def params(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """The positional parameters for ``values`` (bind name -> Python value)."""
        return tuple(
            values[name] if process is None else process(values[name])
            for name, process in self.binds
        )


def _set_synchronous(conn: Any, level: Literal["FULL", "NORMAL"]) -> None:
    """Set ``conn``'s sync level (outside a transaction; no I/O)."""
    _pragma(conn, _SYNCHRONOUS_PRAGMAS[level])


def _pragma(conn: Any, statement: str) -> tuple[Any, ...] | None:
    """Run one literal PRAGMA on ``conn``; its first row, if any."""
    cursor = conn.cursor()
    try:
        cursor.execute(statement)
        row = cursor.fetchone()
        return None if row is None else tuple(row)
    finally:
        cursor.close()


def _bind(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type)


class FastSqliteJournal:
    """Intent and batch writes on one dedicated SQLite DBAPI connection (see module doc).

    The connection comes from the engine's pool, so it carries the same pragmas (WAL,
    ``synchronous=FULL``, busy timeout, foreign keys) and autocommit mode: transactions
    are opened with ``BEGIN IMMEDIATE`` and ended with ``COMMIT`` explicitly. Callers hold
    the repository's write lock.
    """

    def __init__(self, db: Database) -> None:
        dialect = db.engine.dialect
        o, e, f = ORDERS.c, EVENTS.c, FILLS.c
        order_cols = [c for c in ORDERS.c if c.name != "id"]
        self._insert_order = _Raw(
            sa.insert(ORDERS).values({c.name: _bind(c.name, c) for c in order_cols}), dialect
        )
        self._insert_event = _Raw(
            sa.insert(EVENTS).values(
                order_id=_bind("order_id", e.order_id),
                from_status=_bind("from_status", e.from_status),
                to_status=_bind("to_status", e.to_status),
                at=_bind("at", e.at),
                detail=_bind("detail", e.detail),
            ),
            dialect,
        )
        self._insert_fill = _Raw(
            sa.insert(FILLS).values(
                order_id=_bind("order_id", f.order_id),
                client_order_id=_bind("cid", f.client_order_id),
                venue_fill_id=_bind("venue_fill_id", f.venue_fill_id),
                quantity=_bind("quantity", f.quantity),
                price=_bind("price", f.price),
                fee=_bind("fee", f.fee),
                fee_currency=_bind("fee_currency", f.fee_currency),
                ts=_bind("ts", f.ts),
            ),
            dialect,
        )
        self._update_status = _Raw(
            sa.update(ORDERS)
            .where(o.id == sa.bindparam("oid", type_=o.id.type))
            .values(
                status=_bind("b_status", o.status),
                updated_at=_bind("b_at", o.updated_at),
                venue_order_id=sa.func.coalesce(
                    _bind("b_venue", o.venue_order_id), o.venue_order_id
                ),
                reason=sa.func.coalesce(_bind("b_reason", o.reason), o.reason),
            ),
            dialect,
        )
        self._update_fill = _Raw(
            sa.update(ORDERS)
            .where(o.id == sa.bindparam("oid", type_=o.id.type))
            .values(
                filled_quantity=_bind("b_filled", o.filled_quantity),
                avg_fill_price=_bind("b_avg", o.avg_fill_price),
                updated_at=_bind("b_at", o.updated_at),
                status=sa.func.coalesce(_bind("b_status", o.status), o.status),
            ),
            dialect,
        )
        # Intents on one connection (FULL, what the pool's connect hook set), batches on
        # another (NORMAL): the level is set once per connection instead of per commit.
        self._db = db
        self._conn: Any = db.engine.raw_connection()
        self._batch_conn: Any = db.engine.raw_connection()
        _set_synchronous(self._conn, "FULL")
        _set_synchronous(self._batch_conn, "NORMAL")
        # the intent connection keeps SQLite's default (see the module docstring)
        _pragma(self._batch_conn, _BATCH_AUTOCHECKPOINT)
        # Checkpoints: own connection (opened on first use) and own lock, never the
        # repository's write lock. Lock order where both are taken: write lock first.
        self._ckpt_lock = threading.Lock()
        self._ckpt_conn: Any = None
        self._closed = False
        #: Commits made on the two connections, and that count at the last checkpoint.
        self.commits = 0
        self.checkpointed_at = 0
        #: Checkpoints run (statistics and tests).
        self.checkpoints = 0

    def close(self) -> None:
        """Checkpoint and truncate the WAL, then give the connections back to the pool
        (at ``FULL`` and the default auto-checkpoint, as the pool made them)."""
        try:
            self.checkpoint(truncate=True)
        except sqlite3.Error as exc:  # the WAL stays; the next checkpoint takes it
            log.warning("order journal: final WAL checkpoint failed: %s", exc)
        with self._ckpt_lock:
            self._closed = True
            conns = [self._conn, self._batch_conn]
            if self._ckpt_conn is not None:
                conns.append(self._ckpt_conn)
            self._ckpt_conn = None
            try:
                _set_synchronous(self._batch_conn, "FULL")
                _pragma(self._batch_conn, _AUTOCHECKPOINT_DEFAULT)
            finally:
                for conn in conns:
                    conn.close()

    @property
    def uncheckpointed(self) -> int:
        """Commits since the last checkpoint."""
        return self.commits - self.checkpointed_at

    def checkpoint(self, *, truncate: bool = False) -> tuple[int, int, int]:
        """Copy the WAL into the database: ``(busy, wal_frames, frames_checkpointed)``.

        PASSIVE (default) never waits for and never blocks a writer: it copies what no
        reader still needs. ``truncate=True`` also empties the WAL file (it waits for
        writers through the busy timeout; used on close). Runs without the write lock.
        """
        mode = "TRUNCATE" if truncate else "PASSIVE"
        with self._ckpt_lock:
            if self._closed:  # closed meanwhile (the writer thread races close())
                return 0, 0, 0
            if self._ckpt_conn is None:
                self._ckpt_conn = self._db.engine.raw_connection()
            seen = self.commits
            row = _pragma(self._ckpt_conn, _CHECKPOINT_PRAGMAS[mode])
            self.checkpointed_at = seen
            self.checkpoints += 1
        busy, frames, done = row if row is not None else (0, 0, 0)
        return int(busy), int(frames), int(done)

    def _committed(self) -> None:
        self.commits += 1  # under the write lock: one writer at a time, no lost update

    @staticmethod
    def _begin(conn: Any) -> Any:
        cursor = conn.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor

    def _finish(self, cursor: Any, ok: bool) -> None:
        try:
            cursor.execute("COMMIT" if ok else "ROLLBACK")
        finally:
            cursor.close()

    def record_intent(self, row: dict[str, Any], detail: str | None) -> int:
        """Insert the order and its creation event; one committed transaction."""
        values = dict(row, venue_order_id=None, reason=None)
        cursor = None
        try:
            cursor = self._begin(self._conn)  # FULL: the intent must survive a power loss too
            cursor.execute(self._insert_order.sql, self._insert_order.params(values))
            order_id = int(cursor.lastrowid)
            cursor.execute(
                self._insert_event.sql,
                self._insert_event.params(
                    {
                        "order_id": order_id,
                        "from_status": None,
                        "to_status": INITIAL_STATUS,
                        "at": row["created_at"],
                        "detail": detail,
                    }
                ),
            )
            self._finish(cursor, True)
            self._committed()
            return order_id
        except sqlite3.Error as exc:
            if cursor is not None:
                self._rollback(cursor)
            cid = row["client_order_id"]
            raise PersistenceError(f"order {cid}: recording the intent failed: {exc}") from exc

    def _rollback(self, cursor: Any) -> None:
        # no transaction left to roll back means nothing was written
        with contextlib.suppress(sqlite3.Error):
            self._finish(cursor, False)

    def write_batch(self, ops: Sequence[JournalOp], stop: Callable[[], bool] | None = None) -> int:
        """Ops in one transaction; rolled back and raised as ``PersistenceError`` on error.

        ``stop`` is asked after each op: when it answers True (an intent waits for the
        write lock) the ops so far are committed and the rest left to the caller. Returns
        how many ops were committed (all of them without ``stop``).
        """
        try:
            cursor = self._begin(self._batch_conn)  # NORMAL: see the module docstring
        except sqlite3.Error as exc:
            raise PersistenceError(f"journal group commit could not start: {exc}") from exc
        cid, method = "?", "?"
        count = 0
        try:
            for method, cid, kwargs in ops:
                if method == "transition":
                    self._transition(cursor, cid, **kwargs)
                elif method == "add_fill":
                    self._add_fill(cursor, cid, **kwargs)
                else:
                    raise ValueError(f"order {cid}: unknown journal operation {method!r}")
                count += 1
                if stop is not None and stop():
                    break
        except (sqlite3.Error, PersistenceError, ValueError, TypeError) as exc:
            self._rollback(cursor)
            if isinstance(exc, PersistenceError):
                raise
            raise PersistenceError(f"order {cid}: journal {method} failed: {exc}") from exc
        except BaseException:
            self._rollback(cursor)
            raise
        try:
            self._finish(cursor, True)
        except sqlite3.Error as exc:
            raise PersistenceError(f"journal group commit of {count} writes failed: {exc}") from exc
        self._committed()
        return count

    def _order(self, cursor: Any, cid: str) -> tuple[int, str, Decimal, Decimal | None]:
        cursor.execute(
            "SELECT id, status, filled_quantity, avg_fill_price FROM orders "
            "WHERE client_order_id = ?",
            (cid,),
        )
        row = cursor.fetchone()
        if row is None:
            raise PersistenceError(
                f"order {cid}: not recorded",
                hint="record_intent() must store an order before it changes",
            )
        avg = None if row[3] is None else to_money(row[3])
        return int(row[0]), str(row[1]), to_money(row[2]), avg

    def _event(
        self, cursor: Any, order_id: int, old: str, new: str, at: datetime, detail: str | None
    ) -> None:
        values = {"order_id": order_id, "from_status": old, "to_status": new, "at": at}
        values["detail"] = detail
        cursor.execute(self._insert_event.sql, self._insert_event.params(values))

    def _transition(
        self,
        cursor: Any,
        cid: str,
        *,
        to_status: str,
        at: datetime | None = None,
        detail: str | None = None,
        venue_order_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        check_text(to_status, "order status", 24)
        moment = aware(at, f"order {cid}")
        order_id, status, _, _ = self._order(cursor, cid)
        values = {
            "oid": order_id,
            "b_status": to_status,
            "b_at": moment,
            "b_venue": venue_order_id,
            "b_reason": reason,
        }
        cursor.execute(self._update_status.sql, self._update_status.params(values))
        self._event(cursor, order_id, status, to_status, moment, detail)

    def _add_fill(
        self,
        cursor: Any,
        cid: str,
        *,
        quantity: Decimal | int | str,
        price: Decimal | int | str,
        fee: Decimal | int | str = 0,
        fee_currency: str | None = None,
        venue_fill_id: str | None = None,
        ts: datetime | None = None,
        to_status: str | None = None,
        detail: str | None = None,
    ) -> None:
        amount, fill_price, fee_amount, moment = check_fill(cid, quantity, price, fee, ts)
        order_id, status, filled, avg = self._order(cursor, cid)
        if venue_fill_id is not None:
            cursor.execute(
                "SELECT 1 FROM fills WHERE order_id = ? AND venue_fill_id = ?",
                (order_id, venue_fill_id),
            )
            if cursor.fetchone() is not None:
                return  # already stored: the duplicate changes nothing
        fill = {
            "order_id": order_id,
            "cid": cid,
            "venue_fill_id": venue_fill_id,
            "quantity": amount,
            "price": fill_price,
            "fee": fee_amount,
            "fee_currency": fee_currency,
            "ts": moment,
        }
        cursor.execute(self._insert_fill.sql, self._insert_fill.params(fill))
        values = {
            "oid": order_id,
            "b_filled": to_money(filled + amount),
            "b_avg": average_price(avg, filled, fill_price, amount),
            "b_at": moment,
            "b_status": to_status,
        }
        cursor.execute(self._update_fill.sql, self._update_fill.params(values))
        if to_status is not None:
            self._event(cursor, order_id, status, to_status, moment, detail)
