"""``SqliteVenue``: a fake venue whose state lives in its own SQLite file, for crash tests.

It plays the exchange in ``test_crash_safety``: every acceptance, fill and cancel is its own
committed transaction in the venue's file, independent of the journal, so a ``kill -9``
can land between journaling an intent and the venue accepting it, or between a venue fill
and its journal entry. It implements ``core.ports.Broker`` plus ``fetch_fills``.

Deterministic trouble by client id (CRC32 % 20): 0 -> the first submit raises
``TemporaryBrokerError`` before accepting (request lost); 1 -> accepts, then raises (ack
lost). Re-submitting a known client id returns the same venue id, as PaperBroker does.
Market orders fill at once in two parts; limit orders rest until ``match``.
"""

from __future__ import annotations

import sqlite3
import zlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError, TemporaryBrokerError
from stom_desktop.core.fills import Fill
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import Order, OrderSnapshot, OrderType, TimeInForce
from stom_desktop.core.ports import ExecutionListener

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    cid TEXT PRIMARY KEY, symbol TEXT, side TEXT, type TEXT, qty TEXT, price TEXT,
    status TEXT, filled TEXT, notional TEXT, venue_id TEXT, created_ms INTEGER, reason TEXT
);
CREATE TABLE IF NOT EXISTS fills (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, fill_id TEXT UNIQUE, cid TEXT, symbol TEXT,
    side TEXT, qty TEXT, price TEXT, fee TEXT, ts_ms INTEGER
);
"""
FEE_PER_UNIT = Decimal("0.5")


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class SqliteVenue:
    """A persistent fake exchange (see the module docstring)."""

    def __init__(self, path: Path | str, *, trouble: bool = True) -> None:
        self._db = sqlite3.connect(str(path), isolation_level=None, timeout=10)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.executescript(_SCHEMA)
        self._listener: ExecutionListener | None = None
        self._trouble = trouble
        self._failed_once: set[str] = set()

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    # -- Broker ----------------------------------------------------------------------
    def set_listener(self, listener: ExecutionListener) -> None:
        """Where fills and updates go."""
        self._listener = listener

    def submit(self, order: Order) -> str:
        """Accept (committed), then fill a market order at once in two parts."""
        cid = order.client_order_id
        trouble = zlib.crc32(cid.encode()) % 20 if self._trouble else -1
        if trouble == 0 and cid not in self._failed_once:
            self._failed_once.add(cid)
            raise TemporaryBrokerError("timeout before acceptance", client_order_id=cid)
        row = self._db.execute("SELECT venue_id FROM orders WHERE cid = ?", (cid,)).fetchone()
        if row is not None:
            return str(row[0])
        venue_id = f"V-{cid}"
        self._db.execute(
            "INSERT INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                cid, order.symbol, order.side.value, order.order_type.value,
                str(order.quantity), None if order.price is None else str(order.price),
                OrderStatus.SUBMITTED.value, "0", "0", venue_id, _ms(order.created_at), None,
            ),
        )  # fmt: skip
        if trouble == 1 and cid not in self._failed_once:
            self._failed_once.add(cid)
            raise TemporaryBrokerError("timeout after acceptance", client_order_id=cid)
        if order.order_type is OrderType.MARKET:
            half = (order.quantity / 2).to_integral_value() or order.quantity
            price = Decimal(100 + zlib.crc32(cid.encode()) % 7)
            self._fill(cid, half, price)
            if half < order.quantity:
                self._fill(cid, order.quantity - half, price + 1)
        return venue_id

    def cancel(self, client_order_id: str) -> None:
        """Cancel an open order (committed), then report it."""
        cur = self._db.execute(
            "UPDATE orders SET status = 'cancelled', reason = 'cancelled by request' "
            "WHERE cid = ? AND status IN ('submitted', 'partially_filled')",
            (client_order_id,),
        )
        if cur.rowcount and self._listener is not None:
            snap = self.fetch_order(client_order_id)
            assert snap is not None
            self._listener.on_order_update(snap)

    def amend(
        self, client_order_id: str, *, quantity: Decimal | None = None, price: Decimal | None = None
    ) -> None:
        """Not supported by this venue."""
        raise BrokerError("amend not supported by the crash venue", client_order_id=client_order_id)

    def fetch_order(self, client_order_id: str) -> OrderSnapshot | None:
        """The venue's view of one order."""
        row = self._db.execute("SELECT * FROM orders WHERE cid = ?", (client_order_id,)).fetchone()
        return None if row is None else _snapshot(row)

    def fetch_fills(self, client_order_id: str) -> list[Fill]:
        """Every fill of one order, in execution order."""
        rows = self._db.execute(
            "SELECT * FROM fills WHERE cid = ? ORDER BY seq", (client_order_id,)
        ).fetchall()
        return [_fill(r) for r in rows]

    def open_orders(self, symbol: str | None = None) -> list[OrderSnapshot]:
        """Open orders."""
        rows = self._db.execute(
            "SELECT * FROM orders WHERE status IN ('submitted', 'partially_filled') ORDER BY rowid"
        ).fetchall()
        return [_snapshot(r) for r in rows if symbol is None or r[1] == symbol]

    def balances(self) -> dict[str, Decimal]:
        """Not tracked."""
        return {}

    # -- venue-side activity and inspection ------------------------------------------
    def match(self) -> None:
        """Fill every resting order completely (limits at their limit)."""
        for snap in self.open_orders():
            price = snap.price if snap.price is not None else Decimal(100)  # a stranded market
            self._fill(snap.client_order_id, snap.quantity - snap.filled_quantity, price)

    def all_orders(self) -> list[OrderSnapshot]:
        """Every order the venue ever accepted."""
        return [_snapshot(r) for r in self._db.execute("SELECT * FROM orders ORDER BY rowid")]

    def all_fills(self) -> list[Fill]:
        """Every fill, in execution order."""
        return [_fill(r) for r in self._db.execute("SELECT * FROM fills ORDER BY seq")]

    def _fill(self, cid: str, qty: Decimal, price: Decimal) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            row = self._db.execute("SELECT * FROM orders WHERE cid = ?", (cid,)).fetchone()
            seq = self._db.execute("SELECT COUNT(*) FROM fills WHERE cid = ?", (cid,)).fetchone()
            filled = Decimal(row[7]) + qty
            status = "filled" if filled == Decimal(row[4]) else "partially_filled"
            now = datetime.now(UTC)
            fill_id = f"{cid}/f{seq[0] + 1}"
            fee = FEE_PER_UNIT * qty
            self._db.execute(
                "INSERT INTO fills (fill_id, cid, symbol, side, qty, price, fee, ts_ms) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (fill_id, cid, row[1], row[2], str(qty), str(price), str(fee), _ms(now)),
            )  # fmt: skip
            self._db.execute(
                "UPDATE orders SET filled = ?, notional = ?, status = ? WHERE cid = ?",
                (str(filled), str(Decimal(row[8]) + qty * price), status, cid),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        if self._listener is not None:
            self._listener.on_fill(
                Fill(fill_id, cid, row[1], Side(row[2]), qty, price, fee, "KRW", _dt(_ms(now)))
            )  # fmt: skip


def _snapshot(row: tuple[object, ...]) -> OrderSnapshot:
    cid, symbol, side, kind, qty, price, status, filled, notional, venue_id, created, reason = row
    filled_d = Decimal(str(filled))
    created_at = _dt(int(str(created)))
    return OrderSnapshot(
        client_order_id=str(cid), symbol=str(symbol), side=Side(str(side)),
        order_type=OrderType(str(kind)), time_in_force=TimeInForce.GTC,
        quantity=Decimal(str(qty)), price=None if price is None else Decimal(str(price)),
        stop_price=None, filled_quantity=filled_d,
        avg_fill_price=Decimal(str(notional)) / filled_d if filled_d else None,
        status=OrderStatus(str(status)), venue_order_id=str(venue_id), created_at=created_at,
        updated_at=created_at, reason=None if reason is None else str(reason),
        session_id=None, tag=None, parent_id=None, cancel_requested=False,
    )  # fmt: skip


def _fill(row: tuple[object, ...]) -> Fill:
    _seq, fill_id, cid, symbol, side, qty, price, fee, ts_ms = row
    return Fill(
        str(fill_id), str(cid), str(symbol), Side(str(side)), Decimal(str(qty)),
        Decimal(str(price)), Decimal(str(fee)), "KRW", _dt(int(str(ts_ms))),
    )  # fmt: skip
