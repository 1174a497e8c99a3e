"""The event router: bucket events in, jobs out.

For each ``ObjectCreated`` record under the inbox prefix it reads the object's first bytes, detects the media
kind from them, and sends a :class:`~streamprocess.jobs.JobMessage` to the ``stt`` or ``ocr`` queue (so the two
scale independently), then writes the job record (``queued``). Everything else is skipped with a reason:
other buckets, keys outside the inbox (the recursion guard: results and job records can never start a job),
folder markers, deleted objects, and jobs that already exist. Every event it accepts is archived first
(:mod:`.archive`), and :meth:`EventRouter.resolve` (what an event asks for, changing nothing) is what
``streamprocess replay`` resolves events with too (:mod:`.replay`).

An input that cannot be processed (not media, too large) gets a ``failed`` job record saying why, and the event
goes to the dead-letter queue. The same code runs in the worker (embedded, Redis, SQS) and in the Lambda
handler ``functions/ingest.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .archive import EventArchive
from .errors import ErrorCode, FileTooLarge, ObjectNotFound, PermanentError, StreamProcessError, UnsupportedMedia
from .events import S3EventRecord, parse_records
from .jobs import JobMessage, JobRecord, JobStore, SourceRef, is_job_id, job_id_for
from .kinds import EVENTS_QUEUE, KINDS
from .media import SNIFF_BYTES, detect
from .metrics import EVENTS_RECEIVED
from .queues.base import Message, Queue
from .storage.base import ObjectStore
from .worker import Action, Outcome, RetryPolicy, as_error

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


@dataclass(frozen=True)
class Rejection:
    """An input that can never be processed as it is (not media, too large, unreadable): what its failed record
    says."""

    source: SourceRef
    version: str
    kind: str
    error: StreamProcessError
    record: S3EventRecord
    pinned: str | None = None


class RejectedInputs(PermanentError):
    code = ErrorCode.REJECTED_INPUT


class EventRouter:
    label = EVENTS_QUEUE

    def __init__(
        self,
        *,
        store: ObjectStore,
        jobs: JobStore,
        queues: Mapping[str, Queue],
        inbox_prefix: str,
        max_file_size: int,
        tenant: str | None = None,
        archive: EventArchive | None = None,
    ) -> None:
        self.store = store
        self.archive = archive  # where accepted events are kept for replay (None: not kept)
        self.tenant = tenant  # the tenant that drop-folder and bucket-event jobs belong to
        self.jobs = jobs
        self.queues = queues
        self.inbox_prefix = inbox_prefix
        self.max_file_size = max_file_size

    async def route_payload(self, payload: str | bytes | dict[str, Any]) -> list[Routed]:
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
        log.log(
            level,
            "event %s %r → %s%s",
            record.event_name,
            key,
            routed.outcome,
            f" ({routed.reason})" if routed.reason else f" as {routed.kind} job {routed.job_id}",
        )
        return routed

    async def _route(self, record: S3EventRecord, key: str) -> Routed:
        resolved = await self.resolve(record)
        if isinstance(resolved, Routed):
            return resolved
        if isinstance(resolved, Rejection):
            return await self._reject(resolved)
        message = resolved
        # Record, send, then mark dispatched: a crash between the steps leaves an undispatched record, which the
        # redelivered event sends again (a duplicate message is harmless: workers claim jobs atomically).
        _, why_not = await self.jobs.enqueue(message, tenant=self.tenant)
        if why_not:
            return Routed(key, "duplicate", message.job_id, message.kind, reason=why_not)
        await self.queues[message.kind].send(message.model_dump_json())
        await self.jobs.dispatched(message.job_id)
        return Routed(key, "queued", message.job_id, message.kind)

    def accepts(self, record: S3EventRecord) -> Routed | None:
        """None when ``record`` is an event that starts a job (an object created under the inbox), else why not."""
        key = record.key
        if not record.is_object_created:
            return Routed(key, "skipped", reason=f"event {record.event_name} does not start jobs")
        if record.bucket != self.store.bucket:
            return Routed(key, "skipped", reason=f"bucket {record.bucket!r} is not the inbox bucket")
        if not key.startswith(self.inbox_prefix):
            return Routed(key, "skipped", reason=f"outside the inbox prefix {self.inbox_prefix!r}")
        if key.endswith("/"):
            return Routed(key, "skipped", reason="folder marker")
        return None

    async def resolve(self, record: S3EventRecord, *, archive: bool = True) -> JobMessage | Routed | Rejection:
        """What an event asks for, changing no job: the job message to send, a :class:`Routed` saying why nothing
        (skipped), or a :class:`Rejection` (an input that cannot be processed). An accepted event is archived
        first (``archive``), so an event that was routed can always be replayed."""
        if (skipped := self.accepts(record)) is not None:
            return skipped
        key = record.key
        if archive and self.archive is not None:
            await self.archive.put(record)
        try:
            info = await self.store.head(key)
            head = await self.store.get(key, byte_range=(0, SNIFF_BYTES - 1))
        except ObjectNotFound:
            return Routed(key, "skipped", reason="the object no longer exists")
        except PermanentError as e:  # a key the store refuses, or an object that cannot be read (a link loop)
            source = SourceRef(bucket=record.bucket, key=key, version_id=record.version_id, etag=record.etag)
            return Rejection(source, record.version_id or record.etag or "", "unsupported", e, record)
        version = record.version_id or record.etag or info.etag
        source = SourceRef(
            bucket=record.bucket,
            key=key,
            version_id=record.version_id,
            etag=record.etag or info.etag,
            size=info.size,
            content_type=info.content_type,
        )
        # An upload handed out by the API carries its job id (known before the upload) and the kind it was sent as.
        pinned = info.metadata.get("job-id")
        pinned = pinned if pinned and is_job_id(pinned) else None
        try:
            media = detect(head, key)
        except PermanentError as e:
            return Rejection(source, version, "unsupported", e, record, pinned)
        expected = info.metadata.get("expected-kind")
        if expected and expected != media.kind:
            needs = KINDS[expected].accepts if expected in KINDS else expected
            unsupported = UnsupportedMedia(
                f"the file is {KINDS[media.kind].accepts} ({media.mime}), but was sent for {expected} (which needs "
                f"{needs})"
            )
            return Rejection(source, version, media.kind, unsupported, record, pinned)
        if info.size > self.max_file_size:
            error = FileTooLarge(f"{info.size} bytes is over the {self.max_file_size}-byte limit")
            return Rejection(source, version, media.kind, error, record, pinned)
        return JobMessage(
            job_id=pinned or job_id_for(record.bucket, key, version, media.kind),
            kind=media.kind,
            source=source,
            media_type=media.mime,
            options={k: v for k, v in info.metadata.items() if k not in RESERVED_METADATA},
            event_time=record.event_time,
        )

    def rejected_job_id(self, r: Rejection) -> str:
        return r.pinned or job_id_for(r.source.bucket, r.source.key, r.version, r.kind)

    async def _reject(self, r: Rejection) -> Routed:
        job_id = self.rejected_job_id(r)
        await self.jobs.reject(
            job_id,
            r.error,
            tenant=self.tenant,
            create=lambda: JobRecord(job_id=job_id, kind=r.kind, source=r.source, event_time=r.record.event_time),
        )
        return Routed(r.source.key, "failed", job_id, r.kind, reason=str(r.error))

    # ------------------------------------------------------------------ Handler (worker runtime)
    async def handle(self, message: Message, policy: RetryPolicy) -> Outcome:
        """Route an event message. Routing is idempotent, so a router killed mid-way just routes it again."""
        if message.receive_count > policy.max_attempts:
            # Earlier routers died with it (killed, crashed): the queue moves it to its dead-letter queue on its own,
            # unlogged, if this delivery is lost too, so say now what it is.
            log.warning(
                "event message %s (keys: %s) is on delivery %d: the routers of the earlier ones died; if this "
                "one is lost too, the queue dead-letters it",
                message.id,
                ", ".join(event_keys(message.body)) or "none readable",
                message.receive_count,
            )
        try:
            await self.route_payload(message.body)
        except RejectedInputs as e:  # each unusable input already has its failed job record
            return Outcome.dead(str(e))
        except Exception as e:
            error = as_error(e)
            outcome = policy.after(error, message.receive_count)
            if outcome.action is Action.dead_letter:
                log.error(
                    "event message %s (keys: %s) failed for good: %s",
                    message.id,
                    ", ".join(event_keys(message.body)) or "none readable",
                    error,
                )
            else:
                log.warning(
                    "event message %s: routing failed (%s); retrying in %.1f s", message.id, error, outcome.delay
                )
            return outcome
        return Outcome.done()


def event_keys(body: str) -> list[str]:
    """The object keys an event message names (for logs and the dead-letter listing); empty if unreadable."""
    try:
        return [r.key for r in parse_records(body)]
    except Exception:
        return []
