"""Rich rendering helpers shared by the CLI commands (tables, progress, time formatting)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

out = Console()
err = Console(stderr=True)

ProgressCallback = Callable[[float, str], None]


def fmt_ts(ms: int | None, tz: str, *, short: bool = False) -> str:
    """Milliseconds UTC shown in the exchange's time zone (``short``: to the minute)."""
    if ms is None:
        return "-"
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC).astimezone(ZoneInfo(tz))
    return moment.strftime("%Y-%m-%d %H:%M" if short else "%Y-%m-%d %H:%M:%S %Z")


@contextmanager
def progress_bar(description: str, *, enabled: bool = True) -> Iterator[ProgressCallback]:
    """A rich progress bar on stderr; yields ``update(fraction, text)``."""
    if not enabled:
        yield lambda _fraction, _text: None
        return
    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[note]}"),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=1.0, note="")

        def update(fraction: float, text: str) -> None:
            progress.update(task, completed=min(max(fraction, 0.0), 1.0), note=text)

        yield update
