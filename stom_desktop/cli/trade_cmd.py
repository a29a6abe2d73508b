"""``stom trade`` (run a session with a live table and a report) and ``stom order`` (one order).

Both call :class:`~stom_desktop.services.trading_service.TradingService` only. ``stom
trade`` runs in the foreground: a live table of sessions, positions, working orders and
fills refreshed four times a second (a plain fill log when the output is not a terminal),
until ``--duration`` of wall-clock time has passed, the feed ends (``--market-duration``,
or the end of a replay), or Ctrl-C / SIGTERM; then the session is stopped cleanly and its
report printed and written to the reports folder.
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from types import FrameType
from typing import Any

import typer
from rich.live import Live

from stom_desktop.bootstrap import build_app
from stom_desktop.cli.render import err, out
from stom_desktop.cli.trade_view import (
    dashboard,
    fill_line,
    money,
    print_daily,
    print_session_report,
)
from stom_desktop.core.errors import ConfigurationError, StomError
from stom_desktop.engine.strategy_runner import IntendedOrderEvent
from stom_desktop.services.strategy_service import parse_param_pairs
from stom_desktop.services.trading_service import TradingService, TradingSnapshot
from stom_desktop.services.trading_spec import MANUAL_STRATEGY, SessionReport, SessionSpec

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str | None, key: str = "--duration") -> float | None:
    """``"90"``, ``"30s"``, ``"5m"``, ``"1h30m"`` -> seconds (None stays None)."""
    if text is None or text.strip() == "":
        return None
    raw = text.strip().lower()
    try:
        seconds = float(raw)
    except ValueError:
        parts = _PART.findall(raw)
        if not parts or "".join(n + u for n, u in parts) != raw:
            raise ConfigurationError(
                f"cannot read duration {text!r}", key=key, hint="e.g. 90, 30s, 5m, 2h, 1h30m"
            ) from None
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if not seconds > 0:
        raise ConfigurationError(f"must be > 0, got {text!r}", key=key)
    return seconds


@contextmanager
def stop_on_sigterm(stop: threading.Event) -> Iterator[None]:
    """SIGTERM sets ``stop`` (Ctrl-C arrives as KeyboardInterrupt) while inside."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_foreground(
    service: TradingService,
    spec: SessionSpec,
    tz: str,
    *,
    duration_s: float | None,
    live: bool,
    liquidate: bool,
) -> SessionReport:
    """Start ``spec``, show it until done (duration, feed end, Ctrl-C, SIGTERM), stop, report."""
    stop = threading.Event()
    session_id = service.start_session(spec)
    err.print(
        f"session {session_id} started: {spec.strategy} {spec.mode} on {', '.join(spec.symbols)} "
        f"({'as fast as possible' if spec.speed == 0 else f'{spec.speed:g}x'}); Ctrl-C stops",
        highlight=False,
    )
    deadline = None if duration_s is None else time.monotonic() + duration_s
    interrupted = False
    try:
        with stop_on_sigterm(stop):
            if live and out.is_terminal:
                with Live(console=out, refresh_per_second=4, transient=False) as view:
                    while not _done(service, session_id, stop, deadline):
                        if (snap := _snapshot(service)) is not None:
                            view.update(dashboard(snap, tz))
                        stop.wait(0.25)
                    if (snap := _snapshot(service)) is not None:
                        view.update(dashboard(snap, tz))
            else:
                seen = 0
                while True:
                    done = _done(service, session_id, stop, deadline)
                    snap = _snapshot(service)
                    fills = [] if snap is None else sorted(snap.fills, key=lambda f: f.ts)
                    for fill in fills[seen:]:
                        out.print(fill_line(fill, tz), highlight=False)
                    seen = max(seen, len(fills))
                    if done:
                        break
                    stop.wait(0.25)
    except KeyboardInterrupt:
        interrupted = True
    if interrupted or stop.is_set():
        err.print("[yellow]stopping the session[/]")
    return service.stop_session(session_id, liquidate=liquidate)


def _snapshot(service: TradingService) -> TradingSnapshot | None:
    """What the view shows, or None while an engine is busy (e.g. a venue call that is
    waiting for its timeout): the display skips a refresh, the session goes on."""
    try:
        return service.snapshot()
    except StomError as exc:
        err.print(f"[yellow]display not refreshed[/]: {exc}", highlight=False)
        return None


def _done(
    service: TradingService, session_id: int, stop: threading.Event, deadline: float | None
) -> bool:
    if stop.is_set() or service.session_finished(session_id):
        return True
    return deadline is not None and time.monotonic() >= deadline


