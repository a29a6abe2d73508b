"""The order journal: intents recorded before sending, status changes and fills, atomically.

Each method is one transaction (SQLite: ``BEGIN IMMEDIATE`` and ``synchronous=FULL``, so
a committed intent survives a crash or power loss). The engine owns the order state
machine: this repository records the transitions it is told about without judging them.

Two write paths store identical rows: SQLAlchemy Core (every database) and, on a file
SQLite database, the hot path in ``_orders_sqlite`` for ``record_intent`` and
:meth:`OrderRepository.write_batch` (one dedicated DBAPI connection, statements compiled
once): an intent is two INSERTs and one fsync'ed COMMIT. ``write_batch`` is the group
commit of the engine's journal writer thread: many status changes and fills in one
transaction. Every write of one repository takes one lock, so the intent path and the
writer thread never wait on SQLite's busy handler (which sleeps in whole milliseconds).
Intents commit with ``synchronous=FULL`` (fsync: durable even on power loss); a batch
commits with ``synchronous=NORMAL`` (WAL: durable against a process crash at once, against
power loss at the next fsync, i.e. the next intent commit or checkpoint). What a power
loss could take is only state changes and fills, which recovery re-reads from the venue.
Other databases (PostgreSQL, in-memory SQLite) use the Core path for everything.
On the fast path SQLite's automatic WAL checkpoint is off (it ran inside an intent's
commit); :meth:`OrderRepository.checkpoint` does it outside the write lock, called by the
journal writer thread (``_orders_sqlite``'s module docstring has the backstop).
"""

from __future__ import annotations

import builtins
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence.column_types import to_money
from stom_desktop.persistence.db import Database
from stom_desktop.persistence.records import (
    FillOutcome,
    FillRecord,
    OrderEventRecord,
    OrderRecord,
)
from stom_desktop.persistence.repositories._common import aware, check_text
from stom_desktop.persistence.repositories._orders_common import (
    EVENTS as _EVENTS,
)
from stom_desktop.persistence.repositories._orders_common import (
    FILLS as _FILLS,
)
from stom_desktop.persistence.repositories._orders_common import (
    FINAL_ORDER_STATUSES,
    INITIAL_STATUS,
    JournalOp,
    average_price,
    check_fill,
)
from stom_desktop.persistence.repositories._orders_common import (
    ORDERS as _ORDERS,
)
from stom_desktop.persistence.repositories._orders_sqlite import FastSqliteJournal

__all__ = ["FINAL_ORDER_STATUSES", "INITIAL_STATUS", "JournalOp", "OrderRepository"]

# Built once: constructing a statement per call costs more than executing it.
_INSERT_ORDER = sa.insert(_ORDERS).returning(_ORDERS.c.id)
_INSERT_EVENT = sa.insert(_EVENTS)


class OrderRepository:
    """Record order intents, status changes and fills; find orders to reconcile."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # One lock for every write of this repository (see the module docstring).
        self._write_lock = threading.Lock()
        self._fast: FastSqliteJournal | None = None
        self._fast_checked = False

    def _fast_path(self) -> FastSqliteJournal | None:
        """The raw SQLite writer (opened on first use), None on other databases."""
        if not self._fast_checked:
            self._fast_checked = True
            url = self._db.engine.url
            if self._db.dialect == "sqlite" and url.database not in (None, "", ":memory:"):
                self._fast = FastSqliteJournal(self._db)
        return self._fast

    def close(self) -> None:
        """Close the dedicated SQLite connection (the repository reopens it if used again)."""
        with self._write_lock:
            if self._fast is not None:
                self._fast.close()
            self._fast = None
            self._fast_checked = False

    def checkpoint(self, min_commits: int = 0) -> bool:
        """Checkpoint the WAL (PASSIVE) when ``min_commits`` journal commits were made
        since the last one; True if it ran. Never takes the write lock, so an intent
        never waits for it (the journal writer thread calls it between batches). A no-op
        off the SQLite file fast path (SQLite's automatic checkpoint is on there)."""
        fast = self._fast
        if fast is None or fast.uncheckpointed < max(min_commits, 1):
            return False
        fast.checkpoint()
        return True

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

    def write_batch_until(self, ops: Sequence[JournalOp], stop: Callable[[], bool]) -> int:
        """:meth:`write_batch` that commits early when ``stop()`` turns True after an op.

        The journal writer passes "an intent is waiting": the intent then waits for one
        operation and a COMMIT (no fsync), not for the whole batch. Returns how many of
        ``ops`` (a prefix) were committed; the caller writes the rest later. Off the SQLite
        fast path every op is written.
        """
        if not ops:
            return 0
        if type(self).write_batch is OrderRepository.write_batch:  # not overridden
            with self._write_lock:
                fast = self._fast_path()
                if fast is not None:
                    return fast.write_batch(ops, stop)
        self.write_batch(ops)
        return len(ops)

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
    amount, fill_price, fee_amount, moment = check_fill(client_order_id, quantity, price, fee, ts)
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
        "avg_fill_price": average_price(
            order.avg_fill_price, order.filled_quantity, fill_price, amount
        ),
        "updated_at": moment,
    }
    if to_status is not None:
        values["status"] = to_status
        _add_event(conn, order.id, order.status, to_status, moment, detail)
    conn.execute(sa.update(_ORDERS).where(_ORDERS.c.id == order.id).values(**values))
    fill = conn.execute(sa.select(_FILLS).where(_FILLS.c.id == fill_id)).one()
    return FillOutcome(_order(_select_order(conn, client_order_id)), _fill(fill), False)


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
