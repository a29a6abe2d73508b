"""``stom trade`` keeps running while an engine is busy (a venue call waiting for its timeout).

A live order whose answer never comes holds the engine thread for ccxt's timeout (10 s);
the service's ``snapshot`` then raises ``StomError`` ("the engine did not answer"). The
foreground loop must skip that refresh and go on, not end the session with an error.
"""

from __future__ import annotations

from typing import Any, cast

from stom_desktop.cli.trade_cmd import run_foreground
from stom_desktop.core.errors import StomError
from stom_desktop.services.trading_service import TradingService, TradingSnapshot
from stom_desktop.services.trading_spec import SessionSpec


class BusyService:
    """The calls ``run_foreground`` makes; the first two snapshots find the engine busy."""

    def __init__(self) -> None:
        self.snapshots = 0
        self.stopped = False

    def start_session(self, spec: SessionSpec) -> int:
        return 7

    def snapshot(self) -> TradingSnapshot:
        self.snapshots += 1
        if self.snapshots <= 2:
            raise StomError("session 7: the engine did not answer within 10.0 s")
        return TradingSnapshot((), (), (), ())

    def session_finished(self, session_id: int) -> bool:
        return self.snapshots >= 4

    def stop_session(self, session_id: int, *, liquidate: bool = False) -> Any:
        self.stopped = True
        return "the report"


def test_a_busy_engine_skips_refreshes_and_the_session_goes_on() -> None:
    service = BusyService()
    spec = SessionSpec(name="busy", strategy="manual", symbols=("SIM1",))
    report = run_foreground(
        cast(TradingService, service), spec, "UTC", duration_s=None, live=False, liquidate=False
    )
    assert report == "the report" and service.stopped
    assert service.snapshots >= 3  # refreshed again after the busy spell
