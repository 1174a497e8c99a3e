"""``streamprocess up`` (the whole service, :class:`~streamprocess.service.Service`), ``streamprocess api`` (the same
without workers: the API Deployment, the live-captioning pool) and ``streamprocess worker`` (queue consumers only:
one pod of a KEDA ScaledJob, or a long-running service)."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..config import Settings, StoreBackend
from ..errors import StartupError
from ..kinds import EVENTS_QUEUE, QUEUE_ROLES
from ..runtime import Runtime
from ..service import Service, Started, signals_call
from ..startup import check_metrics_port, serve_metrics
from .common import console, err, exit_now_if_released, log, refuse, settings_from, setup_logging


def up(
    host: Annotated[str | None, typer.Option(help="API host [STREAMPROCESS_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="API port [STREAMPROCESS_PORT].")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Local store root [STREAMPROCESS_DATA_DIR].")] = None,
) -> None:
    """Run everything in one process: drop folder, queues, workers, the HTTP API and gRPC. A start-up failure (a
    port in use, a bad setting, the store or queue out of reach) is one or two lines on stderr and its own exit
    code (README, Exit codes); STREAMPROCESS_LOG_LEVEL=DEBUG adds the traceback."""
    _run_service(QUEUE_ROLES, host=host, port=port, data_dir=data_dir)


def api(
    host: Annotated[str | None, typer.Option(help="API host [STREAMPROCESS_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="API port [STREAMPROCESS_PORT].")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Local store root [STREAMPROCESS_DATA_DIR].")] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(help="Also serve Prometheus metrics, without a key, here [STREAMPROCESS_METRICS_PORT]."),
    ] = None,
) -> None:
    """Serve the HTTP API and gRPC without workers (a Kubernetes Deployment; the live-captioning pool when
    STREAMPROCESS_LIVE_MAX_STREAMS is above 0). Jobs wait in their queues for `streamprocess worker`. Needs
    STREAMPROCESS_API_KEYS. Probes: GET /health, GET /ready (no key), grpc.health.v1 on the gRPC port. SIGTERM
    drains. Start-up failures and exit codes as `up`'s."""
    _run_service((), host=host, port=port, data_dir=data_dir, metrics_port=metrics_port)


def _run_service(roles: tuple[str, ...], **options: object) -> None:
    settings = settings_from(**options)
    if "STREAMPROCESS_PUBLIC_BASE_URL" not in os.environ:  # signed upload URLs point at this very server
        settings = settings_from(**options, public_base_url=f"http://{settings.host}:{settings.port}")
    setup_logging(settings.log_level)
    service = Service(settings, roles=roles, on_started=_banner, on_signal=_stopping, on_stopped=exit_now_if_released)
    try:
        asyncio.run(service.run(handle_signals=True))
    except StartupError as e:
        refuse(e)


def _stopping(sig: int) -> None:
    err.print(
        f"[yellow]{signal.Signals(sig).name}: draining (not ready; open requests and in-flight jobs finish), "
        "then stopping…[/yellow]"
    )


