"""The event router: bucket events in, jobs out.

For each ``ObjectCreated`` record under the inbox prefix it reads the object's first bytes, detects the media
kind from them, and sends a :class:`~streamprocess.jobs.JobMessage` to the ``stt`` or ``ocr`` queue (so the two
scale independently), then writes the job record (``queued``). Everything else is skipped with a reason:
other buckets, keys outside the inbox (the recursion guard: results and job records can never start a job),
folder markers, deleted objects, and jobs that already exist.

An input that cannot be processed (not media, too large) gets a ``failed`` job record saying why, and the event
goes to the dead-letter queue. The same code runs in the worker (embedded, Redis, SQS) and in the Lambda
handler ``functions/ingest.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import FileTooLarge, ObjectNotFound, PermanentError, StreamProcessError, UnsupportedMedia
from .events import S3EventRecord, parse_records
from .jobs import JobError, JobMessage, JobRecord, JobState, JobStore, SourceRef, is_job_id, job_id_for, now_utc
from .media import SNIFF_BYTES, detect
from .metrics import EVENTS_RECEIVED
from .queues.base import Message, Queue
from .storage.base import ObjectStore

log = logging.getLogger(__name__)

#: Object metadata the API sets on uploads: not processing options.
RESERVED_METADATA = ("job-id", "expected-kind")


@dataclass(frozen=True)
class Routed:
    key: str
    outcome: str  # queued, duplicate, failed, skipped
    job_id: str | None = None
    kind: str | None = None
    reason: str | None = None


class RejectedInputs(PermanentError):
    code = "rejected_input"


class EventRouter:
    label = "events"

    def __init__(
        self,
        *,
        store: ObjectStore,
        jobs: JobStore,
        queues: Mapping[str, Queue],
        inbox_prefix: str = "inbox/",
        max_file_size: int = 2 << 30,
    ) -> None:
        self.store = store
        self.jobs = jobs
        self.queues = queues
        self.inbox_prefix = inbox_prefix
        self.max_file_size = max_file_size

    async def route_payload(self, payload: str | bytes | dict) -> list[Routed]:  # type: ignore[type-arg]
        """Route every record in an event payload (any envelope). Raises :class:`RejectedInputs` after routing
        the rest if some input was unusable, so the event is dead-lettered next to its failed job record."""
        routed = [await self.route(r) for r in parse_records(payload)]
        failed = [r for r in routed if r.outcome == "failed"]
        if failed:
            raise RejectedInputs("; ".join(f"{r.key}: {r.reason}" for r in failed))
        return routed

    async def route(self, record: S3EventRecord) -> Routed:
        key = record.key
        routed = await self._route(record, key)
        EVENTS_RECEIVED.labels(routed.outcome).inc()
        level = logging.WARNING if routed.outcome == "failed" else logging.INFO
        log.log(level, "event %s %r → %s%s", record.event_name, key, routed.outcome,
                f" ({routed.reason})" if routed.reason else f" as {routed.kind} job {routed.job_id}")
        return routed

    async def _route(self, record: S3EventRecord, key: str) -> Routed:
        if not record.is_object_created:
            return Routed(key, "skipped", reason=f"event {record.event_name} does not start jobs")
        if record.bucket != self.store.bucket:
            return Routed(key, "skipped", reason=f"bucket {record.bucket!r} is not the inbox bucket")
        if not key.startswith(self.inbox_prefix):
            return Routed(key, "skipped", reason=f"outside the inbox prefix {self.inbox_prefix!r}")
        if key.endswith("/"):
            return Routed(key, "skipped", reason="folder marker")
        try:
            info = await self.store.head(key)
            head = await self.store.get(key, byte_range=(0, SNIFF_BYTES - 1))
        except ObjectNotFound:
            return Routed(key, "skipped", reason="the object no longer exists")
        version = record.version_id or record.etag or info.etag
        source = SourceRef(bucket=record.bucket, key=key, version_id=record.version_id, etag=record.etag or info.etag,
                           size=info.size, content_type=info.content_type)
        # An upload handed out by the API carries its job id (known before the upload) and the kind it was sent as.
        pinned = info.metadata.get("job-id")
        pinned = pinned if pinned and is_job_id(pinned) else None
        try:
            media = detect(head, key)
        except PermanentError as e:
            return await self._reject(source, version, "unsupported", e, record, pinned)
        expected = info.metadata.get("expected-kind")
        if expected and expected != media.kind:
            what = {"stt": "audio", "ocr": "an image or PDF"}
            error = UnsupportedMedia(f"the file is {what.get(media.kind, media.kind)} ({media.mime}), but was sent "
                                     f"for {expected} (which needs {what.get(expected, expected)})")
            return await self._reject(source, version, media.kind, error, record, pinned)
        if info.size > self.max_file_size:
            error = FileTooLarge(f"{info.size} bytes is over the {self.max_file_size}-byte limit")
            return await self._reject(source, version, media.kind, error, record, pinned)

        job_id = pinned or job_id_for(record.bucket, key, version, media.kind)
        message = JobMessage(job_id=job_id, kind=media.kind, source=source, media_type=media.mime,
                             options={k: v for k, v in info.metadata.items() if k not in RESERVED_METADATA},
                             event_time=record.event_time)
        why_not: list[str] = []

        def enqueue(job: JobRecord | None) -> JobRecord | None:
            why_not.clear()
            if job is not None:
                if job.state in (JobState.succeeded, JobState.running) or (
                    job.state is JobState.queued and job.dispatched
                ):
                    why_not.append(f"job {job_id} is already {job.state}")
                elif job.state is JobState.failed and job.error is not None and job.error.permanent:
                    why_not.append(f"job {job_id} failed for good ({job.error.code})")
                if why_not:
                    return None
            job = job or JobRecord.from_message(message)
            job.state, job.error, job.finished_at, job.dispatched = JobState.queued, None, None, False
            job.kind, job.source, job.media_type, job.options = media.kind, source, media.mime, message.options
            job.event_time = record.event_time
            return job

        # Record, send, then mark dispatched: a crash between the steps leaves an undispatched record, which the
        # redelivered event sends again (a duplicate message is harmless: workers claim jobs atomically).
        await self.jobs.update(job_id, enqueue)
        if why_not:
            return Routed(key, "duplicate", job_id, media.kind, reason=why_not[0])
        await self.queues[media.kind].send(message.model_dump_json())

        def dispatched(job: JobRecord | None) -> JobRecord | None:
            if job is None or job.state is not JobState.queued or job.dispatched:
                return None
            job.dispatched = True
            return job

        await self.jobs.update(job_id, dispatched)
        return Routed(key, "queued", job_id, media.kind)

    async def _reject(self, source: SourceRef, version: str, kind: str, error: StreamProcessError,
                      record: S3EventRecord, pinned: str | None = None) -> Routed:
        job_id = pinned or job_id_for(source.bucket, source.key, version, kind)

        def fail(job: JobRecord | None) -> JobRecord | None:
            if job is not None and job.state not in (JobState.queued, JobState.awaiting_upload):
                return None  # already failed (a duplicate event), or somehow done
            job = job or JobRecord(job_id=job_id, kind=kind, source=source, event_time=record.event_time)
            job.state, job.finished_at = JobState.failed, now_utc()
            job.error = JobError(code=error.code, message=error.message, permanent=True, attempt=0)
            return job

        await self.jobs.update(job_id, fail)
        return Routed(source.key, "failed", job_id, kind, reason=str(error))

    # ------------------------------------------------------------------ Handler (worker runtime)
    async def handle(self, message: Message, attempt: int) -> None:
        await self.route_payload(message.body)

    async def give_up(self, message: Message, error: StreamProcessError, attempt: int) -> None:
        if not isinstance(error, RejectedInputs):  # those already have failed job records
            log.error("event %s dead-lettered: %s; body: %.300s", message.id, error, message.body)

    async def will_retry(self, message: Message, error: StreamProcessError, attempt: int, delay: float) -> None:
        pass

    async def released(self, message: Message, attempt: int) -> None:
        pass
