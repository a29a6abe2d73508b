"""The order journal: intents recorded before sending, status changes and fills, atomically.

Each method is one transaction (SQLite: ``BEGIN IMMEDIATE`` and ``synchronous=FULL``, so
a committed intent survives a crash or power loss). The engine owns the order state
machine: this repository records the transitions it is told about without judging them.

Hot path: on a file SQLite database ``record_intent`` and :meth:`OrderRepository.write_batch`
run on one dedicated DBAPI connection with statements compiled once by SQLAlchemy (its own
bind processors, so the rows are identical to the Core path's) instead of building a Core
execution per call: an intent is two INSERTs and one fsync'ed COMMIT. ``write_batch`` is
the group commit of the engine's journal writer thread: many status changes and fills in
one transaction. Every write of one repository takes one lock, so the intent path and the
writer thread never wait on SQLite's busy handler (which sleeps in whole milliseconds).
Intents commit with ``synchronous=FULL`` (fsync: durable even on power loss); a batch
commits with ``synchronous=NORMAL`` (WAL: durable against a process crash at once, against
power loss at the next fsync, i.e. the next intent commit or checkpoint). What a power
loss could take is only state changes and fills, which recovery re-reads from the venue.
Other databases (PostgreSQL, in-memory SQLite) use the Core path for everything.
"""

from __future__ import annotations

import builtins
import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, localcontext
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence.column_types import to_money
from stom_desktop.persistence.db import Database
from stom_desktop.persistence.models import FillRow, OrderEvent, OrderRow, table_of
from stom_desktop.persistence.records import (
    FillOutcome,
    FillRecord,
    OrderEventRecord,
    OrderRecord,
)
from stom_desktop.persistence.repositories._common import aware, check_text

_ORDERS = table_of(OrderRow)
_EVENTS = table_of(OrderEvent)
_FILLS = table_of(FillRow)
# Built once: constructing a statement per call costs more than executing it.
_INSERT_ORDER = sa.insert(_ORDERS).returning(_ORDERS.c.id)
_INSERT_EVENT = sa.insert(_EVENTS)
# PRAGMA values cannot be bound parameters: only these literal statements are ever run.
_SYNCHRONOUS_PRAGMAS = {
    "FULL": "PRAGMA synchronous = FULL",
    "NORMAL": "PRAGMA synchronous = NORMAL",
}
INITIAL_STATUS = "new"
# Orders in these states need nothing more from the venue; every other order is
# "unfinished" and is reconciled with the broker at start-up. Same values as the
# terminal states of core.order_state.OrderStatus (kept literal so storage does not
# depend on the engine's state machine).
FINAL_ORDER_STATUSES = frozenset({"filled", "cancelled", "rejected", "expired"})
#: One queued journal write: ``(method, client_order_id, keyword arguments)`` where
#: method is ``"transition"`` or ``"add_fill"`` (the same arguments as those methods).
JournalOp = tuple[str, str, dict[str, Any]]


