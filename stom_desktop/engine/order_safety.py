"""The order manager's safety controls: kill switch, flattening, forced liquidation.

:class:`SafetyMixin` gives ``OrderManager``:

* ``flatten``: a market order closing every open position (of one session or all),
  bypassing risk because it only reduces (``VenueOrderManager`` overrides it to sweep and
  read the venue first);
* ``engage_kill_switch`` / ``release_kill_switch``: halt all trading (refuse new orders,
  cancel every open order, flatten everything) and allow it again, each recorded as a
  risk event per session;
* ``tick``: the kernel loop's periodic work: report background journal failures, force
  the liquidation of sessions whose liquidation time is reached, and reconcile pending
  submits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stom_desktop.core.orders import OrderType
from stom_desktop.core.portfolio import side_of
from stom_desktop.engine.order_books import OrderBooks
from stom_desktop.engine.requests import OrderRequest, PlaceResult


@dataclass(frozen=True, slots=True)
class KillSwitchReport:
    """What engaging the kill switch did."""

    cancel_requested: list[str]
    flatten: list[PlaceResult]


class SafetyMixin(OrderBooks):
    """``flatten`` / kill switch / ``tick`` of ``OrderManager`` (see the module doc)."""

    def flatten(self, session_id: str | None = None, *, tag: str = "flatten") -> list[PlaceResult]:
        """Market orders closing every open position (bypassing risk: they only reduce)."""
        with self._lock:
            results = []
            books = self._sessions.values() if session_id is None else [self.session(session_id)]
            for book in books:
                for symbol, position in book.portfolio.open_positions().items():
                    request = OrderRequest(
                        session_id=book.session_id,
                        symbol=symbol,
                        side=side_of(-position.quantity),
                        quantity=abs(position.quantity),
                        order_type=OrderType.MARKET,
                        tag=tag,
                        reason_text=tag,
                        reference_price=position.avg_price,
                    )
                    results.append(self._place(request, check_risk=False))
            return results

    def engage_kill_switch(self, reason: str = "manual kill switch") -> KillSwitchReport:
        """Halt all trading: refuse new orders, cancel every open order, flatten everything."""
        with self._lock:
            if self.risk is None:
                raise RuntimeError("kill switch needs a RiskManager (OrderManager(risk=...))")
            self.risk.engage_kill_switch(reason)
            for book in self._sessions.values():
                self.risk.record(
                    "risk.kill_switch",
                    f"engaged: {reason}",
                    session_id=book.session_id,
                    journal_session_id=book.journal_session_id,
                )
            return KillSwitchReport(self.cancel_all(), self.flatten(tag="kill_switch"))

    def release_kill_switch(self) -> None:
        """Allow new orders again, without a restart."""
        with self._lock:
            if self.risk is None:
                return
            self.risk.release_kill_switch()
            for book in self._sessions.values():
                self.risk.record(
                    "risk.kill_switch",
                    "released",
                    session_id=book.session_id,
                    journal_session_id=book.journal_session_id,
                )

    def tick(self, now: datetime | None = None) -> None:
        """Periodic work for the kernel loop: forced liquidation and pending reconciliation."""
        self.check_journal()
        with self._lock:
            when = now or self._clock.now()
            if self.risk is not None:
                for book in list(self._sessions.values()):
                    if self.risk.liquidation_due(book.session_id, when):
                        self.risk.record(
                            "risk.forced_liquidation",
                            f"liquidation time reached at {when.isoformat()}",
                            session_id=book.session_id,
                            journal_session_id=book.journal_session_id,
                        )
                        self.cancel_all(book.session_id)
                        self.flatten(book.session_id, tag="forced_liquidation")
            if self._pending:
                self.reconcile_pending()
