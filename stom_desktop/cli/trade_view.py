"""Rich views of trading: the live dashboard (sessions, positions, orders, fills) and reports."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.table import Table

from stom_desktop.cli.render import out
from stom_desktop.services.trading_service import TradingSnapshot
from stom_desktop.services.trading_spec import DailyReport, FillView, SessionReport


def money(value: Decimal | None, places: int = 0) -> str:
    """Thousands-separated amount (``-`` for None)."""
    return "-" if value is None else f"{value:,.{places}f}"


def _pnl(value: Decimal) -> str:
    colour = "green" if value > 0 else "red" if value < 0 else "white"
    return f"[{colour}]{value:+,.0f}[/]"


def _time(moment: datetime | None, tz: str) -> str:
    return "-" if moment is None else moment.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M:%S")


def dashboard(snap: TradingSnapshot, tz: str, *, max_rows: int = 8) -> RenderableType:
    """The live table: sessions, open positions, working orders and the latest fills."""
    sessions = Table(title="sessions", title_justify="left", expand=False)
    for col in ("id", "name", "strategy", "mode", "state", "market time", "fills"):
        sessions.add_column(col)
    sessions.add_column("equity", justify="right")
    sessions.add_column("P&L", justify="right")
    for s in snap.sessions:
        state = (
            s.state + (" (feed ended)" if s.feed_finished else "") + (" HALTED" if s.halted else "")
        )
        sessions.add_row(
            str(s.id),
            s.name,
            s.strategy,
            s.mode,
            state,
            _time(s.market_time, tz),
            str(s.fills),
            money(s.equity),
            _pnl(s.pnl),
        )
    positions = Table(title="positions", title_justify="left")
    for col in ("session", "symbol", "qty", "avg price", "last", "unrealized", "realized"):
        positions.add_column(col, justify="right" if col not in ("symbol",) else "left")
    for p in snap.positions[:max_rows]:
        positions.add_row(
            str(p.session_id),
            p.symbol,
            f"{p.quantity:,}",
            money(p.avg_price),
            money(p.last_price),
            _pnl(p.unrealized_pnl),
            _pnl(p.realized_pnl),
        )
    orders = Table(title="open orders", title_justify="left")
    for col in ("id", "symbol", "side", "type", "qty", "filled", "price", "status", "tag"):
        orders.add_column(col)
    for o in snap.open_orders[:max_rows]:
        level = o.price if o.price is not None else o.stop_price
        orders.add_row(
            o.client_order_id,
            o.symbol,
            o.side.value,
            o.order_type.value,
            f"{o.quantity:,}",
            f"{o.filled_quantity:,}",
            money(level),
            o.status.value,
            o.tag or "",
        )
    fills = Table(title="latest fills", title_justify="left")
    for col in ("time", "session", "symbol", "side", "qty", "price", "fee"):
        fills.add_column(col)
    for f in sorted(snap.fills, key=lambda x: x.ts)[-max_rows:]:
        fills.add_row(
            _time(f.ts, tz),
            str(f.session_id),
            f.symbol,
            f.side.value,
            f"{f.quantity:,}",
            money(f.price),
            money(f.fee, 2),
        )
    return Group(sessions, positions, orders, fills)


def fill_line(fill: FillView, tz: str) -> str:
    """One fill as a log line (used when the output is not a terminal)."""
    return (
        f"{_time(fill.ts, tz)} session {fill.session_id}: {fill.side.value} {fill.quantity:,} "
        f"{fill.symbol} @ {money(fill.price)} (fee {money(fill.fee, 2)}) [{fill.client_order_id}]"
    )


def print_session_report(report: SessionReport, tz: str, *, max_trades: int = 30) -> None:
    """The end-of-session report: summary, metrics and the trades table."""
    out.rule(f"session {report.session_id} report: {report.name}")
    out.print(
        f"strategy [bold]{report.strategy}[/] mode {report.mode} on {', '.join(report.symbols)}; "
        f"state {report.state}\n"
        f"market time {_time(report.market_start, tz)} .. {_time(report.market_end, tz)}\n"
        f"equity {money(report.equity)} from {money(report.initial_cash)}: P&L "
        f"{_pnl(report.total_pnl)} ({report.return_pct:+.3%})  realized "
        f"{money(report.realized_pnl)}  unrealized {money(report.unrealized_pnl)}  fees "
        f"{money(report.fees, 2)}\n"
        f"orders {report.orders}  fills {report.fills}  risk rejections {report.rejections}  "
        f"trades {len(report.trades)} (closed {len(report.closed_trades)})  win rate "
        f"{'-' if report.win_rate is None else f'{report.win_rate:.1%}'}  max drawdown "
        f"{report.max_drawdown_pct:.2%}",
        highlight=False,
    )
    if report.intended_orders:
        out.print(f"dry run: {report.intended_orders} intended orders logged, nothing was sent")
    if report.open_positions:
        held = ", ".join(f"{s} {q:,}" for s, q in report.open_positions.items())
        out.print(f"open at the end: {held}", highlight=False)
    if report.venue_reconciliation:
        out.print(report.venue_reconciliation, highlight=False)
    if report.error:
        out.print(f"[red]error:[/] {report.error}", highlight=False)
    if report.trades:
        table = Table(title=f"trades ({len(report.trades)})", title_justify="left")
        for col in ("#", "symbol", "side", "qty", "entry", "exit", "entry time", "exit time"):
            table.add_column(col)
        table.add_column("P&L", justify="right")
        shown = report.trades[-max_trades:]
        first = len(report.trades) - len(shown) + 1
        for k, t in enumerate(shown, first):
            table.add_row(
                str(k),
                t.symbol,
                t.direction,
                f"{t.quantity:,}",
                money(t.entry_price),
                money(t.exit_price),
                _time(t.entry_ts, tz),
                _time(t.exit_ts, tz) if t.exit_ts else "open",
                _pnl(t.pnl),
            )
        out.print(table)
    if report.path is not None:
        out.print(f"report: {report.path}", highlight=False)


def print_daily(report: DailyReport) -> None:
    """One line about the daily report file."""
    out.print(
        f"today ({report.day}): {len(report.sessions)} session(s), {report.fills} fills, net "
        f"realized {money(report.net_realized)}; daily report: {report.path}",
        highlight=False,
    )
