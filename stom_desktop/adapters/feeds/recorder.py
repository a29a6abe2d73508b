"""TickRecorder: buffers quotes and trades from the bus and writes them in batches.

Attach it to the engine's bus (``recorder.attach(bus)``) or call ``record(event)``
directly. ``record`` only appends the event to a list under a lock (cheap on the engine
thread); every ``batch_size`` events the list becomes one batch, written as one
transaction through a ``TickSink`` (``persistence.RecordingRepository`` — adapters do not
import persistence; the composition root passes it in). With ``background=True`` (the
default) batches are written by a writer thread behind a bounded queue, so a slow disk
never stalls the quote path; a full queue makes ``record`` wait (back-pressure) rather
than grow without bound. ``stop()`` detaches, writes what is buffered and waits for the
writer: nothing is lost on a clean stop. A failed write is raised (as
``PersistenceError``) from the next ``record``/``flush``/``stop``.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol, cast

from stom_desktop.core.errors import ConfigurationError, PersistenceError
from stom_desktop.core.events import QuoteEvent, TradeTick
from stom_desktop.core.ports import Event, EventBus

_STOP = object()  # sentinel for the writer thread


class TickSink(Protocol):
    """Where recorded ticks go (``RecordingRepository`` implements it)."""

    def next_seq(self, recording_id: str) -> int:
        """The seq the next tick of ``recording_id`` gets (0 if it is new)."""
        ...

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
        """Store one batch in one transaction; returns the number of rows."""
        ...


Batch = list[QuoteEvent | TradeTick]


class TickRecorder:
    """Records ``QuoteEvent``/``TradeTick`` into a recording (see module doc)."""

    def __init__(
        self,
        sink: TickSink,
        recording_id: str,
        *,
        session_id: int | None = None,
        batch_size: int = 5_000,
        background: bool = True,
        append: bool = False,
        max_queued_batches: int = 16,
    ) -> None:
        if not recording_id or len(recording_id) > 64:
            raise ConfigurationError(
                f"recording id must be 1..64 characters, got {recording_id!r}", key="recording_id"
            )
        if batch_size < 1:
            raise ConfigurationError(f"must be >= 1, got {batch_size}", key="batch_size")
        self.recording_id = recording_id
        self._sink = sink
        self._session_id = session_id
        self._batch_size = batch_size
        self._next_seq = sink.next_seq(recording_id)
        if self._next_seq and not append:
            raise PersistenceError(
                f"recording {recording_id!r} already holds {self._next_seq} ticks",
                hint="choose a new recording id, or pass append=True to continue it",
            )
        self._lock = threading.Lock()
        self._buffer: Batch = []
        self._written = 0
        self._error: BaseException | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._stopped = False
        self._queue: queue.Queue[object] | None = None
        self._writer: threading.Thread | None = None
        if background:
            self._queue = queue.Queue(maxsize=max_queued_batches)
            # Daemon: a recorder that is never stopped must not keep the process alive;
            # stop() is what guarantees that every tick was written.
            self._writer = threading.Thread(
                target=self._write_loop, name=f"tick-recorder-{recording_id}", daemon=True
            )
            self._writer.start()

    # -- recording -----------------------------------------------------------------------
    def attach(self, bus: EventBus) -> TickRecorder:
        """Subscribe to the bus' quotes and trades; ``stop`` unsubscribes."""
        self._unsubscribe.append(bus.subscribe(QuoteEvent, self.record))
        self._unsubscribe.append(bus.subscribe(TradeTick, self.record))
        return self

    def record(self, event: Event) -> None:
        """Buffer a quote or trade (other events are ignored); may write a full batch."""
        if type(event) is not QuoteEvent and type(event) is not TradeTick:
            return
        if self._error is not None:
            self._raise_failure()
        if self._stopped:
            raise PersistenceError(f"recording {self.recording_id!r} is stopped")
        with self._lock:
            self._buffer.append(event)
            if len(self._buffer) < self._batch_size:
                return
            batch, first_seq = self._take()
        self._ship(batch, first_seq)

    def flush(self) -> None:
        """Write everything buffered so far and wait until it is stored."""
        with self._lock:
            batch, first_seq = self._take()
        if batch:
            self._ship(batch, first_seq)
        if self._queue is not None:
            self._queue.join()
        if self._error is not None:
            self._raise_failure()

    def stop(self) -> int:
        """Detach, write what is buffered, stop the writer; returns the ticks written."""
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe.clear()
        if self._stopped:
            return self._written
        try:
            self.flush()
        finally:
            self._stopped = True
            if self._queue is not None and self._writer is not None:
                self._queue.put(_STOP)
                self._writer.join()
        return self._written

    @property
    def written(self) -> int:
        """Ticks stored so far."""
        return self._written

    @property
    def pending(self) -> int:
        """Ticks buffered and not yet handed to the writer."""
        return len(self._buffer)

    def __enter__(self) -> TickRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- writing --------------------------------------------------------------------------
    def _take(self) -> tuple[Batch, int]:
        """Detach the buffer and number it (caller holds the lock)."""
        batch, self._buffer = self._buffer, []
        first_seq = self._next_seq
        self._next_seq += len(batch)
        return batch, first_seq

    def _ship(self, batch: Batch, first_seq: int) -> None:
        if self._queue is None:
            try:
                self._write(batch, first_seq)
            except Exception as exc:  # noqa: BLE001 - re-raised as PersistenceError below
                self._error = exc  # later record/flush/stop calls report it too
                self._raise_failure()
        else:
            self._queue.put((batch, first_seq))

    def _write_loop(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                if self._error is None:  # after a failure, later batches are not written
                    batch, first_seq = cast(tuple[Batch, int], item)
                    self._write(batch, first_seq)
            except Exception as exc:  # noqa: BLE001 - re-raised on the recording thread
                self._error = exc
            finally:
                self._queue.task_done()

    def _write(self, batch: Batch, first_seq: int) -> None:
        n = len(batch)
        symbol: list[str] = [e.symbol for e in batch]
        ts: list[int] = [e.ts_ms for e in batch]
        bid: list[float | None] = []
        ask: list[float | None] = []
        last: list[float | None] = []
        volume: list[float | None] = []
        bid_size: list[float | None] = []
        ask_size: list[float | None] = []
        side: list[str | None] = []
        for e in batch:
            if type(e) is QuoteEvent:
                bid.append(e.bid)
                ask.append(e.ask)
                last.append(e.last)
                volume.append(None)
                bid_size.append(e.bid_size)
                ask_size.append(e.ask_size)
                side.append(None)
            else:
                assert isinstance(e, TradeTick)
                bid.append(None)
                ask.append(None)
                last.append(e.price)
                volume.append(e.size)
                bid_size.append(None)
                ask_size.append(None)
                side.append(None if e.aggressor is None else e.aggressor.value)
        self._sink.append(
            self.recording_id,
            first_seq,
            symbol=symbol,
            ts=ts,
            bid=bid,
            ask=ask,
            last=last,
            volume=volume,
            bid_size=bid_size,
            ask_size=ask_size,
            side=side,
            session_id=self._session_id,
        )
        self._written += n

    def _raise_failure(self) -> None:
        error = self._error
        raise PersistenceError(
            f"recording {self.recording_id!r}: writing ticks failed ({error}); "
            f"{self._written} ticks were stored, later ones were not",
            hint="check the database; start a new recording once it is reachable",
        ) from error
