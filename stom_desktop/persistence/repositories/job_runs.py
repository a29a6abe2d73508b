"""Scheduled-job runs: one row per run (or missed run), the scheduler's "last result" and log."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence.db import Database
from stom_desktop.persistence.models import JobRun, table_of
from stom_desktop.persistence.repositories._common import aware, check_text, utc_now

_T = table_of(JobRun)
STATUSES = ("running", "ok", "error", "missed")
FINAL_STATUSES = ("ok", "error", "missed")
# Details are free text (tracebacks included); cap them so a runaway message cannot bloat the DB.
MAX_DETAIL = 20_000


@dataclass(frozen=True, slots=True)
class JobRunRecord:
    """One stored run of a scheduled job (times are aware UTC)."""

    id: int
    job_id: str
    scheduled_for: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    detail: str | None


class JobRunRepository:
    """Record job runs as they start and finish, and answer "what happened last"."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def start(self, job_id: str, *, scheduled_for: datetime | None = None) -> JobRunRecord:
        """Store a 'running' row for ``job_id`` (started now) and return it."""
        check_text(job_id, "job id", 191)
        row = {
            "job_id": job_id,
            "scheduled_for": None if scheduled_for is None else aware(scheduled_for, job_id),
            "started_at": utc_now(),
            "status": "running",
        }
        return self._insert(row)

    def finish(self, run_id: int, status: str, detail: str | None = None) -> JobRunRecord:
        """Close a 'running' row as 'ok' or 'error' with ``detail``."""
        if status not in ("ok", "error"):
            raise ValueError(
                f"job run {run_id}: finish status must be 'ok' or 'error', got {status!r}"
            )
        values = {"status": status, "finished_at": utc_now(), "detail": _clip(detail)}
        with self._db.begin() as conn:
            updated = conn.execute(sa.update(_T).where(_T.c.id == run_id).values(**values))
            if updated.rowcount == 0:
                raise PersistenceError(f"job run {run_id} does not exist")
            return _record(conn.execute(sa.select(_T).where(_T.c.id == run_id)).one())

    def record(
        self,
        job_id: str,
        status: str,
        *,
        scheduled_for: datetime | None = None,
        detail: str | None = None,
    ) -> JobRunRecord:
        """Store a finished row in one go (a 'missed' run, a skipped overlap, a quick result)."""
        check_text(job_id, "job id", 191)
        if status not in FINAL_STATUSES:
            raise ValueError(
                f"job {job_id!r}: status must be one of {FINAL_STATUSES}, got {status!r}"
            )
        now = utc_now()
        row = {
            "job_id": job_id,
            "scheduled_for": None if scheduled_for is None else aware(scheduled_for, job_id),
            "started_at": None if status == "missed" else now,
            "finished_at": now,
            "status": status,
            "detail": _clip(detail),
        }
        return self._insert(row)

    def interrupt_running(self, detail: str = "interrupted: the application stopped") -> int:
        """Mark every row still 'running' (left over from a crash) as 'error'; return how many."""
        with self._db.begin() as conn:
            result = conn.execute(
                sa.update(_T)
                .where(_T.c.status == "running")
                .values(status="error", finished_at=utc_now(), detail=detail)
            )
            return int(result.rowcount or 0)

    def last_by_job(self) -> dict[str, JobRunRecord]:
        """The newest run of every job id that has one."""
        newest = sa.select(sa.func.max(_T.c.id)).group_by(_T.c.job_id).scalar_subquery()
        with self._db.connect() as conn:
            rows = conn.execute(sa.select(_T).where(_T.c.id.in_(newest)))
            return {row.job_id: _record(row) for row in rows}

    def list(
        self,
        *,
        job_id: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[JobRunRecord]:
        """Runs oldest first, optionally filtered by job, status and start of the row."""
        query = sa.select(_T)
        if job_id is not None:
            query = query.where(_T.c.job_id == job_id)
        if status is not None:
            query = query.where(_T.c.status == status)
        if since is not None:
            query = query.where(_T.c.finished_at >= aware(since, "since"))
        query = query.order_by(_T.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self._db.connect() as conn:
            return [_record(row) for row in conn.execute(query)]

    def _insert(self, row: dict[str, Any]) -> JobRunRecord:
        with self._db.begin() as conn:
            new_id = conn.execute(sa.insert(_T).values(**row).returning(_T.c.id)).scalar_one()
            return _record(conn.execute(sa.select(_T).where(_T.c.id == new_id)).one())


def _clip(detail: str | None) -> str | None:
    if detail is None or len(detail) <= MAX_DETAIL:
        return detail
    return detail[: MAX_DETAIL - 20] + "\n... (truncated)"


def _record(row: Any) -> JobRunRecord:
    return JobRunRecord(
        id=row.id,
        job_id=row.job_id,
        scheduled_for=row.scheduled_for,
        started_at=row.started_at,
        finished_at=row.finished_at,
        status=row.status,
        detail=row.detail,
    )
