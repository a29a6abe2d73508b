"""Reconcile a live account with the journal at session start; report, never overwrite.

Before a live session's engine starts, the venue is read (balances free/locked/total,
open orders of the session symbols; futures: signed positions) and compared with what
the journal believes for the same exchange *and* account: the net quantity bought by
every earlier live session on it (from stored fills, fees taken in the base asset
deducted) and the orders it still shows open. The result, a
:class:`VenueReconciliation`, lists per asset venue vs book and the difference, open
venue orders that are foreign (not our client-id prefix) or ours but unknown to the
journal, and journal-open orders the venue does not have.

What counts: the base assets of the session symbols (futures: the symbols), plus any
asset the books hold. Other coins in the wallet are listed as ``other_holdings`` and
never block anything: a session trading BTC/USDT does not care about the ETH you keep.
A difference smaller than the market's lot step is dust (shown, not a difference).

What is done with differences is the user's explicit choice (``live.on_venue_mismatch``,
``SessionSpec.venue_mismatch``, ``stom trade --on-venue-mismatch``):

* ``halt`` (default): the session does not start; the error names every difference.
  Chosen as the default because starting anyway means the engine's books disagree with
  real money from the first second, and no automatic choice (ignore or adopt) is safe
  for every case: adopting could hand coins you hold on purpose to a strategy that will
  sell them; ignoring could leave an unknown order of ours working at the venue.
* ``report``: start; the session's books start flat as always (they only ever hold
  what this session trades) and the differences stay at the venue, untouched.
* ``adopt``: start; the session starts holding what the venue holds of its symbols
  (valued at the venue's last price), so its exits and the kill switch close them.
  The adoption is journaled (``venue_adoption``): rebuilds see it, and for the next
  reconciliation it resets the account's book of that asset to what was adopted.

In every case the differences are logged (WARNING), stored as risk events of the
session (``venue.*`` rules) and in the session's stored config, and published as an
``ErrorEvent`` so the tray shows them. The session's starting cash is the venue's free
quote balance (what it can really spend), never a number from the settings.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from stom_desktop.core.errors import ConfigurationError, StomError
from stom_desktop.core.events import ErrorEvent
from stom_desktop.core.orders import OrderSnapshot, is_own_order_id
from stom_desktop.persistence import SessionRecord
from stom_desktop.persistence.repositories.orders import FINAL_ORDER_STATUSES
from stom_desktop.services.trading_spec import SessionSpec
from stom_desktop.services.venue_adoption import is_adoption, signed

if TYPE_CHECKING:
    from stom_desktop.adapters.brokers.ccxt_broker import VenueBalance
    from stom_desktop.core.market_rules import CryptoRules

log = logging.getLogger(__name__)
_ZERO = Decimal(0)
#: What to do when the venue and the journal disagree (module docstring).
MISMATCH_POLICIES = ("halt", "report", "adopt")
MISMATCH_HINT = (
    "resolve it at the venue, or choose explicitly: live.on_venue_mismatch / "
    "--on-venue-mismatch report (trade beside it, untouched) or adopt (the session "
    "starts holding what the venue holds)"
)


class VenueAccount(Protocol):
    """What reconciliation reads from a live broker (``CcxtBroker`` implements it)."""

    exchange_id: str

    @property
    def own_prefix(self) -> str:
        """Our client-order-id prefix."""
        ...

    def account_balances(self) -> dict[str, VenueBalance]:
        """Free/used/total per currency."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[OrderSnapshot]:
        """Open venue orders of ``symbol``."""
        ...

    def rules(self, symbol: str) -> CryptoRules:
        """Market rules of ``symbol``."""
        ...

    def positions(self, symbols: Sequence[str] | None = None) -> dict[str, Decimal]:
        """Signed positions (futures)."""
        ...


class JournalReader(Protocol):
    """The journal queries used here (``OrderRepository`` implements them)."""

    def orders(self, session_id: int | None = None) -> Sequence[Any]:
        """Stored orders of one session."""
        ...

    def all_fills(self, session_id: int | None = None) -> Sequence[Any]:
        """Stored fills of one session."""
        ...

    def by_client_id(self, client_order_id: str) -> Any:
        """One stored order (None if unknown)."""
        ...


