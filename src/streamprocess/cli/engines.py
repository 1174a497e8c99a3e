"""The engines here and now, without any service: ``transcribe`` audio, ``ocr`` images and PDFs."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import StreamProcessError
from ..progress import ProgressFn
from .common import err, say, settings_from

if TYPE_CHECKING:
    from rich.progress import TaskID

    from ..ocr.inputs import PageImage
    from ..ocr.types import Page

#: What a file's work gets from the progress bar: ``progress_in(unit)`` is the engine's :data:`ProgressFn`, shown
#: as "done/total unit".
ProgressIn = Callable[[str], ProgressFn]


def _per_file(
    files: list[Path], fmt: str, output_dir: Path | None, work: Callable[[Path, ProgressIn], str | None]
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

            def progress_in(unit: str, task: TaskID = task) -> ProgressFn:
                def report(done: float, total: float) -> None:
                    bar.update(task, completed=done, total=total, done=f"{done:.0f}/{total:.0f} {unit}")

                return report

            try:
                text = work(f, progress_in)
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


def transcribe(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[str, typer.Option("--format", "-f", help="json, txt, srt or vtt.")] = "txt",
    output_dir: Annotated[
        Path | None, typer.Option("--output-dir", "-o", help="Write <name>.<format> here instead of printing.")
    ] = None,
    language: Annotated[str | None, typer.Option(help="Language code; default detects it.")] = None,
    task: Annotated[
        str | None, typer.Option(help="transcribe, or translate (into English; needs a multilingual model).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Whisper model name or folder [STREAMPROCESS_STT_MODEL].")] = None,
    word_timestamps: Annotated[bool | None, typer.Option(help="Word-level timestamps.")] = None,
    vad: Annotated[bool | None, typer.Option(help="Skip silence with Silero VAD.")] = None,
    beam_size: Annotated[int | None, typer.Option(help="Beam size.")] = None,
    hotwords: Annotated[str | None, typer.Option(help="Words to favour (names, jargon).")] = None,
    prompt: Annotated[str | None, typer.Option(help="Initial prompt.")] = None,
    batched: Annotated[bool | None, typer.Option(help="BatchedInferencePipeline.")] = None,
) -> None:
    """Transcribe audio files (or translate their speech into English) here and now, without any service. A
    language or task the model cannot do is refused before any file is read (exit 2)."""
    from ..processors.stt import default_options, engine_from
    from ..stt import TranscribeOptions
    from ..stt.formats import FORMATS, render

    if fmt not in FORMATS:
        err.print(f"[red]--format must be one of {', '.join(FORMATS)}[/red]")
        raise typer.Exit(2)
    settings = settings_from(stt_model=model)
    given = {
        "language": language,
        "task": task,
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
        engine.check(options)
    except StreamProcessError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None

    def work(f: Path, progress_in: ProgressIn) -> str:
        transcript = engine.transcribe(f, options, progress=progress_in("s of audio"))
        return render(transcript, fmt)

    _per_file(files, fmt, output_dir, work)


def ocr(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[
        str,
        typer.Option("--format", "-f", help="txt, json, hocr, md (Markdown), html (the tables) or pdf (searchable)."),
    ] = "txt",
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
    engine: Annotated[
        str | None,
        typer.Option(help="auto, ppocr, tesseract or triton (PP-OCR on a Triton server) [STREAMPROCESS_OCR_ENGINE]."),
    ] = None,
    triton_url: Annotated[
        str | None,
        typer.Option(
            help="Triton server for --engine triton: http://host:port or grpc://host:port [STREAMPROCESS_TRITON_URL]."
        ),
    ] = None,
    dpi: Annotated[float | None, typer.Option(help="PDF rendering resolution [STREAMPROCESS_OCR_DPI].")] = None,
    text_layer: Annotated[bool | None, typer.Option(help="Use a PDF page's own text when it has some.")] = None,
    orientation: Annotated[bool | None, typer.Option(help="Turn pages upright first (Tesseract OSD).")] = None,
) -> None:
    """OCR images and PDFs here and now, without any service."""
    import tempfile

    from ..ocr import OcrOptions
    from ..ocr.formats import FORMATS, TEXT_RENDERERS, write_searchable_pdf
    from ..processors.ocr import default_options, engine_from

    if fmt not in FORMATS:
        err.print(f"[red]--format must be one of {', '.join(FORMATS)}[/red]")
        raise typer.Exit(2)
    if fmt == "pdf" and output_dir is None:
        err.print("[red]--format pdf writes files: give --output-dir[/red]")
        raise typer.Exit(2)
    settings = settings_from(triton_url=triton_url)
    given = {"languages": lang, "engine": engine, "dpi": dpi, "text_layer": text_layer, "orientation": orientation}
    try:
        options = OcrOptions.from_mapping(given, default_options(settings))
        ocr_engine = engine_from(settings)
        ocr_engine.check(options)
    except StreamProcessError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None

    with tempfile.TemporaryDirectory(prefix="sp-ocr-") as tmp:

        def work(f: Path, progress_in: ProgressIn) -> str | None:
            images: list[Path] = []

            def keep(page: PageImage, result: Page) -> None:
                if fmt == "pdf":
                    images.append(Path(tmp) / f"{f.stem}-{page.index:05d}.jpg")
                    page.image.save(images[-1], quality=90)

            doc = ocr_engine.process(f, options, on_page=keep, progress=progress_in("pages"))
            for page in doc.pages:
                for warning in page.warnings:
                    say(f"{f.name} page {page.index}: warning: {warning}", style="yellow")
            if fmt == "pdf":
                assert output_dir is not None
                write_searchable_pdf(doc, images, output_dir / f"{f.stem}.pdf")
                return None
            return TEXT_RENDERERS[fmt](doc)

        _per_file(files, fmt, output_dir, work)
