"""The kinds of job — speech-to-text and OCR — in one registry.

Everything that differs by kind is written here once: the job queue, the setting that picks the processor, what
the kind accepts, its result files (format → file name → media type) and where results are kept. Queues, the
router, the processors, the submission service and every door look the kind up here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

KindName = Literal["stt", "ocr"]

#: The queue of bucket events (the router's input); each kind has its own job queue, named after it.
EVENTS_QUEUE = "events"


@dataclass(frozen=True)
class ResultFile:
    format: str  # what a client asks for: json, txt, srt, …
    name: str  # the file under the job's results folder
    media_type: str


@dataclass(frozen=True)
class JobKind:
    name: KindName
    #: The ``Settings`` field that names this kind's processor.
    processor_setting: str
    #: What the kind takes, in words (error messages).
    accepts: str
    #: Content-type prefixes (and exact types) a client may declare for it.
    content_types: tuple[str, ...]
    results: tuple[ResultFile, ...]

    @property
    def queue(self) -> str:
        return self.name

    @property
    def formats(self) -> tuple[str, ...]:
        return tuple(r.format for r in self.results)

    def result(self, fmt: str) -> ResultFile | None:
        return next((r for r in self.results if r.format == fmt), None)

    def result_named(self, name: str) -> ResultFile | None:
        return next((r for r in self.results if r.name == name), None)

    def media_types(self) -> dict[str, str]:
        """{result file name: media type}."""
        return {r.name: r.media_type for r in self.results}

    def accepts_content_type(self, content_type: str) -> bool:
        ct = content_type.split(";")[0].strip().lower()
        return any(ct == t or (t.endswith("/") and ct.startswith(t)) for t in self.content_types)


def result_key(results_prefix: str, job_id: str, name: str) -> str:
    """The object key of one result file of a job."""
    return f"{results_prefix}{job_id}/{name}"


_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"

STT = JobKind(
    name="stt",
    processor_setting="stt_processor",
    accepts="audio",
    content_types=("audio/", "video/", "application/ogg"),
    results=(
        ResultFile("json", "transcript.json", _JSON),
        ResultFile("txt", "transcript.txt", _TEXT),
        ResultFile("srt", "transcript.srt", "application/x-subrip; charset=utf-8"),
        ResultFile("vtt", "transcript.vtt", "text/vtt; charset=utf-8"),
    ),
)
OCR = JobKind(
    name="ocr",
    processor_setting="ocr_processor",
    accepts="an image or PDF",
    content_types=("image/", "application/pdf"),
    results=(
        ResultFile("json", "ocr.json", _JSON),
        ResultFile("txt", "ocr.txt", _TEXT),
        ResultFile("hocr", "ocr.hocr", "text/html; charset=utf-8"),
        ResultFile("md", "ocr.md", "text/markdown; charset=utf-8"),  # the document in reading order, tables too
        ResultFile("html", "tables.html", "text/html; charset=utf-8"),  # every table, as HTML tables
        ResultFile("pdf", "ocr.pdf", "application/pdf"),
    ),
)

KINDS: dict[str, JobKind] = {k.name: k for k in (STT, OCR)}
#: Every queue: the events queue, then one per kind.
QUEUE_ROLES: tuple[str, ...] = (EVENTS_QUEUE, *KINDS)


def kind_for_content_type(content_type: str) -> JobKind:
    """The kind a declared content type goes to (audio and video → stt; anything else → ocr, whose input checks
    say what is wrong)."""
    return STT if STT.accepts_content_type(content_type) else OCR
