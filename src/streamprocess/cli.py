"""The ``streamprocess`` command (typer + rich)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from .cli_help import ReadableHelpGroup
from .config import Settings, StoreBackend
from .errors import ExitCode, StartupError, StreamProcessError
from .jobs import JobMessage, JobState, job_id_for
from .media import SNIFF_BYTES, detect
from .queues import ROLES
from .runtime import Runtime
from .startup import check_ports, one_line, open_runtime, reach_backends

app = typer.Typer(
    help="StreamProcess: media in, text out.", no_args_is_help=True, add_completion=False, cls=ReadableHelpGroup
)  # values named in words in --help, not Python types
# Not a terminal (logs, CI, pipes): do not wrap paths and ids at 80 columns.
console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def _settings(**overrides: object) -> Settings:
    try:
        base = Settings()
        data = base.model_dump()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return Settings.model_validate(data) if overrides else base
    except ValidationError as e:
        for line in _setting_errors(e):
            _say(line)
        raise typer.Exit(ExitCode.BAD_SETTING) from None
    except ValueError as e:  # a value pydantic-settings could not even parse (a bad JSON list, say)
        _say(f"bad setting: {one_line(e)}")
        raise typer.Exit(ExitCode.BAD_SETTING) from None


def _setting_errors(e: ValidationError) -> list[str]:
    """One line per invalid setting, named by its environment variable; secrets are not echoed."""
    lines = []
    for problem in e.errors():
        name = "_".join(str(part) for part in problem["loc"])
        msg = problem["msg"].removeprefix("Value error, ")
        if not name:  # a rule across settings
            lines.append(f"bad settings: {msg}")
            continue
        value = problem.get("input")
        secret = any(w in name for w in ("secret", "key", "token", "password", "url"))  # as hide_input_in_errors
        shown = f"={value!r}" if isinstance(value, str | int | float) and not secret else ""
        lines.append(f"bad setting STREAMPROCESS_{name.upper()}{shown}: {msg}")
    return lines


def _say(line: str, style: str | None = "red") -> None:
    """One plain line on stderr: no markup, no highlighting, no wrapping (tests and log collectors read it)."""
    err.print(line, style=style, markup=False, highlight=False, soft_wrap=True)


def _logging(level: str) -> None:
    if sys.stderr.isatty():
        handler: logging.Handler = RichHandler(console=err, show_path=False, rich_tracebacks=True)
        fmt = "%(name)s: %(message)s"
    else:  # plain, one line per record, for log collectors and CI
        handler = logging.StreamHandler(sys.stderr)
        fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level.upper(), format=fmt, datefmt="%H:%M:%S", handlers=[handler], force=True)
    for noisy in (
        "botocore",
        "aiobotocore",
        "urllib3",
        "uvicorn.access",
        "fontTools",
        "pikepdf",
        "faster_whisper",
        "ocrmypdf",
        "RapidOCR",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@contextlib.contextmanager
def _signals(loop: asyncio.AbstractEventLoop, on_stop) -> Iterator[None]:  # type: ignore[no-untyped-def]
    sigs = (signal.SIGINT, signal.SIGTERM)
    for s in sigs:
        loop.add_signal_handler(s, on_stop, s)
    try:
        yield
    finally:
        for s in sigs:
            loop.remove_signal_handler(s)


# ---------------------------------------------------------------------------------------------- up
@app.command()
def up(
    host: Annotated[str | None, typer.Option(help="API host [STREAMPROCESS_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="API port [STREAMPROCESS_PORT].")] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Local store root [STREAMPROCESS_DATA_DIR].")] = None,
) -> None:
    """Run everything in one process: drop folder, queues, workers, the HTTP API and gRPC. A start-up failure (a
    port in use, a bad setting, the store or queue out of reach) is one or two lines on stderr and its own exit
    code (README, Exit codes); STREAMPROCESS_LOG_LEVEL=DEBUG adds the traceback."""
    settings = _settings(host=host, port=port, data_dir=data_dir)
    if "STREAMPROCESS_PUBLIC_BASE_URL" not in os.environ:  # signed upload URLs point at this very server
        settings = _settings(
            host=host, port=port, data_dir=data_dir, public_base_url=f"http://{settings.host}:{settings.port}"
        )
    _logging(settings.log_level)
    try:
        check_ports(settings)  # before anything loads
        asyncio.run(_up(settings))
    except StartupError as e:
        logging.getLogger(__name__).debug("start-up failed", exc_info=True)
        _say(f"cannot start: {e.message}")
        if e.hint:
            _say(e.hint, style=None)
        raise typer.Exit(e.exit_code) from None


async def _up(settings: Settings) -> None:
    import uvicorn

    from .api import create_app

    class EmbeddedServer(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # this process handles signals itself
            yield

    import secrets

    from pydantic import SecretStr

    from .submit import Submissions

    generated = None if settings.api_key_tenants() else secrets.token_urlsafe(24)
    if generated:  # the drop tenant's key for this run, so it sees the drop folder's jobs
        settings = settings.model_copy(update={"api_keys": SecretStr(f"{settings.drop_tenant}={generated}")})
    keys = settings.api_key_tenants()
    async with open_runtime(settings) as rt:
        await reach_backends(rt)
        worker, missing = rt.worker(list(ROLES))
        live = None
        try:
            live = await asyncio.to_thread(rt.live_pool)  # loads the live model
            if live is not None:
                await live.warm_up()
        except StreamProcessError as e:
            missing["live"] = e.message
        server = EmbeddedServer(
            uvicorn.Config(
                create_app(rt, keys, live), host=settings.host, port=settings.port, log_level="warning", lifespan="off"
            )
        )
        tasks = [asyncio.create_task(Submissions(rt).sweep_uploads())]  # uploads that never came fail
        if rt.is_embedded_store:
            tasks.append(asyncio.create_task(rt.store.watch(settings.watch_interval, settings.watch_settle)))

        def stop(sig: int) -> None:
            err.print(f"[yellow]{signal.Signals(sig).name}: finishing in-flight jobs, then stopping…[/yellow]")
            worker.stop()
            server.should_exit = True

        async def serve() -> None:
            try:
                await server.serve()
            except SystemExit:  # uvicorn exits when it cannot listen, after logging why: taken since check_ports
                if server.started:
                    raise
                raise StartupError(
                    ExitCode.PORT_IN_USE,
                    f"HTTP port {settings.port} on {settings.host} was taken "
                    "while starting; choose another port with --port or STREAMPROCESS_PORT.",
                ) from None

        grpc_server = None
        serving: asyncio.Task[None] | None = None
        with _signals(asyncio.get_running_loop(), stop):
            try:
                if settings.grpc_port:
                    from .grpc_server import start as start_grpc

                    grpc_server = await start_grpc(Submissions(rt), keys, settings.host, settings.grpc_port, live)
                serving = asyncio.create_task(serve())
                while not server.started and not serving.done():
                    await asyncio.sleep(0.05)
                if serving.done():
                    await serving  # raises what stopped it
                    raise StartupError(ExitCode.FAILED, "the HTTP server stopped while starting.")
                _banner(settings, missing, generated)
                await worker.run()
            finally:
                server.should_exit = True
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, *([serving] if serving else []), return_exceptions=True)
                if grpc_server is not None:
                    await grpc_server.stop(grace=5)
                if live is not None:
                    await live.close()
            _exit_now_if_released(worker.released)


def _banner(settings: Settings, missing: dict[str, str], generated_key: str | None) -> None:
    root = settings.data_dir.resolve()
    t = Table.grid(padding=(0, 2))
    if settings.store is StoreBackend.local:
        t.add_row("Drop files into", f"[bold]{root}/{settings.inbox_prefix}[/bold]")
        t.add_row("Results appear in", f"{root}/{settings.results_prefix}<job id>/")
        t.add_row("Job records", f"{root}/{settings.jobs_prefix}<job id>.json")
    else:
        t.add_row("Drop files into", f"s3://{settings.bucket}/{settings.inbox_prefix}")
        t.add_row("Results appear in", f"s3://{settings.output_bucket}/{settings.results_prefix}<job id>/")
    base = f"http://{settings.host}:{settings.port}"
    t.add_row("HTTP API", f"{base}  (health: {base}/health, docs: {base}/docs, metrics: {base}/metrics)")
    if settings.grpc_port:
        t.add_row("gRPC", f"{settings.host}:{settings.grpc_port}  (streamprocess.v1.OCRService, STTService)")
    if "live" in missing:
        t.add_row("Live captions", f"[yellow]off: {missing['live']}[/yellow]")
    elif settings.live_max_streams:
        ws = f"ws://{settings.host}:{settings.port}/v1/stt/stream"
        t.add_row("Live captions", f"{ws}  (page: {base}/live; up to {settings.live_max_streams} streams)")
    if generated_key:
        t.add_row(
            "API key",
            f"[bold]{generated_key}[/bold]  (made for this run, tenant {settings.drop_tenant}; set "
            "STREAMPROCESS_API_KEYS to choose)",
        )
    else:
        t.add_row("API key", "from STREAMPROCESS_API_KEYS")
    t.add_row("Queue", f"{settings.queue}")
    for kind, label in (("stt", "Speech (stt)"), ("ocr", "Documents (ocr)")):
        if kind in missing:
            t.add_row(label, f"[yellow]not served: {missing[kind]}; these jobs wait in their queue[/yellow]")
        else:
            t.add_row(label, f"processor [green]{settings.processor_for(kind)}[/green]")
    console.print("[bold green]StreamProcess is up.[/bold green] Press Ctrl+C to stop.")
    console.print(t)


# ---------------------------------------------------------------------------------------------- worker
@app.command()
def worker(
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", "-q", help="Queue role to consume: events, stt, ocr (repeatable; default all)."),
    ] = None,
    concurrency: Annotated[int | None, typer.Option(help="Jobs at once [STREAMPROCESS_CONCURRENCY].")] = None,
    max_jobs: Annotated[int | None, typer.Option(help="Exit after this many messages (a KEDA Job).")] = None,
    idle_exit: Annotated[float | None, typer.Option(help="Exit after this many seconds without work.")] = None,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port [STREAMPROCESS_METRICS_PORT].")
    ] = None,
) -> None:
    """Consume queues and run jobs (one pod of a KEDA ScaledJob, or a long-running service)."""
    roles = queue or list(ROLES)
    bad = [r for r in roles if r not in ROLES]
    if bad:
        err.print(f"[red]unknown queue role(s): {', '.join(bad)}; use {', '.join(ROLES)}[/red]")
        raise typer.Exit(2)
    settings = _settings(concurrency=concurrency, metrics_port=metrics_port)
    _logging(settings.log_level)
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.host)
    asyncio.run(_worker(settings, roles, max_jobs, idle_exit))


def _exit_now_if_released(released: int) -> None:
    """Released jobs may still occupy processor threads (a thread cannot be cancelled), and the interpreter would
    wait for them at exit: their messages are back on the queue, so leave at once."""
    if released:
        logging.getLogger(__name__).info("exiting with %d released job(s) still in threads", released)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


async def _worker(settings: Settings, roles: list[str], max_jobs: int | None, idle_exit: float | None) -> None:
    async with Runtime(settings) as rt:
        await rt.ensure()
        w, missing = rt.worker(roles, max_jobs=max_jobs, idle_exit=idle_exit)
        for role, why in missing.items():
            err.print(f"[yellow]not consuming {role}: {why}[/yellow]")
        if not w.consumers:
            err.print("[red]nothing to consume[/red]")
            raise typer.Exit(1)

        def stop(sig: int) -> None:
            logging.getLogger(__name__).info("%s: draining", signal.Signals(sig).name)
            w.stop()

        sweep = None
        if "events" in roles:  # where the router runs, uploads that never came fail
            from .submit import Submissions

            sweep = asyncio.create_task(Submissions(rt).sweep_uploads())
        with _signals(asyncio.get_running_loop(), stop):
            try:
                await w.run()
            finally:
                if sweep is not None:
                    sweep.cancel()
                    await asyncio.gather(sweep, return_exceptions=True)
        logging.getLogger(__name__).info(
            "worker done: %d received, %d finished, %d released", w.received, w.completed, w.released
        )
        _exit_now_if_released(w.released)


# ---------------------------------------------------------------------------------------------- setup
setup_app = typer.Typer(help="Create or check cloud wiring.", no_args_is_help=True)
app.add_typer(setup_app, name="setup")


@setup_app.command("s3")
def setup_s3_command() -> None:
    """Create or check the bucket, the SQS queues with their DLQs and redrive policy, the queue policy and the
    bucket notification (inbox prefix only). Safe to run again: it changes only what differs."""
    from .setup_s3 import setup_s3

    settings = _settings()
    if settings.store is not StoreBackend.s3 or settings.queue.value != "sqs":
        err.print("[red]set STREAMPROCESS_STORE=s3 and STREAMPROCESS_QUEUE=sqs (and the bucket) first[/red]")
        raise typer.Exit(2)
    steps = asyncio.run(setup_s3(settings))
    t = Table("", "what", "result")
    for step in steps:
        t.add_row("[yellow]changed[/yellow]" if step.changed else "[green]ok[/green]", step.what, step.detail)
    console.print(t)
    console.print(f"{sum(s.changed for s in steps)} change(s)")


# ---------------------------------------------------------------------------------------------- submit
@app.command()
def submit(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    prefix: Annotated[str, typer.Option(help="Sub-folder of the inbox to put the files in.")] = "",
) -> None:
    """Put files into the inbox (local folder or S3); prints each job id."""
    settings = _settings()
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


# ---------------------------------------------------------------------------------------------- engines, directly
Reporter = Callable[[float, float, str], None]


def _per_file(
    files: list[Path], fmt: str, output_dir: Path | None, work: Callable[[Path, Reporter], str | None]
) -> None:
    """Run ``work`` on each file under a progress bar (on stderr); print what it returns, or write it to
    ``output_dir/<stem>.<fmt>``; a failed file is reported and the others go on; exit 1 if any failed."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    if output_dir:
        output_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[done]}"), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=output_dir is None, redirect_stdout=False) as bar:
        for f in files:
            task = bar.add_task(f.name, total=None, done="")

            def report(done: float, total: float, text: str, task=task) -> None:  # type: ignore[no-untyped-def]
                bar.update(task, completed=done, total=total, done=text)

            try:
                text = work(f, report)
            except StreamProcessError as e:
                bar.remove_task(task)
                err.print(f"[red]{f}: {e}[/red]")
                failures += 1
                continue
            if text is None:
                continue
            if output_dir:
                (output_dir / f"{f.stem}.{fmt}").write_text(text, encoding="utf-8")
            else:
                if len(files) > 1:
                    sys.stdout.write(f"==> {f} <==\n")
                sys.stdout.write(text)
                sys.stdout.flush()
    if failures:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------------------------- transcribe
