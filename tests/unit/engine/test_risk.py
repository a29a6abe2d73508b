"""RiskManager rules one by one, the kill switch, forced liquidation, and their records."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from order_fakes import FakeBroker, RecordingBus
from order_journal import fresh_sqlite_url

from stom_desktop.config.settings import RiskLimits
from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.events import RiskRejectEvent
from stom_desktop.core.order_state import OrderStatus
from stom_desktop.core.orders import OrderType
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.requests import OrderRequest
from stom_desktop.engine.risk import RiskContext, RiskManager, SessionRiskOptions, is_entry
from stom_desktop.persistence import OrderRepository, create_database
from stom_desktop.persistence.repositories.risk_events import RiskEventRepository

NOW = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
EQUITY = Decimal(1_000_000)


def req(side: Side = Side.BUY, qty: int = 10, price: int = 100, symbol: str = "A") -> OrderRequest:
    return OrderRequest("s1", symbol, side, Decimal(qty), reference_price=Decimal(price))


def ctx(position: int = 0, open_symbols: tuple[str, ...] = (), equity: Decimal = EQUITY,
        now: datetime = NOW) -> RiskContext:  # fmt: skip
    return RiskContext(Decimal(position), frozenset(open_symbols), equity, now)


def risk(**limits: object) -> RiskManager:
    return RiskManager(RiskLimits(**limits), clock=SimulatedClock(NOW))  # type: ignore[arg-type]


def rule(manager: RiskManager, request: OrderRequest, context: RiskContext) -> str | None:
    verdict = manager.check(request, context)
    return None if verdict is None else verdict.rule


def test_entry_and_exit_classification() -> None:
    assert is_entry(Side.BUY, Decimal(1), Decimal(0))
    assert is_entry(Side.BUY, Decimal(1), Decimal(5))
    assert not is_entry(Side.SELL, Decimal(5), Decimal(5))
    assert is_entry(Side.SELL, Decimal(6), Decimal(5))  # flips short


def test_within_limits_passes() -> None:
    assert rule(risk(), req(), ctx()) is None


def test_max_notional_applies_to_every_order() -> None:
    manager = risk(max_order_notional=500.0)
    assert rule(manager, req(qty=6), ctx()) == "risk.max_order_notional"
    assert rule(manager, req(Side.SELL, qty=6), ctx(position=6)) == "risk.max_order_notional"
    assert rule(manager, req(qty=5), ctx()) is None


def test_max_position_pct_counts_the_position_after_the_order() -> None:
    manager = risk(max_position_pct=0.01)  # 10,000 of 1,000,000
    assert rule(manager, req(qty=100), ctx()) is None
    assert rule(manager, req(qty=1), ctx(position=100)) == "risk.max_position_pct"
    assert rule(manager, req(Side.SELL, qty=50), ctx(position=100)) is None  # exit


def test_max_open_positions_blocks_only_new_symbols() -> None:
    manager = risk(max_open_positions=2)
    full = ("B", "C")
    assert rule(manager, req(symbol="A"), ctx(open_symbols=full)) == "risk.max_open_positions"
    assert rule(manager, req(symbol="B"), ctx(position=1, open_symbols=full)) is None


def test_blacklist_blocks_entries_not_exits() -> None:
    manager = risk(blacklist=("A",))
    assert rule(manager, req(), ctx()) == "risk.blacklist"
    assert rule(manager, req(Side.SELL, qty=3), ctx(position=3)) is None


def test_cooldown_after_an_exit() -> None:
    manager = risk(cooldown_seconds=60)
    manager.on_position_change("s1", "A", Decimal(5), Decimal(0), NOW)
    assert rule(manager, req(), ctx(now=NOW + timedelta(seconds=30))) == "risk.cooldown"
    assert rule(manager, req(), ctx(now=NOW + timedelta(seconds=60))) is None
    assert rule(manager, req(symbol="B"), ctx(now=NOW)) is None


def test_daily_loss_limit_and_profit_lock_block_new_entries() -> None:
    manager = risk(daily_loss_limit_pct=0.05, daily_profit_lock_pct=0.10)
    manager.observe_equity("s1", EQUITY, NOW)
    assert rule(manager, req(), ctx(equity=Decimal(950_000))) == "risk.daily_loss_limit"
    assert rule(manager, req(Side.SELL, qty=1), ctx(position=1, equity=Decimal(950_000))) is None
    assert rule(manager, req(), ctx(equity=Decimal(1_100_000))) == "risk.daily_profit_lock"
    assert rule(manager, req(), ctx(equity=Decimal(1_050_000))) is None
    # A new exchange day starts from the equity first seen that day.
    tomorrow = NOW + timedelta(days=1)
    assert rule(manager, req(), ctx(equity=Decimal(950_000), now=tomorrow)) is None


def test_entry_window_in_exchange_time() -> None:
    manager = risk()
    manager.set_session_options(
        "s1", SessionRiskOptions(entry_start=time(9, 5), entry_end=time(15, 0))
    )
    assert rule(manager, req(), ctx()) is None  # 10:00 Seoul
    late = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # 15:00 Seoul
    assert rule(manager, req(), ctx(now=late)) == "risk.entry_window"
    early = datetime(2026, 1, 5, 0, 1, tzinfo=UTC)  # 09:01 Seoul
    assert rule(manager, req(), ctx(now=early)) == "risk.entry_window"
    assert rule(manager, req(Side.SELL, qty=1), ctx(position=1, now=late)) is None


def test_market_order_without_any_price_is_refused() -> None:
    request = OrderRequest("s1", "A", Side.BUY, Decimal(1))
    assert rule(risk(), request, ctx()) == "risk.no_price"


def test_kill_switch_blocks_everything_until_released() -> None:
    manager = risk()
    manager.engage_kill_switch("operator")
    assert rule(manager, req(Side.SELL, qty=1), ctx(position=1)) == "risk.kill_switch"
    manager.release_kill_switch()
    assert rule(manager, req(), ctx()) is None


class Rig:
    def __init__(self, tmp_path: Path, **limits: object) -> None:
        self.db = create_database(fresh_sqlite_url(tmp_path))
        self.clock = SimulatedClock(NOW)
        self.bus = RecordingBus()
        self.events = RiskEventRepository(self.db)
        self.risk = RiskManager(
            RiskLimits(**limits),
            clock=self.clock,
            bus=self.bus,
            recorder=self.events,  # type: ignore[arg-type]
        )
        self.broker = FakeBroker(auto_fill=True)
        self.om = OrderManager(
            self.broker, OrderRepository(self.db), self.clock, self.bus,
            risk=self.risk, price_source=lambda _s: Decimal(100),
        )  # fmt: skip
        self.om.register_session("s1", initial_cash=EQUITY, journal_session_id=None)


def test_rejections_are_recorded_and_published(tmp_path: Path) -> None:
    rig = Rig(tmp_path, blacklist=("BAD",))
    result = rig.om.place(OrderRequest("s1", "BAD", Side.BUY, Decimal(1)))
    assert not result.ok and result.rule == "risk.blacklist" and result.client_order_id is None
    assert rig.broker.submit_calls == []
    events = rig.events.list()
    assert len(events) == 1 and events[0].rule == "risk.blacklist"
    assert "BAD is blacklisted" in events[0].detail
    published = rig.bus.of(RiskRejectEvent)
    assert len(published) == 1 and published[0].reason == result.reason  # type: ignore[attr-defined]


def test_kill_switch_cancels_flattens_halts_and_releases(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.om.place(OrderRequest("s1", "A", Side.BUY, Decimal(10)))
    rig.broker.auto_fill = False
    resting = rig.om.place(
        OrderRequest("s1", "B", Side.BUY, Decimal(1), OrderType.LIMIT, Decimal(90))
    ).client_order_id
    rig.broker.auto_fill = True
    report = rig.om.engage_kill_switch("operator pressed it")
    assert report.cancel_requested == [resting]
    assert rig.om.order(resting).status is OrderStatus.CANCELLED  # type: ignore[arg-type,union-attr]
    assert [r.ok for r in report.flatten] == [True]
    assert rig.om.portfolio("s1").open_positions() == {}
    blocked = rig.om.place(OrderRequest("s1", "A", Side.BUY, Decimal(1)))
    assert blocked.rule == "risk.kill_switch"
    rig.om.release_kill_switch()
    assert rig.om.place(OrderRequest("s1", "A", Side.BUY, Decimal(1))).ok
    rules = [e.rule for e in rig.events.list()]
    assert rules == ["risk.kill_switch", "risk.kill_switch", "risk.kill_switch"]
    assert [e.detail for e in rig.events.list()][-1] == "released"


def test_forced_liquidation_once_per_day(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.risk.set_session_options("s1", SessionRiskOptions(liquidation_time=time(15, 20)))
    rig.om.place(OrderRequest("s1", "A", Side.BUY, Decimal(3)))
    rig.om.tick(datetime(2026, 1, 5, 6, 0, tzinfo=UTC))  # 15:00 Seoul: not yet
    assert rig.om.portfolio("s1").position("A").quantity == 3
    rig.om.tick(datetime(2026, 1, 5, 6, 20, tzinfo=UTC))  # 15:20 Seoul
    assert rig.om.portfolio("s1").position("A").quantity == 0
    rig.om.place(OrderRequest("s1", "A", Side.BUY, Decimal(1)))
    rig.om.tick(datetime(2026, 1, 5, 6, 25, tzinfo=UTC))  # same day: done already
    assert rig.om.portfolio("s1").position("A").quantity == 1
    assert [e.rule for e in rig.events.list()] == ["risk.forced_liquidation"]


@pytest.mark.parametrize("bad", ["Mars/Phobos"])
def test_unknown_time_zone_is_refused_when_configured(bad: str) -> None:
    with pytest.raises(Exception, match="Phobos"):
        risk().set_session_options("s1", SessionRiskOptions(timezone=bad))
