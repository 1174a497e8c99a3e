"""Looking after the setup: ``config`` (every setting), ``doctor`` (what this machine lacks), ``schemas`` (the
job message's and record's JSON Schemas) and ``setup s3`` (the cloud wiring)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..config import Settings, StoreBackend
from .common import console, err, settings_from


def setup_s3_command() -> None:
    """Create or check the bucket, the SQS queues with their DLQs and redrive policy, the queue policy and the
    bucket notification (inbox prefix only). Safe to run again: it changes only what differs."""
    from ..setup_s3 import setup_s3

    settings = settings_from()
    if settings.store is not StoreBackend.s3 or settings.queue.value != "sqs":
        err.print("[red]set STREAMPROCESS_STORE=s3 and STREAMPROCESS_QUEUE=sqs (and the bucket) first[/red]")
        raise typer.Exit(2)
    steps = asyncio.run(setup_s3(settings))
    t = Table("", "what", "result")
    for step in steps:
        t.add_row("[yellow]changed[/yellow]" if step.changed else "[green]ok[/green]", step.what, step.detail)
    console.print(t)
    console.print(f"{sum(s.changed for s in steps)} change(s)")


def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False) -> None:
    """Check what this machine has and lacks for the configured setup (models, Tesseract and its languages,
    OpenVINO, the data folder, free ports, Redis/S3/SQS when configured) and say how to fix each; exit 1 when
    something required is missing."""
    from ..doctor import diagnose, print_report

    report = diagnose()
    if as_json:
        print(report.to_json())
    else:
        print_report(report, console)
    raise typer.Exit(0 if report.ok else 1)


def config() -> None:
    """Print every setting, its environment variable and its effective value."""
    settings = settings_from()
    t = Table("variable", "value", "meaning")
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        shown = "***" if "secret" in name and value else str(value.value if hasattr(value, "value") else value)
        t.add_row(f"STREAMPROCESS_{name.upper()}", shown, field.description or "")
    console.print(t)


def schemas(out: Annotated[Path, typer.Option(help="Folder to write into.")] = Path("events/schemas")) -> None:
    """Write the JSON Schemas of the job message and job record."""
    from ..jobs import schema_files

    out.mkdir(parents=True, exist_ok=True)
    for name, text in schema_files().items():
        (out / name).write_text(text)
        console.print(f"wrote {out / name}")
