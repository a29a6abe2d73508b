"""The order journal's WAL checkpoints and preemptible group commits (real SQLite files).

* the journal writer thread checkpoints the WAL (PASSIVE, its own connection);
* a checkpoint never takes the repository's write lock, and an intent never waits for one;
* closing the repository truncates the WAL;
* a group commit stops early when asked (an intent waiting) and the writer commits the rest.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from order_journal import fresh_sqlite_url

from stom_desktop.engine.journal_writer import JournalWriter
from stom_desktop.persistence import OrderRepository, create_database

T0 = datetime(2024, 6, 3, 0, 30, tzinfo=UTC)


def _wal(tmp_path: Path) -> Path:
    [wal] = list(tmp_path.glob("*-wal"))
    return wal


def _wal_frames(repo: OrderRepository) -> int:
    """Frames in the WAL not yet copied into the database (0 when fully checkpointed)."""
    fast = repo._fast_path()
    assert fast is not None
    cursor = fast._conn.cursor()
    try:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")  # what is left to copy
        _busy, frames, done = cursor.fetchone()
    finally:
        cursor.close()
    return int(frames) - int(done)


def _intent(repo: object, cid: str) -> None:
    repo.record_intent(  # type: ignore[attr-defined]
        cid, "BTC/KRW", "buy", "limit", Decimal(1), price=Decimal(100), at=T0
    )


def test_the_writer_thread_checkpoints_the_wal(tmp_path: Path) -> None:
    db = create_database(fresh_sqlite_url(tmp_path))
    repo = OrderRepository(db)
    writer = JournalWriter(repo, checkpoint_every=4)
    try:
        for i in range(12):
            _intent(writer, f"c{i}")
            writer.transition(f"c{i}", "submitted", at=T0)
        assert writer.flush(10)
        fast = repo._fast_path()
        assert fast is not None
        assert writer.close(10)  # the thread checkpoints before it ends
        assert fast.checkpoints >= 1
        assert fast.uncheckpointed == 0
        # the automatic checkpoint of the batch connection is out of the way
        cursor = fast._batch_conn.cursor()
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 10000
        cursor.close()
    finally:
        repo.close()
        db.dispose()


def test_checkpoint_runs_outside_the_write_lock_and_intents_do_not_wait_for_it(
    tmp_path: Path,
) -> None:
    db = create_database(fresh_sqlite_url(tmp_path))
    repo = OrderRepository(db)
    try:
        _intent(repo, "c0")
        fast = repo._fast_path()
        assert fast is not None
        # A long intent (or batch) holds the write lock: a checkpoint still runs.
        with repo._write_lock:
            done = threading.Event()
            thread = threading.Thread(target=lambda: (repo.checkpoint(1), done.set()))
            thread.start()
            assert done.wait(10), "checkpoint waited for the write lock"
            thread.join(10)
        assert fast.uncheckpointed == 0 and _wal_frames(repo) == 0
        # A checkpoint in progress (its lock held) does not hold an intent back.
        with fast._ckpt_lock:
            recorded = threading.Event()
            thread = threading.Thread(target=lambda: (_intent(repo, "c1"), recorded.set()))
            thread.start()
            assert recorded.wait(10), "intent waited for the checkpoint"
            thread.join(10)
        assert repo.by_client_id("c1") is not None
        assert not repo.checkpoint(5)  # below the threshold: nothing to do
    finally:
        repo.close()
        db.dispose()


def test_close_truncates_the_wal(tmp_path: Path) -> None:
    db = create_database(fresh_sqlite_url(tmp_path))
    repo = OrderRepository(db)
    try:
        for i in range(50):
            _intent(repo, f"c{i}")
        assert _wal(tmp_path).stat().st_size > 0
        repo.close()
        assert _wal(tmp_path).stat().st_size == 0
        assert len(repo.orders()) == 50  # everything is in the database file
        _intent(repo, "again")  # the repository reopens its connections
        assert repo.by_client_id("again") is not None
    finally:
        repo.close()
        db.dispose()


def test_a_group_commit_stops_when_asked_and_the_writer_commits_the_rest(
    tmp_path: Path,
) -> None:
    db = create_database(fresh_sqlite_url(tmp_path))
    repo = OrderRepository(db)
    try:
        for i in range(5):
            _intent(repo, f"c{i}")
        ops = [("transition", f"c{i}", {"to_status": "submitted", "at": T0}) for i in range(5)]
        asked: list[int] = []

        def stop() -> bool:
            asked.append(1)
            return len(asked) >= 2

        assert repo.write_batch_until(ops, stop) == 2  # committed after the second op
        assert [repo.by_client_id(f"c{i}").status for i in range(5)] == (  # type: ignore[union-attr]
            ["submitted"] * 2 + ["new"] * 3
        )
        # Through the writer: an intent in progress cuts a batch short; nothing is lost.
        writer = JournalWriter(repo)
        gate = threading.Event()
        original = repo.record_intent

        def slow_intent(*args: object, **kwargs: object) -> object:
            gate.wait(10)
            return original(*args, **kwargs)  # type: ignore[arg-type]

        for i in range(2, 5):
            writer.transition(f"c{i}", "submitted", at=T0)
        repo.record_intent = slow_intent  # type: ignore[method-assign]
        thread = threading.Thread(target=_intent, args=(writer, "late"))
        thread.start()
        for i in range(5):
            writer.transition(f"c{i}", "accepted", at=T0)
        gate.set()
        thread.join(10)
        assert writer.flush(10)
        assert not writer.take_errors()
        statuses = [repo.by_client_id(f"c{i}").status for i in range(5)]  # type: ignore[union-attr]
        assert statuses == ["accepted"] * 5
        assert [e.to_status for e in repo.events("c3")] == ["new", "submitted", "accepted"]
        assert repo.by_client_id("late") is not None
        assert writer.close(10)
    finally:
        repo.close()
        db.dispose()


def test_the_trading_services_session_view_passes_both_through(tmp_path: Path) -> None:
    # The service hands the engine a SessionJournal, not the repository: without these
    # pass-throughs the writer would silently fall back to whole batches and no checkpoints.
    from stom_desktop.services.trading_journal import SessionJournal

    db = create_database(fresh_sqlite_url(tmp_path))
    repo = OrderRepository(db)
    view = SessionJournal(repo, session_id=1)
    writer = JournalWriter(view, checkpoint_every=2)
    try:
        assert writer._checkpoint is not None  # found on the view
        for i in range(6):
            _intent(view, f"v{i}")
            writer.transition(f"v{i}", "submitted", at=T0)
        assert writer.flush(10)
        assert writer.close(10)
        fast = repo._fast_path()
        assert fast is not None and fast.checkpoints >= 1
        ops = [("transition", f"v{i}", {"to_status": "cancelled", "at": T0}) for i in range(3)]
        assert view.write_batch_until(ops, lambda: True) == 1  # stopped after one op
        assert [repo.by_client_id(f"v{i}").status for i in range(3)] == [  # type: ignore[union-attr]
            "cancelled",
            "submitted",
            "submitted",
        ]
    finally:
        repo.close()
        db.dispose()
