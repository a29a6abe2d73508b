"""The order journal off the engine thread: intents synchronous, state changes and fills queued.

:class:`JournalWriter` wraps a journal that can group-commit (``write_batch(ops)``, as
``persistence.OrderRepository`` does) and presents the ``OrderJournal`` interface:

* ``record_intent`` runs **synchronously** on the caller's thread: the order manager must
  have the intent durable before the broker sees the order (NOTES.md: that ordering is
  what survived the kill tests). Intents go first: the writer starts no group commit while
  an intent is being recorded, so an intent waits for at most the one commit already
  running (the journal's write lock is not fair: the writer used to take it again for a
  second batch while the intent waited, doubling the intent's latency).
* ``transition`` and ``add_fill`` are **queued** and return at once. A writer thread takes
  everything queued and commits it in one transaction (group commit), so a burst of N
  changes costs one fsync, and the engine thread never waits for the disk. A change is
  durable at the next group commit: normally within one commit time (about a millisecond
  on an SSD) of being queued, longer only while earlier batches are still committing.
  Operations are written in the order they were queued.
* **An intent cuts a batch short** (journals with ``write_batch_until(ops, stop)``, as
  ``OrderRepository``): the writer asks after every op whether an intent is waiting; if
  so the ops so far are committed and the rest go back to the front of the queue. An
  intent then waits for one op and a COMMIT instead of a whole batch (up to ~7 ms
  measured for 256 ops while the engine thread competes for the GIL).
* **WAL checkpoints** (journals with ``checkpoint(min_commits)``, as ``OrderRepository``):
  when idle (queue empty, no intent) after a group commit, the writer thread asks the
  journal to checkpoint once ``checkpoint_every`` commits have accumulated, so the batch
  connection's COMMIT does not do it while holding the journal's write lock. The journal
  checkpoints without its write lock; the thread also checkpoints before it ends.
* every read (``by_client_id``, ``fills``, ``orders``...) and ``amend`` first waits until
  the queue is committed (:meth:`JournalWriter.flush`), so a reader never sees the journal
  behind what the order manager already did.

Failures are never swallowed: a batch that fails is retried one operation at a time (so
one bad write cannot sink the good ones next to it); each operation that still fails is
kept in :attr:`JournalWriter.errors` with its order id until the owner takes it with
:meth:`JournalWriter.take_errors` on its own thread (the order manager turns it into an
``ErrorEvent``, pauses the order's session and queues the order for reconciliation).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from stom_desktop.core.errors import PersistenceError

log = logging.getLogger(__name__)

#: ``(method, client_order_id, keyword arguments)``; method is transition or add_fill.
JournalOp = tuple[str, str, dict[str, Any]]


class BatchJournal(Protocol):
    """A journal that can commit many queued writes in one transaction."""

    def write_batch(self, ops: Sequence[JournalOp]) -> None:
        """Apply every op in one transaction, all or nothing (raise on failure)."""
        ...


@dataclass(frozen=True, slots=True)
class JournalFailure:
    """One queued write the journal refused: which order, what, and why."""

    client_order_id: str
    operation: str
    error: BaseException


@dataclass(frozen=True, slots=True)
class QueuedFill:
    """What a queued ``add_fill`` returns: not known to be a duplicate (the order manager
    deduplicates by venue fill id in memory; the journal skips a stored id again)."""

    order: None = None
    duplicate: bool = False


def supports_batches(journal: object) -> bool:
    """Whether ``journal`` can be wrapped (it has ``write_batch``)."""
    return callable(getattr(journal, "write_batch", None))


class JournalWriter:
    """``OrderJournal`` facade with a group-committing writer thread (see module doc).

    ``max_batch`` bounds one transaction, so an intent waiting for the journal's write
    lock waits for at most one batch (one op with ``write_batch_until``).
    ``checkpoint_every``: see the module doc. The thread starts on the first queued
    write and stops in :meth:`close`.
    """

    def __init__(
        self,
        journal: Any,
        *,
        max_batch: int = 256,
        checkpoint_every: int = 32,
        name: str = "stom-journal",
    ) -> None:
        if not supports_batches(journal):
            raise TypeError(f"{type(journal).__name__} has no write_batch(ops)")
        self._journal = journal
        self._max_batch = max_batch
        checkpoint = getattr(journal, "checkpoint", None)
        self._checkpoint: Callable[[int], object] | None = (
            checkpoint if callable(checkpoint) else None
        )
        self._checkpoint_every = checkpoint_every
        until = getattr(journal, "write_batch_until", None)
        self._write_until: Callable[[Sequence[JournalOp], Callable[[], bool]], int] | None = (
            until if callable(until) else None
        )
        self._name = name
        self._queue: deque[JournalOp] = deque()
        self._cond = threading.Condition()
        self._queued = 0  # ops ever queued
        self._intents = 0  # record_intent calls in progress (they go first)
        self._done = 0  # ops ever finished (committed or failed)
        self._closing = False
        self._thread: threading.Thread | None = None
        self._errors: list[JournalFailure] = []
        #: Group commits done and operations they held (statistics).
        self.commits = 0
        self.committed_ops = 0

    # -- the OrderJournal interface --------------------------------------------------
    def record_intent(self, *args: Any, **kwargs: Any) -> Any:
        """Synchronous and durable before it returns (write-ahead of the broker)."""
        with self._cond:
            self._intents += 1
        try:
            return self._journal.record_intent(*args, **kwargs)
        finally:
            with self._cond:
                self._intents -= 1
                if not self._intents and self._queue:
                    self._cond.notify_all()  # the writer waited for this intent

    def transition(
        self,
        client_order_id: str,
        to_status: str,
        *,
        at: datetime | None = None,
        detail: str | None = None,
        venue_order_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Queue a status change (durable at the next group commit)."""
        kwargs = {
            "to_status": to_status,
            "at": at,
            "detail": detail,
            "venue_order_id": venue_order_id,
            "reason": reason,
        }
        self._put(("transition", client_order_id, kwargs))

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
    ) -> QueuedFill:
        """Queue a fill (durable at the next group commit)."""
        kwargs = {
            "quantity": quantity,
            "price": price,
            "fee": fee,
            "fee_currency": fee_currency,
            "venue_fill_id": venue_fill_id,
            "ts": ts,
            "to_status": to_status,
            "detail": detail,
        }
        self._put(("add_fill", client_order_id, kwargs))
        return QueuedFill()

    def amend(self, client_order_id: str, **kwargs: Any) -> Any:
        """Synchronous, after the queue (rare; keeps the journal's order of changes)."""
        self.flush()
        return self._journal.amend(client_order_id, **kwargs)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # Reads (by_client_id, fills, unfinished, orders, all_fills, creation_details...)
        # pass through after the queue is committed.
        target = getattr(self._journal, name)
        if not callable(target) or name.startswith("_"):
            raise AttributeError(name)

        def read_after_flush(*args: Any, **kwargs: Any) -> Any:
            self.flush()
            return target(*args, **kwargs)

        return read_after_flush

    # -- queue and thread ------------------------------------------------------------
    def _put(self, op: JournalOp) -> None:
        with self._cond:
            if self._closing:
                raise PersistenceError(
                    f"order {op[1]}: journal writer is closed; {op[0]} not recorded"
                )
            self._queue.append(op)
            self._queued += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        """Operations queued or being committed."""
        with self._cond:
            return self._queued - self._done

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything queued so far is committed (or failed); True if it was."""
        with self._cond:
            target = self._queued
            return self._cond.wait_for(lambda: self._done >= target, timeout)

    def close(self, timeout: float = 30.0) -> bool:
        """Commit what is queued and stop the thread; True when it ended in time."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    @property
    def failed(self) -> bool:
        """Whether failures wait to be taken (cheap: read on the engine thread)."""
        return bool(self._errors)

    def take_errors(self) -> list[JournalFailure]:
        """The failures since the last call (the caller reports them)."""
        with self._cond:
            errors, self._errors = self._errors, []
        return errors

    def _run(self) -> None:
        while True:
            with self._cond:
                # An intent in progress goes first (see the module docstring).
                while (not self._queue or self._intents) and not self._closing:
                    self._cond.wait()
                if not self._queue and self._closing:
                    self._checkpoint_wal(1)  # leave the WAL checkpointed
                    return
                count = min(len(self._queue), self._max_batch)
                batch = [self._queue.popleft() for _ in range(count)]
            failures, written = self._write(batch)
            with self._cond:
                # ops an intent cut off go back to the front, in their order
                self._queue.extendleft(reversed(batch[written:]))
                self._errors.extend(failures)
                self._done += written
                self._cond.notify_all()
                idle = not self._intents and not self._queue
            if idle:
                self._checkpoint_wal(self._checkpoint_every)

    def _checkpoint_wal(self, min_commits: int) -> None:
        if self._checkpoint is None:
            return
        try:
            self._checkpoint(min_commits)
        except Exception as exc:  # noqa: BLE001 - nothing is lost: the WAL holds the data
            log.warning("journal WAL checkpoint failed (retried later): %s", exc)

    def _intent_waiting(self) -> bool:
        return self._intents > 0  # an int read: no lock needed (asked after every op)

    def _write(self, batch: list[JournalOp]) -> tuple[list[JournalFailure], int]:
        """Commit ``batch`` (or, when an intent cuts it short, a prefix of it); returns the
        failures and how many ops were handled."""
        try:
            if self._write_until is not None:
                written = self._write_until(batch, self._intent_waiting)
            else:
                self._journal.write_batch(batch)
                written = len(batch)
        except Exception as exc:  # noqa: BLE001 - isolated below, then reported, never lost
            log.warning(
                "journal group commit of %d writes failed (%s); one by one", len(batch), exc
            )
        else:
            self.commits += 1
            self.committed_ops += written
            return [], written
        failures = []
        for op in batch:
            try:
                self._journal.write_batch([op])
            except Exception as exc:  # noqa: BLE001 - handed to the owner via take_errors
                log.error("journal %s of order %s failed: %s", op[0], op[1], exc)
                failures.append(JournalFailure(op[1], op[0], exc))
            else:
                self.commits += 1
                self.committed_ops += 1
        return failures, len(batch)
