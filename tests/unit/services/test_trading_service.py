"""TradingService over the real engine, simulator, PaperBroker, order manager and SQLite journal."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from stom_desktop.bootstrap import App, build_app
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.core.events import FillEvent
from stom_desktop.persistence import OrderRepository, SessionRepository
from stom_desktop.services.trading_service import TradingService
from stom_desktop.services.trading_spec import MANUAL_STRATEGY, SessionSpec

T0 = 1_704_240_000_000  # 2024-01-03 09:00 Seoul
HOURS_3 = 3 * 3600.0


@pytest.fixture()
def app() -> Iterator[App]:
    ctx = build_app()
    yield ctx
    ctx.close()


@pytest.fixture()
def service(app: App) -> Iterator[TradingService]:
    svc = TradingService(app.settings, app.database, app.strategies, app.paths)
    yield svc
    svc.shutdown()


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def fast_spec(**overrides: object) -> SessionSpec:
    values: dict[str, object] = {
        "name": "t",
        "strategy": "sma_cross",
        "symbols": ("SIM1", "SIM2"),
        "speed": 0,
        "market_duration_s": HOURS_3,
        "start_ms": T0,
        "params": {"fast": 5, "slow": 20},
    }
    values.update(overrides)
    return SessionSpec(**values)  # type: ignore[arg-type]


def manual_session(service: TradingService, symbols: tuple[str, ...] = ("SIM1",)) -> int:
    spec = SessionSpec("manual", MANUAL_STRATEGY, symbols, speed=60.0, start_ms=T0)
    sid = service.start_session(spec)
    wait_for(lambda: all(service.last_price(s, sid) is not None for s in symbols))
    return sid


def test_spec_round_trips_through_json_and_validates() -> None:
    spec = fast_spec(record=True, initial_cash=Decimal("5000000.5"))
    again = SessionSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert again == spec
    with pytest.raises(ConfigurationError, match="mode"):
        fast_spec(mode="yolo")
    with pytest.raises(ConfigurationError, match="unique"):
        fast_spec(symbols=("A", "A"))
    with pytest.raises(ConfigurationError, match="recording"):
        fast_spec(feed="replay")
    with pytest.raises(ConfigurationError, match="unknown session spec"):
        SessionSpec.from_dict({**spec.to_dict(), "colour": "red"})


def test_live_mode_refuses_clearly_and_stores_nothing(service: TradingService, app: App) -> None:
    # No account configured (settings.live.account is empty): refused before anything runs.
    with pytest.raises(ConfigurationError, match=r"needs an exchange and an account") as info:
        service.start_session(fast_spec(mode="live"))
    assert info.value.hint is not None and "Settings -> Accounts" in info.value.hint
    assert SessionRepository(app.database).list() == []


def test_paper_session_trades_journals_and_reports(service: TradingService, app: App) -> None:
    seen: list[FillEvent] = []
    service.events.subscribe(FillEvent, seen.append)
    sid = service.start_session(fast_spec())
    wait_for(lambda: service.session_finished(sid))
    status = service.sessions()[0]
    assert status.id == sid and status.feed_finished and status.state == "running"
    report = service.stop_session(sid)
    assert report.fills >= 4 and len(report.trades) >= 2, "sma_cross(5, 20) trades in 3 hours"
    assert report.state == "stopped" and report.error is None
    assert len(seen) == report.fills  # every fill reached the service's bus
    # the books add up: equity = cash + positions at the marks; P&L = equity - cash
    assert report.total_pnl == report.equity - report.initial_cash
    assert report.realized_pnl - report.fees + report.unrealized_pnl == report.total_pnl
    closed = report.closed_trades
    assert sum(t.pnl for t in closed) + sum(
        t.pnl for t in report.trades if t.exit_ts is None
    ) == pytest.approx(report.total_pnl, abs=Decimal("0.01"))
    # every fill and order is journaled under this session; nothing left unfinished
    journal = OrderRepository(app.database)
    assert len(journal.all_fills(sid)) == report.fills
    assert len(journal.orders(sid)) == report.orders
    assert journal.unfinished(sid) == []
    stored = SessionRepository(app.database).get(sid)
    assert stored is not None and stored.status == "stopped" and stored.started_at is not None
    assert report.path is not None and report.path.exists()
    data = json.loads(report.path.with_suffix(".json").read_text())
    assert data["fills"] == report.fills and len(data["trades"]) == len(report.trades)
    daily = service.daily_report()
    assert daily.fills == report.fills and daily.orders == report.orders
    assert daily.path is not None and daily.path.exists() and daily.json_path is not None
    assert daily.net_realized == report.realized_pnl - report.fees
    assert service.stop_session(sid) is report  # stopping twice answers the same report


def test_same_seed_gives_the_same_session(service: TradingService) -> None:
    first = service.stop_session(_finished(service, fast_spec()))
    second = service.stop_session(_finished(service, fast_spec(name="again")))
    assert [(t.symbol, t.entry_price, t.exit_price) for t in first.trades] == [
        (t.symbol, t.entry_price, t.exit_price) for t in second.trades
    ]
    other = service.stop_session(_finished(service, fast_spec(name="other", seed=7)))
    assert [t.entry_price for t in other.trades] != [t.entry_price for t in first.trades]


def _finished(service: TradingService, spec: SessionSpec) -> int:
    sid = service.start_session(spec)
    wait_for(lambda: service.session_finished(sid))
    return sid


def test_manual_orders_go_through_risk_and_fill(service: TradingService, app: App) -> None:
    sid = manual_session(service)
    bought = service.place_order("SIM1", "buy", 10)
    assert bought.ok and bought.client_order_id is not None
    wait_for(
        lambda: any(f.client_order_id == bought.client_order_id for f in service.recent_fills())
    )
    [position] = service.positions()
    assert (position.session_id, position.symbol, position.quantity) == (sid, "SIM1", 10)
    # the same risk checks as strategy orders: an order above the notional limit is refused
    huge = service.place_order("SIM1", "buy", 100_000)
    assert not huge.ok and huge.rule == "risk.max_order_notional"
    # market rules: a limit price off the tick grid
    price = service.last_price("SIM1")
    assert price is not None
    off_tick = service.place_order("SIM1", "buy", 1, price - Decimal("0.5"))
    assert not off_tick.ok and off_tick.rule == "sim.tick_size"
    # a resting limit order shows as open until cancelled by liquidation
    resting = service.place_order("SIM1", "buy", 1, (price * Decimal("0.8")).to_integral())
    assert resting.ok
    assert [o.client_order_id for o in service.open_orders()] == [resting.client_order_id]
    assert not service.place_order("SIM1", "buy", 0).ok
    assert service.place_order("NOPE", "buy", 1).rule == "session"
    assert service.place_order("SIM1", "hold", 1).rule == "order.invalid"
    results = service.liquidate(sid)
    assert [r.ok for r in results] == [True]
    wait_for(lambda: service.positions() == [] and service.open_orders() == [])
    report = service.stop_session(sid)
    # both refusals that reached the order manager were recorded (risk and market rule)
    assert report.open_positions == {} and report.rejections == 2
    assert len(report.closed_trades) == 1


def test_kill_switch_halts_and_releases_without_restart(service: TradingService) -> None:
    sid = manual_session(service)
    assert service.place_order("SIM1", "buy", 5).ok
    wait_for(lambda: bool(service.positions()))
    service.kill_switch(True)
    assert service.halted and service.sessions()[0].halted
    wait_for(lambda: service.positions() == [])  # flattened
    refused = service.place_order("SIM1", "buy", 1)
    assert not refused.ok and refused.rule == "risk.kill_switch"
    service.kill_switch(False)
    assert not service.halted
    assert service.place_order("SIM1", "buy", 1).ok
    service.stop_session(sid)


def test_pause_resume_and_two_sessions_at_once(service: TradingService) -> None:
    a = manual_session(service, ("SIM1",))
    b = manual_session(service, ("SIM1", "SIM2"))
    assert [s.id for s in service.sessions()] == [a, b]
    ambiguous = service.place_order("SIM1", "buy", 1)
    assert (
        not ambiguous.ok
        and ambiguous.rule == "session"
        and "pass session_id" in (ambiguous.reason or "")
    )
    assert service.place_order("SIM2", "buy", 1).ok  # only b trades SIM2
    service.pause_session(a)
    states = {s.id: s.state for s in service.sessions()}
    assert states == {a: "paused", b: "running"}
    with pytest.raises(ConfigurationError, match="cannot pause while paused"):
        service.pause_session(a)
    service.resume_session(a)
    assert {s.id: s.state for s in service.sessions()}[a] == "running"
    service.shutdown()
    assert {s.state for s in service.sessions()} == {"stopped"}
    with pytest.raises(ConfigurationError, match="stopped"):
        service.pause_session(b)


def test_dry_run_logs_intended_orders_and_sends_nothing(service: TradingService, app: App) -> None:
    sid = service.start_session(fast_spec(mode="dry_run"))
    wait_for(lambda: service.session_finished(sid))
    report = service.stop_session(sid)
    assert report.intended_orders >= 4 and report.orders == report.intended_orders
    assert OrderRepository(app.database).orders(sid) == []


def test_record_then_replay_gives_the_same_trades(service: TradingService) -> None:
    recorded = service.stop_session(_finished(service, fast_spec(record=True)))
    assert service.recording_symbols(f"session-{recorded.session_id}") == ["SIM1", "SIM2"]
    replay = fast_spec(
        name="replay", feed="replay", recording=f"session-{recorded.session_id}", start_ms=None
    )
    replayed = service.stop_session(_finished(service, replay))
    assert replayed.trades == recorded.trades
    assert replayed.total_pnl == recorded.total_pnl


def test_interrupted_session_is_reconciled_at_start_up(app: App) -> None:
    repo = SessionRepository(app.database)
    record = repo.create(
        "crashed", "sma_cross", "paper", ["SIM1"], config={"pid": 999_999_999, "host": "x"}
    )
    repo.set_status(record.id, "running")
    journal = OrderRepository(app.database)
    now = datetime(2024, 1, 3, tzinfo=UTC)
    cid = f"stom-s{record.id}-000001"
    journal.record_intent(cid, "SIM1", "buy", "market", 3, session_id=record.id, at=now)
    filled = f"stom-s{record.id}-000002"
    journal.record_intent(filled, "SIM1", "buy", "market", 2, session_id=record.id, at=now)
    journal.transition(filled, "submitted", at=now)
    journal.add_fill(filled, 2, 100, venue_fill_id="F1", ts=now, to_status="filled")
    service = TradingService(app.settings, app.database, app.strategies, app.paths)
    [found] = service.recovered
    assert found.session_id == record.id and found.never_sent == (cid,)
    assert found.positions == {"SIM1": Decimal(2)}
    assert found.cash == Decimal(10_000_000) - 200
    assert journal.unfinished(record.id) == []
    after = repo.get(record.id)
    assert after is not None and after.status == "stopped" and "interrupted" in (after.error or "")
    # a second start-up finds nothing more to do
    assert TradingService(app.settings, app.database, app.strategies, app.paths).recovered == []
