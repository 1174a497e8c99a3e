"""What a processor is: a synchronous function of one local input file to result files.

Processors know nothing of queues, stores or HTTP. The worker downloads the input, calls :meth:`Processor.process`
in a thread, uploads the files it names, and records the summary; engines (STT, OCR) plug in through
:mod:`streamprocess.processors` without touching the backbone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..progress import Progress, ProgressFn


@dataclass
class JobContext:
    job_id: str
    kind: str  # a name in kinds.KINDS
    input_path: Path
    media_type: str
    options: dict[str, Any]
    output_dir: Path
    source_key: str
    on_progress: Callable[[Progress], None] | None = None  # the worker's: keeps the newest report

    def report_progress(self, done: float, total: float | None = None, unit: str = "seconds") -> None:
        """Thread-safe; the worker copies the latest value into the job record about once a second."""
        if self.on_progress is not None:
            self.on_progress(Progress(done=done, total=total, unit=unit))

    def progress_in(self, unit: str) -> ProgressFn:
        """A :data:`~streamprocess.progress.ProgressFn` for an engine, reporting in ``unit`` (``pages``)."""
        return lambda done, total: self.report_progress(done, total, unit)

    def output(self, name: str) -> Path:
        """Where to write the result file ``name`` (e.g. ``transcript.json``)."""
        if "/" in name or name in ("", ".", ".."):
            raise ValueError(f"result name {name!r} must be a plain file name")
        return self.output_dir / name


@dataclass
class ProcessResult:
    outputs: dict[str, Path]  # result name -> file written under ctx.output_dir
    summary: dict[str, Any] = field(default_factory=dict)  # small facts for the job record
    content_types: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Processor(Protocol):
    name: str

    def process(self, ctx: JobContext) -> ProcessResult: ...