class OrderRepository:
    """Record order intents, status changes and fills; find orders to reconcile."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # One lock for every write of this repository (see the module docstring).
        self._write_lock = threading.Lock()
        self._fast: _FastSqlite | None = None
        self._fast_checked = False

    def _fast_path(self) -> _FastSqlite | None:
        """The raw SQLite writer (opened on first use), None on other databases."""
        if not self._fast_checked:
            self._fast_checked = True
            url = self._db.engine.url
            if self._db.dialect == "sqlite" and url.database not in (None, "", ":memory:"):
                self._fast = _FastSqlite(self._db)
        return self._fast

    def close(self) -> None:
        """Close the dedicated SQLite connection (the repository reopens it if used again)."""
        with self._write_lock:
            if self._fast is not None:
                self._fast.close()
            self._fast = None
            self._fast_checked = False

    def record_intent(
        self,
        client_order_id: str,
        symbol: str,
        side: str,
        order_type: str,
        quantity: Decimal | int | str,
        *,
        price: Decimal | int | str | None = None,
        stop_price: Decimal | int | str | None = None,
        time_in_force: str = "gtc",
        session_id: int | None = None,
        at: datetime | None = None,
        detail: str | None = None,
    ) -> OrderRecord:
        """Insert the order in status 'new' plus its creation event, before it is sent.

        A client order id already recorded raises ``PersistenceError`` naming it.
        """
        check_text(client_order_id, "client order id", 64)
        check_text(symbol, "symbol", 64)
        if side not in ("buy", "sell"):
            raise ValueError(f"order {client_order_id}: side must be 'buy' or 'sell', got {side!r}")
        amount = to_money(quantity)
        if amount <= 0:
            raise ValueError(f"order {client_order_id}: quantity must be positive, got {amount}")
        moment = aware(at, f"order {client_order_id}")
        limit = None if price is None else to_money(price)
        stop = None if stop_price is None else to_money(stop_price)
        row = {
            "client_order_id": client_order_id,
            "session_id": session_id,
            "symbol": symbol,
            "side": str(side),
            "order_type": order_type,
            "time_in_force": time_in_force,
            "quantity": amount,
            "price": limit,
            "stop_price": stop,
            "filled_quantity": Decimal(0),
            "avg_fill_price": None,
            "status": INITIAL_STATUS,
            "created_at": moment,
            "updated_at": moment,
        }
        # Two statements in one transaction: this commit sits on the order path (the intent
        # must be durable before the broker sees the order), so the unique constraint does
        # the duplicate check and the record is built from what was written, not re-read.
        try:
            with self._write_lock:
                fast = self._fast_path()
                if fast is not None:
                    order_id = fast.record_intent(row, detail)
                else:
                    with self._db.begin() as conn:
                        order_id = conn.execute(_INSERT_ORDER, row).scalar_one()
                        _add_event(conn, order_id, None, INITIAL_STATUS, moment, detail)
        except PersistenceError as exc:
            if not isinstance(exc.__cause__, sa.exc.IntegrityError | sqlite3.IntegrityError):
                raise
            if self.by_client_id(client_order_id) is None:
                raise
            raise PersistenceError(
                f"order {client_order_id}: this client order id is already recorded",
                hint="client order ids must be unique for the life of the database",
            ) from exc
        stamp = moment.astimezone(UTC)
        return OrderRecord(
            id=int(order_id),
            client_order_id=client_order_id,
            session_id=session_id,
            symbol=symbol,
            side=str(side),
            order_type=order_type,
            time_in_force=time_in_force,
            quantity=amount,
            price=limit,
            stop_price=stop,
            filled_quantity=Decimal(0),
            avg_fill_price=None,
            status=INITIAL_STATUS,
            venue_order_id=None,
            reason=None,
            created_at=stamp,
            updated_at=stamp,
        )

    def transition(
        self,
        client_order_id: str,
        to_status: str,
        *,
        at: datetime | None = None,
        detail: str | None = None,
        venue_order_id: str | None = None,
        reason: str | None = None,
    ) -> OrderRecord:
        """Set the order's status (and venue id / reason when given) and journal the change."""
        check_text(to_status, "order status", 24)
        moment = aware(at, f"order {client_order_id}")
        with self._write_lock, self._db.begin() as conn:
            _transition_in(conn, client_order_id, to_status, moment, detail, venue_order_id, reason)
            return _order(_select_order(conn, client_order_id))

    def write_batch(self, ops: Sequence[JournalOp]) -> None:
        """Apply queued ``transition``/``add_fill`` calls in ONE transaction (group commit).

        All or nothing: on any error the batch is rolled back and the error (naming the
        order and the operation) is raised; the caller decides whether to retry one by
        one. Fills already stored under the same venue fill id are skipped, as in
        :meth:`add_fill`.
        """
        if not ops:
            return
        with self._write_lock:
            fast = self._fast_path()
            if fast is not None:
                fast.write_batch(ops)
                return
            with self._db.begin() as conn:
                for method, cid, kwargs in ops:
                    if method == "transition":
                        _transition_in(
                            conn,
                            cid,
                            kwargs["to_status"],
                            aware(kwargs.get("at"), f"order {cid}"),
                            kwargs.get("detail"),
                            kwargs.get("venue_order_id"),
                            kwargs.get("reason"),
                        )
                    elif method == "add_fill":
                        _add_fill_in(conn, cid, **kwargs)
                    else:
                        raise ValueError(f"order {cid}: unknown journal operation {method!r}")

    def add_fill(
        self,
        client_order_id: str,
        quantity: Decimal | int | str,
        price: Decimal | int | str,
        *,
        fee: Decimal | int | str = 0,
        fee_currency: str | None = None,
        venue_fill_id: str | None = None,
        ts: datetime | None = None,
        to_status: str | None = None,
        detail: str | None = None,
    ) -> FillOutcome:
        """Store a fill and update the order's filled quantity and average price, atomically.

        ``to_status`` (e.g. 'partially_filled' or 'filled'), when given, is applied and
        journalled in the same transaction. A fill whose ``venue_fill_id`` is already stored
        for this order changes nothing and comes back with ``duplicate=True``.
        """
        with self._write_lock, self._db.begin() as conn:
            return _add_fill_in(
                conn,
                client_order_id,
                quantity=quantity,
                price=price,
                fee=fee,
                fee_currency=fee_currency,
                venue_fill_id=venue_fill_id,
                ts=ts,
                to_status=to_status,
                detail=detail,
            )

    def by_client_id(self, client_order_id: str) -> OrderRecord | None:
        """The order with this client order id, or None."""
        with self._db.connect() as conn:
            row = conn.execute(
                sa.select(_ORDERS).where(_ORDERS.c.client_order_id == client_order_id)
            ).first()
        return None if row is None else _order(row)

    def unfinished(self, session_id: int | None = None) -> builtins.list[OrderRecord]:
        """Orders not in a final state (optionally of one session), oldest first."""
        query = sa.select(_ORDERS).where(_ORDERS.c.status.not_in(FINAL_ORDER_STATUSES))
        if session_id is not None:
            query = query.where(_ORDERS.c.session_id == session_id)
        with self._db.connect() as conn:
            return [_order(row) for row in conn.execute(query.order_by(_ORDERS.c.id))]

    def events(self, client_order_id: str) -> builtins.list[OrderEventRecord]:
        """The order's status changes, oldest first (empty for an unknown id)."""
        query = (
            sa.select(_EVENTS)
            .join(_ORDERS, _ORDERS.c.id == _EVENTS.c.order_id)
            .where(_ORDERS.c.client_order_id == client_order_id)
            .order_by(_EVENTS.c.id)
        )
        with self._db.connect() as conn:
            return [
                OrderEventRecord(r.id, r.order_id, r.from_status, r.to_status, r.at, r.detail)
                for r in conn.execute(query)
            ]

    def fills(self, client_order_id: str) -> builtins.list[FillRecord]:
        """The order's fills, oldest first (empty for an unknown id)."""
        query = (
            sa.select(_FILLS)
            .where(_FILLS.c.client_order_id == client_order_id)
            .order_by(_FILLS.c.id)
        )
        with self._db.connect() as conn:
            return [_fill(row) for row in conn.execute(query)]

    def orders(self, session_id: int | None = None) -> builtins.list[OrderRecord]:
        """Every order (optionally of one session), oldest first: what recovery walks."""
        query = sa.select(_ORDERS).order_by(_ORDERS.c.id)
        if session_id is not None:
            query = query.where(_ORDERS.c.session_id == session_id)
        with self._db.connect() as conn:
            return [_order(row) for row in conn.execute(query)]

    def all_fills(self, session_id: int | None = None) -> builtins.list[FillRecord]:
        """Every fill (optionally of one session's orders) in booking order."""
        query = sa.select(_FILLS).order_by(_FILLS.c.id)
        if session_id is not None:
            query = query.join(_ORDERS, _ORDERS.c.id == _FILLS.c.order_id).where(
                _ORDERS.c.session_id == session_id
            )
        with self._db.connect() as conn:
            return [_fill(row) for row in conn.execute(query)]

    def creation_details(self, session_id: int | None = None) -> dict[str, str | None]:
        """``client_order_id -> detail`` of each order's creation event (its intent key)."""
        query = (
            sa.select(_ORDERS.c.client_order_id, _EVENTS.c.detail)
            .join(_EVENTS, _EVENTS.c.order_id == _ORDERS.c.id)
            .where(_EVENTS.c.from_status.is_(None))
            .order_by(_ORDERS.c.id)
        )
        if session_id is not None:
            query = query.where(_ORDERS.c.session_id == session_id)
        with self._db.connect() as conn:
            return {row.client_order_id: row.detail for row in conn.execute(query)}

    def amend(
        self,
        client_order_id: str,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        at: datetime | None = None,
    ) -> OrderRecord:
        """Store an open order's new terms and journal the change (status unchanged)."""
        moment = aware(at, "at")
        with self._write_lock, self._db.begin() as conn:
            current = _select_order(conn, client_order_id, lock=True)
            values: dict[str, object] = {"updated_at": moment}
            if quantity is not None:
                values["quantity"] = to_money(quantity)
            if price is not None:
                values["price"] = to_money(price)
            if stop_price is not None:
                values["stop_price"] = to_money(stop_price)
            conn.execute(sa.update(_ORDERS).where(_ORDERS.c.id == current.id).values(**values))
            detail = f"amended: quantity={quantity} price={price} stop_price={stop_price}"
            _add_event(conn, current.id, current.status, current.status, moment, detail)
            return _order(_select_order(conn, client_order_id))


