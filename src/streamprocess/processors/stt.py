"""The ``stt`` processor: a transcription job writes transcript.json, .txt, .srt and .vtt.

Options come from the job (the object's ``x-amz-meta-*`` metadata, e.g. ``language``, ``task``,
``word-timestamps``, ``hotwords``), over the ``STREAMPROCESS_STT_*`` defaults. The doors that queue a job refuse
at once, with :func:`check_options`, what the job would be refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import Settings
from ..kinds import STT
from ..stt import SttEngine, TranscribeOptions, models
from ..stt.formats import render
from .base import JobContext, ProcessResult


def default_options(settings: Settings) -> TranscribeOptions:
    return TranscribeOptions(
        language=settings.stt_language,
        vad_filter=settings.stt_vad_filter,
        word_timestamps=settings.stt_word_timestamps,
        beam_size=settings.stt_beam_size,
        batched=settings.stt_batched,
        batch_size=settings.stt_batch_size,
    )


def engine_from(settings: Settings) -> SttEngine:
    return SttEngine(
        settings.stt_model,
        device=settings.stt_device,
        compute_type=settings.stt_compute_type,
        cpu_threads=settings.stt_cpu_threads,
        max_duration=settings.stt_max_duration,
        models_dir=settings.models_dir,
    )


def check_options(settings: Settings, values: Mapping[str, Any]) -> TranscribeOptions:
    """A job's options as the worker will read them, refused now (:class:`~streamprocess.stt.options.InvalidOptions`:
    ``invalid_options``, ``unsupported_language``, ``unsupported_task``) when they do not validate or ask the
    configured model for a language or task it cannot do; for the doors that submit jobs (REST, presigned uploads,
    OpenAI). A processor other than ``stt`` may take anything: only the options are validated for it."""
    options = TranscribeOptions.from_mapping(values, default_options(settings))
    if settings.stt_processor == SttProcessor.name:  # the built-in processor, on the configured model
        models.check_unloaded(settings.stt_model, settings.models_dir, options.language, options.task)
    return options


class SttProcessor:
    name = "stt"

    def __init__(self, settings: Settings) -> None:
        self.engine = engine_from(settings)
        self.defaults = default_options(settings)

    def process(self, ctx: JobContext) -> ProcessResult:
        options = TranscribeOptions.from_mapping(ctx.options, self.defaults)
        transcript = self.engine.transcribe(ctx.input_path, options, progress=ctx.progress_in("seconds"))
        outputs: dict[str, Path] = {}
        for result in STT.results:
            outputs[result.name] = ctx.output(result.name)
            outputs[result.name].write_text(render(transcript, result.format), encoding="utf-8")
        summary = {
            "language": transcript.language,
            "language_probability": transcript.language_probability,
            "task": options.task,
            "duration": transcript.duration,
            "segments": len(transcript.segments),
            "model": transcript.model,
            "real_time_factor": round(transcript.real_time_factor or 0.0, 4),
        }
        return ProcessResult(outputs=outputs, summary=summary, content_types=STT.media_types())