@dataclass(frozen=True, slots=True)
class AssetLine:
    """One asset (spot) or symbol (futures): the venue's quantity against the books'."""

    asset: str
    venue: Decimal  # spot: total (free + locked); futures: signed position
    book: Decimal
    venue_free: Decimal | None = None
    tolerance: Decimal = _ZERO  # below one lot step: dust

    @property
    def difference(self) -> Decimal:
        """``venue - book``."""
        return self.venue - self.book

    @property
    def matches(self) -> bool:
        """Equal, up to dust."""
        diff = abs(self.difference)
        return diff == 0 or diff < self.tolerance

    def describe(self) -> str:
        """One line for logs and errors."""
        state = "matches" if self.matches else f"DIFFERS by {self.difference:+}"
        return f"{self.asset}: venue {self.venue}, journal {self.book} ({state})"


@dataclass(frozen=True, slots=True)
class OrderLine:
    """An open order the venue and the journal disagree about.

    ``kind``: ``foreign`` (open at the venue, not our prefix), ``unknown_own`` (our
    prefix, not in the journal), ``finished_in_journal`` (open at the venue, finished in
    the journal), ``missing_at_venue`` (open in the journal, not open at the venue).
    """

    kind: str
    client_order_id: str
    symbol: str
    side: str
    quantity: Decimal
    journal_status: str | None = None
    journal_session: int | None = None

    @property
    def rule(self) -> str:
        """The risk-event rule this line is stored under."""
        return f"venue.{self.kind}_order"

    def describe(self) -> str:
        """One line for logs and errors."""
        what = {
            "foreign": "open at the venue, not ours (another program or a manual order)",
            "unknown_own": "ours (by prefix) open at the venue, unknown to the journal",
            "finished_in_journal": f"open at the venue, {self.journal_status} in the journal",
            "missing_at_venue": f"{self.journal_status} in the journal, not open at the venue",
        }[self.kind]
        return f"order {self.client_order_id} ({self.side} {self.quantity} {self.symbol}): {what}"


@dataclass(frozen=True, slots=True)
class VenueReconciliation:
    """What the venue holds against what the journal believes, for one account."""

    exchange: str
    account: str | None
    quote: str
    quote_free: Decimal
    quote_used: Decimal
    assets: tuple[AssetLine, ...]
    orders: tuple[OrderLine, ...]
    other_holdings: Mapping[str, Decimal] = field(default_factory=dict)
    sessions: tuple[int, ...] = ()  # journal sessions whose books were summed
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def differences(self) -> tuple[str, ...]:
        """Every disagreement, one readable line each (empty: the venue matches)."""
        lines = [a.describe() for a in self.assets if not a.matches]
        return tuple(lines + [o.describe() for o in self.orders])

    @property
    def matches(self) -> bool:
        """No difference at all."""
        return not self.differences

    def summary(self) -> str:
        """A short text: the verdict, then each difference."""
        head = (
            f"{self.exchange} account {self.account or '-'}: "
            f"free {self.quote} {self.quote_free} (locked {self.quote_used})"
        )
        if self.matches:
            return f"{head}; venue matches the journal"
        return f"{head}; {len(self.differences)} difference(s): " + "; ".join(self.differences)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (Decimal as text), for the session's stored config."""
        return {
            "exchange": self.exchange,
            "account": self.account,
            "quote": self.quote,
            "quote_free": str(self.quote_free),
            "quote_used": str(self.quote_used),
            "assets": [
                {
                    "asset": a.asset,
                    "venue": str(a.venue),
                    "book": str(a.book),
                    "difference": str(a.difference),
                    "matches": a.matches,
                }
                for a in self.assets
            ],
            "orders": [
                {
                    "kind": o.kind,
                    "client_order_id": o.client_order_id,
                    "symbol": o.symbol,
                    "side": o.side,
                    "quantity": str(o.quantity),
                    "journal_status": o.journal_status,
                }
                for o in self.orders
            ],
            "other_holdings": {k: str(v) for k, v in self.other_holdings.items()},
            "sessions": list(self.sessions),
            "checked_at": self.checked_at.isoformat(),
            "matches": self.matches,
        }


class VenueMismatchError(StomError):
    """The venue disagrees with the journal and the policy is ``halt``."""

    def __init__(self, report: VenueReconciliation) -> None:
        self.report = report
        super().__init__(
            f"live session not started: the venue disagrees with the journal: "
            f"{'; '.join(report.differences)}",
            hint=MISMATCH_HINT,
        )


