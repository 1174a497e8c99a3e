"""Submitting work and reading it back: what the HTTP API (and other front doors) call.

Everything goes through the backbone: a file is stored under the inbox prefix, its bucket event starts the job,
workers process it, results and the record land in the store. A submission's job id is chosen here, before the
object lands, and travels with it as object metadata (``x-amz-meta-job-id``), so a client can poll at once.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .errors import PermanentError, StreamProcessError
from .jobs import JobRecord, JobState, SourceRef
from .media import SNIFF_BYTES, detect
from .runtime import Runtime
from .storage.base import PresignedRequest

#: The result files of each kind, by the format a client asks for.
RESULT_FILES = {
    "stt": {"json": "transcript.json", "txt": "transcript.txt", "srt": "transcript.srt", "vtt": "transcript.vtt"},
    "ocr": {"json": "ocr.json", "txt": "ocr.txt", "hocr": "ocr.hocr", "pdf": "ocr.pdf"},
}
MEDIA_TYPES = {"json": "application/json", "txt": "text/plain; charset=utf-8", "srt": "application/x-subrip",
               "vtt": "text/vtt; charset=utf-8", "hocr": "text/html; charset=utf-8", "pdf": "application/pdf"}


class UnsupportedType(PermanentError):
    code = "unsupported_media_type"


class TooLarge(PermanentError):
    code = "too_large"


class JobNotFound(StreamProcessError):
    code = "job_not_found"


class NotReady(StreamProcessError):
    code = "not_ready"


class NoSuchResult(StreamProcessError):
    code = "no_such_result"


def kind_for(content_type: str) -> str:
    ct = content_type.split(";")[0].strip().lower()
    return "stt" if ct.startswith(("audio/", "video/")) or ct == "application/ogg" else "ocr"


def safe_name(filename: str | None) -> str:
    """A file name safe as the last segment of an object key."""
    name = Path((filename or "").replace("\\", "/")).name
    name = re.sub(r"[^\w.\- ]+", "_", name, flags=re.UNICODE).strip(" .") or "upload"
    return name[:120]


@dataclass
class Upload:
    job_id: str
    key: str
    request: PresignedRequest


class Submissions:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.settings = runtime.settings

    def _check(self, content_type: str | None, size: int | None) -> str:
        if not content_type or not self.settings.content_type_allowed(content_type):
            raise UnsupportedType(f"content type {content_type or '(none)'!r} is not accepted; allowed: "
                                  f"{self.settings.upload_content_types}")
        if size is not None and size > self.settings.upload_max_size:
            raise TooLarge(f"{size} bytes is over the {self.settings.upload_max_size}-byte upload limit")
        return content_type.split(";")[0].strip().lower()

    def _new(self, filename: str | None) -> tuple[str, str]:
        job_id = uuid.uuid4().hex
        return job_id, f"{self.settings.inbox_prefix}uploads/{job_id}/{safe_name(filename)}"

    async def create_upload(self, filename: str | None, content_type: str | None, size: int | None,
                            options: dict[str, str] | None = None) -> Upload:
        """A presigned upload: the job exists (``awaiting_upload``) before the first byte is sent."""
        ct = self._check(content_type, size)
        kind = kind_for(ct)
        job_id, key = self._new(filename)
        metadata = {**(options or {}), "job-id": job_id, "expected-kind": kind}
        request = await self.rt.store.presign(
            "POST" if not self.rt.is_embedded_store else "PUT", key, expires_in=self.settings.upload_url_ttl,
            content_type=ct, max_size=size or self.settings.upload_max_size, metadata=metadata,
        )
        record = JobRecord(job_id=job_id, kind=kind, state=JobState.awaiting_upload,
                           source=SourceRef(bucket=self.settings.bucket, key=key, content_type=ct),
                           options=options or {})
        await self.rt.jobs.update(job_id, lambda existing: record if existing is None else None)
        return Upload(job_id=job_id, key=key, request=request)

    async def submit(self, path: Path, filename: str | None, kind: str, options: dict[str, str] | None = None,
                     content_type: str | None = None) -> str:
        """Store a file a front door received; its bucket event starts the job. Returns the job id. The content
        type is sniffed from the bytes unless given (clients often send none, or a wrong one)."""
        if content_type is None:
            with open(path, "rb") as f:
                content_type = detect(f.read(SNIFF_BYTES), filename).mime
        ct = self._check(content_type, path.stat().st_size)
        job_id, key = self._new(filename)
        await self.rt.store.put(key, path, content_type=ct,
                                metadata={**(options or {}), "job-id": job_id, "expected-kind": kind})
        return job_id

    async def submit_bytes(self, content: bytes, filename: str | None, kind: str,
                           options: dict[str, str] | None = None) -> str:
        with tempfile.TemporaryDirectory(prefix="sp-submit-") as tmp:
            path = Path(tmp) / "file"
            path.write_bytes(content)
            return await self.submit(path, filename, kind, options)

    async def get(self, job_id: str) -> JobRecord:
        record = await self.rt.jobs.get(job_id)
        if record is None:
            raise JobNotFound(f"no job {job_id}")
        return record

    async def wait(self, job_id: str, timeout: float) -> JobRecord:
        """The record once the job has ended, or as it is when ``timeout`` runs out."""
        deadline = time.monotonic() + min(timeout, self.settings.wait_max)
        while True:
            record = await self.rt.jobs.get(job_id)
            if record is not None and record.state in (JobState.succeeded, JobState.failed):
                return record
            if time.monotonic() >= deadline:
                return record if record is not None else await self.get(job_id)
            await asyncio.sleep(0.1)

    async def result(self, record: JobRecord, fmt: str) -> tuple[bytes, str]:
        if record.state is not JobState.succeeded:
            raise NotReady(f"job {record.job_id} is {record.state}" +
                           (f": {record.error.code}: {record.error.message}" if record.error else ""))
        formats = RESULT_FILES.get(record.kind, {})
        if fmt not in formats:
            raise NoSuchResult(f"{record.kind} jobs have results in {', '.join(formats)}, not {fmt!r}")
        key = record.results.get(formats[fmt])
        if key is None:
            raise NoSuchResult(f"job {record.job_id} has no {formats[fmt]}")
        return await self.rt.result_store.get(key), MEDIA_TYPES[fmt]
