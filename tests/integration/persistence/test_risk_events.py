"""RiskEventRepository on SQLite and PostgreSQL: append, filter, validate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stom_desktop.persistence import Database, SessionRepository
from stom_desktop.persistence.repositories.risk_events import RiskEventRepository

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def test_record_and_list_with_filters(db: Database) -> None:
    repo = RiskEventRepository(db)
    session = SessionRepository(db).create("s", "sma_cross", "paper", ["SIM1"])
    first = repo.record("risk.blacklist", "BAD is blacklisted", session_id=session.id, at=T0)
    repo.record(
        "krx.tick_size", "price 2001 off tick", client_order_id="stom-s1-000001",
        at=T0 + timedelta(minutes=1),
    )  # fmt: skip
    repo.record(
        "risk.kill_switch", "engaged: operator", session_id=session.id, at=T0 + timedelta(minutes=2)
    )
    assert first.rule == "risk.blacklist" and first.at == T0 and first.session_id == session.id
    assert [e.rule for e in repo.list()] == ["risk.blacklist", "krx.tick_size", "risk.kill_switch"]
    assert [e.rule for e in repo.list(session_id=session.id)] == [
        "risk.blacklist",
        "risk.kill_switch",
    ]
    assert [e.client_order_id for e in repo.list(rule="krx.tick_size")] == ["stom-s1-000001"]
    assert len(repo.list(since=T0 + timedelta(seconds=30))) == 2
    assert len(repo.list(limit=1)) == 1


def test_invalid_events_are_refused(db: Database) -> None:
    repo = RiskEventRepository(db)
    with pytest.raises(ValueError, match="risk rule"):
        repo.record("", "no rule")
    with pytest.raises(ValueError, match="naive"):
        repo.record("risk.x", "naive time", at=datetime(2026, 1, 5))
    assert repo.list() == []
