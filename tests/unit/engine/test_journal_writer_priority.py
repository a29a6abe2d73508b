"""JournalWriter: an intent in progress goes first; the writer's group commit waits for it."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from stom_desktop.engine.journal_writer import JournalOp, JournalWriter


class GatedIntents:
    """A batch journal whose ``record_intent`` blocks until released; logs the call order."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.in_intent = threading.Event()
        self.release = threading.Event()
        self.batch_started = threading.Event()

    def record_intent(self, cid: str, *args: Any, **kwargs: Any) -> str:
        self.log.append(f"intent {cid} start")
        self.in_intent.set()
        self.release.wait(10)
        self.log.append(f"intent {cid} end")
        return cid

    def write_batch(self, ops: Sequence[JournalOp]) -> None:
        self.batch_started.set()
        self.log.append("batch " + ",".join(f"{cid}:{kw['to_status']}" for _, cid, kw in ops))


def test_no_group_commit_starts_while_an_intent_is_recorded() -> None:
    fake = GatedIntents()
    writer = JournalWriter(fake)
    intent = threading.Thread(target=writer.record_intent, args=("o2",))
    intent.start()
    assert fake.in_intent.wait(10)
    writer.transition("o1", "submitted")  # queued while the intent holds the journal
    # The writer thread is running and has work, but must not start while the intent runs.
    assert not fake.batch_started.wait(0.3)
    fake.release.set()
    intent.join(10)
    assert writer.flush(10)
    assert fake.log == ["intent o2 start", "intent o2 end", "batch o1:submitted"]
    assert writer.close()


def test_queued_writes_are_committed_after_intents_that_raise() -> None:
    class Refusing(GatedIntents):
        def record_intent(self, cid: str, *args: Any, **kwargs: Any) -> str:
            raise ValueError(f"order {cid}: refused")

    fake = Refusing()
    writer = JournalWriter(fake)
    writer.transition("o1", "submitted")
    assert writer.flush(10)
    try:
        writer.record_intent("o2")
    except ValueError as exc:
        assert "o2" in str(exc)
    else:
        raise AssertionError("the intent's error must reach the caller")
    writer.transition("o1", "filled")  # the failed intent does not block the writer
    assert writer.flush(10)
    assert fake.log == ["batch o1:submitted", "batch o1:filled"]
    assert writer.close()