@app.command()
def transcribe(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, txt, srt or vtt.")] = "txt",
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", "-o", help="Write <name>.<format> here instead of printing.")
    ] = None,
    language: Annotated[str | None, typer.Option(help="Language code; default detects it.")] = None,
    model: Annotated[str | None, typer.Option(help="Whisper model name or folder [STREAMPROCESS_STT_MODEL].")] = None,
    word_timestamps: Annotated[bool | None, typer.Option(help="Word-level timestamps.")] = None,
    vad: Annotated[bool | None, typer.Option(help="Skip silence with Silero VAD.")] = None,
    beam_size: Annotated[int | None, typer.Option(help="Beam size.")] = None,
    hotwords: Annotated[str | None, typer.Option(help="Words to favour (names, jargon).")] = None,
    prompt: Annotated[str | None, typer.Option(help="Initial prompt.")] = None,
    batched: Annotated[bool | None, typer.Option(help="BatchedInferencePipeline.")] = None,
) -> None:
    """Transcribe audio files here and now, without any service."""
    from .processors.stt import default_options, engine_from
    from .stt import TranscribeOptions
    from .stt.formats import FORMATS, render

    if fmt not in FORMATS:
        err.print(f"[red]--format must be one of {', '.join(FORMATS)}[/red]")
        raise typer.Exit(2)
    settings = _settings(stt_model=model)
    given = {
        "language": language,
        "word_timestamps": word_timestamps,
        "vad_filter": vad,
        "beam_size": beam_size,
        "hotwords": hotwords,
        "initial_prompt": prompt,
        "batched": batched,
    }
    try:
        options = TranscribeOptions.from_mapping(given, default_options(settings))
        with err.status(f"loading model {settings.stt_model}…"):
            engine = engine_from(settings)
    except StreamProcessError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None

    def work(f: Path, report: Reporter) -> str:
        transcript = engine.transcribe(
            f, options, progress=lambda done, total: report(done, total, f"{done:.0f}/{total:.0f} s of audio")
        )
        return render(transcript, fmt)

    _per_file(files, fmt, output_dir, work)


