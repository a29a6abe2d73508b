"""Value types of the trading service: what a session is asked to do and what it reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from stom_desktop.core.enums import Side, timeframe_seconds
from stom_desktop.core.errors import ConfigurationError

MODES = ("paper", "live", "dry_run")
FEEDS = ("simulator", "replay", "venue")
#: Venues a live (or live-priced dry-run) session can trade on: Binance spot, Binance
#: USDT-M futures (ccxt's ``binanceusdm``; symbols like ``BTC/USDT:USDT``), Upbit KRW.
EXCHANGES = ("binance", "binanceusdm", "upbit")
#: Venues traded with another venue's API keys (one Binance key serves spot and futures).
_ACCOUNT_EXCHANGE = {"binanceusdm": "binance"}
#: Strategy name of the built-in strategy that never signals (manual orders only).
MANUAL_STRATEGY = "manual"


@dataclass(frozen=True, slots=True)
class SessionSpec:
    """Everything needed to start one trading session; JSON-able (scheduler jobs store it).

    ``speed``: 1 = real time, 60 = 60x, 0 = as fast as possible. ``market_duration_s``
    ends the simulator after that much *market* time (None: endless); a replay ends with
    its recording. ``size_fraction`` is the share of equity one entry may use (None:
    ``min(1 / len(symbols), risk.max_position_pct) * 0.95`` so that the risk limits
    accept a full book). ``start_ms`` is the simulator's first market time (None: now,
    floored to the minute). ``recording`` names the recording a ``replay`` feed plays.
    ``exchange`` (binance | binanceusdm | upbit) switches the session onto a real venue
    (``binanceusdm`` = USDT-M perpetual futures, symbols ``BASE/USDT:USDT``): its REST
    quotes feed the engine (``feed`` becomes ``venue``), live mode sends orders there with
    the keys of ``account`` (Settings -> Accounts), a dry run only shows what it would send.
    ``venue_mismatch`` overrides ``live.on_venue_mismatch`` for this session.
    """

    name: str
    strategy: str
    symbols: tuple[str, ...]
    mode: str = "paper"
    timeframe: str = "1m"
    params: dict[str, Any] = field(default_factory=dict)
    feed: str = "simulator"
    speed: float = 1.0
    initial_cash: Decimal = Decimal(10_000_000)
    seed: int = 1
    record: bool = False
    recording: str | None = None
    market_duration_s: float | None = None
    size_fraction: float | None = None
    start_ms: int | None = None
    exchange: str | None = None
    account: str | None = None
    venue_mismatch: str | None = None  # halt | report | adopt; None: live.on_venue_mismatch

    def __post_init__(self) -> None:
        symbols = tuple(s.strip() for s in self.symbols if s.strip())
        if not self.name.strip():
            raise ConfigurationError("a session needs a name", key="name")
        if not symbols or len(set(symbols)) != len(symbols):
            raise ConfigurationError(
                f"symbols must be non-empty and unique, got {list(self.symbols)}", key="symbols"
            )
        object.__setattr__(self, "symbols", symbols)
        if self.mode not in MODES:
            raise ConfigurationError(
                f"unknown mode {self.mode!r}; use {', '.join(MODES)}", key="mode"
            )
        if self.feed not in FEEDS:
            raise ConfigurationError(
                f"unknown feed {self.feed!r}; use {', '.join(FEEDS)}", key="feed"
            )
        if self.exchange is not None:
            if self.exchange not in EXCHANGES:
                raise ConfigurationError(
                    f"unknown exchange {self.exchange!r}; use {', '.join(EXCHANGES)}",
                    key="exchange",
                )
            if self.feed == "replay":
                raise ConfigurationError("a replay cannot run on an exchange", key="feed")
            _check_symbol_kind(self.exchange, symbols)
            object.__setattr__(self, "feed", "venue")
        if self.feed == "venue" and self.exchange is None:
            raise ConfigurationError("the venue feed needs an exchange", key="feed")
        if self.feed == "replay" and not self.recording:
            raise ConfigurationError("a replay session needs a recording id", key="recording")
        if self.venue_mismatch not in (None, "halt", "report", "adopt"):
            raise ConfigurationError(
                f"unknown {self.venue_mismatch!r}; use halt, report or adopt", key="venue_mismatch"
            )
        timeframe_seconds(self.timeframe)  # raises naming the value
        if not (isinstance(self.speed, int | float) and self.speed >= 0):
            raise ConfigurationError(
                f"must be >= 0 (0 = as fast as possible), got {self.speed!r}", key="speed"
            )
        cash = Decimal(str(self.initial_cash))
        if not cash.is_finite() or cash <= 0:
            raise ConfigurationError(f"must be > 0, got {self.initial_cash!r}", key="initial_cash")
        object.__setattr__(self, "initial_cash", cash)
        if self.market_duration_s is not None and not self.market_duration_s > 0:
            raise ConfigurationError("must be > 0 seconds or empty", key="market_duration_s")
        if self.size_fraction is not None and not 0.0 < self.size_fraction <= 1.0:
            raise ConfigurationError("must be in (0, 1]", key="size_fraction")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigurationError(f"must be an integer >= 0, got {self.seed!r}", key="seed")
        object.__setattr__(self, "params", dict(self.params))

    @property
    def feed_speed(self) -> float | None:
        """The speed as the feeds take it (None = as fast as possible)."""
        return None if self.speed == 0 else float(self.speed)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (Decimal as text, tuple as list)."""
        data = asdict(self)
        data["symbols"] = list(self.symbols)
        data["initial_cash"] = str(self.initial_cash)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionSpec:
        """The inverse of :meth:`to_dict`; unknown keys raise ``ConfigurationError``."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigurationError(
                f"unknown session spec key(s) {', '.join(unknown)}", key="session spec"
            )
        values = dict(data)
        values["symbols"] = tuple(values.get("symbols", ()))
        if "initial_cash" in values:
            values["initial_cash"] = Decimal(str(values["initial_cash"]))
        return cls(**values)


def account_exchange(exchange: str | None) -> str | None:
    """The exchange whose API keys trade ``exchange`` (``binanceusdm`` -> ``binance``)."""
    return None if exchange is None else _ACCOUNT_EXCHANGE.get(exchange, exchange)


def _check_symbol_kind(exchange: str, symbols: tuple[str, ...]) -> None:
    """Futures symbols (``BTC/USDT:USDT``) only on ``binanceusdm``, spot ones elsewhere."""
    futures = exchange == "binanceusdm"
    wrong = [s for s in symbols if (":" in s) != futures]
    if not wrong:
        return
    if futures:
        raise ConfigurationError(
            f"binanceusdm trades USDT-M perpetual futures; {', '.join(wrong)} is not one",
            key="symbols",
            hint="write futures symbols as BASE/USDT:USDT, e.g. BTC/USDT:USDT",
        )
    raise ConfigurationError(
        f"{', '.join(wrong)} is a futures symbol; {exchange} trades spot",
        key="symbols",
        hint="use --exchange binanceusdm for USDT-M futures, or a spot symbol like BTC/USDT",
    )


@dataclass(frozen=True, slots=True)
class SessionStatus:
    """One session as the dashboard lists it (``pnl`` = equity - initial cash)."""

    id: int
    name: str
    strategy: str
    mode: str
    state: str
    symbols: tuple[str, ...]
    pnl: Decimal
    equity: Decimal
    cash: Decimal
    fills: int
    started_at: datetime | None
    market_time: datetime | None
    feed_finished: bool
    halted: bool
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PositionView:
    """An open position of one session, marked to the last price seen."""

    session_id: int
    symbol: str
    quantity: Decimal
    avg_price: Decimal
    last_price: Decimal | None
    unrealized_pnl: Decimal
    realized_pnl: Decimal


@dataclass(frozen=True, slots=True)
class FillView:
    """One execution with the session it belongs to."""

    session_id: int
    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    fee: Decimal
    ts: datetime


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """A round trip (flat -> position -> flat) rebuilt from fills; open ones have no exit."""

    symbol: str
    direction: str
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal | None
    entry_ts: datetime
    exit_ts: datetime | None
    pnl: Decimal  # after fees; open trades: realized part only
    fees: Decimal


@dataclass(frozen=True, slots=True)
class SessionReport:
    """The end-of-session report: trades, P&L and metrics of one session."""

    session_id: int
    name: str
    strategy: str
    mode: str
    symbols: tuple[str, ...]
    state: str
    initial_cash: Decimal
    cash: Decimal
    equity: Decimal
    realized_pnl: Decimal  # gross of fees
    unrealized_pnl: Decimal
    fees: Decimal
    total_pnl: Decimal  # equity - initial cash
    return_pct: float
    orders: int
    fills: int
    rejections: int
    trades: tuple[TradeRecord, ...]
    win_rate: float | None
    max_drawdown_pct: float  # of equity sampled at every fill (and at the end)
    open_positions: dict[str, Decimal]
    intended_orders: int  # dry run: orders that would have been sent
    market_start: datetime | None
    market_end: datetime | None
    error: str | None = None
    path: Path | None = None
    venue_reconciliation: str | None = None  # live: what the venue held vs the journal

    @property
    def closed_trades(self) -> list[TradeRecord]:
        """Trades that ended flat."""
        return [t for t in self.trades if t.exit_ts is not None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (Decimals and datetimes as text)."""
        return _jsonable(asdict(self))


@dataclass(frozen=True, slots=True)
class DailySessionLine:
    """One session's line in the daily report (from the database)."""

    session_id: int
    name: str
    strategy: str
    mode: str
    status: str
    orders: int
    fills: int
    realized_pnl: Decimal
    fees: Decimal
    net_realized: Decimal
    open_positions: dict[str, Decimal]
    error: str | None
    venue_reconciliation: str | None = None  # live: what the venue held vs the journal


@dataclass(frozen=True, slots=True)
class DailyReport:
    """Sessions created on ``day`` (exchange time zone), their orders, fills and P&L."""

    day: date
    sessions: tuple[DailySessionLine, ...]
    orders: int
    fills: int
    realized_pnl: Decimal
    fees: Decimal
    net_realized: Decimal
    path: Path | None = None
    json_path: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return _jsonable(asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Side):
        return value.value
    return value
