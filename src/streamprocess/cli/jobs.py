"""Jobs and their queues from the command line: ``submit`` files to the inbox, ``status`` of one job, ``jobs`` to
list them, ``queues`` for depths and what the dead-letter queues hold."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..config import Settings
from ..errors import StreamProcessError
from ..jobs import JobMessage, JobRecord, JobState, job_id_for
from ..media import SNIFF_BYTES, detect
from ..runtime import Runtime
from .common import console, err, settings_from


def submit(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    prefix: Annotated[str, typer.Option(help="Sub-folder of the inbox to put the files in.")] = "",
) -> None:
    """Put files into the inbox (local folder or S3); prints each job id."""
    settings = settings_from()
    asyncio.run(_submit(settings, files, prefix))


async def _submit(settings: Settings, files: list[Path], prefix: str) -> None:
    async with Runtime(settings) as rt:
        await rt.ensure()
        for f in files:
            key = f"{settings.inbox_prefix}{prefix.strip('/') + '/' if prefix.strip('/') else ''}{f.name}"
            try:
                with open(f, "rb") as fh:
                    media = detect(fh.read(SNIFF_BYTES), f.name)
            except StreamProcessError as e:
                err.print(f"[red]{f}: {e.message}[/red]")
                continue
            info = await rt.store.put(key, f)
            job_id = job_id_for(settings.bucket, key, info.version_id or info.etag, media.kind)
            console.print(f"{f} → {key}  [bold]{media.kind}[/bold] job [cyan]{job_id}[/cyan]")


def status(job_id: str, as_json: Annotated[bool, typer.Option("--json", help="Print the raw record.")] = False) -> None:
    """Show one job record."""
    settings = settings_from()

    async def get() -> JobRecord | None:
        async with Runtime(settings) as rt:
            return await rt.jobs.get(job_id)

    record = asyncio.run(get())
    if record is None:
        err.print(f"[red]no job {job_id}[/red]")
        raise typer.Exit(1)
    if as_json:
        print(record.model_dump_json(indent=2))
        return
    t = Table.grid(padding=(0, 2))
    colour = {"succeeded": "green", "failed": "red", "running": "yellow"}.get(record.state, "white")
    t.add_row("job", record.job_id)
    t.add_row("state", f"[{colour}]{record.state}[/{colour}]")
    t.add_row("source", f"{record.source.bucket}/{record.source.key}")
    t.add_row("kind", f"{record.kind} ({record.media_type})")
    t.add_row("attempts", str(record.attempts))
    if record.progress and record.progress.fraction is not None:
        t.add_row("progress", f"{record.progress.fraction:.0%}")
    if record.error:
        t.add_row("error", f"[red]{record.error.code}[/red]: {record.error.message}")
    for name, key in record.results.items():
        t.add_row(f"result {name}", key)
    if record.timings:
        t.add_row("timings", ", ".join(f"{k} {v:.3f}s" for k, v in record.timings.items()))
    console.print(t)
    if record.state is JobState.failed:
        raise typer.Exit(1)


def list_jobs(state: Annotated[JobState | None, typer.Option(help="Only jobs in this state.")] = None) -> None:
    """List job records."""
    settings = settings_from()

    async def get() -> list[JobRecord]:
        async with Runtime(settings) as rt:
            return await rt.jobs.list()

    t = Table("job", "kind", "state", "source", "attempts", "error", "updated")
    for r in sorted(asyncio.run(get()), key=lambda r: r.updated_at):
        if state and r.state is not state:
            continue
        t.add_row(
            r.job_id,
            r.kind,
            r.state,
            r.source.key,
            str(r.attempts),
            r.error.code if r.error else "",
            r.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    console.print(t)


def queues(
    show: Annotated[int, typer.Option(help="Dead-lettered messages to list per queue (0: none).")] = 20,
) -> None:
    """Show queue depths, dead-letter queues included, and what the dead-letter queues hold (the keys of
    dead-lettered bucket events, the jobs of dead-lettered job messages, and why)."""
    from ..ingest import event_keys

    settings = settings_from()

    def describe(role: str, body: str) -> str:
        if role == "events":
            return ", ".join(event_keys(body)) or f"not an event: {body[:80]!r}"
        try:
            job = JobMessage.model_validate_json(body)
        except ValueError:
            return f"not a job message: {body[:80]!r}"
        return f"job {job.job_id} ({job.source.key})"

    async def get() -> tuple[list[tuple[str, int, int, int]], list[tuple[str, str, str]]]:
        async with Runtime(settings) as rt:
            await rt.ensure()
            rows, dead = [], []
            for role, q in rt.queues.items():
                for qq in (q, q.dlq):
                    d = await qq.depth()
                    rows.append((qq.name, d.available, d.in_flight, d.delayed))
                if show:
                    dead += [
                        (q.dlq.name, describe(role, m.body), m.attributes.get("reason", ""))
                        for m in await q.dlq.peek(show)
                    ]
            return rows, dead

    rows, dead = asyncio.run(get())
    t = Table("queue", "available", "in flight", "delayed")
    for name, *counts in rows:
        t.add_row(name, *map(str, counts))
    console.print(t)
    if dead:
        d = Table("dead-letter queue", "what", "why", title="dead-lettered messages")
        for row in dead:
            d.add_row(*row)
        console.print(d)
