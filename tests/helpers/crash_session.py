"""A paper trading session to be killed with SIGKILL, for ``tests/acceptance/test_crash_safety``.

Run as ``python crash_session.py serve``: a fork server that imports everything once and
then, for each ``run JOURNAL_URL VENUE_PATH N`` line on stdin, forks a child that runs the
session and answers ``child PID``; ``kill PID`` SIGKILLs that child, reaps it and answers
``dead PID STATUS``. Forking from a warm process keeps each restart at a few ms instead
of the ~2 s a cold interpreter needs to import the stack, so 50+ kills fit in a test.

The child opens the journal and the venue (``SqliteVenue``), runs ``recover()`` exactly as
the app does after a restart, prints ``ready PID``, then places the session's N intents
in order. The intents are the same on every run (fixed seed) and carry intent keys, so a
restarted session replays them and the order manager must skip the ones already placed.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import traceback
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


from order_venue import SqliteVenue

from stom_desktop.core.clock import SystemClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError
from stom_desktop.core.orders import OrderType
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.requests import OrderRequest
from stom_desktop.persistence import OrderRepository, create_database

SESSION = "crash"
CASH = Decimal(10_000_000)
SYMBOLS = ("SIM1", "SIM2", "SIM3")


class NullBus:
    """Events go nowhere in the crash session."""

    def publish(self, event: object) -> None:
        """Drop ``event``."""


def intents(n: int, seed: int = 7) -> Iterator[OrderRequest]:
    """The session's fixed sequence of order intents (the same on every restart)."""
    rng = random.Random(seed)
    for i in range(n):
        side = Side.BUY if rng.random() < 0.55 else Side.SELL
        qty = Decimal(rng.randint(1, 9))
        if rng.random() < 0.3:
            kind, price = OrderType.LIMIT, Decimal(rng.randint(95, 105))
        else:
            kind, price = OrderType.MARKET, None
        yield OrderRequest(
            SESSION, SYMBOLS[i % 3], side, qty, kind, price,
            intent_key=f"i{i}", reference_price=Decimal(100),
        )  # fmt: skip


def say(text: str) -> None:
    """One line to the test, written atomically (fork-safe: no Python buffering)."""
    os.write(1, (text + "\n").encode())


def run_session(journal_url: str, venue_path: str, n: int) -> None:
    """Recover, then place the intents; match and cancel now and then."""
    db = create_database(journal_url)
    venue = SqliteVenue(venue_path)
    # The production configuration: intents committed before sending, state changes and
    # fills group-committed by the journal writer thread (a kill loses the queue; recovery
    # must repair it from the venue).
    om = OrderManager(venue, OrderRepository(db), SystemClock(), NullBus(), journal_writes="async")
    om.register_session(SESSION, initial_cash=CASH)
    om.recover()
    say(f"ready {os.getpid()}")
    for i, request in enumerate(intents(n)):
        result = om.place(request)
        if result.duplicate:
            continue
        if i % 4 == 3:
            venue.match()
        if i % 7 == 6:
            open_ids = [o.client_order_id for o in om.orders(SESSION, open_only=True)]
            if open_ids:
                # A BrokerError here means the submit outcome is still unknown:
                # reconciliation settles it, the session goes on.
                with contextlib.suppress(BrokerError):
                    om.cancel(open_ids[0])
        om.tick()
    say(f"done {os.getpid()}")


def serve() -> None:
    """The fork server loop (see the module docstring)."""
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "run":
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    run_session(words[1], words[2], int(words[3]))
                except BaseException:  # noqa: BLE001 - reported on stderr, exit code 1
                    traceback.print_exc()
                    code = 1
                finally:
                    os._exit(code)
            say(f"child {pid}")
        elif words[0] == "kill":
            pid = int(words[1])
            with contextlib.suppress(ProcessLookupError):  # it may have finished already
                os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            say(f"dead {pid} {status}")
        elif words[0] == "quit":
            return


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        run_session(sys.argv[1], sys.argv[2], int(sys.argv[3]))
