"""A live session on the CcxtBroker to be killed with SIGKILL, for ``test_crash_safety_ccxt``.

The fake Binance (``fake_exchanges.FakeBinance`` on pytest-httpserver) lives in the *test*
process, so its state survives every kill. This module is the other side: run as
``python crash_ccxt_session.py serve`` it is a fork server that imports ccxt and the
stack once, then for each command forks a child and answers ``child PID``:

* ``run JOURNAL_URL BASE_URL`` - the session: build a ``CcxtBroker`` on the real ccxt
  client pointed at ``BASE_URL`` (short timeout, no rate limiter, a 300 ms ``recvWindow``
  so recovery's wait for requests still in flight is 0.4 s), an
  ``OrderManager(journal_writes="async")`` journaling to ``JOURNAL_URL``, ``recover()``
  exactly as the app does after a restart, print ``ready PID LATE clean|repaired`` (LATE:
  orders that reached the venue only after recovery first looked), then
  place the fixed sequence of intents (intent keys, so a restarted session skips what it
  placed), cancel now and then, and ``broker.poll()`` + ``om.tick()`` between orders;
* ``recover JOURNAL_URL BASE_URL`` - a restart that only recovers, commits the journal
  (``om.close()``) and prints ``recovered PID ADOPTED NEVER_SENT FILLS ORPHANS UNRESOLVED
  LATE clean|repaired``;
* ``settle JOURNAL_URL BASE_URL`` - recover, resolve pending submits, cancel every open
  order, poll until the venue shows none, commit, print ``settled PID``.

``kill PID`` SIGKILLs a child, reaps it and answers ``dead PID STATUS``. Forking from a
warm process keeps a restart at a few ms, so a few dozen kills fit in a test.
:class:`ForkServer` is the test's end of the pipe.

``STOM_TEST_CRASH_ARRIVAL_WINDOW_S`` (e.g. ``0``) overrides the broker's arrival window: set
to 0 it brings back the old recovery (reject at once) to show the test catches it.
"""

from __future__ import annotations

import contextlib
import os
import random
import select
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fake_exchanges import API_KEY, SECRET

from stom_desktop.adapters.brokers.ccxt_broker import CcxtBroker
from stom_desktop.adapters.brokers.ccxt_client import make_exchange
from stom_desktop.adapters.brokers.ccxt_errors import RetryPolicy
from stom_desktop.core.clock import SystemClock
from stom_desktop.core.enums import Side
from stom_desktop.core.errors import BrokerError
from stom_desktop.core.orders import OrderType
from stom_desktop.engine.order_manager import OrderManager
from stom_desktop.engine.recovery import RecoveryReport
from stom_desktop.engine.requests import OrderRequest
from stom_desktop.persistence import Database, OrderRepository, create_database

SESSION = "cc"
CASH = Decimal(1_000_000)
CURRENCY = "USDT"
SYMBOLS = ("BTC/USDT", "ETH/USDT")
#: The fake's fixed last prices; limit orders rest below (buys) or above (sells) them.
MID = {"BTC/USDT": Decimal(30000), "ETH/USDT": Decimal(2000)}
STEP = {"BTC/USDT": Decimal("0.001"), "ETH/USDT": Decimal("0.01")}
#: Short enough that a stalled answer times out inside a round, long enough for a loaded box.
TIMEOUT_MS = 300
#: Binance refuses a request that arrives later than this after its timestamp; recovery
#: waits recvWindow + margin (0.4 s) for a dead session's request still on the wire.
RECV_WINDOW_MS = 300
ARRIVAL_MARGIN_S = 0.1  # one machine: no clock skew to cover
#: Reads retried quickly (the defaults back off for seconds); 429 cools down briefly.
POLICY = RetryPolicy(
    read_attempts=4, backoff_base_s=0.02, backoff_max_s=0.1, rate_limit_cooldown_s=0.1
)
HERE = Path(__file__).resolve().parent


class NullBus:
    """Events go nowhere in the crash session."""

    def publish(self, event: object) -> None:
        """Drop ``event``."""


def intents(n: int, seed: int = 11) -> Iterator[OrderRequest]:
    """The session's fixed sequence of order intents (the same on every restart)."""
    rng = random.Random(seed)
    for i in range(n):
        symbol = SYMBOLS[i % 2]
        side = Side.BUY if rng.random() < 0.5 else Side.SELL
        qty = STEP[symbol] * rng.randint(1, 3)
        if rng.random() < 0.6:
            away = MID[symbol] * Decimal(rng.randint(1, 30)) / 1000
            sign = -1 if side is Side.BUY else 1
            kind, price = OrderType.LIMIT, (MID[symbol] + sign * away).quantize(Decimal("0.01"))
        else:
            kind, price = OrderType.MARKET, None
        yield OrderRequest(
            SESSION, symbol, side, qty, kind, price,
            intent_key=f"k{i}", reference_price=MID[symbol],
        )  # fmt: skip


def say(text: str) -> None:
    """One line to the test, written atomically (fork-safe: no Python buffering)."""
    os.write(1, (text + "\n").encode())


def make_broker(base_url: str) -> CcxtBroker:
    """A CcxtBroker on the real ccxt client, pointed at the fake venue."""
    exchange = make_exchange(
        "binance",
        api_key=API_KEY,
        secret=SECRET,
        base_url=base_url,
        timeout_ms=TIMEOUT_MS,
        enable_rate_limit=False,
    )
    exchange.options["recvWindow"] = RECV_WINDOW_MS
    override = os.environ.get("STOM_TEST_CRASH_ARRIVAL_WINDOW_S")
    broker = CcxtBroker(
        exchange, "binance", symbols=SYMBOLS, policy=POLICY,
        arrival_margin_s=ARRIVAL_MARGIN_S,
        arrival_window_s=None if override is None else float(override),
    )  # fmt: skip
    broker.load_markets()
    return broker


