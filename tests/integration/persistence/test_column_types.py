"""Aware UTC times and exact money round-trip identically on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence import Database, to_money
from stom_desktop.persistence.models import Instrument, JobRun

SEOUL = ZoneInfo("Asia/Seoul")


def test_aware_datetimes_round_trip_as_utc(db: Database) -> None:
    moments = [
        datetime(2024, 1, 2, 9, 0, 0, 123456, tzinfo=SEOUL),
        datetime(2024, 3, 31, 1, 30, tzinfo=timezone(timedelta(hours=-5))),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    with db.session() as session:
        for i, moment in enumerate(moments):
            session.add(JobRun(job_id=f"j{i}", scheduled_for=moment, status="ok"))
    with db.session() as session:
        runs = session.scalars(sa.select(JobRun).order_by(JobRun.job_id)).all()
        stored = [run.scheduled_for for run in runs]
    assert stored == moments  # the same instants...
    assert all(s is not None and s.tzinfo is UTC for s in stored)  # ...returned in UTC
    assert stored[0] == datetime(2024, 1, 2, 0, 0, 0, 123456, tzinfo=UTC)
    # Ordering and range filters compare instants on both back-ends.
    with db.connect() as conn:
        later = (
            conn.execute(
                sa.select(JobRun.job_id)
                .where(JobRun.scheduled_for > datetime(2024, 1, 1, tzinfo=UTC))
                .order_by(JobRun.scheduled_for)
            )
            .scalars()
            .all()
        )
    assert later == ["j0", "j1"]


def test_naive_datetime_is_refused(db: Database) -> None:
    with pytest.raises(PersistenceError, match="naive datetime"), db.session() as session:
        session.add(JobRun(job_id="n", scheduled_for=datetime(2024, 1, 1), status="ok"))
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM job_runs")).scalar() == 0


def test_money_is_exact_to_28_digits(db: Database) -> None:
    values = {
        "tick_size": Decimal("0.0000000001"),
        "lot_size": Decimal("123456789012345678.1234567891"),
        "min_quantity": Decimal("-0.5"),
        "min_notional": None,
    }
    with db.session() as session:
        session.add(
            Instrument(
                symbol="BTC/KRW",
                venue="upbit",
                asset_class="crypto",
                currency="KRW",
                timezone="Asia/Seoul",
                **values,
            )
        )
    with db.session() as session:
        stored = session.scalars(sa.select(Instrument)).one()
        assert stored.tick_size == values["tick_size"]
        assert stored.lot_size == values["lot_size"]
        assert str(stored.lot_size) == "123456789012345678.1234567891"
        assert str(stored.min_quantity) == "-0.5000000000"
        assert stored.min_notional is None


def test_to_money_refuses_floats_and_overflow() -> None:
    assert to_money(3) == Decimal("3.0000000000")
    assert to_money("1.23456789019") == Decimal("1.2345678902")  # banker's rounding at 10 dp
    with pytest.raises(TypeError, match="float"):
        to_money(0.1)
    with pytest.raises(ValueError, match="does not fit"):
        to_money(Decimal("1e18"))
    with pytest.raises(ValueError, match="finite"):
        to_money(Decimal("NaN"))
    with pytest.raises(ValueError, match="not a decimal"):
        to_money("ten")
