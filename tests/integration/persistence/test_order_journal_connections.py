"""The raw SQLite journal: intents on a FULL connection, batches on a NORMAL one, set once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from order_journal import fresh_sqlite_url

from stom_desktop.persistence import OrderRepository, create_database

T0 = datetime(2024, 6, 3, 0, 30, tzinfo=UTC)
FULL, NORMAL = 2, 1  # PRAGMA synchronous values


def _level(conn: object) -> int:
    cursor = conn.cursor()  # type: ignore[attr-defined]
    try:
        cursor.execute("PRAGMA synchronous")
        return int(cursor.fetchone()[0])
    finally:
        cursor.close()


def test_intent_and_batch_connections_keep_their_levels(tmp_path: Path) -> None:
    db = create_database(fresh_sqlite_url(tmp_path))
    repo = OrderRepository(db)
    try:
        for i in range(3):  # interleaved: nothing switches a level back and forth
            cid = f"c{i}"
            repo.record_intent(
                cid, "BTC/KRW", "buy", "limit", Decimal(1), price=Decimal(100), at=T0
            )
            repo.write_batch([("transition", cid, {"to_status": "submitted", "at": T0})])
            fast = repo._fast_path()
            assert fast is not None
            assert _level(fast._conn) == FULL
            assert _level(fast._batch_conn) == NORMAL
        repo.write_batch(
            [("add_fill", "c0", {"quantity": Decimal(1), "price": Decimal(100),
                                 "ts": T0 + timedelta(seconds=1), "to_status": "filled"})]
        )  # fmt: skip
        assert repo.by_client_id("c0").status == "filled"  # type: ignore[union-attr]
        assert [r.status for r in repo.unfinished()] == ["submitted", "submitted"]
        repo.close()
        # Back in the pool, every connection is at FULL again (the Core path's level).
        with db.engine.connect() as conn:
            conns = [db.engine.raw_connection() for _ in range(2)]
            try:
                assert all(_level(c) == FULL for c in conns)
            finally:
                for c in conns:
                    c.close()
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == FULL
    finally:
        db.dispose()
