"""Crash safety on a real venue client: kill -9 a CcxtBroker session around order submission.

The paper crash test (``test_crash_safety``) once more, with the live stack: the fake
Binance REST venue runs here, in the test process (pytest-httpserver, threaded, state
behind the venue's lock), and survives every kill. A fork server
(``tests/helpers/crash_ccxt_session.py``) runs the session in a child: the real ccxt
client, ``CcxtBroker``, ``OrderManager(journal_writes="async")`` on a SQLite journal,
``recover()`` at every start. While it trades, a thread here plays the market and fills
resting limit orders. Each round injects venue faults (429 with Retry-After, 500 after
the venue took the order, 503 before it, a timeout after it, 5xx on reads and cancels)
and then SIGKILLs the child in one of five ways (seeded):

* ``ready``: at a random moment of the session;
* ``at_post``: the instant the venue has taken the k-th new order (the child is reading
  the answer, or about to journal it);
* ``slow_post``: while a slow answer to an accepted order is still in flight;
* ``in_recovery``: during the restart's own recovery;
* ``arrival``: while the round's first new order is still on the wire (the fake holds
  it 150 ms before it sees it, or 450 ms: longer than the session's 300 ms
  ``recvWindow``, so the venue refuses it as too old). The next restart starts at once
  (no pause after any kill), so the order lands before or after the restart's recovery
  looked it up; recovery must wait ``recvWindow`` + margin before calling it never sent.
  With that wait disabled (``STOM_TEST_CRASH_ARRIVAL_WINDOW_S=0``) this mode leaves orders
  the journal calls rejected working at the venue, and the audit fails.

Every other round a restart that only recovers runs next, then the venue and the journal
are compared: no venue order missing from the journal (lost), no intent key at the venue
twice and no client id sent again for an order the venue had (duplicated), and every
journaled order has the venue's status, filled quantity and exact fills (by venue trade
id), a journaled order the venue never saw being ``rejected`` (orphaned otherwise). A
final restart cancels everything and the comparison runs once more.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from crash_ccxt_session import ForkServer
from fake_exchanges import BINANCE_STATUS_OPEN, FakeBinance, Fault
from order_journal import fresh_sqlite_url
from pytest_httpserver import HTTPServer
from venue_audit import Audit, TrackingBinance, audit

KILLS = 32
SEED = 20260107
ORDER = "/api/v3/order"
MODES = (
    "ready", "at_post", "at_post", "slow_post", "slow_post", "in_recovery",
    "arrival", "arrival",
)  # fmt: skip
#: How long the ``arrival`` mode holds the order on its way in: lands / refused as too old.
ARRIVAL_DELAYS_S = (0.15, 0.15, 0.45)


class MarketMaker:
    """Fills resting limit orders (partly or fully, at their price) every few ms."""

    def __init__(self, venue: FakeBinance, seed: int) -> None:
        self._venue = venue
        self._rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="market-maker", daemon=True)
        self.fills = 0

    def __enter__(self) -> MarketMaker:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        venue, rng = self._venue, self._rng
        while not self._stop.wait(0.004):
            with venue.lock:
                resting = [
                    o
                    for o in venue.orders.values()
                    if o["status"] in BINANCE_STATUS_OPEN and o["type"] == "LIMIT"
                ]
                if not resting or rng.random() < 0.5:
                    continue
                order = rng.choice(resting)
                left = Decimal(order["origQty"]) - Decimal(order["executedQty"])
                part = (left / 2).quantize(Decimal("0.0001"))
                qty = left if rng.random() < 0.5 or part <= 0 else part
                venue.fill(order["clientOrderId"], str(qty))
                self.fills += 1


def inject_faults(venue: TrackingBinance, rng: random.Random, mode: str) -> int:
    """Queue this round's faults; returns how many were queued."""
    with venue.lock:
        venue.faults.clear()
    if mode == "slow_post":  # first, so that the round's first new order meets it
        venue.inject("POST", ORDER, Fault(delay_s=0.15, process=True, answer=True))
    if mode == "arrival":
        venue.inject("POST", ORDER, Fault.arrival(rng.choice(ARRIVAL_DELAYS_S)))
    menu = [
        ("POST", ORDER, Fault(429, {"code": -1003, "msg": "Too many requests."},
                              headers={"Retry-After": "0.05"})),
        ("POST", ORDER, Fault(500, {"code": -1000, "msg": "An unknown error."}, process=True)),
        ("POST", ORDER, Fault(503, {"code": -1001, "msg": "Internal error; disconnected."})),
        ("POST", ORDER, Fault(200, {}, delay_s=0.5, process=True)),  # timeout, order taken
        ("GET", ORDER, Fault(500, {"code": -1000, "msg": "An unknown error."})),
        ("DELETE", ORDER, Fault(500, {"code": -1000, "msg": "unknown"}, process=True)),
        ("GET", "/api/v3/myTrades", Fault(502, {"code": -1001, "msg": "Bad gateway"})),
    ]  # fmt: skip
    chosen = rng.sample(menu, rng.randint(1, 4))
    for method, path, fault in chosen:
        venue.inject(method, path, fault)
    return len(chosen) + (mode in ("slow_post", "arrival"))