def restart(
    journal_url: str, base_url: str
) -> tuple[Database, CcxtBroker, OrderManager, RecoveryReport]:
    """What the app does on start: open the journal and the venue, then recover."""
    db = create_database(journal_url)
    broker = make_broker(base_url)
    # The production configuration: intents committed before sending, state changes and
    # fills group-committed by the journal writer thread (a kill loses that queue).
    om = OrderManager(broker, OrderRepository(db), SystemClock(), NullBus(), journal_writes="async")
    om.register_session(SESSION, initial_cash=CASH, currency=CURRENCY)
    return db, broker, om, om.recover()


def poll_once(broker: CcxtBroker, om: OrderManager) -> None:
    """What the engine's kernel does every ``broker_poll_s``: poll, then tick."""
    broker.poll()
    om.tick()


def run_session(journal_url: str, base_url: str) -> None:
    """Recover, then place the intents; cancel and poll between them (killed meanwhile)."""
    _db, broker, om, report = restart(journal_url, base_url)
    late = len(report.arrived_late)
    say(f"ready {os.getpid()} {late} {'clean' if report.clean else 'repaired'}")
    for i, request in enumerate(intents(100_000)):
        result = om.place(request)
        if result.duplicate:
            continue
        if i % 4 == 3:
            open_ids = [o.client_order_id for o in om.orders(SESSION, open_only=True)]
            if open_ids:
                # A BrokerError here is an unknown or refused cancel (the order filled,
                # its submit is unresolved, the venue failed): polling settles it.
                with contextlib.suppress(BrokerError):
                    om.cancel(open_ids[0])
        if i % 2 == 1:
            poll_once(broker, om)
    say(f"done {os.getpid()}")


def recover_only(journal_url: str, base_url: str) -> None:
    """A restart that stops after recovery, with the journal committed."""
    _db, _broker, om, report = restart(journal_url, base_url)
    if not om.close():
        raise RuntimeError("the journal writer did not commit in time")
    say(
        f"recovered {os.getpid()} {len(report.adopted)} {len(report.never_sent)} "
        f"{report.fills_added} {len(report.orphans)} {len(report.unresolved)} "
        f"{len(report.arrived_late)} {'clean' if report.clean else 'repaired'}"
    )


def settle(journal_url: str, base_url: str) -> None:
    """Recover, resolve, cancel everything open and wait until the venue agrees."""
    _db, broker, om, _report = restart(journal_url, base_url)
    for _ in range(200):
        poll_once(broker, om)
        still_open = om.orders(SESSION, open_only=True)
        if not still_open:
            break
        for order in still_open:
            with contextlib.suppress(BrokerError):  # unresolved or already closing
                om.cancel(order.client_order_id)
        time.sleep(0.02)
    left = [o.client_order_id for o in om.orders(SESSION, open_only=True)]
    if left:
        raise RuntimeError(f"orders still open after settling: {left}")
    if not om.close():
        raise RuntimeError("the journal writer did not commit in time")
    say(f"settled {os.getpid()}")


COMMANDS = {"run": run_session, "recover": recover_only, "settle": settle}


def serve() -> None:
    """The fork server loop (see the module docstring)."""
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] in COMMANDS:
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    COMMANDS[words[0]](words[1], words[2])
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
        elif words[0] == "reap":
            pid = int(words[1])
            _, status = os.waitpid(pid, 0)
            say(f"dead {pid} {status}")
        elif words[0] == "quit":
            return


class ForkServer:
    """The test's end: talks to ``crash_ccxt_session.py serve`` line by line, with timeouts."""

    def __init__(self, stderr_path: Path) -> None:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        self.stderr_path = stderr_path
        self._err = stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "crash_ccxt_session.py"), "serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err, env=env,
        )  # fmt: skip
        self._buffer = b""
        self._children: set[int] = set()  # forked and not reaped yet

    def send(self, line: str) -> None:
        """One command line."""
        assert self.proc.stdin is not None
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def start(self, command: str, journal_url: str, base_url: str) -> int:
        """Fork a child running ``command``; returns its pid."""
        self.send(f"{command} {journal_url} {base_url}")
        pid = int(self.expect("child")[1])
        self._children.add(pid)
        return pid

    def expect(self, word: str, timeout: float = 30.0) -> list[str]:
        """The next line starting with ``word`` (other lines are skipped)."""
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
                raise TimeoutError(
                    f"no '{word}' from the crash session within {timeout} s: {self.errors()}"
                )
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError(f"crash session server exited while waiting for '{word}'")
            self._buffer += chunk

    def kill(self, pid: int) -> int:
        """SIGKILL the child; returns its wait status."""
        self.send(f"kill {pid}")
        self._children.discard(pid)
        return int(self.expect("dead")[2])

    def reap(self, pid: int) -> int:
        """Wait for a child that ends by itself; returns its wait status."""
        self.send(f"reap {pid}")
        self._children.discard(pid)
        return int(self.expect("dead")[2])

    def errors(self) -> str:
        """What the children wrote to stderr so far (tracebacks)."""
        return self.stderr_path.read_text()

    def close(self) -> None:
        """Kill any child a failed test left running, then stop the server."""
        for pid in list(self._children):
            self.kill(pid)
        self.send("quit")
        self.proc.wait(timeout=10)
        self._err.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve()
    else:
        COMMANDS[sys.argv[1]](sys.argv[2], sys.argv[3])
