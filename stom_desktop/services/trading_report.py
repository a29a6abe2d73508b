"""Trading reports: round trips from fills, session metrics, and the daily report files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from stom_desktop.core.enums import Side
from stom_desktop.core.fills import Fill
from stom_desktop.services.trading_spec import (
    DailyReport,
    SessionReport,
    TradeRecord,
)

_ZERO = Decimal(0)


@dataclass(slots=True)
class _Open:
    symbol: str
    direction: int  # +1 long, -1 short
    quantity: Decimal  # current absolute size
    peak: Decimal  # largest absolute size held
    entry_cost: Decimal  # sum of entry quantity * price
    entry_qty: Decimal
    exit_value: Decimal
    exit_qty: Decimal
    cash: Decimal  # cash flow of the trade, fees included
    fees: Decimal
    entry_ts: datetime


def round_trips(
    fills: Iterable[Fill], marks: Mapping[str, Decimal] | None = None
) -> list[TradeRecord]:
    """Trades (flat -> position -> flat) per symbol, in the order they were opened.

    A fill that reverses a position closes the trade and opens the next one with the rest
    (its fee is split by quantity). An open trade is valued at ``marks`` when given.
    """
    trades: list[tuple[datetime, TradeRecord]] = []
    open_: dict[str, _Open] = {}
    for fill in fills:
        qty, fee = fill.quantity, fill.fee
        sign = 1 if fill.side is Side.BUY else -1
        current = open_.get(fill.symbol)
        if current is not None and current.direction != sign:
            closing = min(qty, current.quantity)
            part_fee = fee * closing / qty
            current.quantity -= closing
            current.exit_value += closing * fill.price
            current.exit_qty += closing
            current.cash += sign * -closing * fill.price - part_fee
            current.fees += part_fee
            qty, fee = qty - closing, fee - part_fee
            if current.quantity == 0:
                trades.append((current.entry_ts, _record(current, fill.ts)))
                del open_[fill.symbol]
                current = None
        if qty == 0:
            continue
        if current is None:
            current = open_[fill.symbol] = _Open(
                fill.symbol, sign, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, _ZERO, fill.ts
            )
        current.quantity += qty
        current.peak = max(current.peak, current.quantity)
        current.entry_cost += qty * fill.price
        current.entry_qty += qty
        current.cash += -sign * qty * fill.price - fee
        current.fees += fee
    for current in open_.values():
        mark = (marks or {}).get(current.symbol)
        record = _record(current, None)
        if mark is not None:
            value = current.cash + current.direction * current.quantity * mark
            record = replace(record, pnl=value)
        trades.append((current.entry_ts, record))
    trades.sort(key=lambda item: item[0])
    return [t for _, t in trades]


def _record(trade: _Open, exit_ts: datetime | None) -> TradeRecord:
    avg_entry = trade.entry_cost / trade.entry_qty
    if exit_ts is not None:
        pnl = trade.cash
    else:  # still open: only the part already exited is realized
        pnl = trade.direction * (trade.exit_value - trade.exit_qty * avg_entry) - trade.fees
    return TradeRecord(
        symbol=trade.symbol,
        direction="long" if trade.direction > 0 else "short",
        quantity=trade.peak,
        entry_price=avg_entry,
        exit_price=None
        if trade.exit_qty == 0 or exit_ts is None
        else trade.exit_value / trade.exit_qty,
        entry_ts=trade.entry_ts,
        exit_ts=exit_ts,
        pnl=pnl,
        fees=trade.fees,
    )


def win_rate(trades: Sequence[TradeRecord]) -> float | None:
    """Share of closed trades with a positive P&L (None without closed trades)."""
    closed = [t for t in trades if t.exit_ts is not None]
    if not closed:
        return None
    return sum(1 for t in closed if t.pnl > 0) / len(closed)


def max_drawdown_pct(equity: Sequence[float]) -> float:
    """Largest peak-to-trough fall of an equity series, as a fraction of the peak."""
    peak, worst = float("-inf"), 0.0
    for value in equity:
        peak = max(peak, value)
        if peak > 0:
            worst = max(worst, (peak - value) / peak)
    return worst


# -- files ----------------------------------------------------------------------------
def _money(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,.2f}"


def session_markdown(report: SessionReport, tz_name: str) -> str:
    """The session report as markdown."""
    lines = [
        f"# Session {report.session_id}: {report.name}",
        "",
        f"- strategy: `{report.strategy}`, mode: {report.mode}, symbols: "
        f"{', '.join(report.symbols)}, state: {report.state}",
        f"- market time: {_ts(report.market_start, tz_name)} .. {_ts(report.market_end, tz_name)}",
        f"- initial cash {_money(report.initial_cash)}, final equity {_money(report.equity)}, "
        f"P&L {_money(report.total_pnl)} ({report.return_pct:+.3%})",
        f"- realized {_money(report.realized_pnl)}, unrealized {_money(report.unrealized_pnl)}, "
        f"fees {_money(report.fees)}",
        f"- orders {report.orders}, fills {report.fills}, risk rejections {report.rejections}, "
        f"trades {len(report.trades)} (closed {len(report.closed_trades)}), win rate "
        f"{'-' if report.win_rate is None else f'{report.win_rate:.1%}'}, max drawdown "
        f"{report.max_drawdown_pct:.2%}",
    ]
    if report.intended_orders:
        lines.append(f"- dry run: {report.intended_orders} intended orders, nothing sent")
    if report.open_positions:
        held = ", ".join(f"{s} {q}" for s, q in report.open_positions.items())
        lines.append(f"- open positions at the end: {held}")
    if report.venue_reconciliation:
        lines.append(f"- {report.venue_reconciliation}")
    if report.error:
        lines.append(f"- error: {report.error}")
    lines += [
        "",
        "| # | symbol | side | qty | entry | exit | entry time | exit time | P&L | fees |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k, t in enumerate(report.trades, 1):
        lines.append(
            f"| {k} | {t.symbol} | {t.direction} | {t.quantity} | {_money(t.entry_price)} | "
            f"{_money(t.exit_price)} | {_ts(t.entry_ts, tz_name)} | {_ts(t.exit_ts, tz_name)} | "
            f"{_money(t.pnl)} | {_money(t.fees)} |"
        )
    return "\n".join(lines) + "\n"


def daily_markdown(report: DailyReport) -> str:
    """The daily report as markdown."""
    lines = [
        f"# Trading report {report.day.isoformat()}",
        "",
        f"- sessions {len(report.sessions)}, orders {report.orders}, fills {report.fills}",
        f"- realized P&L {_money(report.realized_pnl)}, fees {_money(report.fees)}, "
        f"net {_money(report.net_realized)}",
        "",
        "| id | name | strategy | mode | status | orders | fills | realized | fees | net | open |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in report.sessions:
        held = ", ".join(f"{k} {v}" for k, v in s.open_positions.items()) or "-"
        lines.append(
            f"| {s.session_id} | {s.name} | {s.strategy} | {s.mode} | {s.status} | {s.orders} | "
            f"{s.fills} | {_money(s.realized_pnl)} | {_money(s.fees)} | {_money(s.net_realized)} | "
            f"{held} |"
        )
    for s in report.sessions:
        if s.venue_reconciliation:
            lines += ["", f"session {s.session_id} {s.venue_reconciliation}"]
        if s.error:
            lines += ["", f"session {s.session_id} error: {s.error.splitlines()[-1]}"]
    return "\n".join(lines) + "\n"


def write_report(
    folder: Path, stem: str, markdown: str, data: dict[str, object]
) -> tuple[Path, Path]:
    """Write ``stem.md`` and ``stem.json`` atomically into ``folder``; returns both paths."""
    folder.mkdir(parents=True, exist_ok=True)
    md_path, json_path = folder / f"{stem}.md", folder / f"{stem}.json"
    for path, text in ((md_path, markdown), (json_path, json.dumps(data, indent=2))):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return md_path, json_path


def _ts(moment: datetime | date | None, tz_name: str) -> str:
    if moment is None:
        return "-"
    if isinstance(moment, datetime):
        return moment.astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M:%S")
    return moment.isoformat()
