"""Run user strategy code so that any crash becomes a ``StrategyError`` pointing at its line.

The engine pauses only the session whose strategy failed and shows the error; the message
names the strategy file and line (the innermost traceback frame in that file, i.e. the
user's own line rather than a numpy internal) and carries the full traceback text.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from stom_desktop.core.bars import BarSeries
from stom_desktop.core.errors import StrategyError
from stom_desktop.strategy.base import BoolArray, Signals, Strategy

if TYPE_CHECKING:
    from stom_desktop.strategy.indicator_cache import Indicators

T = TypeVar("T")
SignalArrays = tuple[BoolArray, BoolArray, BoolArray, BoolArray]


def _norm(filename: str) -> str:
    # Pseudo file names such as "<strategy sma_cross>" (code from the database) stay as is.
    if filename.startswith("<"):
        return filename
    return os.path.normcase(os.path.abspath(filename))


def user_line(tb: TracebackType | None, filename: str) -> int | None:
    """Line of the innermost traceback frame executing ``filename``, or ``None``."""
    wanted = _norm(filename)
    line: int | None = None
    while tb is not None:
        if _norm(tb.tb_frame.f_code.co_filename) == wanted:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def traceback_text(exc: BaseException, *, skip_frames: int = 0) -> str:
    """The formatted traceback of ``exc``, without the first ``skip_frames`` frames."""
    tb = exc.__traceback__
    for _ in range(skip_frames):
        if tb is None or tb.tb_next is None:
            break
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def strategy_file(cls: type) -> str | None:
    """The file a strategy class was loaded from (``__file__`` of its module), if known."""
    module = sys.modules.get(cls.__module__)
    filename = getattr(module, "__file__", None)
    return filename if isinstance(filename, str) else None


def _function_file(fn: Callable[..., Any]) -> str | None:
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    return code.co_filename if code is not None else None


def safe_call(
    fn: Callable[..., T],
    *args: Any,
    where: str,
    user_file: str | None = None,
    **kwargs: Any,
) -> T:
    """Call ``fn(*args, **kwargs)``; turn any exception into a ``StrategyError``.

    ``where`` says what was being run (e.g. ``"sma_cross.signals"``). ``user_file`` is the
    strategy's source file; by default the file that defines ``fn``. The error's
    ``path``/``line`` are the innermost frame in that file, ``traceback_text`` the whole
    traceback. A ``StrategyError`` that already names a file passes through unchanged;
    one without a location (e.g. a bad indicator period) gets the user's line added.
    ``SystemExit`` from user code is caught too: a strategy must not end the app.
    ``KeyboardInterrupt`` is not.
    """
    try:
        return fn(*args, **kwargs)
    except StrategyError as exc:
        if exc.path is not None:
            raise
        raise _wrap(exc, fn, where, user_file) from exc
    except (Exception, SystemExit) as exc:  # user code: any failure becomes a StrategyError
        raise _wrap(exc, fn, where, user_file) from exc


def _wrap(
    error: BaseException, fn: Callable[..., Any], where: str, user_file: str | None
) -> StrategyError:
    filename = user_file if user_file is not None else _function_file(fn)
    line = user_line(error.__traceback__, filename) if filename is not None else None
    if isinstance(error, StrategyError):
        message = f"{where}: {error.message}"
        hint = error.hint
    else:
        message = f"{where} raised {type(error).__name__}: {error}"
        hint = "fix the strategy and reload it; the session stays paused until then"
    return StrategyError(
        message,
        path=filename,
        line=line,
        hint=hint,
        traceback_text=traceback_text(error, skip_frames=1),
    )


def run_signals(strategy: Strategy, bars: BarSeries, ta: Indicators) -> SignalArrays:
    """Run ``strategy.signals(bars, ta)`` safely and return validated bool arrays.

    Returns ``(entries, exits, short_entries, short_exits)``, each a bool array as long as
    the bars. Sides the strategy does not trade (its ``direction``) come back all-False,
    so the backtester and the live engine treat stray signals the same way.
    """
    if len(ta.bars) != len(bars):
        raise ValueError(
            f"indicators are bound to {len(ta.bars)} bars but signals get {len(bars)}: "
            "build one Indicators per BarSeries"
        )
    cls = type(strategy)
    name = strategy.strategy_name()
    result = safe_call(
        strategy.signals, bars, ta, where=f"{name}.signals", user_file=strategy_file(cls)
    )
    if not isinstance(result, Signals):
        raise StrategyError(
            f"{name}.signals returned {type(result).__name__}, not Signals",
            path=strategy.source_location(),
            hint="end signals() with: return Signals(entries=..., exits=...)",
        )
    entries, exits, short_entries, short_exits = result.as_arrays(
        len(bars), where=strategy.source_location()
    )
    n = len(bars)
    if strategy.direction == "long":
        short_entries, short_exits = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)
    elif strategy.direction == "short":
        entries, exits = np.zeros(n, dtype=np.bool_), np.zeros(n, dtype=np.bool_)
    elif strategy.direction != "both":
        raise StrategyError(
            f"{name}.direction is {strategy.direction!r}; use 'long', 'short' or 'both'",
            path=strategy.source_location(),
        )
    return entries, exits, short_entries, short_exits
