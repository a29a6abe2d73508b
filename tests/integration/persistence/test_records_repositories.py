"""Strategies, backtest runs and sessions: stored and read back as plain records."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from stom_desktop.core.errors import PersistenceError
from stom_desktop.persistence import (
    BacktestRunRecord,
    BacktestRunRepository,
    Database,
    SessionRepository,
    StrategyRepository,
)


def test_strategy_versions_increment_per_name(db: Database) -> None:
    repo = StrategyRepository(db)
    assert repo.latest("sma") is None
    assert repo.save_version("sma", "v1 code", {"fast": 10}) == 1
    assert repo.save_version("sma", "v2 code", {"fast": 12, "slow": 30}) == 2
    assert repo.save_version("rsi", "rsi code", {}) == 1
    latest = repo.latest("sma")
    assert latest is not None
    assert (latest.version, latest.code, latest.parameters) == (
        2,
        "v2 code",
        {"fast": 12, "slow": 30},
    )
    first = repo.get("sma", 1)
    assert first is not None and first.code == "v1 code" and first.parameters == {"fast": 10}
    assert first.created_at.tzinfo is UTC
    assert repo.get("sma", 3) is None
    assert [(s.name, s.version) for s in repo.list()] == [("rsi", 1), ("sma", 2)]
    assert [s.version for s in repo.versions("sma")] == [1, 2]
    with pytest.raises(dataclasses.FrozenInstanceError):
        latest.code = "x"  # type: ignore[misc]


def test_strategy_parameters_must_be_json(db: Database) -> None:
    with pytest.raises(TypeError, match="parameters"):
        StrategyRepository(db).save_version("bad", "code", {"when": datetime.now(UTC)})


def test_backtest_run_round_trip_with_exact_curve(db: Database) -> None:
    repo = BacktestRunRepository(db)
    n = 10_000
    rng = np.random.default_rng(5)
    equity = 1e6 * np.cumprod(1 + rng.normal(0, 1e-3, n))
    times = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 60_000
    when = datetime(2024, 3, 1, 9, 0, tzinfo=timezone(timedelta(hours=9)))
    run_id = repo.save(
        strategy_name="sma",
        strategy_version=2,
        params={"fast": np.int64(10), "slow": 30},
        symbol="BTC/USDT",
        timeframe="1m",
        start_ts=int(times[0]),
        end_ts=int(times[-1]),
        settings={"fee_pct": 0.001},
        metrics={"sharpe": np.float64(1.25), "profit_factor": float("inf"), "cagr": float("nan")},
        n_trades=42,
        equity=equity,
        equity_ts=times,
        created_at=when,
    )
    run = repo.get(run_id)
    assert isinstance(run, BacktestRunRecord)
    assert np.array_equal(run.equity, equity) and run.equity.dtype == np.float64
    assert np.array_equal(run.equity_ts, times) and run.equity_ts.dtype == np.int64
    s = run.summary
    assert s.params == {"fast": 10, "slow": 30}
    assert s.metrics == {"sharpe": 1.25, "profit_factor": None, "cagr": None}
    assert (s.strategy_version, s.n_trades, s.start_ts, s.end_ts) == (2, 42, times[0], times[-1])
    assert s.created_at == when and s.created_at.tzinfo is UTC
    assert repo.get(run_id + 1000) is None

    second = repo.save(
        strategy_name="rsi",
        params={},
        symbol="ETH/USDT",
        timeframe="5m",
        start_ts=0,
        end_ts=1,
        settings={},
        metrics={},
        n_trades=0,
        equity=[],
        equity_ts=[],
    )
    assert [r.id for r in repo.list()] == [second, run_id]
    assert [r.id for r in repo.list(limit=1)] == [second]
    empty = repo.get(second)
    assert empty is not None and empty.equity.shape == (0,)


def test_backtest_curve_lengths_must_match(db: Database) -> None:
    with pytest.raises(ValueError, match="same length"):
        BacktestRunRepository(db).save(
            strategy_name="x",
            params={},
            symbol="A",
            timeframe="1m",
            start_ts=0,
            end_ts=1,
            settings={},
            metrics={},
            n_trades=0,
            equity=[1.0, 2.0],
            equity_ts=[1],
        )


def test_session_lifecycle(db: Database) -> None:
    repo = SessionRepository(db)
    created = repo.create("morning", "sma", "paper", ["005930", "BTC/KRW"], config={"cash": 1e6})
    assert (created.status, created.started_at, created.stopped_at) == ("created", None, None)
    start = datetime(2024, 5, 2, 0, 0, tzinfo=UTC)
    running = repo.set_status(created.id, "running", at=start)
    assert running.started_at == start
    paused = repo.set_status(created.id, "running", at=start + timedelta(hours=1))
    assert paused.started_at == start  # started once
    failed = repo.set_status(created.id, "error", at=start + timedelta(hours=2), error="Traceback")
    assert (failed.status, failed.error, failed.stopped_at) == (
        "error",
        "Traceback",
        start + timedelta(hours=2),
    )
    assert repo.get(created.id) == failed
    assert failed.symbols == ["005930", "BTC/KRW"] and failed.config == {"cash": 1e6}
    assert [s.id for s in repo.list()] == [created.id]
    with pytest.raises(ValueError, match="mode"):
        repo.create("x", "sma", "real-money", [])
    with pytest.raises(PersistenceError, match="session 999"):
        repo.set_status(999, "running")
