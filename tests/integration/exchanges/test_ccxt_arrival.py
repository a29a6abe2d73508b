"""Requests late on arrival, with the real ccxt client against the fake Binance.

The fake checks ``timestamp``/``recvWindow`` when it handles a signed request and answers
``-1021`` when it is too old; ``Fault.arrival`` holds a request on the way in. Covered:
what ccxt and ``CcxtBroker`` make of ``-1021`` (a refusal, not an unknown outcome), the
arrival window each venue declares, and restart recovery against an order request
that is still on the wire while the restart looks it up.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path

import ccxt
import pytest
from fake_exchanges import API_KEY, SECRET, FakeBinance, Fault
from order_journal import fresh_sqlite_url

from stom_desktop.adapters.brokers.ccxt_arrival import UPBIT_ARRIVAL_WINDOW_S
from stom_desktop.adapters.brokers.ccxt_broker import CcxtBroker
from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.core.clock import SystemClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError, OrderRejected, TemporaryBrokerError
from stom_desktop.core.orders import Order, OrderType
from stom_desktop.engine.recovery import NEVER_SENT, recover
from stom_desktop.persistence import OrderRepository, create_database

ORDER = "/api/v3/order"
CID = "stom-s1-000001"


def broker_on(venue: FakeBinance, recv_window_ms: int | None = None, **kw: object) -> CcxtBroker:
    ex = make_exchange(
        "binance", api_key=API_KEY, secret=SECRET, base_url=venue.base_url,
        timeout_ms=2000, enable_rate_limit=False,
    )  # fmt: skip
    if recv_window_ms is not None:
        ex.options["recvWindow"] = recv_window_ms
    return CcxtBroker(ex, "binance", symbols=["BTC/USDT"], **kw)  # type: ignore[arg-type]


def limit_order(cid: str = CID) -> Order:
    return Order(
        cid, "BTC/USDT", Side.BUY, Decimal("0.001"), created_at=SystemClock().now(),
        order_type=OrderType.LIMIT, price=Decimal(29000),
    )  # fmt: skip


def test_ccxt_maps_minus_1021_to_invalid_nonce(binance: FakeBinance) -> None:
    ex = make_exchange("binance", api_key=API_KEY, secret=SECRET, base_url=binance.base_url)
    binance.clock_offset_ms = 60_000  # our timestamps look a minute old to the venue
    with pytest.raises(ccxt.InvalidNonce, match="-1021"):
        ex.fetch_balance()


def test_make_exchange_sends_a_5_s_recv_window(binance: FakeBinance) -> None:
    broker = broker_on(binance)
    broker.load_markets()
    broker.balances()
    _, _, params = binance.requests[-1]
    assert params["recvWindow"] == "5000" and "timestamp" in params
    assert broker.arrival_window_s == 6.0  # 5 s + the 1 s clock-skew margin


def test_arrival_windows_of_the_venues() -> None:
    futures = CcxtBroker(make_exchange("binanceusdm"), "binanceusdm", arrival_margin_s=0.5)
    assert futures.arrival_window_s == 5.5
    upbit = CcxtBroker(make_exchange("upbit"), "upbit")
    assert upbit.arrival_window_s == UPBIT_ARRIVAL_WINDOW_S == 5.0  # a heuristic
    chosen = CcxtBroker(make_exchange("upbit"), "upbit", arrival_window_s=12.0)
    assert chosen.arrival_window_s == 12.0


def test_create_arriving_too_late_is_a_recorded_refusal(binance: FakeBinance) -> None:
    broker = broker_on(binance, recv_window_ms=200)
    broker.load_markets()
    binance.inject("POST", ORDER, Fault.arrival(0.4))
    with pytest.raises(OrderRejected) as caught:
        broker.submit(limit_order())
    assert caught.value.rule == "venue.timestamp" and "recvWindow" in caught.value.reason
    assert binance.order_by_client(CID) is None and broker.fetch_order(CID) is None


def test_create_delayed_within_the_window_is_placed(binance: FakeBinance) -> None:
    broker = broker_on(binance, recv_window_ms=1000)
    broker.load_markets()
    binance.inject("POST", ORDER, Fault.arrival(0.1))
    broker.submit(limit_order())
    assert binance.order_by_client(CID) is not None and binance.held_total == 1


def test_reads_refused_as_too_old_are_retried(binance: FakeBinance) -> None:
    broker = broker_on(binance, sleep=lambda s: None)
    binance.clock_offset_ms = 60_000
    with pytest.raises(TemporaryBrokerError, match="failed after 4 attempts"):
        broker.balances()
    binance.clock_offset_ms = 0
    assert "USDT" in broker.balances()


def test_cancel_refused_as_too_old_leaves_the_order_working(binance: FakeBinance) -> None:
    broker = broker_on(binance, recv_window_ms=200)
    broker.submit(limit_order())
    binance.inject("DELETE", ORDER, Fault.arrival(0.4))
    with pytest.raises(OrderRejected) as caught:
        broker.cancel(CID)
    assert caught.value.rule == "venue.timestamp"
    assert binance.order_by_client(CID)["status"] == "NEW"


@pytest.mark.parametrize(("delay_s", "landed"), [(0.5, True), (1.0, False)])
def test_recovery_waits_for_an_order_still_on_the_wire(
    binance: FakeBinance, tmp_path: Path, delay_s: float, landed: bool
) -> None:
    """The dead process's create is held on the way in while the restart looks it up:
    held 0.5 s it lands inside recvWindow (0.8 s) and is adopted; held 1 s the venue
    refuses it and recovery rejects it, both only after waiting recvWindow + margin."""
    journal = OrderRepository(create_database(fresh_sqlite_url(tmp_path)))
    order = limit_order()
    journal.record_intent(
        CID, "BTC/USDT", "buy", "limit", order.quantity, price=order.price, detail="intent=k"
    )
    dying = broker_on(binance, recv_window_ms=800)
    dying.load_markets()
    restarted = broker_on(binance, recv_window_ms=800, arrival_margin_s=0.1)
    restarted.load_markets()  # before the send: the restart's first look comes at once
    binance.inject("POST", ORDER, Fault.arrival(delay_s))
    outcome: list[object] = []
    sender = threading.Thread(target=lambda: outcome.append(_try_submit(dying, order)))
    sender.start()
    while binance.held == 0:  # the request is on the wire: the sender "dies" here
        threading.Event().wait(0.001)

    report = recover(restarted, journal, clock=SystemClock(), currency="USDT")
    sender.join(5)

    assert restarted.arrival_window_s == pytest.approx(0.9)
    assert 0.0 < report.waited_s <= restarted.arrival_window_s
    stored = journal.by_client_id(CID)
    assert stored is not None
    if landed:
        assert binance.order_by_client(CID) is not None
        assert report.adopted == [CID] and report.arrived_late == [CID]
        assert stored.status == "submitted"
    else:
        assert binance.order_by_client(CID) is None
        assert report.never_sent == [CID] and stored.status == "rejected"
        assert stored.reason == NEVER_SENT
        assert isinstance(outcome[0], OrderRejected)  # the venue refused it: -1021


def _try_submit(broker: CcxtBroker, order: Order) -> object:
    try:
        return broker.submit(order)
    except BrokerError as exc:
        return exc