def _check_fill(
    cid: str, quantity: Any, price: Any, fee: Any, ts: datetime | None
) -> tuple[Decimal, Decimal, Decimal, datetime]:
    amount, fill_price, fee_amount = to_money(quantity), to_money(price), to_money(fee)
    if amount <= 0:
        raise ValueError(f"order {cid}: fill quantity must be positive ({amount})")
    if fill_price < 0:
        raise ValueError(f"order {cid}: fill price is negative ({fill_price})")
    return amount, fill_price, fee_amount, aware(ts, f"order {cid} fill")


def _transition_in(
    conn: Connection,
    client_order_id: str,
    to_status: str,
    moment: datetime,
    detail: str | None,
    venue_order_id: str | None,
    reason: str | None,
) -> None:
    current = _select_order(conn, client_order_id, lock=True)
    values: dict[str, Any] = {"status": to_status, "updated_at": moment}
    if venue_order_id is not None:
        values["venue_order_id"] = venue_order_id
    if reason is not None:
        values["reason"] = reason
    conn.execute(sa.update(_ORDERS).where(_ORDERS.c.id == current.id).values(**values))
    _add_event(conn, current.id, current.status, to_status, moment, detail)


def _add_fill_in(
    conn: Connection,
    client_order_id: str,
    *,
    quantity: Decimal | int | str,
    price: Decimal | int | str,
    fee: Decimal | int | str = 0,
    fee_currency: str | None = None,
    venue_fill_id: str | None = None,
    ts: datetime | None = None,
    to_status: str | None = None,
    detail: str | None = None,
) -> FillOutcome:
    amount, fill_price, fee_amount, moment = _check_fill(client_order_id, quantity, price, fee, ts)
    order = _select_order(conn, client_order_id, lock=True)
    if venue_fill_id is not None:
        stored = conn.execute(
            sa.select(_FILLS).where(
                _FILLS.c.order_id == order.id, _FILLS.c.venue_fill_id == venue_fill_id
            )
        ).first()
        if stored is not None:
            return FillOutcome(_order(order), _fill(stored), duplicate=True)
    fill_id = conn.execute(
        sa.insert(_FILLS)
        .values(
            order_id=order.id,
            client_order_id=client_order_id,
            venue_fill_id=venue_fill_id,
            quantity=amount,
            price=fill_price,
            fee=fee_amount,
            fee_currency=fee_currency,
            ts=moment,
        )
        .returning(_FILLS.c.id)
    ).scalar_one()
    filled = to_money(order.filled_quantity + amount)  # raises if it overflows
    values: dict[str, Any] = {
        "filled_quantity": filled,
        "avg_fill_price": _average(order.avg_fill_price, order.filled_quantity, fill_price, amount),
        "updated_at": moment,
    }
    if to_status is not None:
        values["status"] = to_status
        _add_event(conn, order.id, order.status, to_status, moment, detail)
    conn.execute(sa.update(_ORDERS).where(_ORDERS.c.id == order.id).values(**values))
    fill = conn.execute(sa.select(_FILLS).where(_FILLS.c.id == fill_id)).one()
    return FillOutcome(_order(_select_order(conn, client_order_id)), _fill(fill), False)


