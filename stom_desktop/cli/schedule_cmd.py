"""``stom schedule``: list, add, edit, enable, disable, delete, run now, install the default.

Changes go straight to the job store in the app database; a running tray or headless
scheduler picks them up within a minute (its watchdog re-reads the store).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import typer
from rich.table import Table

from stom_desktop.bootstrap import App, build_app
from stom_desktop.cli.render import out
from stom_desktop.core.errors import ConfigurationError
from stom_desktop.scheduling import jobs, runtime
from stom_desktop.services.schedule_service import JobDefinition, JobInfo, ScheduleService

app = typer.Typer(
    help="Scheduled jobs: list, add/edit, enable/disable, delete, run now.",
    no_args_is_help=True,
)


def _open() -> tuple[App, ScheduleService]:
    ctx = build_app()
    return ctx, ctx.schedule


def _close(ctx: App, service: ScheduleService) -> None:
    service.shutdown(wait=False)
    ctx.close()


def _fmt(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S %Z")


def _print_jobs(infos: list[JobInfo], title: str) -> None:
    table = Table(title=title)
    for column in ("id", "kind", "trigger", "next run", "enabled", "last result"):
        table.add_column(column)
    for info in infos:
        last = info.last_run
        result = "-"
        if last is not None:
            detail = (last.detail or "").splitlines()[0] if last.detail else ""
            result = f"{last.status} {_fmt(last.finished_at)} {detail[:60]}"
        table.add_row(
            info.id,
            info.kind,
            info.trigger,
            _fmt(info.next_run),
            "yes" if info.enabled else "no",
            result,
        )
    out.print(table)


@app.command("list")
def list_() -> None:
    """Every job with its trigger, next run (exchange time) and last result."""
    ctx, service = _open()
    try:
        _print_jobs(service.list_jobs(), "Scheduled jobs")
    finally:
        _close(ctx, service)


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"expected KEY=VALUE, got {pair!r}", key="--option")
        parsed[key.strip()] = value.split(",") if key.strip() == "symbols" else value
    return parsed


def _build(
    base: JobDefinition | None,
    job_id: str,
    values: dict[str, Any],
) -> JobDefinition:
    """A definition from ``base`` (editing) or defaults, with the given CLI values applied."""
    definition = base or JobDefinition(id=job_id, kind=values.get("kind") or "start_session")
    changes: dict[str, Any] = {"id": job_id}
    for key in ("kind", "calendar", "anchor", "offset_minutes", "description"):
        if values.get(key) is not None:
            changes[key] = values[key]
    if values.get("cron") is not None:
        changes.update(cron=values["cron"], run_at=None)
    if values.get("at") is not None:
        try:
            changes.update(run_at=datetime.fromisoformat(values["at"]), cron=None)
        except ValueError as exc:
            raise ConfigurationError(f"{values['at']!r}: {exc}", key="--at") from exc
    spec = dict(definition.spec or {})
    for key in ("name", "strategy", "mode", "feed", "speed", "timeframe"):
        if values.get(key) is not None:
            spec[key] = values[key]
    if values.get("symbols") is not None:
        spec["symbols"] = [s.strip() for s in values["symbols"].split(",") if s.strip()]
    if spec:
        spec.setdefault("name", job_id)
        changes["spec"] = spec
    if values.get("options"):
        changes["options"] = {**definition.options, **_parse_options(values["options"])}
    if values.get("enabled") is not None:
        changes["enabled"] = values["enabled"]
    return replace(definition, **changes)


_KIND = typer.Option(None, "--kind", help="warm_up|start_session|liquidate|stop_session|...")
_CRON = typer.Option(None, "--cron", help="crontab in the calendar's zone, e.g. '0 9 * * mon-fri'")
_AT = typer.Option(None, "--at", help="one run at this ISO time (with offset)")
_CAL = typer.Option(None, "--calendar", help="XKRX or 24/7")
_ANCHOR = typer.Option(None, "--anchor", help="open or close: follow late opens/overrides")
_OFFSET = typer.Option(None, "--offset", help="minutes from the anchor, e.g. -10")
_STRATEGY = typer.Option(None, "--strategy")
_SYMBOLS = typer.Option(None, "--symbols", help="comma-separated, e.g. SIM1,SIM2")
_MODE = typer.Option(None, "--mode", help="paper|live|dry_run")
_FEED = typer.Option(None, "--feed", help="simulator|replay")
_SPEED = typer.Option(None, "--speed", help="simulator speed (60 = 60x)")
_NAME = typer.Option(None, "--session-name", help="session name (jobs find their session by it)")
_DESC = typer.Option(None, "--description")
_OPTS = typer.Option([], "--option", help="KEY=VALUE for data_download (source, symbols, bars)")
_ENABLED = typer.Option(None, "--enabled/--disabled")


@app.command("add")
def add(
    job_id: str = typer.Argument(..., help="fixed id, e.g. morning.start"),
    kind: str | None = _KIND,
    cron: str | None = _CRON,
    at: str | None = _AT,
    calendar: str | None = _CAL,
    anchor: str | None = _ANCHOR,
    offset: int | None = _OFFSET,
    strategy: str | None = _STRATEGY,
    symbols: str | None = _SYMBOLS,
    mode: str | None = _MODE,
    feed: str | None = _FEED,
    speed: float | None = _SPEED,
    session_name: str | None = _NAME,
    description: str | None = _DESC,
    option: list[str] = _OPTS,
    enabled: bool | None = _ENABLED,
) -> None:
    """Add a job (validated: cron fields, kind, strategy exists, symbols, mode)."""
    values = dict(locals(), offset_minutes=offset, name=session_name, options=option)
    ctx, service = _open()
    try:
        info = service.add(_build(None, job_id, values))
        _print_jobs([info], "Added")
    finally:
        _close(ctx, service)


@app.command("edit")
def edit(
    job_id: str = typer.Argument(...),
    kind: str | None = _KIND,
    cron: str | None = _CRON,
    at: str | None = _AT,
    calendar: str | None = _CAL,
    anchor: str | None = _ANCHOR,
    offset: int | None = _OFFSET,
    strategy: str | None = _STRATEGY,
    symbols: str | None = _SYMBOLS,
    mode: str | None = _MODE,
    feed: str | None = _FEED,
    speed: float | None = _SPEED,
    session_name: str | None = _NAME,
    description: str | None = _DESC,
    option: list[str] = _OPTS,
    enabled: bool | None = _ENABLED,
) -> None:
    """Change a job; options not given keep their current values."""
    values = dict(locals(), offset_minutes=offset, name=session_name, options=option)
    ctx, service = _open()
    try:
        current = service.get(job_id).definition
        info = service.edit(job_id, _build(current, job_id, values))
        _print_jobs([info], "Edited")
    finally:
        _close(ctx, service)


@app.command("enable")
def enable(job_id: str = typer.Argument(...)) -> None:
    """Let a job fire again (next run computed from now)."""
    ctx, service = _open()
    try:
        _print_jobs([service.enable(job_id)], "Enabled")
    finally:
        _close(ctx, service)


@app.command("disable")
def disable(job_id: str = typer.Argument(...)) -> None:
    """Keep a job but stop it firing."""
    ctx, service = _open()
    try:
        _print_jobs([service.disable(job_id)], "Disabled")
    finally:
        _close(ctx, service)


@app.command("delete")
def delete(job_id: str = typer.Argument(...)) -> None:
    """Remove a job (its recorded runs stay)."""
    ctx, service = _open()
    try:
        removed = service.delete(job_id)
        out.print(f"deleted {removed.id} ({removed.kind}); `stom schedule add` re-creates it")
    finally:
        _close(ctx, service)


@app.command("run-now")
def run_now(
    job_id: str = typer.Argument(...),
    here: bool = typer.Option(
        False, "--here", help="run in this process now instead of in the running scheduler"
    ),
) -> None:
    """Run a job once now (its schedule is unchanged)."""
    ctx, service = _open()
    try:
        if here:
            definition = service.get(job_id).definition
            runtime.set_app(ctx)
            result = getattr(jobs, definition.kind)(definition.to_dict(), mode="now")
            out.print(f"{job_id}: {result}")
        else:
            copy_id = service.run_now(job_id)
            out.print(
                f"queued {copy_id}: the running tray/headless scheduler runs it within a minute "
                "(use --here to run it in this process)"
            )
    finally:
        runtime.set_app(None)
        _close(ctx, service)


@app.command("install-default")
def install_default(
    replace_existing: bool = typer.Option(False, "--replace", help="overwrite existing ids"),
) -> None:
    """Install the example day for sma_cross (disabled; enable each job to use it)."""
    ctx, service = _open()
    try:
        _print_jobs(service.install_default_schedule(replace_existing=replace_existing), "Default")
        out.print("enable with: stom schedule enable default.warm_up (and .start .liquidate ...)")
    finally:
        _close(ctx, service)