def faults_left(venue: TrackingBinance) -> int:
    """Drop the faults nobody met; returns how many there were."""
    with venue.lock:
        left = sum(len(q) for q in venue.faults.values())
        venue.faults.clear()
    return left


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    """Spin (1 ms) until ``condition()``; kills must land close to the event."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the session made no progress in time")
        time.sleep(0.001)


@pytest.fixture
def venue() -> Iterator[TrackingBinance]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.no_handler_status_code = 404
    server.start()
    fake = TrackingBinance(server)
    fake.balances.update({"USDT": Decimal(10_000_000), "BTC": Decimal(100), "ETH": Decimal(1000)})
    yield fake
    server.clear()
    server.stop()


def kill_round(
    fork: ForkServer, venue: TrackingBinance, journal_url: str, mode: str, rng: random.Random
) -> tuple[list[str] | None, bool]:
    """Start a session, SIGKILL it the ``mode`` way; returns its ``ready`` line (if any)
    and whether a request was still held on its way to the venue at the kill."""
    before, held_before = venue.created, venue.held_total
    pid = fork.start("run", journal_url, venue.base_url)
    ready = None
    if mode == "in_recovery":
        time.sleep(rng.uniform(0.0, 0.03))
    else:
        ready = fork.expect("ready")
        if mode == "ready":
            time.sleep(rng.uniform(0.01, 0.3))
        elif mode == "at_post":
            target = before + rng.randint(1, 12)
            wait_until(lambda: venue.created >= target)
        elif mode == "arrival":  # the first new order is on the wire for 150/450 ms
            wait_until(lambda: venue.held_total > held_before)
            time.sleep(rng.uniform(0.0, 0.12))
        else:  # slow_post: the first new order is taken, its answer takes 150 ms
            wait_until(lambda: venue.created > before)
            time.sleep(rng.uniform(0.0, 0.2))
    status = fork.kill(pid)
    with venue.lock:
        in_flight = venue.held > 0
    assert os.WIFSIGNALED(status), f"the session ended by itself ({status}): {fork.errors()}"
    return ready, in_flight


@pytest.mark.slow
def test_kill_9_around_ccxt_submission_loses_and_duplicates_nothing(
    tmp_path: Path, venue: TrackingBinance
) -> None:
    journal_url = fresh_sqlite_url(tmp_path)
    rng = random.Random(SEED)
    fork = ForkServer(tmp_path / "session-stderr.txt")
    modes: Counter[str] = Counter()
    repaired = injected = met = in_flight_kills = late = 0
    started = time.monotonic()
    stats: Audit | None = None
    try:
        for round_no in range(KILLS):
            mode = rng.choice(MODES)
            modes[mode] += 1
            queued = inject_faults(venue, rng, mode)
            with MarketMaker(venue, rng.randrange(1 << 30)):
                ready, in_flight = kill_round(fork, venue, journal_url, mode, rng)
            in_flight_kills += in_flight
            injected += queued
            met += queued - faults_left(venue)
            # No pause: the restart races the dead child's requests still on the wire.
            if ready is not None:
                repaired += ready[-1] == "repaired"
                late += int(ready[2])
            if round_no % 2 == 1:
                pid = fork.start("recover", journal_url, venue.base_url)
                line = fork.expect("recovered")
                assert line[6] == "0", f"recovery left orders unresolved: {line}"
                repaired += line[-1] == "repaired"
                late += int(line[7])
                assert fork.reap(pid) == 0
                stats = audit(venue, journal_url)
        pid = fork.start("settle", journal_url, venue.base_url)
        fork.expect("settled")
        assert fork.reap(pid) == 0
        stats = audit(venue, journal_url)
    finally:
        fork.close()
    elapsed = time.monotonic() - started
    errors = fork.errors()
    assert "Traceback" not in errors, errors
    assert stats is not None and stats.open == 0, stats
    print(
        f"\nccxt crash test: {KILLS} kills {dict(modes)}; venue orders {stats.orders}, "
        f"fills {stats.fills}, rejected in journal {stats.rejected}; faults met "
        f"{met}/{injected}; restarts that repaired something {repaired}; kills with an "
        f"order still on the wire {in_flight_kills}, orders recovery saw arrive late {late}; "
        f"lost 0, duplicated 0, orphaned 0; POSTs {venue.count('POST', ORDER)}; "
        f"{elapsed:.1f} s"
    )
    # Progress across restarts, faults really met, and kills that landed in crash windows
    # (bounds far below what a run does, ~150 orders, ~33 faults, ~20 repairs: a loaded
    # machine places fewer orders per round).
    assert stats.orders >= 40, stats
    assert met >= KILLS // 2, (met, injected)
    assert repaired >= 5, repaired
    # The arrival mode killed sessions while their order was still held on the way in
    # (whether recovery then saw it land late depends on the machine's speed).
    assert in_flight_kills >= modes["arrival"] // 2, (in_flight_kills, modes)
