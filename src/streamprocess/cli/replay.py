"""``streamprocess replay``: run work again from the event archive, a prefix of the inbox (a backfill), the
dead-letter queues, failed jobs or job ids (:mod:`streamprocess.replay`)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import ExitCode
from ..kinds import KINDS
from ..replay import Outcome, ReplayItem, ReplayOptions, ReplayReport, backfill_prefix, dlq_roles
from ..runtime import Runtime
from ..service import signals_call
from ..timestamps import as_utc, now_utc
from .common import console, err, say, settings_from, setup_logging

_AGO = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_time(value: str) -> datetime:
    """An ISO 8601 time (UTC without a zone), ``now``, or a time ago: ``90s``, ``30m``, ``2h``, ``7d``."""
    if value == "now":
        return now_utc()
    if m := _AGO.fullmatch(value.strip()):
        return now_utc() - timedelta(**{_UNITS[m[2]]: float(m[1])})
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither an ISO 8601 time, `now`, nor a time ago (30m, 2h, 7d)"
        ) from None


def replay(
    archive: Annotated[
        bool, typer.Option("--archive", help="Archived bucket events between --since and --until.")
    ] = False,
    since: Annotated[str | None, typer.Option(help="Window start: ISO 8601 (UTC) or a time ago (2h, 7d).")] = None,
    until: Annotated[str, typer.Option(help="Window end (exclusive): ISO 8601, `now` or a time ago.")] = "now",
    prefix: Annotated[
        str | None, typer.Option(help="Backfill: objects under s3://bucket/path/ or a key prefix of the inbox.")
    ] = None,
    dlq: Annotated[
        str | None,
        typer.Option(help="Redrive dead-letter queues: events, stt, ocr, or all.", metavar="ROLE"),
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Jobs whose record says failed.")] = False,
    code: Annotated[str | None, typer.Option(help="With --failed: only this error code.")] = None,
    job: Annotated[list[str] | None, typer.Option("--job", help="A job id (repeatable).")] = None,
    kind: Annotated[str | None, typer.Option(help="Only jobs of this kind: stt or ocr.")] = None,
    key: Annotated[str | None, typer.Option(help="Only objects whose key matches this glob.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only jobs of this tenant.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would happen; change nothing.")] = False,
    rate: Annotated[float | None, typer.Option(help="Jobs queued per second at most.", min=0.001)] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Run succeeded jobs again, keeping their results as a previous version.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run work again: exactly one source (--archive, --prefix, --dlq, --failed, --job), filters, --dry-run.
    Work that succeeded is skipped unless --force; a job running or queued is left to it; Ctrl+C stops after the
    item in hand and the same command can simply be run again. The summary is printed and (unless --dry-run)
    written to the store as <jobs prefix>replays/<id>.json. Exit 1 when some item could not be replayed."""
    sources = [archive, prefix is not None, dlq is not None, failed, bool(job)]
    if sum(sources) != 1:
        say("give exactly one source: --archive, --prefix, --dlq, --failed or --job")
        raise typer.Exit(ExitCode.USAGE)
    if kind is not None and kind not in KINDS:
        say(f"--kind is one of {', '.join(KINDS)}")
        raise typer.Exit(ExitCode.USAGE)
    if code is not None and not failed:
        say("--code goes with --failed")
        raise typer.Exit(ExitCode.USAGE)
    settings = settings_from()
    setup_logging("WARNING" if settings.log_level.upper() == "INFO" else settings.log_level)
    try:
        roles = dlq_roles(dlq) if dlq is not None else []
        window = (
            parse_time(since) if since else now_utc() - timedelta(days=max(1, settings.archive_days)),
            parse_time(until),
        )
        scope = (
            backfill_prefix(prefix, bucket=settings.bucket, inbox=settings.inbox_prefix) if prefix is not None else ""
        )
    except (ValueError, typer.BadParameter) as e:
        say(str(e))
        raise typer.Exit(ExitCode.USAGE) from None
    options = ReplayOptions(dry_run=dry_run, force=force, rate=rate, kind=kind, key=key, tenant=tenant)

    async def run() -> ReplayReport:
        async with Runtime(settings) as rt:
            await rt.ensure()
            with Progress(
                TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                TimeElapsedColumn(), console=err, transient=True,
            ) as bar:  # fmt: skip
                task = bar.add_task("", total=None)

                def on_item(item: ReplayItem) -> None:
                    bar.update(task, advance=1, description=f"{item.outcome}: {item.what}"[:60])

                replayer = rt.replayer(options, on_item, lambda n: bar.update(task, total=n))
                with signals_call(lambda _sig: replayer.stop()):
                    if archive:
                        return await replayer.replay_archive(*window)
                    if prefix is not None:
                        return await replayer.replay_prefix(scope)
                    if dlq is not None:
                        return await replayer.replay_dlq(roles)
                    if failed:
                        return await replayer.replay_failed(code)
                    return await replayer.replay_jobs(job or [])

    report = asyncio.run(run())
    if as_json:
        print(report.model_dump_json(indent=2))
    else:
        _summary(report)
    raise typer.Exit(ExitCode.FAILED if report.errors else ExitCode.OK)


_LABELS = {
    Outcome.queued: "queued",
    Outcome.skipped_done: "skipped, already done",
    Outcome.skipped_busy: "skipped, running or queued",
    Outcome.skipped_filter: "skipped by the filters",
    Outcome.skipped_other: "skipped, not a job",
    Outcome.error: "errors",
}


def _summary(report: ReplayReport) -> None:
    verb = "would be " if report.dry_run else ""
    console.print(
        f"replay {report.id}: {report.source}"
        + (" [yellow](dry run: nothing changed)[/yellow]" if report.dry_run else "")
    )
    for item in report.items:
        if report.dry_run or item.outcome is Outcome.error:
            why = f" ({item.reason})" if item.reason else ""
            console.print(
                f"  {item.outcome}: {item.what}{' job ' + item.job_id if item.job_id else ''}{why}",
                markup=False,
                highlight=False,
            )
    for outcome, label in _LABELS.items():
        shown = f"{verb}{label}" if outcome is Outcome.queued else label
        console.print(f"{shown}: {report.counts[outcome]}", markup=False, highlight=False)
    if report.dlq_removed:
        console.print(f"removed from dead-letter queues: {report.dlq_removed}", markup=False, highlight=False)
    if report.interrupted:
        console.print("[yellow]interrupted: run the same command again to finish[/yellow]")
    if report.report_key:
        console.print(f"report: {report.report_key}", markup=False, highlight=False)
