"""Fakes for the GUI tests: trading and schedule services, scripted prompts.

The trading fake carries a real ``engine.bus.EventBus`` so the bridge is tested against the
bus the engine uses. Calls are recorded (from worker threads: list.append is atomic).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from stom_desktop.core.errors import StomError
from stom_desktop.engine.bus import EventBus


def session(sid: int, state: str, pnl: str = "0") -> SimpleNamespace:
    return SimpleNamespace(
        id=sid,
        name=f"s{sid}",
        strategy="sma_cross",
        mode="paper",
        state=state,
        pnl=Decimal(pnl),
        equity=Decimal(10_000_000) + Decimal(pnl),
        fills=0,
        started_at=datetime(2026, 1, 5, 0, 0, tzinfo=UTC),
    )


def position(sid: int, symbol: str, qty: str) -> SimpleNamespace:
    return SimpleNamespace(
        session_id=sid,
        symbol=symbol,
        quantity=Decimal(qty),
        avg_price=Decimal("100.5"),
        last_price=Decimal("101"),
        unrealized_pnl=Decimal("5"),
        realized_pnl=Decimal(0),
    )


class FakeTrading:
    """Records every call; state is plain lists the test sets up."""

    def __init__(self, reports_dir: Path | None = None) -> None:
        self.events = EventBus()
        self.calls: list[tuple[Any, ...]] = []
        self.session_list: list[SimpleNamespace] = []
        self.position_list: list[SimpleNamespace] = []
        self.order_list: list[Any] = []
        self.fill_list: list[Any] = []
        self.pnl = Decimal("1234")
        self.reports_dir = reports_dir
        self.fail_start: Exception | None = None
        self.threads: set[str] = set()

    def _record(self, *call: Any) -> None:
        self.threads.add(threading.current_thread().name)
        self.calls.append(call)

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]

    def start_session(self, spec: Any) -> int:
        self._record("start_session", spec)
        if self.fail_start is not None:
            raise self.fail_start
        return 7

    def pause_session(self, session_id: int) -> None:
        self._record("pause_session", session_id)

    def resume_session(self, session_id: int) -> None:
        self._record("resume_session", session_id)

    def stop_session(self, session_id: int, *, liquidate: bool = False) -> None:
        self._record("stop_session", session_id, liquidate)

    def liquidate(self, session_id: int | None = None) -> list[Any]:
        self._record("liquidate", session_id)
        return []

    def kill_switch(self, engage: bool) -> None:
        self._record("kill_switch", engage)

    def sessions(self) -> list[Any]:
        return list(self.session_list)

    def positions(self) -> list[Any]:
        return list(self.position_list)

    def open_orders(self) -> list[Any]:
        return list(self.order_list)

    def recent_fills(self, limit: int = 50) -> list[Any]:
        return list(self.fill_list)[-limit:]

    def today_pnl(self) -> Decimal:
        return self.pnl

    def daily_report(self, day: Any = None) -> Any:
        self._record("daily_report", day)
        assert self.reports_dir is not None
        self.reports_dir.mkdir(parents=True, exist_ok=True)
        path = self.reports_dir / "daily-2026-01-05.md"
        path.write_text("# report\n", encoding="utf-8")
        return SimpleNamespace(path=path)

    def shutdown(self, timeout: float = 5.0) -> None:
        self._record("shutdown")


class ScriptedPrompts:
    """Answers questions from a script and records them."""

    def __init__(self, confirm: bool = True, choice: str | None = None) -> None:
        self.confirm_answer = confirm
        self.choice = choice
        self.asked: list[tuple[str, str]] = []

    def confirm(self, parent: Any, title: str, text: str) -> bool:
        self.asked.append((title, text))
        return self.confirm_answer

    def choose(self, parent: Any, title: str, text: str, options: Any) -> str | None:
        self.asked.append((title, text))
        assert self.choice is None or self.choice in options
        return self.choice

    def error(self, parent: Any, title: str, text: str) -> None:
        self.asked.append((title, text))


@dataclass
class FakeRun:
    status: str
    detail: str | None
    finished_at: datetime | None = None
    started_at: datetime | None = None


@dataclass
class FakeJob:
    id: str
    kind: str
    description: str
    trigger: str
    next_run: datetime | None
    enabled: bool
    last_run: FakeRun | None = None
    definition: Any = None


@dataclass
class FakeDefinition:
    id: str
    kind: str = "start_session"
    cron: str | None = "0 9 * * mon-fri"
    enabled: bool = True
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class FakeSchedule:
    """In-memory jobs with the ScheduleService method names."""

    timezone = None

    def __init__(self) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.calls: list[tuple[Any, ...]] = []

    def put(self, definition: Any, *, last: FakeRun | None = None) -> FakeJob:
        next_run = datetime(2026, 1, 6, 0, 0, tzinfo=UTC) if definition.enabled else None
        job = FakeJob(
            definition.id,
            definition.kind,
            definition.description,
            f"cron {definition.cron}",
            next_run,
            definition.enabled,
            last,
            definition,
        )
        self.jobs[definition.id] = job
        return job

    def list_jobs(self) -> list[FakeJob]:
        return sorted(self.jobs.values(), key=lambda j: j.id)

    def validate(self, definition: Any) -> None:
        if definition.cron is not None and len(definition.cron.split()) != 5:
            raise StomError(f"job {definition.id!r} cron: needs 5 fields")

    def add(self, definition: Any, *, replace_existing: bool = False) -> FakeJob:
        self.calls.append(("add", definition.id))
        if definition.id in self.jobs and not replace_existing:
            raise StomError(f"job {definition.id!r} id: already exists")
        return self.put(definition)

    def edit(self, job_id: str, definition: Any) -> FakeJob:
        self.calls.append(("edit", job_id))
        del self.jobs[job_id]
        return self.put(definition)

    def enable(self, job_id: str) -> FakeJob:
        self.calls.append(("enable", job_id))
        return self.put(replace(self.jobs[job_id].definition, enabled=True))

    def disable(self, job_id: str) -> FakeJob:
        self.calls.append(("disable", job_id))
        return self.put(replace(self.jobs[job_id].definition, enabled=False))

    def delete(self, job_id: str) -> Any:
        self.calls.append(("delete", job_id))
        return self.jobs.pop(job_id).definition

    def run_now(self, job_id: str) -> str:
        self.calls.append(("run_now", job_id))
        self.jobs[job_id].last_run = FakeRun("ok", "ran now")
        return f"{job_id}@now"

    def install_default_schedule(self, *, replace_existing: bool = False) -> list[FakeJob]:
        self.calls.append(("install_default_schedule",))
        return [self.put(FakeDefinition(f"default.{n}", enabled=False)) for n in ("a", "b")]