def trade(
    strategy: str = typer.Argument(..., help="strategy name (e.g. sma_cross) or path to a .py"),
    mode: str = typer.Option("paper", "--mode", help="paper | live | dry_run"),
    symbols: str = typer.Option("SIM1,SIM2", "--symbols", help="comma-separated symbols"),
    dry_run: bool = typer.Option(False, "--dry-run", help="log signals and intended orders only"),
    duration: str | None = typer.Option(
        None, "--duration", help="wall-clock run time, e.g. 30s, 5m, 2h (default: until Ctrl-C)"
    ),
    market_duration: str | None = typer.Option(
        None, "--market-duration", help="end the simulated market after this much market time"
    ),
    speed: float = typer.Option(60.0, "--speed", help="1 = real time, 60 = 60x, 0 = max"),
    seed: int = typer.Option(1, "--seed", help="simulator seed (same seed, same market)"),
    record: bool = typer.Option(False, "--record", help="record quotes/trades for `stom replay`"),
    timeframe: str = typer.Option("1m", "--timeframe", "-t", help="bar timeframe of the strategy"),
    param: list[str] = typer.Option([], "--param", "-p", help="strategy parameter NAME=VALUE"),
    cash: float = typer.Option(10_000_000, "--cash", help="initial cash of the session"),
    live_table: bool = typer.Option(True, "--live/--no-live", help="live table on a terminal"),
    liquidate: bool = typer.Option(False, "--liquidate", help="flatten positions when stopping"),
    exchange: str | None = typer.Option(
        None,
        "--exchange",
        help="binance | binanceusdm (USDT-M futures, symbols like BTC/USDT:USDT) | upbit: "
        "trade (live) or watch (dry run) a real venue",
    ),
    account: str | None = typer.Option(
        None, "--account", help="account in Settings -> Accounts (default: live.account)"
    ),
    real_money: bool = typer.Option(
        False, "--i-understand-real-money", help="confirm that --mode live sends real orders"
    ),
    on_venue_mismatch: str | None = typer.Option(
        None,
        "--on-venue-mismatch",
        help="live: when the venue's balances/orders differ from the journal at start: "
        "halt (default: live.on_venue_mismatch) | report (start beside it) | adopt "
        "(start holding what the venue holds)",
    ),
) -> None:
    """Run a strategy: paper on the simulator, or on a real venue with --exchange.

    ``--mode live`` sends real orders with real money: it needs ``--i-understand-real-money``
    (or a typed confirmation on a terminal). ``--dry-run --exchange X`` runs on the venue's
    live prices and prints every order it *would* send; nothing is sent.
    """
    if mode == "live" and not dry_run:
        confirm_real_money(real_money, exchange, account)
    spec = SessionSpec(
        name=f"{strategy}-{mode if not dry_run else 'dry_run'}",
        strategy=strategy,
        symbols=tuple(symbols.split(",")),
        mode="dry_run" if dry_run else mode,
        timeframe=timeframe,
        params=dict(parse_param_pairs(param)),
        speed=speed,
        initial_cash=Decimal(str(cash)),
        seed=seed,
        record=record,
        market_duration_s=parse_duration(market_duration, "--market-duration"),
        exchange=exchange,
        account=account,
        venue_mismatch=on_venue_mismatch,
    )
    run_and_report(spec, parse_duration(duration), live_table, liquidate)


def confirm_real_money(confirmed: bool, exchange: str | None, account: str | None) -> None:
    """Refuse live mode unless the flag was given or the user types ``yes`` on a terminal."""
    if confirmed:
        return
    where = f"{exchange or 'the configured exchange'} (account {account or 'from settings'})"
    if out.is_terminal and err.is_terminal:
        answer = typer.prompt(f"--mode live sends REAL orders with REAL money on {where}. Type yes")
        if answer.strip().lower() == "yes":
            return
    raise ConfigurationError(
        f"--mode live sends real orders on {where} and was not confirmed",
        key="--i-understand-real-money",
        hint="add --i-understand-real-money, or try it first with --dry-run --exchange ...",
    )


def intended_line(event: IntendedOrderEvent) -> str:
    """One order a dry run would have sent, with every field that would go out."""
    r = event.request
    price = "-" if r.price is None else str(r.price)
    stop = "" if r.stop_price is None else f" stop={r.stop_price}"
    return (
        f"DRY RUN would send: {r.symbol} {r.side.value} {r.order_type.value} qty={r.quantity} "
        f"price={price}{stop} client_id={event.client_order_id}"
    )