# -- reading ------------------------------------------------------------------------
def account_sessions(
    records: Iterable[SessionRecord], exchange: str, account: str | None
) -> list[SessionRecord]:
    """Stored live sessions that traded ``exchange`` with ``account``."""
    out = []
    for record in records:
        spec = record.config.get("spec") if isinstance(record.config, dict) else None
        if (
            isinstance(spec, dict)
            and spec.get("mode") == "live"
            and spec.get("exchange") == exchange
            and spec.get("account") == account
        ):
            out.append(record)
    return out


def _key(symbol: str) -> str:
    """Spot symbols count per base asset; futures per symbol."""
    return symbol.split("/", maxsplit=1)[0] if ":" not in symbol else symbol


def book_quantities(
    journal: JournalReader, session_ids: Iterable[int]
) -> tuple[dict[str, Decimal], list[Any]]:
    """Net quantity per asset/symbol bought by those sessions, and their open orders.

    Fills are replayed in booking order over all the sessions; an adoption fill
    (``venue_adoption``) sets the asset's book to the quantity adopted, since it
    records what the venue held at that moment.
    """
    book: dict[str, Decimal] = defaultdict(lambda: _ZERO)
    still_open = []
    booked: list[tuple[Any, Any]] = []
    for sid in session_ids:
        orders = {o.client_order_id: o for o in journal.orders(sid)}
        still_open += [o for o in orders.values() if o.status not in FINAL_ORDER_STATUSES]
        booked += [
            (fill, orders[fill.client_order_id])
            for fill in journal.all_fills(sid)
            if fill.client_order_id in orders
        ]
    booked.sort(key=lambda pair: getattr(pair[0], "id", 0))  # stable: one session's order kept
    for fill, order in booked:
        key = _key(order.symbol)
        quantity = signed(order.side, fill.quantity)
        if is_adoption(fill.client_order_id):
            book[key] = quantity
            continue
        book[key] += quantity
        if ":" not in order.symbol and fill.fee_currency == key:
            book[key] -= fill.fee  # a fee taken in the base asset left the wallet
    return dict(book), still_open


def reconcile(
    broker: VenueAccount,
    journal: JournalReader,
    spec: SessionSpec,
    records: Iterable[SessionRecord],
    *,
    quote: str,
) -> VenueReconciliation:
    """Read the venue and compare it with the journal's books of the same account."""
    exchange = str(spec.exchange)
    earlier = account_sessions(records, exchange, spec.account)
    book, journal_open = book_quantities(journal, [r.id for r in earlier])
    balances = broker.account_balances()
    futures = any(":" in s for s in spec.symbols)
    steps = {_key(s): broker.rules(s).amount_step for s in spec.symbols}
    keys = set(steps) | {k for k, v in book.items() if v != 0}
    assets = []
    if futures:
        venue_pos = broker.positions(sorted(keys))
        for key in sorted(keys):
            assets.append(
                AssetLine(key, venue_pos.get(key, _ZERO), book.get(key, _ZERO),
                          tolerance=steps.get(key, _ZERO))
            )  # fmt: skip
    else:
        for key in sorted(keys):
            held = balances.get(key)
            assets.append(
                AssetLine(
                    key,
                    held.total if held is not None else _ZERO,
                    book.get(key, _ZERO),
                    venue_free=held.free if held is not None else _ZERO,
                    tolerance=steps.get(key, _ZERO),
                )
            )
    compared = set(keys) if not futures else set()
    other = {
        asset: line.total
        for asset, line in sorted(balances.items())
        if asset not in compared and asset != quote and line.total != 0
    }
    cash = balances.get(quote)
    symbols = sorted(set(spec.symbols) | {o.symbol for o in journal_open})
    orders = _order_lines(broker, journal, symbols, journal_open)
    return VenueReconciliation(
        exchange=exchange,
        account=spec.account,
        quote=quote,
        quote_free=cash.free if cash is not None else _ZERO,
        quote_used=cash.used if cash is not None else _ZERO,
        assets=tuple(assets),
        orders=tuple(orders),
        other_holdings=other,
        sessions=tuple(r.id for r in earlier),
    )