def _average(old_avg: Decimal | None, old_qty: Decimal, price: Decimal, qty: Decimal) -> Decimal:
    if old_avg is None or old_qty == 0:
        return price
    with localcontext() as ctx:
        ctx.prec = 60  # products of two 28-digit numbers, exact before rounding
        return to_money((old_avg * old_qty + price * qty) / (old_qty + qty))


def _select_order(conn: Connection, client_order_id: str, *, lock: bool = False) -> Any:
    query = sa.select(_ORDERS).where(_ORDERS.c.client_order_id == client_order_id)
    if lock:
        query = query.with_for_update()  # PostgreSQL row lock; SQLite holds the write lock
    row = conn.execute(query).first()
    if row is None:
        raise PersistenceError(
            f"order {client_order_id}: not recorded",
            hint="record_intent() must store an order before it changes",
        )
    return row


def _add_event(
    conn: Connection,
    order_id: int,
    from_status: str | None,
    to_status: str,
    at: datetime,
    detail: str | None,
) -> None:
    conn.execute(
        _INSERT_EVENT,
        {
            "order_id": order_id,
            "from_status": from_status,
            "to_status": to_status,
            "at": at,
            "detail": detail,
        },
    )


def _order(row: Any) -> OrderRecord:
    return OrderRecord(
        id=row.id,
        client_order_id=row.client_order_id,
        session_id=row.session_id,
        symbol=row.symbol,
        side=row.side,
        order_type=row.order_type,
        time_in_force=row.time_in_force,
        quantity=row.quantity,
        price=row.price,
        stop_price=row.stop_price,
        filled_quantity=row.filled_quantity,
        avg_fill_price=row.avg_fill_price,
        status=row.status,
        venue_order_id=row.venue_order_id,
        reason=row.reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _fill(row: Any) -> FillRecord:
    return FillRecord(
        id=row.id,
        order_id=row.order_id,
        client_order_id=row.client_order_id,
        venue_fill_id=row.venue_fill_id,
        quantity=row.quantity,
        price=row.price,
        fee=row.fee,
        fee_currency=row.fee_currency,
        ts=row.ts,
    )


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


def _bind(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=column.type)


class _FastSqlite:
    """Intent and batch writes on one dedicated SQLite DBAPI connection (see module doc).

    The connection comes from the engine's pool, so it carries the same pragmas (WAL,
    ``synchronous=FULL``, busy timeout, foreign keys) and autocommit mode: transactions
    are opened with ``BEGIN IMMEDIATE`` and ended with ``COMMIT`` explicitly. Callers hold
    the repository's write lock.
    """

    def __init__(self, db: Database) -> None:
        dialect = db.engine.dialect
        o, e, f = _ORDERS.c, _EVENTS.c, _FILLS.c
        order_cols = [c for c in _ORDERS.c if c.name != "id"]
        self._insert_order = _Raw(
            sa.insert(_ORDERS).values({c.name: _bind(c.name, c) for c in order_cols}), dialect
        )
        self._insert_event = _Raw(
            sa.insert(_EVENTS).values(
                order_id=_bind("order_id", e.order_id),
                from_status=_bind("from_status", e.from_status),
                to_status=_bind("to_status", e.to_status),
                at=_bind("at", e.at),
                detail=_bind("detail", e.detail),
            ),
            dialect,
        )
        self._insert_fill = _Raw(
            sa.insert(_FILLS).values(
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
            sa.update(_ORDERS)
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
            sa.update(_ORDERS)
            .where(o.id == sa.bindparam("oid", type_=o.id.type))
            .values(
                filled_quantity=_bind("b_filled", o.filled_quantity),
                avg_fill_price=_bind("b_avg", o.avg_fill_price),
                updated_at=_bind("b_at", o.updated_at),
                status=sa.func.coalesce(_bind("b_status", o.status), o.status),
            ),
            dialect,
        )
        self._conn: Any = db.engine.raw_connection()
        self._sync = "FULL"  # what the pool's connect hook set

    def _synchronous(self, level: Literal["FULL", "NORMAL"]) -> None:
        # Per connection and only outside a transaction; cheap (no I/O).
        if self._sync != level:
            cursor = self._conn.cursor()
            try:
                cursor.execute(_SYNCHRONOUS_PRAGMAS[level])
            finally:
                cursor.close()
            self._sync = level

    def close(self) -> None:
        """Give the connection back to the pool."""
        self._conn.close()

    def _begin(self) -> Any:
        cursor = self._conn.cursor()
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
            self._synchronous("FULL")  # the intent must survive a power loss too
            cursor = self._begin()
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

    def write_batch(self, ops: Sequence[JournalOp]) -> None:
        """All ops in one transaction; rolled back and raised as ``PersistenceError`` on error."""
        try:
            self._synchronous("NORMAL")  # see the module docstring
            cursor = self._begin()
        except sqlite3.Error as exc:
            raise PersistenceError(f"journal group commit could not start: {exc}") from exc
        cid, method = "?", "?"
        try:
            for method, cid, kwargs in ops:
                if method == "transition":
                    self._transition(cursor, cid, **kwargs)
                elif method == "add_fill":
                    self._add_fill(cursor, cid, **kwargs)
                else:
                    raise ValueError(f"order {cid}: unknown journal operation {method!r}")
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
            raise PersistenceError(
                f"journal group commit of {len(ops)} writes failed: {exc}"
            ) from exc

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
        amount, fill_price, fee_amount, moment = _check_fill(cid, quantity, price, fee, ts)
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
            "b_avg": _average(avg, filled, fill_price, amount),
            "b_at": moment,
            "b_status": to_status,
        }
        cursor.execute(self._update_fill.sql, self._update_fill.params(values))
        if to_status is not None:
            self._event(cursor, order_id, status, to_status, moment, detail)