def run_and_report(
    spec: SessionSpec, duration_s: float | None, live_table: bool, liquidate: bool
) -> None:
    """Build the app, run ``spec`` in the foreground, print the reports, shut down."""
    ctx = build_app()
    try:
        service = ctx.trading
        if spec.mode == "dry_run":
            service.events.subscribe(
                IntendedOrderEvent, lambda e: err.print(intended_line(e), highlight=False)
            )
        for found in service.recovered:
            err.print(
                f"[yellow]session {found.session_id} was interrupted earlier[/]: "
                f"{len(found.never_sent)} unsent order(s) rejected, "
                f"{len(found.unknown_at_venue)} working order(s) closed; it is marked stopped",
                highlight=False,
            )
        tz = ctx.settings.timezone
        try:
            report = run_foreground(
                service, spec, tz, duration_s=duration_s, live=live_table, liquidate=liquidate
            )
            print_session_report(report, tz)
            print_daily(service.daily_report())
        finally:
            service.shutdown()
    finally:
        ctx.close()


def order(
    side: str = typer.Argument(..., help="buy or sell"),
    symbol: str = typer.Argument(..., help="symbol, e.g. SIM1"),
    quantity: str = typer.Argument(..., help="quantity (whole shares for stocks)"),
    price: str | None = typer.Option(None, "--price", help="limit price (default: market)"),
    order_type: str | None = typer.Option(None, "--type", help="market | limit"),
    wait: str = typer.Option("10s", "--wait", help="how long the temporary session runs"),
    speed: float = typer.Option(60.0, "--speed", help="speed of the temporary simulated market"),
    seed: int = typer.Option(1, "--seed", help="simulator seed"),
) -> None:
    """Place one order through TradingService.place_order (same risk checks as strategies).

    A CLI process cannot reach a session running in another process yet, so this starts a
    temporary paper session on the market simulator for SYMBOL, places the order at the
    first price, lets the market run for --wait (wall clock), cancels what is still open,
    and prints the outcome. The order and its fills are journaled like any other.
    """
    if side.lower() not in ("buy", "sell"):
        raise ConfigurationError(f"side must be buy or sell, got {side!r}", key="side")
    wait_s = parse_duration(wait, "--wait") or 10.0
    ctx = build_app()
    try:
        service = ctx.trading
        spec = SessionSpec(
            name="manual-order",
            strategy=MANUAL_STRATEGY,
            symbols=(symbol,),
            mode="paper",
            speed=speed,
            seed=seed,
        )
        err.print(
            "no trading session runs in this process: placing the order on a temporary paper "
            f"session on the market simulator (seed {seed}, {speed:g}x) for {wait_s:g} s",
            highlight=False,
        )
        session_id = service.start_session(spec)
        try:
            _place_and_watch(
                service,
                session_id,
                side,
                symbol,
                quantity,
                price,
                order_type,
                wait_s,
                ctx.settings.timezone,
            )
        finally:
            report = service.stop_session(session_id)
            service.shutdown()
        held = report.open_positions.get(symbol, Decimal(0))
        out.print(
            f"temporary session {session_id} ended: position {symbol} {held:,}, cash "
            f"{money(report.cash)}, fees {money(report.fees, 2)}",
            highlight=False,
        )
    finally:
        ctx.close()


def _place_and_watch(
    service: TradingService,
    session_id: int,
    side: str,
    symbol: str,
    quantity: str,
    price: str | None,
    order_type: str | None,
    wait_s: float,
    tz: str,
) -> None:
    deadline = time.monotonic() + wait_s
    last = None
    while last is None and time.monotonic() < deadline:
        last = service.last_price(symbol, session_id)
        if last is None:
            time.sleep(0.02)
    if last is None:
        raise ConfigurationError(f"no price for {symbol} arrived within {wait_s:g} s")
    out.print(f"{symbol} last price {money(last)}", highlight=False)
    result = service.place_order(
        symbol,
        side.lower(),
        quantity,
        price,
        order_type=order_type,
        session_id=session_id,
    )
    if not result.ok:
        out.print(f"[red]refused[/] ({result.rule}): {result.reason}", highlight=False)
        raise typer.Exit(1)
    out.print(f"accepted: order {result.client_order_id} ({_status(result)})", highlight=False)
    cid = result.client_order_id
    while time.monotonic() < deadline:
        if all(o.client_order_id != cid for o in service.open_orders()):
            break
        time.sleep(0.05)
    fills = [f for f in service.recent_fills(1000) if f.client_order_id == cid]
    for fill in fills:
        out.print(fill_line(fill, tz), highlight=False)
    if not fills:
        out.print("not filled within the wait; it is cancelled with the temporary session")


def _status(result: Any) -> str:
    return "pending" if result.status is None else str(result.status.value)