# ---------------------------------------------------------------------------------------------- ocr
@app.command()
def ocr(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[str, typer.Option("--format", "-f", help="txt, json, hocr or pdf (searchable).")] = "txt",
    output_dir: Annotated[
        Path | None,
        typer.Option(
            "--output-dir", "-o", help="Write <name>.<format> here instead of printing (pdf always needs it)."
        ),
    ] = None,
    lang: Annotated[
        str | None,
        typer.Option(help="Languages: eng, chi_sim, jpn, kor… joined with + (or auto) [STREAMPROCESS_OCR_LANGUAGES]."),
    ] = None,
    engine: Annotated[str | None, typer.Option(help="auto, ppocr or tesseract [STREAMPROCESS_OCR_ENGINE].")] = None,
    dpi: Annotated[float | None, typer.Option(help="PDF rendering resolution [STREAMPROCESS_OCR_DPI].")] = None,
    text_layer: Annotated[bool | None, typer.Option(help="Use a PDF page's own text when it has some.")] = None,
    orientation: Annotated[bool | None, typer.Option(help="Turn pages upright first (Tesseract OSD).")] = None,
) -> None:
    """OCR images and PDFs here and now, without any service."""
    import tempfile

    from .ocr import OcrOptions
    from .ocr.formats import FORMATS, to_hocr, to_json, to_txt, write_searchable_pdf
    from .processors.ocr import default_options, engine_from

    if fmt not in FORMATS:
        err.print(f"[red]--format must be one of {', '.join(FORMATS)}[/red]")
        raise typer.Exit(2)
    if fmt == "pdf" and output_dir is None:
        err.print("[red]--format pdf writes files: give --output-dir[/red]")
        raise typer.Exit(2)
    settings = _settings()
    given = {"languages": lang, "engine": engine, "dpi": dpi, "text_layer": text_layer, "orientation": orientation}
    try:
        options = OcrOptions.from_mapping(given, default_options(settings))
        ocr_engine = engine_from(settings)
        ocr_engine.check(options)
    except StreamProcessError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None

    with tempfile.TemporaryDirectory(prefix="sp-ocr-") as tmp:

        def work(f: Path, report: Reporter) -> str | None:
            images: list[Path] = []

            def keep(page, result) -> None:  # type: ignore[no-untyped-def]
                if fmt == "pdf":
                    images.append(Path(tmp) / f"{f.stem}-{page.index:05d}.jpg")
                    page.image.save(images[-1], quality=90)

            doc = ocr_engine.process(
                f, options, on_page=keep, progress=lambda done, total: report(done, total, f"{done}/{total} pages")
            )
            if fmt == "pdf":
                assert output_dir is not None
                write_searchable_pdf(doc, images, output_dir / f"{f.stem}.pdf")
                return None
            return {"txt": to_txt, "json": to_json, "hocr": to_hocr}[fmt](doc)

        _per_file(files, fmt, output_dir, work)