def _banner(started: Started) -> None:
    settings, missing = started.settings, started.missing
    root = settings.data_dir.resolve()
    t = Table.grid(padding=(0, 2))
    if started.watching:
        t.add_row("Drop files into", f"[bold]{root}/{settings.inbox_prefix}[/bold]")
        t.add_row("Results appear in", f"{root}/{settings.results_prefix}<job id>/")
        t.add_row("Job records", f"{root}/{settings.jobs_prefix}<job id>.json")
    elif settings.store is StoreBackend.s3:
        t.add_row("Drop files into", f"s3://{settings.bucket}/{settings.inbox_prefix}")
        t.add_row("Results appear in", f"s3://{settings.output_bucket}/{settings.results_prefix}<job id>/")
    base = f"http://{settings.host}:{settings.port}"
    t.add_row("HTTP API", f"{base}  (docs: {base}/docs; probes: /health, /ready)")
    metrics = f"{base}/metrics (with a key)"
    if settings.metrics_port:
        metrics += f", http://{settings.host}:{settings.metrics_port}/metrics (no key)"
    t.add_row("Metrics", metrics + ("; GPUs too" if started.gpu_metrics else ""))
    if settings.grpc_port:
        t.add_row(
            "gRPC", f"{settings.host}:{settings.grpc_port}  (streamprocess.v1.OCRService, STTService; grpc.health.v1)"
        )
    if "live" in missing:
        t.add_row("Live captions", f"[yellow]off: {missing['live']}[/yellow]")
    elif settings.live_max_streams:
        ws = f"ws://{settings.host}:{settings.port}/v1/stt/stream"
        t.add_row("Live captions", f"{ws}  (page: {base}/live; up to {settings.live_max_streams} streams)")
    if started.generated_key:
        t.add_row(
            "API key",
            f"[bold]{started.generated_key}[/bold]  (made for this run, tenant {settings.drop_tenant}; set "
            "STREAMPROCESS_API_KEYS to choose)",
        )
    else:
        t.add_row("API key", "from STREAMPROCESS_API_KEYS")
    t.add_row("Queue", f"{settings.queue}")
    if not started.roles:
        t.add_row("Workers", "none in this process: jobs wait in their queues for `streamprocess worker`")
    for kind, label in (("stt", "Speech (stt)"), ("ocr", "Documents (ocr)")):
        if kind not in started.roles:
            continue
        if kind in missing:
            t.add_row(label, f"[yellow]not served: {missing[kind]}; these jobs wait in their queue[/yellow]")
        else:
            t.add_row(label, f"processor [green]{settings.processor_for(kind)}[/green]")
    what = "is up" if started.roles else "API is up"
    console.print(f"[bold green]StreamProcess {what}.[/bold green] Press Ctrl+C to stop.")
    console.print(t)


def worker(
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", "-q", help="Queue role to consume: events, stt, ocr (repeatable; default all)."),
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Jobs at once [STREAMPROCESS_CONCURRENCY].")] = None,
    max_jobs: Annotated[int | None, typer.Option(help="Exit after this many messages (a KEDA Job).")] = None,
    idle_exit: Annotated[float | None, typer.Option(help="Exit after this many seconds without work.")] = None,
    burst: Annotated[
        bool,
        typer.Option("--burst", help="Exit once the queues are empty and nothing is in flight (drain, then stop)."),
    ] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port [STREAMPROCESS_METRICS_PORT].")
    ] = None,
) -> None:
    """Consume queues and run jobs (one pod of a KEDA ScaledJob, or a long-running service)."""
    roles = queue or list(QUEUE_ROLES)
    bad = [r for r in roles if r not in QUEUE_ROLES]
    if bad:
        err.print(f"[red]unknown queue role(s): {', '.join(bad)}; use {', '.join(QUEUE_ROLES)}[/red]")
        raise typer.Exit(2)
    settings = settings_from(concurrency=concurrency, metrics_port=metrics_port)
    setup_logging(settings.log_level)
    try:
        check_metrics_port(settings)
        serve_metrics(settings)
    except StartupError as e:
        refuse(e)
    asyncio.run(_worker(settings, roles, max_jobs, idle_exit, burst))


async def _worker(
    settings: Settings, roles: list[str], max_jobs: int | None, idle_exit: float | None, burst: bool
) -> None:
    async with Runtime(settings) as rt:
        await rt.ensure()
        w, missing = rt.worker(roles, max_jobs=max_jobs, idle_exit=idle_exit, burst=burst or None)
        for role, why in missing.items():
            err.print(f"[yellow]not consuming {role}: {why}[/yellow]")
        if not w.consumers:
            err.print("[red]nothing to consume[/red]")
            raise typer.Exit(1)

        def stop(sig: int) -> None:
            log.info("%s: draining", signal.Signals(sig).name)
            w.stop()

        sweep = None
        if EVENTS_QUEUE in roles:  # where the router runs (as in Service): expired uploads, the event archive
            sweep = asyncio.create_task(rt.upkeep())
        with signals_call(stop):
            try:
                await w.run()
            finally:
                if sweep is not None:
                    sweep.cancel()
                    await asyncio.gather(sweep, return_exceptions=True)
        log.info("worker done: %d received, %d finished, %d released", w.received, w.completed, w.released)
        exit_now_if_released(w.released)
