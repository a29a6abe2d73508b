"""Crash safety: kill -9 a paper session at random moments, restart, recover, verify.

A fork server (``tests/helpers/crash_session.py``) runs the session in a child process
against a real SQLite journal and a fake venue with its own SQLite file. Each round the
child is SIGKILLed after a random delay (seeded, 5-200 ms after it is ready), the test
process then runs ``recover()`` as a restarted app would, and asserts:

* no lost orders: every order the venue has is in the journal;
* no duplicates: each intent key reached the venue at most once;
* no orphans: journal and venue agree on every order's status and filled quantity, and
  no journaled order is left unfinished that the venue does not show open;
* positions and cash rebuilt from the stored fills equal those from the venue's fills.
"""

from __future__ import annotations

import os
import random
import select
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from crash_session import CASH, SESSION
from order_journal import fresh_sqlite_url
from order_venue import SqliteVenue

from stom_desktop.core.clock import SystemClock
from stom_desktop.core.portfolio import Portfolio
from stom_desktop.engine.recovery import INTENT_PREFIX, recover
from stom_desktop.persistence import OrderRepository, create_database

HELPERS = Path(__file__).resolve().parents[1] / "helpers"
KILLS = 60
INTENTS = 100_000  # never exhausted: every round is killed mid-session
SEED = 20260105


class ForkServer:
    """Talks to ``crash_session.py serve`` line by line, with timeouts."""

    def __init__(self, stderr_path: Path) -> None:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self._err = stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(HELPERS / "crash_session.py"), "serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, env=env,
        )  # fmt: skip
        self._buffer = b""

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def expect(self, word: str, timeout: float = 60.0) -> list[str]:
        """The next line starting with ``word`` (other lines, e.g. ``done``, are skipped)."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                parts = line.decode().split()
                if parts and parts[0] == word:
                    return parts
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0))
            if not ready:
                raise TimeoutError(f"no '{word}' from the crash session within {timeout} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError(f"crash session server exited while waiting for '{word}'")
            self._buffer += chunk

    def close(self) -> None:
        self.send("quit")
        self.proc.wait(timeout=10)
        self._err.close()


def check_consistency(journal_url: str, venue_path: Path) -> dict[str, int]:
    """Restart: recover, then compare journal and venue. Returns what recovery repaired."""
    db = create_database(journal_url)
    venue = SqliteVenue(venue_path, trouble=False)
    try:
        journal = OrderRepository(db)
        report = recover(venue, journal, clock=SystemClock(), initial_cash={SESSION: CASH})
        venue_orders = {o.client_order_id: o for o in venue.all_orders()}
        journal_orders = {o.client_order_id: o for o in journal.orders()}
        lost = sorted(set(venue_orders) - set(journal_orders))
        assert not lost, f"venue orders missing from the journal: {lost[:5]}"
        keys = {
            cid: detail[len(INTENT_PREFIX) :]
            for cid, detail in journal.creation_details().items()
            if detail and detail.startswith(INTENT_PREFIX)
        }
        per_key = Counter(keys[cid] for cid in venue_orders)
        dups = [k for k, n in per_key.items() if n > 1]
        assert not dups, f"intents sent twice: {dups[:5]}"
        assert len(set(keys.values())) == len(keys), "one intent key journaled twice"
        for cid, stored in journal_orders.items():
            at_venue = venue_orders.get(cid)
            if at_venue is None:
                assert stored.status == "rejected", f"{cid} unknown at venue but {stored.status}"
                continue
            assert stored.status == at_venue.status.value, cid
            assert stored.filled_quantity == at_venue.filled_quantity, cid
        assert not report.orphans, f"orphans found: {report.orphans}"
        expected = Portfolio.rebuild(CASH, venue.all_fills())
        rebuilt = report.portfolios[SESSION]
        assert rebuilt.cash == expected.cash
        assert {s: p.quantity for s, p in rebuilt.open_positions().items()} == {
            s: p.quantity for s, p in expected.open_positions().items()
        }
        return {
            "never_sent": len(report.never_sent),
            "finished": len(report.finished),
            "fills_added": report.fills_added,
            "adopted": len(report.adopted),
            "orders": len(venue_orders),
        }
    finally:
        venue.close()
        db.dispose()


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    journal_url = fresh_sqlite_url(tmp_path)
    venue_path = tmp_path / "venue.sqlite"
    SqliteVenue(venue_path).close()
    rng = random.Random(SEED)
    server = ForkServer(tmp_path / "session-stderr.txt")
    repaired: Counter[str] = Counter()
    try:
        for round_no in range(KILLS):
            server.send(f"run {journal_url} {venue_path} {INTENTS}")
            pid = int(server.expect("child")[1])
            try:
                server.expect("ready", timeout=30)
            except (TimeoutError, EOFError) as exc:
                err = (tmp_path / "session-stderr.txt").read_text()
                raise AssertionError(f"round {round_no}: session failed to start: {err}") from exc
            time.sleep(rng.uniform(0.005, 0.2))
            server.send(f"kill {pid}")
            status = int(server.expect("dead")[2])
            assert os.WIFSIGNALED(status), f"round {round_no}: session ended by itself ({status})"
            stats = check_consistency(journal_url, venue_path)
            orders = stats.pop("orders")
            repaired.update(stats)
            repaired["rounds needing repair"] += any(stats.values())
    finally:
        server.close()
    err = (tmp_path / "session-stderr.txt").read_text()
    assert "Traceback" not in err, err
    # The session made progress across restarts, and kills really landed inside the crash
    # windows (recovery had something to repair), not only between orders.
    assert orders >= 20, orders
    assert repaired["rounds needing repair"] >= 5, repaired
