"""How long after a request was sent a venue may still accept it (restart recovery waits that long).

A process killed while an order request is on the wire (in flight, in the kernel's send
buffer, in a proxy) leaves a request that can reach the venue *after* the restart has
looked the order up. ``engine.recovery`` therefore decides an order the venue does not
show only once that can no longer happen; this module says when that is, per venue:

* **Binance spot and USDT-M** (``binance``, ``binanceusdm``): every signed request carries
  ``timestamp`` and ``recvWindow`` (ccxt's ``options['recvWindow']``; Binance assumes
  5000 ms when none is sent), and the venue refuses a request that arrives more than
  ``recvWindow`` after its timestamp (``-1021``; the futures matching engine checks it
  again, ``-5028``). Binance also refuses timestamps more than 1000 ms *ahead* of its
  clock, so our clock can be at most ~1 s ahead: the window is
  ``recvWindow / 1000 + margin`` with a default margin of 1.0 s. The margin assumes the
  wall clock did not step between the dead process and the restart.
* **Upbit**: **NO GUARANTEE.** Upbit's JWT carries a nonce, not a timestamp, and the
  venue documents no expiry for a request, so nothing bounds how late one can land.
  :data:`UPBIT_ARRIVAL_WINDOW_S` (5 s) is a *heuristic*: longer than any realistic
  network delay of a request whose sender has died (its connection is reset by the
  kernel), but a request stuck longer in a proxy could still arrive later and trade
  as an order the journal calls rejected. Pass ``arrival_window_s`` to ``CcxtBroker``
  to choose another value.
"""

from __future__ import annotations

from typing import Any

#: Binance's own default when a request carries no ``recvWindow`` (ms).
BINANCE_DEFAULT_RECV_WINDOW_MS = 5000
#: How far our clock may be ahead of Binance's before it refuses the request (s).
DEFAULT_ARRIVAL_MARGIN_S = 1.0
#: HEURISTIC (Upbit requests do not expire; see the module docstring).
UPBIT_ARRIVAL_WINDOW_S = 5.0
_BINANCE = ("binance", "binanceusdm")


def recv_window_ms(exchange: Any) -> int:
    """The ``recvWindow`` (ms) a ccxt Binance client sends with signed requests."""
    options = getattr(exchange, "options", None) or {}
    value = options.get("recvWindow")
    return BINANCE_DEFAULT_RECV_WINDOW_MS if value is None else int(value)


def arrival_window(
    exchange_id: str, exchange: Any, *, margin_s: float = DEFAULT_ARRIVAL_MARGIN_S
) -> float:
    """Seconds after sending within which ``exchange_id`` may still accept a request.

    Binance: ``recvWindow + margin_s`` (a bound the venue enforces). Upbit: the
    :data:`UPBIT_ARRIVAL_WINDOW_S` heuristic (no bound exists). Other ids: the same
    heuristic, as nothing is known about them.
    """
    if exchange_id in _BINANCE:
        return recv_window_ms(exchange) / 1000 + margin_s
    return UPBIT_ARRIVAL_WINDOW_S
