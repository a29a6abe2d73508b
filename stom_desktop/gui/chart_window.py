"""Chart window: a symbol's candles, volume, RSI and MACD panes, strategy overlays, trades, live.

Stored series come from ``DataService`` and are resampled to the chosen timeframe with
``core.resample`` (intraday buckets UTC-aligned, days at midnight of the exchange's zone).
Live bars arrive through the :class:`~stom_desktop.gui.bridge.EngineBridge` in batches; the
window only queues them and a ~30 fps timer folds the queue into the chart (the forming
candle updates in place, a new bucket appends), so a burst of bars costs one repaint.
Indicators are recomputed at most :data:`INDICATOR_MS` apart while live.

Overlays come from a strategy's declared parameters (:func:`strategy_overlays`): e.g.
``sma_cross`` -> SMA(fast), SMA(slow). Trade markers come from live fills (buy = entry,
sell = exit) or from a backtest's trades table (:meth:`ChartWindow.show_trades`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QMainWindow, QVBoxLayout, QWidget

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.enums import Side
from stom_desktop.core.events import BarEvent, FillEvent
from stom_desktop.core.resample import LiveResampler, can_resample, resample
from stom_desktop.gui.chart_panes import PaneToggles
from stom_desktop.gui.charts import ChartWidget
from stom_desktop.gui.charts.lod import CLOSE, HIGH, LOW
from stom_desktop.gui.timeframes import TimeframeSwitch
from stom_desktop.gui.workers import run_in_worker
from stom_desktop.strategy import bollinger, donchian, ema, macd, rsi, sma

log = logging.getLogger(__name__)

FRAME_MS = 33  # live bars are folded in at most ~30 times a second
INDICATOR_MS = 250  # indicators over the whole series are recomputed at most 4x a second
EAGER_INDICATOR_BARS = 200_000  # ...except on each new bar while that costs < ~5 ms
_COLORS = ("#f0b90b", "#2962ff", "#e040fb", "#00bcd4", "#ff7043")
NO_STRATEGY = "(no strategy)"


@dataclass(frozen=True)
class Overlay:
    """One line over the candles: ``kind`` is sma, ema, bollinger (middle band),
    donchian_high or donchian_low, over ``period`` bars."""

    label: str
    kind: str
    period: int
    k: float = 2.0


def strategy_overlays(name: str, params: Mapping[str, Any]) -> list[Overlay]:
    """The price overlays a strategy's parameters imply (empty when none is recognised).

    ``fast``/``slow`` -> two moving averages (EMA when the name says ``ema``, else SMA);
    ``entry_period``/``exit_period`` -> Donchian channels; ``bb_period``/``bb_k`` -> a
    Bollinger band. RSI and MACD have their own panes and need no overlay.
    """

    def as_int(key: str) -> int | None:
        value = params.get(key)
        return (
            int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
        )

    out: list[Overlay] = []
    kind = "ema" if "ema" in name.lower() else "sma"
    for key in ("fast", "slow"):
        period = as_int(key)
        if period:
            out.append(Overlay(f"{kind.upper()}({period})", kind, period))
    # Donchian breakout: enter above the entry channel's high, exit below the exit's low.
    entry, exit_ = as_int("entry_period"), as_int("exit_period")
    if entry:
        out.append(Overlay(f"DC({entry}) high", "donchian_high", entry))
    if exit_:
        out.append(Overlay(f"DC({exit_}) low", "donchian_low", exit_))
    period = as_int("bb_period")
    if period:
        k = float(params.get("bb_k", 2.0) or 2.0)
        out.append(Overlay(f"BB({period},{k:g})", "bollinger", period, k))
    return out


def _rsi_period(params: Mapping[str, Any], name: str) -> int:
    value = params.get("rsi_period", params.get("period") if "rsi" in name.lower() else None)
    return int(value) if isinstance(value, int) and value > 1 else 14


@dataclass(frozen=True)
class _Choice:
    symbol: str
    timeframe: str | None  # stored base timeframe; None = live only
    live: bool


class ChartWindow(QMainWindow):
    """A chart of one symbol; several can be open at once (the tray opens a new one each time).

    ``data`` is ``DataService``-like (``list_series``, ``load``), ``trading`` the trading
    service (its sessions' symbols are offered live), ``bridge`` delivers live bars and
    fills, ``strategies`` is ``StrategyService``-like (``list`` of infos with ``params``).
    """

    def __init__(
        self,
        data: Any = None,
        trading: Any = None,
        bridge: Any = None,
        strategies: Any = None,
        *,
        tz: str = "UTC",
        timeframe: str = "1m",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("STOM Desktop — Chart")
        self.resize(1200, 760)
        self.data, self.trading, self.strategies = data, trading, strategies
        self.tz = tz
        self.symbol: str | None = None
        self.base: BarSeries | None = None  # stored bars at their own timeframe
        self.shown: BarSeries | None = None  # what was last put into the chart (resampled)
        self.overlays: list[Overlay] = []
        self._strategy_params: dict[str, dict[str, Any]] = {}
        self._rsi_period = 14
        self._explicit_params = False
        self._entries: list[tuple[int, float]] = []
        self._exits: list[tuple[int, float]] = []
        self._pending: list[BarEvent] = []
        self._live_tf: str | None = None
        self._live_rows: list[tuple[int, float, float, float, float, float]] = []
        self._live = LiveResampler(timeframe, tz)
        self._indicators_dirty = False
        self._indicators_at = 0.0
        self._indicators_n = 0
        self.loading = False
        self.frames = 0  # frames that applied live bars (tests, stats)

        self.chart = ChartWidget(tz)
        self.chart.add_pane("rsi", height=1.4, levels=(30, 70), y_range=(0, 100))
        self.chart.add_pane("macd", height=1.4, levels=(0,))
        self._focus_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ffeb3b", width=1))
        self._focus_line.setVisible(False)
        self.chart.price_plot.addItem(self._focus_line, ignoreBounds=True)
        self.symbols = QComboBox()
        self.symbols.setMinimumWidth(170)
        self.symbols.activated.connect(self._on_symbol_chosen)
        self.timeframes = TimeframeSwitch(timeframe)
        self.timeframes.changed.connect(self.set_timeframe)
        self.strategy_box = QComboBox()
        self.strategy_box.addItem(NO_STRATEGY)
        self.strategy_box.activated.connect(
            lambda _i: self.set_strategy(self.strategy_box.currentText())
        )
        self.status = QLabel()
        self.follow_label = QLabel()
        self.chart.followChanged.connect(self._show_follow)
        bar = QHBoxLayout()
        for widget in (
            QLabel("Symbol"),
            self.symbols,
            self.timeframes,
            QLabel("Strategy"),
            self.strategy_box,
        ):
            bar.addWidget(widget)
        bar.addWidget(self.status, 1)
        bar.addWidget(self.follow_label)
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.chart, 1)
        self.setCentralWidget(body)
        self.panes = PaneToggles(self, self.chart, {"rsi": "RSI", "macd": "MACD"})
        self._show_follow(True)

        self._frame = QTimer(self)
        self._frame.setInterval(FRAME_MS)
        self._frame.timeout.connect(self._on_frame)
        self._frame.start()
        if bridge is not None:
            bridge.bars.connect(self.on_bars)
            bridge.fill.connect(self.on_fill)
        self.refresh_symbols()
        self._load_strategies()

    @property
    def timeframe(self) -> str:
        """The chart's current timeframe."""
        return self.timeframes.current

    # -- symbols and loading -----------------------------------------------------------
    def refresh_symbols(self) -> None:
        """Re-read stored series and live sessions' symbols (on a worker) into the picker."""
        data, trading = self.data, self.trading

        def read() -> list[_Choice]:
            stored = (
                [_Choice(s.symbol, s.timeframe, False) for s in data.list_series()] if data else []
            )
            live: list[str] = []
            for session in trading.sessions() if trading is not None else ():
                if str(getattr(session, "state", "")) in ("running", "paused"):
                    live += [s for s in session.symbols if s not in live]
            stored_syms = {c.symbol for c in stored}
            out = [_Choice(c.symbol, c.timeframe, c.symbol in live) for c in stored]
            return out + [_Choice(s, None, True) for s in live if s not in stored_syms]

        run_in_worker(read, what="chart symbols", on_done=self._set_choices, on_error=self._failed)

    def _set_choices(self, choices: list[_Choice]) -> None:
        current = self.symbols.currentData()
        self.symbols.clear()
        for c in choices:
            where = " + ".join(
                x
                for x in (f"{c.timeframe} stored" if c.timeframe else "", "live" if c.live else "")
                if x
            )
            self.symbols.addItem(f"{c.symbol} · {where}", c)
        if current is not None:
            index = next((i for i, c in enumerate(choices) if c == current), -1)
            if index >= 0:
                self.symbols.setCurrentIndex(index)
        elif choices and self.symbol is None:
            self._on_symbol_chosen(0)

    def _on_symbol_chosen(self, index: int) -> None:
        choice = self.symbols.itemData(index)
        if isinstance(choice, _Choice):
            self.open_symbol(choice.symbol, choice.timeframe)

    def open_symbol(self, symbol: str, stored_timeframe: str | None = None) -> None:
        """Show ``symbol``: load its stored ``stored_timeframe`` bars (worker), else live only."""
        self.symbol = symbol
        self.base = None
        self._live_tf, self._live_rows, self._pending = None, [], []
        self._entries, self._exits = [], []
        self.setWindowTitle(f"STOM Desktop — Chart — {symbol}")
        for i in range(self.symbols.count()):
            c = self.symbols.itemData(i)
            if isinstance(c, _Choice) and c.symbol == symbol and c.timeframe == stored_timeframe:
                self.symbols.setCurrentIndex(i)
        self._load_fills(symbol)
        if stored_timeframe is None or self.data is None:
            self.timeframes.set_base(None)
            self._rebuild()
            self.status.setText(f"{symbol}: waiting for live bars")
            return
        self.loading = True
        self.status.setText(f"loading {symbol} {stored_timeframe}\u2026")
        data = self.data
        run_in_worker(
            lambda: data.load(symbol, stored_timeframe),
            what=f"chart load {symbol} {stored_timeframe}",
            on_done=self._loaded,
            on_error=self._failed,
        )

    def _load_fills(self, symbol: str) -> None:
        """Markers for the fills the live sessions already booked in ``symbol``."""
        trading = self.trading
        if trading is None or not hasattr(trading, "recent_fills"):
            return

        def done(fills: list[Any]) -> None:
            if self.symbol == symbol:
                self.add_fills(fills)

        run_in_worker(
            lambda: list(trading.recent_fills(500)),
            what=f"chart fills {symbol}",
            on_done=done,
            on_error=self._failed,
        )

    def _loaded(self, series: BarSeries) -> None:
        self.loading = False
        if series.symbol != self.symbol:
            return  # another symbol was chosen meanwhile
        self.base = series
        self.timeframes.set_base(series.timeframe)
        if not can_resample(series.timeframe, self.timeframe):
            self.timeframes.set_current(series.timeframe)
        self._rebuild()
        self.status.setText(f"{series.symbol}: {len(series):,} stored {series.timeframe} bars")

    def _failed(self, exc: BaseException) -> None:
        self.loading = False
        self.status.setText(f"failed: {exc}")

    # -- timeframe, indicators, strategy -------------------------------------------------
    def set_timeframe(self, timeframe: str) -> None:
        """Show the series aggregated to ``timeframe`` (refused if finer than the stored one)."""
        if self.base is not None and not can_resample(self.base.timeframe, timeframe):
            self.status.setText(f"{timeframe} cannot be built from {self.base.timeframe} bars")
            self.timeframes.set_current(self.base.timeframe)
            return
        self.timeframes.set_current(timeframe)
        self._rebuild()

    def _combined(self) -> BarSeries | None:
        """Stored bars plus the live bars received after them, at one timeframe."""
        live = None
        if self._live_rows and self._live_tf is not None:
            cols = np.asarray(self._live_rows, dtype=np.float64).T
            live = BarSeries(
                self.symbol or "",
                self._live_tf,
                cols[0].astype(np.int64),
                cols[1],
                cols[2],
                cols[3],
                cols[4],
                cols[5],
            )
        if self.base is None:
            return live
        if live is None or not can_resample(live.timeframe, self.base.timeframe):
            return self.base
        extra = resample(live, self.base.timeframe, self.tz)
        keep = extra.ts > self.base.ts[-1]
        if not keep.any():
            return self.base
        parts = [
            (getattr(self.base, k), getattr(extra, k)[keep])
            for k in ("ts", "open", "high", "low", "close", "volume")
        ]
        cols2 = [np.concatenate(p) for p in parts]
        return BarSeries(self.base.symbol, self.base.timeframe, *cols2)  # type: ignore[arg-type]

    def _rebuild(self) -> None:
        tf = self.timeframe
        self._live = LiveResampler(tf, self.tz)
        series = self._combined()
        if series is not None and can_resample(series.timeframe, tf):
            series = resample(series, tf, self.tz)
        elif series is not None:
            series = None  # live bars coarser than the chosen timeframe: nothing to show yet
        self.shown = series
        if series is None:
            e = np.empty(0)
            series = BarSeries(self.symbol or "", tf, np.empty(0, np.int64), e, e, e, e, e)
        self.chart.set_bars(series)
        self._replay_forming()
        self._update_indicators()
        self._apply_markers()

    def _replay_forming(self) -> None:
        # Prime the live resampler with the live bars of the last bucket, so the next
        # update of the forming bar folds into it instead of replacing it.
        if (
            not self._live_rows
            or self._live_tf is None
            or not can_resample(self._live_tf, self.timeframe)
        ):
            return
        last = len(self.chart.store) and self.chart.store.bar(-1)[0]
        tail = [row for row in self._live_rows if row[0] >= last]
        for k, row in enumerate(tail):
            self._live.add(*row, k < len(tail) - 1)  # the newest may still be forming

    def _load_strategies(self) -> None:
        strategies = self.strategies
        if strategies is None:
            return

        def read() -> dict[str, dict[str, Any]]:
            return {
                info.name: {k: p.default for k, p in info.params.items()}
                for info in strategies.list()
                if not getattr(info, "error", None)
            }

        def done(found: dict[str, dict[str, Any]]) -> None:
            self._strategy_params.update(found)
            for name in found:
                if self.strategy_box.findText(name) < 0:
                    self.strategy_box.addItem(name)
            chosen = self.strategy_box.currentText()
            if chosen in found and not self._explicit_params:
                self.set_strategy(chosen)  # chosen before its declared params were known

        run_in_worker(read, what="chart strategies", on_done=done, on_error=self._failed)

    def set_strategy(self, name: str, params: Mapping[str, Any] | None = None) -> None:
        """Draw the overlays of strategy ``name`` with ``params`` (default: its declared ones)."""
        self._explicit_params = bool(params)
        if name == NO_STRATEGY or not name:
            values: dict[str, Any] = {}
        else:
            values = {**self._strategy_params.get(name, {}), **(params or {})}
            if self.strategy_box.findText(name) < 0:
                self.strategy_box.addItem(name)
            self.strategy_box.setCurrentText(name)
        for overlay in self.overlays:
            self.chart.remove_line("price", overlay.label)
        self.overlays = strategy_overlays(name, values)
        self._rsi_period = _rsi_period(values, name)
        self._update_indicators()

    def _update_indicators(self) -> None:
        self._indicators_dirty = False
        self._indicators_at = time.monotonic()
        store = self.chart.store
        self._indicators_n = len(store)
        close = store.column(CLOSE)
        if close.size == 0:
            return
        for i, ov in enumerate(self.overlays):
            color = _COLORS[i % len(_COLORS)]
            if ov.kind.startswith("donchian"):
                upper, lower, _ = donchian(store.column(HIGH), store.column(LOW), ov.period)
                values = upper if ov.kind == "donchian_high" else lower
            elif ov.kind == "bollinger":
                values = bollinger(close, ov.period, ov.k)[1]
            else:
                values = (ema if ov.kind == "ema" else sma)(close, ov.period)
            self.chart.set_overlay(ov.label, values, color)
        self.chart.set_line(
            "rsi", f"RSI({self._rsi_period})", rsi(close, self._rsi_period), "#7e57c2"
        )
        if close.size > 26:
            line, signal, _hist = macd(close)
            self.chart.set_line("macd", "MACD", line, "#2962ff")
            self.chart.set_line("macd", "signal", signal, "#ff6d00")

    # -- trades --------------------------------------------------------------------------
    def show_trades(self, trades: Any) -> None:
        """Markers from a backtest's trades table (``entry_time``/``entry_price``,
        ``exit_time``/``exit_price``; open trades get no exit marker)."""
        entries: list[tuple[int, float]] = []
        exits: list[tuple[int, float]] = []
        is_open = trades["is_open"] if "is_open" in trades else [False] * len(trades)
        for et, ep, xt, xp, op in zip(
            trades["entry_time"],
            trades["entry_price"],
            trades["exit_time"],
            trades["exit_price"],
            is_open,
            strict=True,
        ):
            entries.append((_ms(et), float(ep)))
            if not op:
                exits.append((_ms(xt), float(xp)))
        self._entries, self._exits = entries, exits
        self._apply_markers()

    def focus_time(self, ts_ms: int) -> int:
        """Centre the view on the bar holding ``ts_ms`` (stops following); returns its index."""
        store = self.chart.store
        if len(store) == 0:
            return -1
        index = int(
            max(0, store.search_ts(np.asarray([ts_ms], dtype=np.int64), side="right")[0] - 1)
        )
        half = max(10, self.chart.visible_bars // 2)
        self.chart.show_range(max(0, index - half), index + half)
        self._focus_line.setPos(index)
        self._focus_line.setVisible(True)
        return index

    def add_fills(self, fills: Iterable[Any]) -> None:
        """Markers for ``fills`` of this symbol (objects with symbol, side, price, ts)."""
        for f in fills:
            if f.symbol != self.symbol:
                continue
            point = (_ms(f.ts), float(f.price))
            (self._entries if Side(f.side) is Side.BUY else self._exits).append(point)
        self._apply_markers()

    def _apply_markers(self) -> None:
        self.chart.set_markers(self._entries, self._exits)

    # -- live ----------------------------------------------------------------------------
    def on_bars(self, batch: Sequence[BarEvent]) -> None:
        """Queue live bars of this symbol (the frame timer draws them)."""
        symbol = self.symbol
        self._pending.extend(e for e in batch if e.symbol == symbol)

    def on_fill(self, event: FillEvent) -> None:
        """A live fill: add its marker when it is this symbol's."""
        self.add_fills([event.fill])

    def _on_frame(self) -> None:
        if self._pending and not self.loading:
            pending, self._pending = self._pending, []
            self._apply_live(pending)
        if self._indicators_dirty and (
            time.monotonic() - self._indicators_at >= INDICATOR_MS / 1000
            or (
                len(self.chart.store) != self._indicators_n  # a new bar: no "-" in the readout
                and len(self.chart.store) <= EAGER_INDICATOR_BARS
            )
        ):
            self._update_indicators()

    def _apply_live(self, events: list[BarEvent]) -> None:
        chart, tf = self.chart, self.timeframe
        changed = False
        for e in events:
            if self._live_tf is None:
                if not can_resample(e.timeframe, tf):
                    self.status.setText(
                        f"live bars are {e.timeframe}: choose {e.timeframe} or longer"
                    )
                    continue
                self._live_tf = e.timeframe
            if e.timeframe != self._live_tf:
                continue
            row = (e.ts_ms, e.open, e.high, e.low, e.close, e.volume)
            rows = self._live_rows
            if rows and rows[-1][0] == e.ts_ms:
                rows[-1] = row
            elif not rows or rows[-1][0] < e.ts_ms:
                rows.append(row)
            else:
                continue  # late bar: older than what was shown
            ts, o, h, lo, c, v = self._live.add(*row, e.closed)
            if len(chart.store) and ts < chart.store.bar(-1)[0]:
                continue  # a live bar inside the stored history
            chart.upsert_bar(ts, o, h, lo, c, v)
            changed = True
        if changed:
            if chart.follow and len(chart.store) <= chart.visible_bars:
                # A chart that started (nearly) empty: keep a full screen's width in view
                # (bars grow from the right) instead of scrolling one bar per append.
                chart.show_last(chart.visible_bars)
            self.frames += 1
            self._indicators_dirty = True
            self.status.setText(f"{self.symbol}: live {self._live_tf} \u2192 {tf}")

    def _show_follow(self, follow: bool) -> None:
        self.follow_label.setText("\u25cf following" if follow else "\u25cb paused (scroll to end)")

    def closeEvent(self, event: Any) -> None:
        """Stop the frame timer with the window."""
        self._frame.stop()
        super().closeEvent(event)


def _ms(value: Any) -> int:
    """Epoch ms of a datetime / pandas Timestamp / number of ms."""
    if isinstance(value, int | np.integer):
        return int(value)
    if hasattr(value, "timestamp"):
        return round(value.timestamp() * 1000)
    return int(value)
