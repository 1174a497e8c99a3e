"""Submitting work and reading it back: what the HTTP API (and other front doors) call.

Everything goes through the backbone: a file is stored under the inbox prefix, its bucket event starts the job,
workers process it, results and the record land in the store. A submission's job id is chosen here, before the
object lands, and travels with it as object metadata (``x-amz-meta-job-id``); its job record (with the tenant) is
written before the object, so a client can poll at once.

Every job belongs to the tenant that submitted it, and :meth:`Submissions.get` shows it to that tenant only.
A presigned upload URL uploads once, and a job whose upload never came fails (``upload_expired``) once its URL has
expired: when it is read, or by :meth:`Submissions.sweep_uploads` in the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from .errors import ErrorCode, PermanentError, StreamProcessError
from .jobs import JobRecord, JobState, JobStore, SourceRef
from .kinds import KINDS, OCR, STT, JobKind, kind_for_content_type
from .media import SNIFF_BYTES, detect
from .ocr.types import Document
from .storage.base import ObjectStore, PresignedRequest
from .stt.types import Transcript
from .timestamps import now_utc

log = logging.getLogger(__name__)

#: Where the service keeps a marker per upload handed out, under the jobs prefix, until its job leaves
#: ``awaiting_upload`` (so the expiry sweep reads only those jobs, not every record).
PENDING_UPLOADS = "awaiting-upload/"


class UnsupportedType(PermanentError):
    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE


class TooLarge(PermanentError):
    code = ErrorCode.TOO_LARGE


class JobNotFound(StreamProcessError):
    code = ErrorCode.JOB_NOT_FOUND


class NotReady(StreamProcessError):
    code = ErrorCode.NOT_READY


class NoSuchResult(StreamProcessError):
    code = ErrorCode.NO_SUCH_RESULT


class UploadUsed(PermanentError):
    """An upload URL was used already (it uploads once), or its job no longer waits for an upload."""

    code = ErrorCode.UPLOAD_USED


class SizeRequired(PermanentError):
    code = ErrorCode.SIZE_REQUIRED


class SubmitSettings(Protocol):
    """The settings values submissions use (``Settings`` has them all)."""

    @property
    def bucket(self) -> str: ...  # where submitted files land, under the inbox prefix
    @property
    def inbox_prefix(self) -> str: ...
    @property
    def jobs_prefix(self) -> str: ...
    @property
    def upload_max_size(self) -> int: ...
    @property
    def upload_content_types(self) -> str: ...
    @property
    def upload_url_ttl(self) -> int: ...
    @property
    def wait_max(self) -> float: ...

    def content_type_allowed(self, content_type: str | None) -> bool: ...


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
    """Submitting files and reading jobs back, over the source store, the result store and the job store.
    ``presign_needs_size``: upload URLs are signed for an exact size (S3); the embedded store's take any size up to
    the limit."""

    def __init__(
        self,
        store: ObjectStore,
        result_store: ObjectStore,
        jobs: JobStore,
        settings: SubmitSettings,
        *,
        presign_needs_size: bool,
    ) -> None:
        self.store = store
        self.result_store = result_store
        self.jobs = jobs
        self.settings = settings
        self.presign_needs_size = presign_needs_size

    def _check(self, content_type: str | None, size: int | None) -> str:
        if not content_type or not self.settings.content_type_allowed(content_type):
            raise UnsupportedType(
                f"content type {content_type or '(none)'!r} is not accepted; allowed: "
                f"{self.settings.upload_content_types}"
            )
        if size is not None and size > self.settings.upload_max_size:
            raise TooLarge(f"{size} bytes is over the {self.settings.upload_max_size}-byte upload limit")
        return content_type.split(";")[0].strip().lower()

    def _new(self, filename: str | None) -> tuple[str, str]:
        job_id = uuid.uuid4().hex
        return job_id, f"{self.settings.inbox_prefix}uploads/{job_id}/{safe_name(filename)}"

    async def create_upload(
        self,
        filename: str | None,
        content_type: str | None,
        size: int | None,
        options: dict[str, str] | None = None,
        *,
        tenant: str,
    ) -> Upload:
        """A presigned upload: the job exists (``awaiting_upload`` until the URL expires) before the first byte is
        sent. The URL is a PUT that uploads once: the embedded store's PUT route creates the object only if it
        is not there; on S3 the URL signs ``If-None-Match: *`` (and the exact ``Content-Length``, so S3 needs the
        size), and the storage refuses a second upload."""
        ct = self._check(content_type, size)
        if size is None and self.presign_needs_size:
            raise SizeRequired("give the file's size: an S3 upload URL is signed for its exact Content-Length")
        kind = kind_for_content_type(ct).name
        job_id, key = self._new(filename)
        metadata = {**(options or {}), "job-id": job_id, "expected-kind": kind}
        request = await self.store.presign(
            "PUT",
            key,
            expires_in=self.settings.upload_url_ttl,
            content_type=ct,
            max_size=size or self.settings.upload_max_size,
            metadata=metadata,
            size=size,
            create_only=True,
        )
        record = JobRecord(
            job_id=job_id,
            kind=kind,
            state=JobState.awaiting_upload,
            tenant=tenant,
            source=SourceRef(bucket=self.settings.bucket, key=key, content_type=ct),
            options=options or {},
            upload_expires_at=request.expires_at,
        )
        await self.jobs.create(record)
        await self.result_store.put(self._pending(job_id), b"", content_type="text/plain")
        return Upload(job_id=job_id, key=key, request=request)

    def _pending(self, job_id: str = "") -> str:
        return f"{self.settings.jobs_prefix}{PENDING_UPLOADS}{job_id}"

    async def check_upload(self, job_id: str | None) -> None:
        """Raises :class:`UploadUsed` when the job of an upload URL no longer waits for its upload (the URL was
        used, or the job ended). The embedded store's PUT route asks before and after receiving the body."""
        record = await self.jobs.get(job_id) if job_id else None
        if record is not None and (record := await self._fresh(record)).state is not JobState.awaiting_upload:
            if record.error is not None and record.error.code == ErrorCode.UPLOAD_EXPIRED:
                raise UploadUsed(
                    "this upload URL expired before an upload came; its job failed (upload_expired)",
                    code=ErrorCode.UPLOAD_EXPIRED,
                )
            raise UploadUsed("this upload URL was used already: a presigned upload URL uploads once")

    async def submit(
        self,
        path: Path,
        filename: str | None,
        kind: str,
        options: dict[str, str] | None = None,
        content_type: str | None = None,
        *,
        tenant: str,
    ) -> str:
        """Store a file a front door received for ``tenant``; its bucket event starts the job. Returns the job id.
        The content type is sniffed from the bytes unless given (clients often send none, or a wrong one)."""
        if content_type is None:
            with open(path, "rb") as f:
                content_type = detect(f.read(SNIFF_BYTES), filename).mime
        ct = self._check(content_type, path.stat().st_size)
        job_id, key = self._new(filename)
        # The record first (queued, not dispatched, with its tenant): the job id answers GET /status the moment
        # the caller has it, and the router's enqueue finds this record and keeps its tenant.
        record = JobRecord(
            job_id=job_id,
            kind=kind,
            state=JobState.queued,
            tenant=tenant,
            options=options or {},
            source=SourceRef(bucket=self.settings.bucket, key=key, content_type=ct),
        )
        await self.jobs.create(record)
        try:
            await self.store.put(
                key, path, content_type=ct, metadata={**(options or {}), "job-id": job_id, "expected-kind": kind}
            )
        except Exception as e:
            with contextlib.suppress(Exception):
                if not await self.store.exists(key):  # else it landed, and its event (or the watcher) routes it
                    error = StreamProcessError(f"the file could not be stored: {e}", code=ErrorCode.UPLOAD_FAILED)
                    await self.jobs.reject(job_id, error, create=lambda: record)
            raise
        return job_id

    async def submit_bytes(
        self, content: bytes, filename: str | None, kind: str, options: dict[str, str] | None = None, *, tenant: str
    ) -> str:
        with tempfile.TemporaryDirectory(prefix="sp-submit-") as tmp:
            path = Path(tmp) / "file"
            path.write_bytes(content)
            return await self.submit(path, filename, kind, options, tenant=tenant)

    async def get(self, job_id: str, tenant: str) -> JobRecord:
        """The job's record, for the tenant it belongs to. Another tenant's job (or one without a tenant) is
        :class:`JobNotFound` word for word as an unknown id, so a job id (computable for a drop-folder file)
        tells nothing about the job, not even that it exists."""
        record = await self.jobs.get(job_id)
        if record is None or record.tenant is None or record.tenant != tenant:
            raise JobNotFound(f"no job {job_id}")
        return await self._fresh(record)

    async def wait(self, job_id: str, timeout: float, tenant: str) -> JobRecord:
        """The record once the job has ended, or as it is when ``timeout`` runs out."""
        deadline = time.monotonic() + min(timeout, self.settings.wait_max)
        while True:
            record = await self.get(job_id, tenant)
            if record.terminal or time.monotonic() >= deadline:
                return record
            await asyncio.sleep(0.1)

    async def _fresh(self, record: JobRecord) -> JobRecord:
        """``record``, or its job failed ``upload_expired`` when it still awaits an upload whose URL has expired
        and whose object is not there."""
        if (
            record.state is JobState.awaiting_upload
            and record.upload_expires_at is not None
            and record.upload_expires_at <= now_utc()
            and not await self.store.exists(record.source.key)
        ):
            record = await self.jobs.expire_upload(record.job_id) or record
        return record

    async def expire_uploads(self) -> int:
        """One sweep over the uploads handed out whose jobs still await them: those past their URL's expiry fail
        (``upload_expired``); a marker goes once its job has left ``awaiting_upload``. Returns how many failed."""
        prefix, expired = self._pending(), 0
        async for info in self.result_store.list(prefix):
            record = await self.jobs.get(info.key.removeprefix(prefix))
            if record is not None and record.state is JobState.awaiting_upload:
                record = await self._fresh(record)
                if record.state is JobState.awaiting_upload:
                    continue  # not expired yet (or the object landed, and the router has yet to take it)
                expired += record.error is not None and record.error.code == ErrorCode.UPLOAD_EXPIRED
            await self.result_store.delete(info.key)
        return expired

    async def sweep_uploads(self) -> None:
        """:meth:`expire_uploads` every half upload-URL lifetime (at most 30 s), until cancelled: the service's
        background task, so a job whose upload never came fails even when nobody reads it."""
        interval = min(30.0, max(0.5, self.settings.upload_url_ttl / 2))
        while True:
            try:
                if n := await self.expire_uploads():
                    log.info("%d upload(s) never came; their jobs failed (upload_expired)", n)
            except Exception:
                log.exception("the sweep of expired uploads failed; trying again")
            await asyncio.sleep(interval)

    async def result(self, record: JobRecord, fmt: str) -> tuple[bytes, str]:
        """A succeeded job's result file in format ``fmt``, and its media type."""
        if record.state is not JobState.succeeded:
            raise NotReady(
                f"job {record.job_id} is {record.state}"
                + (f": {record.error.code}: {record.error.message}" if record.error else "")
            )
        kind = KINDS.get(record.kind)
        result = kind.result(fmt) if kind is not None else None
        if result is None:
            formats = ", ".join(kind.formats) if kind is not None else ""
            raise NoSuchResult(f"{record.kind} jobs have results in {formats}, not {fmt!r}")
        key = record.results.get(result.name)
        if key is None:
            raise NoSuchResult(f"job {record.job_id} has no {result.name}")
        return await self.result_store.get(key), result.media_type

    async def _json(self, record: JobRecord, kind: JobKind) -> bytes:
        if record.kind != kind.name:
            raise NoSuchResult(f"job {record.job_id} is an {record.kind} job, not {kind.name}")
        return (await self.result(record, "json"))[0]

    async def transcript(self, record: JobRecord) -> Transcript:
        """A succeeded speech job's transcript."""
        data = await self._json(record, STT)
        try:
            return Transcript.from_json(data)
        except ValidationError as e:  # a custom processor wrote something else: say so rather than a bare 500
            raise StreamProcessError(f"job {record.job_id}'s transcript.json is not a transcript: {e}") from None

    async def document(self, record: JobRecord) -> Document:
        """A succeeded OCR job's document."""
        data = await self._json(record, OCR)
        try:
            return Document.from_json(data)
        except ValidationError as e:
            raise StreamProcessError(f"job {record.job_id}'s ocr.json is not an OCR document: {e}") from None
