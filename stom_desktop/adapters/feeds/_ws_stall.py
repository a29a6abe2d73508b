"""Stalled websocket connections of a ccxt.pro client: find them and force a reconnect.

A ccxt.pro connection can stay open while delivering nothing: if a message handler
raises inside ccxt, its receive loop dies silently, and ccxt's own ping watchdog only
notices after one to six minutes (venue keep-alive times the allowed misses). The feed
therefore watches its ticker streams (Binance pushes a ticker every second) and, when
one has been silent too long, fails every connection that has received nothing for that
long: ccxt rejects the pending watch calls with ``NetworkError`` and drops the client,
so the feed's ordinary retry path opens a fresh connection and resubscribes.
"""

from __future__ import annotations

import logging
from typing import Any

import ccxt

log = logging.getLogger(__name__)


def reset_silent_connections(exchange: Any, silent_for_ms: int, now_ms: int) -> list[str]:
    """Fail each open connection of ``exchange`` silent for ``silent_for_ms``; their URLs.

    "Silent" counts from the last message received, or from the connection's opening
    when nothing ever arrived. Connections still dialling are left alone.
    """
    reset: list[str] = []
    for client in list(getattr(exchange, "clients", {}).values()):
        if client.closed() or not getattr(client, "isConnected", False):
            continue
        last = client.last_message_at or getattr(client, "connectionEstablished", None)
        if last is None or now_ms - last < silent_for_ms:
            continue
        quiet_s = (now_ms - last) / 1000
        log.warning("websocket %s silent for %.1f s: forcing a reconnect", client.url, quiet_s)
        client.on_error(ccxt.NetworkError(f"no message for {quiet_s:.1f} s (stalled connection)"))
        reset.append(str(client.url))
    return reset