# ---------------------------------------------------------------------------------------------- status
@app.command()
def status(job_id: str, as_json: Annotated[bool, typer.Option("--json", help="Print the raw record.")] = False) -> None:
    """Show one job record."""
    settings = _settings()

    async def get():  # type: ignore[no-untyped-def]
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


@app.command("jobs")
def list_jobs(state: Annotated[JobState | None, typer.Option(help="Only jobs in this state.")] = None) -> None:
    """List job records."""
    settings = _settings()

    async def get():  # type: ignore[no-untyped-def]
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


@app.command()
def queues(
    show: Annotated[int, typer.Option(help="Dead-lettered messages to list per queue (0: none).")] = 20,
) -> None:
    """Show queue depths, dead-letter queues included, and what the dead-letter queues hold (the keys of
    dead-lettered bucket events, the jobs of dead-lettered job messages, and why)."""
    from .ingest import event_keys

    settings = _settings()

    def describe(role: str, body: str) -> str:
        if role == "events":
            return ", ".join(event_keys(body)) or f"not an event: {body[:80]!r}"
        try:
            job = JobMessage.model_validate_json(body)
        except ValueError:
            return f"not a job message: {body[:80]!r}"
        return f"job {job.job_id} ({job.source.key})"

    async def get():  # type: ignore[no-untyped-def]
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


@app.command()
def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False) -> None:
    """Check what this machine has and lacks for the configured setup (models, Tesseract and its languages,
    OpenVINO, the data folder, free ports, Redis/S3/SQS when configured) and say how to fix each; exit 1 when
    something required is missing."""
    from .doctor import diagnose, print_report

    report = diagnose()
    if as_json:
        print(report.to_json())
    else:
        print_report(report, console)
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def config() -> None:
    """Print every setting, its environment variable and its effective value."""
    settings = _settings()
    t = Table("variable", "value", "meaning")
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        shown = "***" if "secret" in name and value else str(value.value if hasattr(value, "value") else value)
        t.add_row(f"STREAMPROCESS_{name.upper()}", shown, field.description or "")
    console.print(t)


@app.command()
def schemas(out: Annotated[Path, typer.Option(help="Folder to write into.")] = Path("events/schemas")) -> None:
    """Write the JSON Schemas of the job message and job record."""
    from .jobs import schema_files

    out.mkdir(parents=True, exist_ok=True)
    for name, text in schema_files().items():
        (out / name).write_text(text)
        console.print(f"wrote {out / name}")


def main() -> None:  # pragma: no cover
    app()
