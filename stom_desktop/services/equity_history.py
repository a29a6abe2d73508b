"""Equity history across days: per-day orders, fills, fees, realised P&L and equity.

Read-only, from the journal (sessions, orders and fills in the app database); no Qt.
Each stored session is booked on the day it was *created* in the exchange time zone,
exactly as the daily report books it, and its money comes from the daily report's own
line (``TradingService._daily_line``: ``Portfolio.rebuild`` over the stored fills), so a
day here always equals ``daily_report(day)`` for the same mode. Every status counts:
finished, failed, still running (fills so far) and sessions closed by start-up
recovery after their process died.

Equity: paper sessions each start from their own cash, so there is no single stored
account balance. The curve is the *account view*: the initial cash of the first session
in the selection (the base) plus the cumulative net realised P&L (after fees) of every
session up to the end of that day. Positions still open when a session ended are not
marked (the journal has no closing price); such days report them in ``open_positions``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from stom_desktop.core.errors import ConfigurationError
from stom_desktop.persistence import SessionRecord
from stom_desktop.services.trading_spec import DailySessionLine

#: Mode filters the history accepts ("all": paper and live together).
HISTORY_MODES = ("all", "paper", "live")
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class HistoryDay:
    """One exchange-time-zone day of the selection."""

    day: date
    sessions: int
    interrupted: int  # sessions closed by start-up recovery (their process had died)
    orders: int
    fills: int
    realized_pnl: Decimal  # before fees, as in the daily report
    fees: Decimal
    net_pnl: Decimal  # realized_pnl - fees
    equity: Decimal  # base + cumulative net P&L to the end of this day
    open_positions: int  # symbols left open by the day's sessions (not marked)


@dataclass(frozen=True, slots=True)
class EquityHistory:
    """Days with sessions (oldest first) and what the numbers mean."""

    mode: str
    days: tuple[HistoryDay, ...]
    base: Decimal  # equity before the first day shown
    currencies: tuple[str, ...]
    message: str  # one line for the UI: what is shown, or why nothing is

    @property
    def empty(self) -> bool:
        """True when no session falls in the selection."""
        return not self.days


def build_history(
    records: Iterable[SessionRecord],
    line_of: Callable[[SessionRecord], DailySessionLine],
    initial_cash_of: Callable[[SessionRecord], Decimal],
    currency_of: Callable[[SessionRecord], str],
    tz: ZoneInfo,
    *,
    days: int | None = 90,
    mode: str = "all",
    today: date | None = None,
) -> EquityHistory:
    """The history of ``records`` (see the module docstring).

    ``days`` limits the days *shown* to the last ``days`` up to ``today`` (default: the
    current date in ``tz``; None: every day);
    P&L before them still counts in the equity of the first day shown.
    """
    if mode not in HISTORY_MODES:
        raise ConfigurationError(
            f"equity history mode {mode!r} is not one of {', '.join(HISTORY_MODES)}"
        )
    if days is not None and days < 1:
        raise ConfigurationError(f"equity history needs days >= 1, got {days}")
    chosen = sorted(
        (r for r in records if mode in ("all", r.mode)),
        key=lambda r: (r.created_at, r.id),
    )
    if not chosen:
        return EquityHistory(mode, (), _ZERO, (), _nothing(mode))
    base = initial_cash_of(chosen[0])
    currencies = tuple(sorted({currency_of(r) for r in chosen}))
    by_day: dict[date, list[tuple[SessionRecord, DailySessionLine]]] = {}
    for record in chosen:
        by_day.setdefault(record.created_at.astimezone(tz).date(), []).append(
            (record, line_of(record))
        )
    first_shown = None
    if days is not None:
        last = today if today is not None else datetime.now(tz).date()
        first_shown = last - timedelta(days=days - 1)
    equity, shown = base, []
    for day in sorted(by_day):
        lines = [line for _, line in by_day[day]]
        net = sum((line.net_realized for line in lines), _ZERO)
        equity += net
        if first_shown is not None and day < first_shown:
            base += net  # the curve starts where earlier days left it
            continue
        shown.append(
            HistoryDay(
                day=day,
                sessions=len(lines),
                interrupted=sum(1 for r, _ in by_day[day] if _interrupted(r)),
                orders=sum(line.orders for line in lines),
                fills=sum(line.fills for line in lines),
                realized_pnl=sum((line.realized_pnl for line in lines), _ZERO),
                fees=sum((line.fees for line in lines), _ZERO),
                net_pnl=net,
                equity=equity,
                open_positions=sum(len(line.open_positions) for line in lines),
            )
        )
    if not shown:
        return EquityHistory(mode, (), base, currencies, _nothing(mode, days))
    message = (
        f"{len(shown)} day(s), {sum(d.sessions for d in shown)} session(s); equity = "
        f"{base:,.0f} {'/'.join(currencies)} + cumulative net realised P&L"
    )
    if len(currencies) > 1:
        message += f" — mixed currencies ({', '.join(currencies)}) are summed: pick one mode"
    if any(d.open_positions for d in shown):
        message += "; positions left open are not marked"
    return EquityHistory(mode, tuple(shown), base, currencies, message)


def _interrupted(record: SessionRecord) -> bool:
    # Start-up recovery stores its note as the session's error (trading_service).
    return record.error is not None and record.error.startswith("interrupted:")


def _nothing(mode: str, days: int | None = None) -> str:
    which = "" if mode == "all" else f"{mode} "
    window = "" if days is None else f" in the last {days} day(s)"
    return f"No {which}sessions{window} yet: run a session and its days appear here."
