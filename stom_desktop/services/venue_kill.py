"""The kill switch on a real venue: check afterwards that it took, and say what is left.

Engaging the kill switch on a live session runs ``OrderManager.engage_kill_switch`` on
a :class:`~stom_desktop.engine.venue_orders.VenueOrderManager`: trading halts, every
open order of ours at the venue is cancelled (also orders this process never knew), and
each position is closed by a market order sized from the venue's balances (dust the
lot/minimum-notional rules forbid selling is left and named). This module then *verifies*
by reading the venue again: the broker is polled so the exits' fills are booked, the
venue's open orders of the session symbols are read (none of ours may be left), the
session's positions must be flat or dust, and the venue's holdings of the session assets
(futures: positions) are reported. :func:`verify` is one look; the caller repeats it for
a short while because a market order's fill is only seen at the next poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from stom_desktop.core.errors import BrokerError
from stom_desktop.core.orders import is_own_order_id
from stom_desktop.engine.venue_orders import ExitPlan, VenueOrderManager, base_asset, is_spot

if TYPE_CHECKING:
    from stom_desktop.adapters.brokers.ccxt_broker import CcxtBroker

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class VenueKillReport:
    """What the kill switch did at the venue and what the venue shows afterwards."""

    session_id: int
    swept: tuple[str, ...]  # our orders the sweep asked the venue to cancel
    exits: tuple[ExitPlan, ...]  # how each position was closed (sent, dust, shortfall)
    open_ours: tuple[str, ...]  # our orders still open at the venue afterwards
    positions: dict[str, Decimal]  # the session's positions afterwards (books)
    dust: dict[str, Decimal]  # of those, what the market rules forbid selling
    shortfall: dict[str, Decimal]  # of those, what the books hold but the venue does not
    venue_holdings: dict[str, Decimal] = field(default_factory=dict)  # asset/symbol -> qty
    errors: tuple[str, ...] = ()  # venue reads that failed during the check

    @property
    def flat(self) -> bool:
        """No order of ours open at the venue, every position closed or dust."""
        return (
            not self.open_ours
            and not self.errors
            and all(abs(q) <= self._unsellable(s) for s, q in self.positions.items())
        )

    def _unsellable(self, symbol: str) -> Decimal:
        return self.dust.get(symbol, _ZERO) + self.shortfall.get(symbol, _ZERO)

    def summary(self) -> str:
        """One paragraph for the log, the risk events and the tray."""
        sent = [f"{e.symbol} {e.quantity}" for e in self.exits if e.quantity > 0]
        parts = [
            f"kill switch at the venue: {len(self.swept)} order(s) of ours cancelled",
            f"exits sent: {', '.join(sent) or 'none'}",
        ]
        if self.dust:
            parts.append("dust left: " + ", ".join(f"{s} {q}" for s, q in self.dust.items()))
        if self.shortfall:
            parts.append(
                "booked but not at the venue: "
                + ", ".join(f"{s} {q}" for s, q in self.shortfall.items())
            )
        if self.open_ours:
            parts.append("STILL OPEN at the venue: " + ", ".join(self.open_ours))
        left = {s: q for s, q in self.positions.items() if abs(q) > self._unsellable(s)}
        if left:
            parts.append("NOT FLAT: " + ", ".join(f"{s} {q}" for s, q in left.items()))
        if self.errors:
            parts.append("venue reads failed: " + "; ".join(self.errors))
        parts.append("venue holds " + (", ".join(
            f"{a} {q}" for a, q in self.venue_holdings.items()) or "nothing of the session assets"
        ))  # fmt: skip
        verdict = "flat" if self.flat else "NOT flat"
        return f"{verdict}: " + "; ".join(parts)


def verify(
    session_id: int,
    sid: str,
    om: VenueOrderManager,
    broker: CcxtBroker,
    symbols: Sequence[str],
) -> VenueKillReport:
    """Poll, then read the venue once (call on the engine thread)."""
    om.refresh_from_venue()
    errors = []
    open_ours = []
    for symbol in symbols:
        try:
            rows = broker.open_orders(symbol)
        except BrokerError as exc:
            errors.append(f"open orders of {symbol}: {exc}")
            continue
        open_ours += [
            r.client_order_id for r in rows if is_own_order_id(r.client_order_id, prefix=om.prefix)
        ]
    holdings: dict[str, Decimal] = {}
    try:
        if all(is_spot(s) for s in symbols):
            balances = broker.account_balances()
            for asset in sorted({base_asset(s) for s in symbols}):
                line = balances.get(asset)
                holdings[asset] = line.total if line is not None else _ZERO
        else:
            holdings = dict(broker.positions(list(symbols)))
    except BrokerError as exc:
        errors.append(f"holdings: {exc}")
    positions = {s: p.quantity for s, p in om.portfolio(sid).open_positions().items()}
    exits = [e for e in om.last_exits if e.session_id == sid]
    dust = {e.symbol: e.dust for e in exits if e.dust > 0 and e.symbol in positions}
    short = {e.symbol: e.shortfall for e in exits if e.shortfall > 0 and e.symbol in positions}
    return VenueKillReport(
        session_id=session_id,
        swept=tuple(om.last_sweep),
        exits=tuple(exits),
        open_ours=tuple(open_ours),
        positions=positions,
        dust=dust,
        shortfall=short,
        venue_holdings=holdings,
        errors=tuple(errors),
    )