def _order_lines(
    broker: VenueAccount, journal: JournalReader, symbols: Sequence[str], journal_open: list[Any]
) -> list[OrderLine]:
    prefix = broker.own_prefix
    lines: list[OrderLine] = []
    seen: set[str] = set()
    for symbol in symbols:
        for row in broker.open_orders(symbol):
            cid = row.client_order_id
            seen.add(cid)
            side, qty = row.side.value, row.quantity
            if not is_own_order_id(cid, prefix=prefix):
                lines.append(OrderLine("foreign", cid, row.symbol, side, qty))
                continue
            stored = journal.by_client_id(cid)
            if stored is None:
                lines.append(OrderLine("unknown_own", cid, row.symbol, side, qty))
            elif stored.status in FINAL_ORDER_STATUSES:
                lines.append(
                    OrderLine("finished_in_journal", cid, row.symbol, side, qty,
                              stored.status, stored.session_id)
                )  # fmt: skip
    for order in journal_open:
        if order.client_order_id not in seen:
            lines.append(
                OrderLine("missing_at_venue", order.client_order_id, order.symbol, order.side,
                          order.quantity, order.status, order.session_id)
            )  # fmt: skip
    return lines


# -- deciding -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class VenueStart:
    """How a live session starts after reconciliation.

    ``initial_cash``: the venue's free quote balance plus the value of what is adopted
    (the books buy the adopted holdings at ``price``, leaving cash = the free balance).
    ``adopt``: symbol -> (signed quantity, price) to seed the books with. ``halt``: the
    policy refuses this start (raise ``VenueMismatchError`` once it is recorded).
    """

    report: VenueReconciliation
    policy: str
    initial_cash: Decimal
    adopt: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    halt: bool = False

    def check(self) -> None:
        """Raise ``VenueMismatchError`` when the policy refuses the start."""
        if self.halt:
            raise VenueMismatchError(self.report)

    def to_dict(self) -> dict[str, Any]:
        """The report plus the policy and what was adopted (the session's stored config)."""
        adopted = {s: {"quantity": str(q), "price": str(p)} for s, (q, p) in self.adopt.items()}
        return {**self.report.to_dict(), "policy": self.policy, "adopted": adopted}


def decide(
    report: VenueReconciliation,
    policy: str,
    symbols: Sequence[str],
    price_of: Callable[[str], Decimal | None],
) -> VenueStart:
    """Apply ``policy``: how the session starts (``halt`` set when it must not)."""
    if policy not in MISMATCH_POLICIES:
        raise ConfigurationError(
            f"unknown policy {policy!r}; use {', '.join(MISMATCH_POLICIES)}",
            key="live.on_venue_mismatch",
        )
    adopt: dict[str, tuple[Decimal, Decimal]] = {}
    if policy == "adopt":
        lines = {a.asset: a for a in report.assets}
        for symbol in symbols:
            line = lines.get(_key(symbol))
            if line is None or line.venue == 0:
                continue
            price = price_of(symbol)
            if price is None or price <= 0:
                raise ConfigurationError(
                    f"cannot adopt {line.venue} {line.asset}: the venue gave no price "
                    f"for {symbol} to value it",
                    key="live.on_venue_mismatch",
                )
            adopt[symbol] = (line.venue, price)
    value = sum((qty * px for qty, px in adopt.values()), _ZERO)
    cash = report.quote_free + value
    halt = policy == "halt" and not report.matches
    if cash <= 0 and not halt:
        raise ConfigurationError(
            f"the {report.exchange} account has no free {report.quote} to trade with",
            key="live.account",
            hint=f"deposit {report.quote} or free it from open orders at the venue",
        )
    return VenueStart(report, policy, cash, adopt, halt)


def publish_report(
    start: VenueStart,
    *,
    session_id: int,
    record: Callable[..., object],
    publish: Callable[[object], None],
    now_ms: int,
) -> None:
    """Log, store (risk events via ``record``) and publish what reconciliation found."""
    report = start.report
    text = f"venue reconciliation ({start.policy}): {report.summary()}"
    if report.matches:
        log.info("session %s: %s", session_id, text)
    else:
        log.warning("session %s: %s", session_id, text)
    record("venue.reconcile", text, session_id=session_id)
    for line in report.assets:
        if not line.matches:
            record("venue.balance_mismatch", line.describe(), session_id=session_id)
    for order in report.orders:
        record(order.rule, order.describe(), session_id=session_id,
               client_order_id=order.client_order_id[:64])  # fmt: skip
    for symbol, (qty, price) in start.adopt.items():
        record(
            "venue.adopted_position",
            f"{symbol}: the session starts holding {qty} at {price} (adopted from the venue)",
            session_id=session_id,
        )
    if not report.matches:
        publish(ErrorEvent(f"s{session_id}", text, None, now_ms))
