"""Message text for notifications: fill bursts, errors and the daily report (plain text).

Kept short for a phone screen: one fill is one line; a burst lists the first fills and a
per-symbol total (quantity and average price per side); the daily report is a summary with
one line per session, not the markdown table of the report file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from stom_desktop.core.events import FillEvent

#: Fills listed one by one in a burst message before "... and N more".
MAX_LISTED = 10
_ZERO = Decimal(0)


def fmt_decimal(value: Decimal) -> str:
    """``value`` without exponent or trailing zeros (``30000``, ``0.0015``)."""
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def _money(value: Decimal) -> str:
    return f"{value:+,.2f}" if value != value.to_integral_value() else f"{value:+,.0f}"


def fill_line(event: FillEvent) -> str:
    """``BUY 0.001 BTC/USDT @ 30000 (session 1)``."""
    fill = event.fill
    return (
        f"{fill.side.value.upper()} {fmt_decimal(fill.quantity)} {fill.symbol} "
        f"@ {fmt_decimal(fill.price)} (session {event.session_id})"
    )


def fills_message(fills: Sequence[FillEvent], tz: ZoneInfo) -> tuple[str, str]:
    """Title and text for one fill or a burst of fills."""
    if len(fills) == 1:
        fill = fills[0].fill
        when = fill.ts.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")
        fee = f"fee {fmt_decimal(fill.fee)} {fill.fee_currency}"
        return f"Fill: {fill_line(fills[0])}", f"{when}, {fee}"
    lines = [fill_line(event) for event in fills[:MAX_LISTED]]
    if len(fills) > MAX_LISTED:
        lines.append(f"\u2026 and {len(fills) - MAX_LISTED} more")
    totals: dict[tuple[str, str], tuple[Decimal, Decimal, int]] = {}
    for event in fills:
        fill = event.fill
        key = (fill.symbol, fill.side.value)
        qty, notional, count = totals.get(key, (_ZERO, _ZERO, 0))
        totals[key] = (qty + fill.quantity, notional + fill.notional, count + 1)
    lines.append("")
    lines.append("Totals:")
    for (symbol, side), (qty, notional, count) in sorted(totals.items()):
        average = (notional / qty).quantize(Decimal("1.00000000")) if qty else _ZERO
        lines.append(
            f"{symbol} {side.upper()} {fmt_decimal(qty)} in {count} fill(s), "
            f"avg {fmt_decimal(average)}"
        )
    first = fills[0].fill.ts.astimezone(tz)
    last = fills[-1].fill.ts.astimezone(tz)
    span = f"{first:%H:%M:%S}" if first == last else f"{first:%H:%M:%S}-{last:%H:%M:%S}"
    return f"{len(fills)} fills ({span} {first:%Z})", "\n".join(lines)


def errors_message(errors: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """Title and text for one error or several (each ``(title, text)``)."""
    if len(errors) == 1:
        return errors[0]
    shown = [f"\u2022 {title}: {text}" for title, text in errors[:MAX_LISTED]]
    if len(errors) > MAX_LISTED:
        shown.append(f"\u2026 and {len(errors) - MAX_LISTED} more")
    return f"{len(errors)} errors", "\n".join(shown)


def daily_report_text(report: Any, tz: ZoneInfo) -> tuple[str, str]:
    """Title and text summarising a ``DailyReport`` (sessions, orders, fills, P&L)."""
    day = getattr(report, "day", None)
    title = f"Daily report {day.isoformat()}" if day is not None else "Daily report"
    sessions = tuple(getattr(report, "sessions", ()))
    lines = [
        f"Sessions {len(sessions)}, orders {getattr(report, 'orders', 0)}, "
        f"fills {getattr(report, 'fills', 0)}",
    ]
    realized = getattr(report, "realized_pnl", None)
    if realized is not None:
        lines.append(
            f"Realized {_money(realized)}, fees {_money(report.fees).lstrip('+')}, "
            f"net {_money(report.net_realized)}"
        )
    for s in sessions:
        held = ", ".join(f"{k} {fmt_decimal(v)}" for k, v in s.open_positions.items())
        line = (
            f"#{s.session_id} {s.name} ({s.strategy}, {s.mode}, {s.status}): "
            f"{s.fills} fills, net {_money(s.net_realized)}"
        )
        lines.append(line + (f"; open {held}" if held else ""))
        if s.error:
            lines.append(f"  error: {s.error.strip().splitlines()[-1]}")
    path = getattr(report, "path", None)
    if path is not None:
        lines.append(f"File: {path}")
    lines.append(f"Sent {datetime.now(tz):%Y-%m-%d %H:%M %Z}")
    return title, "\n".join(lines)
