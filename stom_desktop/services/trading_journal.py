"""The order journal the trading service hands the engine, narrowed to one session.

``engine.recovery`` needs a journal that can also list orders, fills and intent keys
(``JournalHistory``; ``persistence.OrderRepository`` implements it). Every session's
order manager gets a :class:`SessionJournal` view, so recovering one session (an
interrupted one at start-up) never touches the orders of another session or process.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from stom_desktop.engine.recovery import JournalHistory, StoredFill
from stom_desktop.persistence import OrderRepository
from stom_desktop.persistence.db import Database


def order_journal(db: Database) -> JournalHistory:
    """The app database's order journal (``OrderRepository`` lists what recovery needs)."""
    return OrderRepository(db)


class SessionJournal:
    """A ``JournalHistory`` view of one stored session's orders (writes pass through)."""

    def __init__(self, journal: JournalHistory, session_id: int) -> None:
        self._journal = journal
        self._session_id = session_id

    def record_intent(self, *args: Any, **kwargs: Any) -> Any:
        """Pass through (the caller sets ``session_id``)."""
        return self._journal.record_intent(*args, **kwargs)

    def transition(self, *args: Any, **kwargs: Any) -> Any:
        """Pass through."""
        return self._journal.transition(*args, **kwargs)

    def add_fill(self, *args: Any, **kwargs: Any) -> Any:
        """Pass through."""
        return self._journal.add_fill(*args, **kwargs)

    def write_batch(self, ops: Sequence[Any]) -> None:
        """Pass through (group commit of the order manager's journal writer)."""
        # order_journal() is an OrderRepository, which has it; JournalHistory does not say so
        cast(Any, self._journal).write_batch(ops)

    def write_batch_until(self, ops: Sequence[Any], stop: Callable[[], bool]) -> int:
        """Pass through: a group commit that yields early to a waiting intent."""
        return int(cast(Any, self._journal).write_batch_until(ops, stop))

    def checkpoint(self, min_commits: int = 0) -> bool:
        """Pass through: the writer thread's WAL checkpoint (never under the write lock)."""
        return bool(cast(Any, self._journal).checkpoint(min_commits))

    def amend(self, client_order_id: str, **kwargs: Any) -> Any:
        """Pass through."""
        return self._journal.amend(client_order_id, **kwargs)

    def by_client_id(self, client_order_id: str) -> Any:
        """Pass through."""
        return self._journal.by_client_id(client_order_id)

    def fills(self, client_order_id: str) -> Sequence[StoredFill]:
        """Pass through."""
        return self._journal.fills(client_order_id)

    def unfinished(self, session_id: int | None = None) -> Sequence[Any]:
        """Unfinished orders of this session only."""
        return self._journal.unfinished(self._session_id)

    def orders(self, session_id: int | None = None) -> Sequence[Any]:
        """Orders of this session only."""
        return self._journal.orders(self._session_id)

    def all_fills(self, session_id: int | None = None) -> Sequence[StoredFill]:
        """Fills of this session only."""
        return self._journal.all_fills(self._session_id)

    def creation_details(self, session_id: int | None = None) -> Mapping[str, str | None]:
        """Intent details of this session only."""
        return self._journal.creation_details(self._session_id)
