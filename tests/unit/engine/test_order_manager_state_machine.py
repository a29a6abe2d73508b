"""Hypothesis state machine over OrderManager + a fake venue + a real SQLite journal.

Random sequences of orders, venue fills, cancels, expiries, temporary broker failures,
dropped report streams, reconnects and full restarts (recover) must keep:
filled <= quantity; position == sum of journaled fills; cash + cost basis reconcile with
fees and realized P&L; the journal equals memory; one order per intent key; and after a
reconnect, the manager equals the venue.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from order_fakes import FakeBroker, RecordingBus
from order_journal import fresh_sqlite_url

from stom_desktop.core.clock import SimulatedClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError
from stom_desktop.core.orders import OrderType
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.recovery import INTENT_PREFIX
from stom_desktop.engine.requests import OrderRequest
from stom_desktop.persistence import OrderRepository, create_database

CASH = Decimal(1_000_000)
SYMBOLS = ("A", "B")


class OrderManagerMachine(RuleBasedStateMachine):
    """See the module docstring."""

    orders = Bundle("orders")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="om-sm-"))
        self.db = create_database(fresh_sqlite_url(self.tmp))
        self.journal = OrderRepository(self.db)
        self.broker = FakeBroker(fee_rate=Decimal("0.001"))
        self.clock = SimulatedClock(1_767_571_200_000)
        self.om = self._manager()

    def _manager(self) -> OrderManager:
        om = OrderManager(self.broker, self.journal, self.clock, RecordingBus())
        om.register_session("s1", initial_cash=CASH)
        return om

    def teardown(self) -> None:
        self.db.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -- rules -----------------------------------------------------------------------
    @rule(
        target=orders,
        symbol=st.sampled_from(SYMBOLS),
        side=st.sampled_from(Side),
        qty=st.integers(1, 20),
        limit=st.booleans(),
        key=st.none() | st.integers(0, 4).map(lambda k: f"k{k}"),
        failure=st.sampled_from([None, None, None, "before", "after", "reject"]),
    )
    def place(
        self, symbol: str, side: Side, qty: int, limit: bool, key: str | None, failure: str | None
    ) -> str:
        self.broker.auto_fill = not limit
        if failure == "reject":
            self.broker.reject_next_submit = "no"
        else:
            self.broker.fail_next_submit = failure
        request = OrderRequest(
            "s1", symbol, side, Decimal(qty),
            OrderType.LIMIT if limit else OrderType.MARKET,
            Decimal(100) if limit else None, intent_key=key,
        )  # fmt: skip
        result = self.om.place(request)
        self.broker.fail_next_submit = self.broker.reject_next_submit = None
        assert result.client_order_id is not None
        return result.client_order_id

    @rule(cid=orders, part=st.integers(1, 20), price=st.integers(95, 105))
    def venue_fill(self, cid: str, part: int, price: int) -> None:
        venue = self.broker.orders.get(cid)
        if venue is not None and venue.is_open:
            qty = min(Decimal(part), venue.remaining_quantity)
            self.broker.fill(cid, qty, Decimal(price))

    @rule(cid=orders)
    def cancel(self, cid: str) -> None:
        try:
            self.om.cancel(cid)
        except BrokerError:
            assert cid in self.om._pending  # only an unresolved submit may refuse

    @rule(cid=orders)
    def venue_expires(self, cid: str) -> None:
        venue = self.broker.orders.get(cid)
        if venue is not None and venue.is_open:
            self.broker.expire(cid)

    @rule()
    def stream_drops(self) -> None:
        self.broker.deliver = False

    @rule()
    def reconnect(self) -> None:
        self.broker.deliver = True
        self.om.reconcile_pending()
        self.om.resync_open_orders()
        for snap in self.om.orders():
            venue = self.broker.orders.get(snap.client_order_id)
            if venue is None:
                continue  # rejected or still pending (a resend failed again)
            assert snap.status is venue.status, snap.client_order_id
            assert snap.filled_quantity == venue.filled_quantity

    @rule()
    def restart(self) -> None:
        self.broker.deliver = True
        self.om = self._manager()  # the old process is gone; the new one sets the listener
        self.om.recover()

    # -- invariants ------------------------------------------------------------------
    @invariant()
    def filled_never_exceeds_quantity(self) -> None:
        for snap in self.om.orders():
            assert 0 <= snap.filled_quantity <= snap.quantity

    @invariant()
    def journal_equals_memory(self) -> None:
        for snap in self.om.orders():
            stored = self.journal.by_client_id(snap.client_order_id)
            assert stored is not None
            assert stored.status == snap.status.value, snap.client_order_id
            assert stored.filled_quantity == snap.filled_quantity, snap.client_order_id

    @invariant()
    def position_is_the_sum_of_fills(self) -> None:
        orders = {o.client_order_id: o for o in self.journal.orders()}
        expected: dict[str, Decimal] = defaultdict(Decimal)
        for fill in self.journal.all_fills():
            order = orders[fill.client_order_id]
            expected[order.symbol] += fill.quantity if order.side == "buy" else -fill.quantity
        portfolio = self.om.portfolio("s1")
        for symbol in SYMBOLS:
            assert portfolio.position(symbol).quantity == expected[symbol], symbol

    @invariant()
    def cash_and_positions_reconcile(self) -> None:
        p = self.om.portfolio("s1")
        assert p.cash + p.cost_basis() == p.initial_cash - p.fees_paid + p.realized_pnl
        fees = sum((f.fee for f in self.journal.all_fills()), Decimal(0))
        assert p.fees_paid == fees

    @invariant()
    def one_order_per_intent_key(self) -> None:
        details = self.journal.creation_details().values()
        keys = Counter(d for d in details if d and d.startswith(INTENT_PREFIX))
        assert all(n == 1 for n in keys.values()), keys


OrderManagerMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestOrderManagerStateMachine = OrderManagerMachine.TestCase
