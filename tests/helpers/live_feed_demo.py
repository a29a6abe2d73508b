"""Demo: the Order book window on a live session fed by the fake Binance websocket.

For screenshots (``docs/screenshots/orderbook-live.png``), not a test::

    ../shared/tools/xvfb-shot shot.png 12 .venv/bin/python tests/helpers/live_feed_demo.py

Everything runs on 127.0.0.1 in a temporary ``STOM_HOME``: a fake Binance REST venue
(pytest-httpserver), its websocket streams (``FakeBinanceStream``), a real
``TradingService`` with a ``mode="live"`` manual session on BTC/USDT and
``live.feed="websocket"``, and the real ``OrderBookWindow`` on the service's bus. A
thread pushes depth diffs, trades and tickers every 200 ms; the window is placed at
(40, 40) so a full-screen shot can be cropped to it. It quits after ``--seconds``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling fakes

MID, SYM = "BTCUSDT", "BTC/USDT"
MIDPRICE = 67_250.0
DEPTH, STEP = 15, 0.5

Side = dict[float, float]


def _book_around(last: float, bids: Side, asks: Side, rng: random.Random) -> tuple[Side, Side]:
    """The next book: best bid ``last``, best ask one STEP above, DEPTH levels a side.

    Returns the diff (changed levels, 0 = removed) per side and updates ``bids``/``asks``.
    """
    diffs: list[Side] = []
    for side, sign, first in ((bids, -1, 0), (asks, 1, 1)):
        want = {round(last + sign * STEP * (i + first), 1) for i in range(DEPTH)}
        diff = {price: 0.0 for price in side if price not in want}
        for price in want:
            if price not in side or rng.random() < 0.3:
                diff[price] = round(rng.uniform(0.01, 2.5), 4)
        for price, size in diff.items():
            if size:
                side[price] = size
            else:
                side.pop(price, None)
        diffs.append(diff)
    return diffs[0], diffs[1]


def main(argv: list[str] | None = None) -> int:
    """Run the demo window; returns the Qt exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="stom-live-demo-"))
    os.environ["STOM_HOME"] = str(home / "home")

    from fake_exchanges import FakeBinance
    from fake_ws_exchange import FakeBinanceStream
    from live_venues import live_service
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication
    from pytest_httpserver import HTTPServer

    from stom_desktop.bootstrap import build_app
    from stom_desktop.gui.orderbook_window import OrderBookWindow
    from stom_desktop.gui.theme import apply_theme
    from stom_desktop.services.trading_spec import MANUAL_STRATEGY, SessionSpec

    rng = random.Random(7)
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.no_handler_status_code = 404
    server.start()
    venue = FakeBinance(server)
    venue.balances["BTC"] = Decimal(0)
    stream = FakeBinanceStream(venue).start()
    os.environ["STOM_EXCHANGE_WS_URL"] = stream.ws_base
    bids: Side = {}
    asks: Side = {}
    _book_around(MIDPRICE, bids, asks, rng)
    stream.set_book(MID, list(bids.items()), list(asks.items()))
    stream.push_ticker(MID, bid=MIDPRICE - 0.5, ask=MIDPRICE + 0.5, last=MIDPRICE, send=False)

    qapp = QApplication(sys.argv[:1])
    apply_theme(qapp, "dark")
    app = build_app()
    service = live_service(app, home, venue.base_url, feed="websocket", poll_interval_s=0.5)
    spec = SessionSpec(name="live-demo", strategy=MANUAL_STRATEGY, symbols=(SYM,), mode="live")
    sid = service.start_session(spec)
    window = OrderBookWindow(service, service.events, symbol=SYM)
    window.move(40, 40)
    window.show()

    stop = threading.Event()

    def market() -> None:
        stream.wait_subscribed("btcusdt@ticker", "btcusdt@trade", "btcusdt@depth@100ms")
        last = MIDPRICE
        while not stop.wait(0.2):
            last = round(last + rng.choice((-STEP, 0.0, STEP)), 1)
            buy = rng.random() < 0.5
            size = round(rng.uniform(0.001, 0.8), 4)
            price = last + (STEP if buy else 0.0)  # a buyer lifts the ask, a seller hits the bid
            stream.push_trade(MID, price=price, size=size, buyer_maker=not buy)
            bid_diff, ask_diff = _book_around(last, bids, asks, rng)
            stream.push_depth(MID, bids=list(bid_diff.items()), asks=list(ask_diff.items()))
            best_bid, best_ask = max(bids), min(asks)
            stream.push_ticker(MID, bid=best_bid, ask=best_ask, last=price,
                               bid_size=bids[best_bid], ask_size=asks[best_ask])  # fmt: skip

    thread = threading.Thread(target=market, name="demo-market", daemon=True)
    thread.start()
    QTimer.singleShot(int(args.seconds * 1000), qapp.quit)
    code = qapp.exec()
    stop.set()
    thread.join(5)
    service.stop_session(sid)
    service.shutdown()
    app.close()
    stream.stop()
    server.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
