"""Issue 7 "done means", as a user runs it: ``stom trade ... --mode live`` in a subprocess.

The fake Binance runs here (pytest-httpserver); ``STOM_EXCHANGE_BASE_URL`` points the
real CLI's ccxt clients at it, ``STOM_HOME`` keeps its settings and database in
``tmp_path``, and the keys sit in a keyrings.alt plaintext file the test writes with
``AccountService`` and the subprocess reads (``PYTHON_KEYRING_BACKEND`` +
``XDG_DATA_HOME``). The venue's ticker flips between two prices every 3 s, so
``sma_cross`` with ``fast=2, slow=10`` on 1-second bars trades from ~12 s on.

1. First run: the first order meets a 429 (resent once, same id) and then a 500 after
   the venue took it (adopted, not resent); the next order times out after the venue took
   it (ccxt's default 10 s timeout: the engine waits, the CLI keeps going); the moment the
   venue takes the third order, the process gets ``kill -9``.
2. Second run, same command with ``--duration``: it finds the first session interrupted
   and reconciles it with the venue; its own first order meets a 503 before the venue took
   it (resent once) and a 500 on a read; it stops cleanly.
3. The venue's order list equals the database's orders exactly (client ids, quantities,
   statuses, filled quantities, fills by venue trade id), no order was sent twice, and the
   API key and secret appear in no output and no file of the app.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fake_exchanges import API_KEY, SECRET, Fault
from live_venues import binance_ticker, file_accounts
from pytest_httpserver import HTTPServer
from venue_audit import TrackingBinance, audit
from werkzeug import Response

from stom_desktop.persistence import OrderRepository, create_database

ORDER = "/api/v3/order"
LOW, HIGH = Decimal(30000), Decimal(30300)
HALF_PERIOD_S = 3.0
COMMAND = [
    sys.executable, "-m", "stom_desktop.cli.app", "trade", "sma_cross",
    "--mode", "live", "--exchange", "binance", "--symbols", "BTC/USDT",
    "--i-understand-real-money", "--timeframe", "1s", "-p", "fast=2", "-p", "slow=10",
    "--cash", "1000", "--no-live",
]  # fmt: skip


@pytest.fixture
def venue() -> Iterator[TrackingBinance]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.no_handler_status_code = 404
    server.start()
    fake = TrackingBinance(server)
    # A fresh account: 1,000 USDT and no coins (the session's books start from the venue's
    # free quote balance, and must agree with the venue's holdings at every start).
    fake.balances.update({"USDT": Decimal(1000), "BTC": Decimal(0), "ETH": Decimal(0)})
    start = time.monotonic()

    def ticker(request: Any) -> Response:
        """A square wave: the last price flips between LOW and HIGH every HALF_PERIOD_S."""
        last = HIGH if int((time.monotonic() - start) / HALF_PERIOD_S) % 2 else LOW
        with fake.lock:
            fake.last_price["BTCUSDT"] = last  # market orders fill at it
        return binance_ticker("BTCUSDT", last, sizes=True)

    server.expect_request("/api/v3/ticker/24hr").respond_with_handler(ticker)
    yield fake
    server.clear()
    server.stop()


@pytest.fixture
def cli_env(tmp_path: Path, venue: TrackingBinance) -> dict[str, str]:
    """The subprocess environment: app home, fake venue, keyring file with the keys."""
    xdg = tmp_path / "xdg"
    # Where keyrings.alt puts its file under XDG_DATA_HOME (what the subprocess reads).
    accounts = file_accounts(xdg / "python_keyring" / "keyring_pass.cfg")
    accounts.set_account("fake-binance", API_KEY, SECRET, exchange="binance", allow_insecure=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOM_")}
    env.update(
        STOM_HOME=str(tmp_path / "home"),
        STOM_EXCHANGE_BASE_URL=venue.base_url,
        PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
        XDG_DATA_HOME=str(xdg),
        STOM_LIVE__ACCOUNT="fake-binance",
        STOM_LIVE__POLL_INTERVAL_S="0.2",
        STOM_LIVE__PER_ORDER_NOTIONAL_CAP="500",
        STOM_LIVE__PER_DAY_NOTIONAL_CAP="5000",
        OPENBLAS_NUM_THREADS="1",
        COLUMNS="120",
    )
    return env


def wait_for(condition: Any, timeout: float, what: str, proc: subprocess.Popen[bytes]) -> None:
    """Poll ``condition()`` every 10 ms; fail naming ``what`` (or the CLI's early exit)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"stom trade exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout} s")
        time.sleep(0.01)


def faults_left(venue: TrackingBinance) -> int:
    """How many injected faults no request met."""
    with venue.lock:
        return sum(len(q) for q in venue.faults.values())


@pytest.mark.slow
def test_stom_trade_live_survives_faults_and_kill_9_and_matches_the_venue(
    tmp_path: Path, venue: TrackingBinance, cli_env: dict[str, str]
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    # -- run 1: 429 then 500-after-accept on the first order, a timeout on the second.
    venue.inject(
        "POST",
        ORDER,
        Fault(429, {"code": -1003, "msg": "Too many requests."}, headers={"Retry-After": "0.3"}),
        Fault(500, {"code": -1000, "msg": "An unknown error occurred."}, process=True),
        Fault(200, {}, delay_s=10.5, process=True),  # > ccxt's 10 s: the answer never comes
    )
    with (logs / "run1.out").open("wb") as out, (logs / "run1.err").open("wb") as err:
        first = subprocess.Popen(COMMAND, env=cli_env, stdout=out, stderr=err)
        try:
            wait_for(lambda: venue.created >= 3, 75, "third order at the venue", first)
            first.kill()  # SIGKILL the moment the venue took the third order
            assert first.wait(10) == -9
        finally:
            if first.poll() is None:
                first.kill()
                first.wait(10)
    assert faults_left(venue) == 0, "every fault of run 1 was met"

    # -- run 2: reconcile run 1 at start; 503 then a 500 on a read; stop after 25 s.
    venue.inject("POST", ORDER, Fault(503, {"code": -1001, "msg": "Internal error."}))
    venue.inject("GET", ORDER, Fault(500, {"code": -1000, "msg": "An unknown error occurred."}))
    second = subprocess.run(
        [*COMMAND, "--duration", "25s"], check=False, env=cli_env, capture_output=True, timeout=80
    )
    (logs / "run2.out").write_bytes(second.stdout)
    (logs / "run2.err").write_bytes(second.stderr)
    err2 = second.stderr.decode()
    assert second.returncode == 0, err2[-3000:]
    assert "session 1 was interrupted earlier" in err2, err2[-3000:]
    assert faults_left(venue) == 0, "every fault of run 2 was met"

    # -- the venue's order list equals the database's orders, exactly.
    home = Path(cli_env["STOM_HOME"])
    found = audit(venue, f"sqlite:///{home / 'data' / 'stom.sqlite'}")
    with venue.lock:
        at_venue = {o["clientOrderId"]: o["status"] for o in venue.orders.values()}
    sessions = {cid.split("-")[1] for cid in at_venue}
    assert sessions == {"s1", "s2"}, at_venue
    assert found.open == 0 and found.orders >= 4, (found, at_venue)
    assert found.orders == venue.created == found.journaled - found.rejected
    # Two POSTs never reached the book (the 429 and the 503): each was resent once; the
    # 500 and the timeout had reached it and were adopted, not resent.
    assert venue.count("POST", ORDER) == venue.created + 2

    # -- the keys appear in no output and in no file the app wrote.
    for path in [*logs.iterdir(), *home.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert API_KEY.encode() not in data and SECRET.encode() not in data, path
    db = create_database(f"sqlite:///{home / 'data' / 'stom.sqlite'}")
    try:  # what the restart repaired (where the kill landed; informative, timing-dependent)
        journal = OrderRepository(db)
        repaired = sorted(
            cid for cid in at_venue if any(e.detail == "recovery" for e in journal.events(cid))
        )
    finally:
        db.dispose()
    print(
        f"\nlive CLI: {found.orders} venue orders == {found.journaled - found.rejected} "
        f"journaled ({found.rejected} rejected, never sent), {found.fills} fills; "
        f"POSTs {venue.count('POST', ORDER)}; statuses {sorted(at_venue.values())}; "
        f"completed by the restart's recovery: {repaired}"
    )
