"""Jobs: deterministic ids, the job message on the queue, the job record in the object store, and the job's life.

- :func:`job_id_for` hashes (bucket, key, version or ETag, kind), so every duplicate event for one object
  version maps to one job, and its results to one place.
- :class:`JobMessage` is what the ``stt``/``ocr`` queues carry (``events/schemas/job-message.schema.json``).
- :class:`JobRecord` is ``<jobs_prefix><job_id>.json``: state, tenant, attempts, per-stage timings, progress,
  error code and message, result keys.
- :class:`JobStore` reads and writes records, and is the one home of the job's life: every change of state is
  one of its named transitions, each a compare-and-swap on the record, with its rules written down once here.

The life of a job (``→`` is a transition, ``[..]`` a state)::

    create ─→ [awaiting_upload] ──expire_upload──→ [failed: upload_expired]
      │              │ enqueue
      └───────→ [queued] ──claim──→ [running] ──succeed──→ [succeeded]
                   ↑                │  │ heartbeat (lease)
                   └────release─────┘  └──fail──→ [failed]
    a running job whose lease passed lost its worker: the next claim expires that attempt and takes it over,
    or fails the job (attempts_exhausted) once ``max_attempts`` attempts were used up.

A worker acks a message only when the job is terminal; a claim that finds the job running under another live
lease answers :class:`Busy` (the message is made visible again when that lease runs out), never "done".
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from .errors import ObjectNotFound, StreamProcessError, TransientError, WriteConflict
from .storage.base import ObjectStore
from .timestamps import UTCDateTime, now_utc

JOB_ID_LENGTH = 32


def job_id_for(bucket: str, key: str, version: str | None, kind: str) -> str:
    """A stable id for processing one version of one object as ``kind``."""
    material = "\x00".join([bucket, key, version or "", kind])
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:JOB_ID_LENGTH]


def is_job_id(value: str) -> bool:
    return len(value) == JOB_ID_LENGTH and all(c in "0123456789abcdef" for c in value)


class JobState(StrEnum):
    awaiting_upload = "awaiting_upload"  # a presigned upload was handed out; the object has not landed yet
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class SourceRef(BaseModel):
    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    content_type: str | None = None


class JobMessage(BaseModel):
    """The body of a message on the ``stt`` or ``ocr`` queue."""

    job_id: str
    kind: str
    source: SourceRef
    media_type: str
    options: dict[str, Any] = Field(default_factory=dict)
    event_time: UTCDateTime | None = None  # when the object landed (the bucket event's time)
    enqueued_at: float = Field(default_factory=time.time)


class JobError(BaseModel):
    code: str
    message: str
    permanent: bool
    attempt: int
    at: UTCDateTime = Field(default_factory=now_utc)


class Progress(BaseModel):
    done: float
    total: float | None = None
    unit: str = "seconds"

    @property
    def fraction(self) -> float | None:
        return None if not self.total else min(1.0, self.done / self.total)


class AttemptOutcome(StrEnum):
    succeeded = "succeeded"
    failed = "failed"
    retry = "retry"  # a transient error; the job was given back to its queue with a delay
    released = "released"  # the worker stopped before the job ended (does not use up an attempt)
    expired = "expired"  # the worker vanished (killed, crashed): its lease ran out and the job was taken over


class Attempt(BaseModel):
    attempt: int
    worker: str
    owner: str | None = None  # the attempt's lease owner (worker id + attempt token)
    started_at: UTCDateTime
    ended_at: UTCDateTime | None = None
    outcome: AttemptOutcome | None = None  # None while it runs


class JobRecord(BaseModel):
    job_id: str
    kind: str
    state: JobState = JobState.queued
    tenant: str | None = None  # who submitted it; only that tenant's API keys can see it
    source: SourceRef
    media_type: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 0
    created_at: UTCDateTime = Field(default_factory=now_utc)
    updated_at: UTCDateTime = Field(default_factory=now_utc)
    event_time: UTCDateTime | None = None
    started_at: UTCDateTime | None = None
    finished_at: UTCDateTime | None = None
    upload_expires_at: UTCDateTime | None = None  # awaiting_upload: when the upload URL stops working
    timings: dict[str, float] = Field(default_factory=dict)  # stage -> seconds
    progress: Progress | None = None
    error: JobError | None = None
    results: dict[str, str] = Field(default_factory=dict)  # result name -> object key
    summary: dict[str, Any] = Field(default_factory=dict)  # small facts from the processor
    dispatched: bool = False  # the job message is on its queue
    worker: str | None = None
    lease_owner: str | None = None  # the attempt holding the job while it runs (worker id + attempt token)
    lease_until: float | None = None  # epoch seconds; a running job whose lease passed has lost its worker
    history: list[Attempt] = Field(default_factory=list)
    tries_from: int = 0  # the history entries from here on count against max_attempts (a re-enqueue starts anew)

    @classmethod
    def from_message(cls, msg: JobMessage) -> JobRecord:
        return cls(
            job_id=msg.job_id,
            kind=msg.kind,
            source=msg.source,
            media_type=msg.media_type,
            options=msg.options,
            event_time=msg.event_time,
        )

    @property
    def terminal(self) -> bool:
        return self.state in (JobState.succeeded, JobState.failed)

    def lease_left(self, owner: str = "", now: float | None = None) -> float:
        """Seconds left on another attempt's live lease (0 when the job is not held by anyone else)."""
        if self.state is not JobState.running or self.lease_owner in (None, owner):
            return 0.0
        return max(0.0, (self.lease_until or 0) - (time.time() if now is None else now))

    def held_by_other(self, owner: str) -> bool:
        """Running under a live lease of another attempt (in this process or any other)."""
        return self.lease_left(owner) > 0

    @property
    def tries_used(self) -> int:
        """Attempts that used up a try: all but those released by a stopping worker."""
        return sum(1 for a in self.history[self.tries_from :] if a.outcome is not AttemptOutcome.released)

    def _end_attempt(self, owner: str | None, outcome: AttemptOutcome, when: datetime) -> None:
        """Close the open history entry of ``owner``'s attempt (the newest open one when owner is None)."""
        for entry in reversed(self.history):
            if entry.outcome is None and (owner is None or entry.owner in (None, owner)):
                entry.ended_at, entry.outcome = when, outcome
                return


Mutation = Callable[["JobRecord | None"], "JobRecord | None"]


# ---------------------------------------------------------------------------------------------- claim decisions
@dataclass(frozen=True)
class Claimed:
    """This attempt holds the job now."""

    record: JobRecord
    attempt: int


@dataclass(frozen=True)
class Settled:
    """Nothing to run: the job is terminal already (``reason`` says how); the message can go."""

    record: JobRecord
    reason: str


@dataclass(frozen=True)
class Busy:
    """Another attempt holds a live lease: try again in ``retry_after`` seconds (never ack meanwhile)."""

    record: JobRecord
    retry_after: float


@dataclass(frozen=True)
class Exhausted:
    """Every attempt ended without a result (workers killed): the job is now failed ``attempts_exhausted``."""

    record: JobRecord


Claim = Claimed | Settled | Busy | Exhausted

#: How long after a lease runs out a busy redelivery comes back (clocks of two machines differ a little).
LEASE_MARGIN = 0.5


class JobStore:
    """Job records as JSON objects under a prefix of the output bucket, and the transitions between states.

    Every change goes through :meth:`update`, a compare-and-swap loop on the record's ETag (S3 conditional
    writes; a file lock on the local store), so two workers or routers racing on one job never both win.
    """

    def __init__(self, store: ObjectStore, prefix: str = "jobs/") -> None:
        self.store = store
        self.prefix = prefix

    def key(self, job_id: str) -> str:
        return f"{self.prefix}{job_id}.json"

    async def _read(self, job_id: str) -> tuple[JobRecord | None, str | None]:
        try:
            raw, info = await self.store.read(self.key(job_id))
        except ObjectNotFound:
            return None, None
        return JobRecord.model_validate_json(raw), info.etag

    async def get(self, job_id: str) -> JobRecord | None:
        return (await self._read(job_id))[0]

    async def update(self, job_id: str, mutate: Mutation, *, retries: int = 8) -> JobRecord | None:
        """Apply ``mutate`` to the current record (None if there is none) and write the result atomically.

        ``mutate`` gets a private copy and returns the record to write, or None to leave it as it is; it may run
        more than once if another writer gets in between, so it must decide from its argument alone. Returns
        the record as written (or as found, when ``mutate`` declined).
        """
        for _ in range(retries):
            current, etag = await self._read(job_id)
            new = mutate(current.model_copy(deep=True) if current is not None else None)
            if new is None:
                return current
            new.updated_at = now_utc()
            try:
                await self.store.put(
                    self.key(job_id),
                    new.model_dump_json(indent=2).encode(),
                    content_type="application/json",
                    if_match=etag,
                    if_none_match=etag is None,
                )
            except WriteConflict:
                continue
            return new
        raise TransientError(
            f"job record {job_id} kept changing under {retries} attempts to update it", code="write_conflict"
        )

    async def list(self) -> list[JobRecord]:
        out = []
        async for info in self.store.list(self.prefix):
            if info.key.endswith(".json"):
                try:
                    out.append(JobRecord.model_validate_json(await self.store.get(info.key)))
                except (ObjectNotFound, ValueError):
                    continue
        return out

    # ------------------------------------------------------------------------------------------ transitions
    async def create(self, record: JobRecord) -> JobRecord:
        """A job a front door accepted (``awaiting_upload`` or ``queued``), before anything can refer to it.
        Returns the record as stored (an existing one is left as it is)."""
        return await self.update(record.job_id, lambda current: record if current is None else None) or record

    async def enqueue(self, message: JobMessage, *, tenant: str | None = None) -> tuple[JobRecord, str | None]:
        """The router's step before sending ``message``: the record says ``queued`` (not yet dispatched).
        Returns (record, None), or (record, why not) when the job needs no message: it succeeded, runs, is
        queued and dispatched already, or failed for good."""
        why_not: list[str] = []

        def enqueue(rec: JobRecord | None) -> JobRecord | None:
            why_not.clear()
            if rec is not None:
                if rec.state in (JobState.succeeded, JobState.running) or (
                    rec.state is JobState.queued and rec.dispatched
                ):
                    why_not.append(f"job {rec.job_id} is already {rec.state}")
                elif rec.state is JobState.failed and rec.error is not None and rec.error.permanent:
                    why_not.append(f"job {rec.job_id} failed for good ({rec.error.code})")
                if why_not:
                    return None
            rec = rec or JobRecord.from_message(message)
            rec.tries_from = len(rec.history)  # a new run of the job gets its full set of attempts
            rec.state, rec.error, rec.finished_at, rec.dispatched = JobState.queued, None, None, False
            rec.kind, rec.source, rec.media_type, rec.options = (
                message.kind,
                message.source,
                message.media_type,
                message.options,
            )
            rec.event_time, rec.upload_expires_at = message.event_time, None
            rec.tenant = rec.tenant or tenant
            return rec

        record = await self.update(message.job_id, enqueue)
        assert record is not None
        return record, (why_not[0] if why_not else None)

    async def dispatched(self, job_id: str) -> None:
        """The job's message is on its queue."""

        def mark(rec: JobRecord | None) -> JobRecord | None:
            if rec is None or rec.state is not JobState.queued or rec.dispatched:
                return None
            rec.dispatched = True
            return rec

        await self.update(job_id, mark)

    async def reject(
        self, job_id: str, error: StreamProcessError, *, create: Callable[[], JobRecord], tenant: str | None = None
    ) -> JobRecord:
        """An input that can never be processed (not media, too large, unreadable): failed for good at once,
        without a message. Leaves a job that already ran (or already failed) as it is."""

        def reject(rec: JobRecord | None) -> JobRecord | None:
            if rec is not None and rec.state not in (JobState.queued, JobState.awaiting_upload):
                return None
            rec = rec or create()
            rec.tenant = rec.tenant or tenant
            rec.state, rec.finished_at, rec.upload_expires_at = JobState.failed, now_utc(), None
            rec.error = JobError(code=error.code, message=error.message, permanent=True, attempt=0)
            return rec

        record = await self.update(job_id, reject)
        assert record is not None
        return record

    async def claim(self, message: JobMessage, *, owner: str, worker: str, lease: float, max_attempts: int) -> Claim:
        """A worker asks to run the job of ``message``. The rules:

        - succeeded, or failed after this message was sent → :class:`Settled` (ack the message);
        - running under another attempt's live lease → :class:`Busy` (delay the message, never ack it);
        - ``max_attempts`` attempts used up (the last one's lease ran out) → :class:`Exhausted`: failed now;
        - otherwise → :class:`Claimed`: a running attempt with a lease of ``lease`` seconds (a previous
          attempt whose lease ran out is closed as ``expired``).
        """
        decision: list[Claim] = []

        def claim(rec: JobRecord | None) -> JobRecord | None:
            decision.clear()
            rec = rec or JobRecord.from_message(message)
            now = time.time()
            if rec.state is JobState.succeeded:
                decision.append(Settled(rec, "already succeeded"))
                return None
            if rec.state is JobState.failed and rec.finished_at and rec.finished_at.timestamp() >= message.enqueued_at:
                decision.append(
                    Settled(
                        rec,
                        f"already failed ({rec.error.code if rec.error else 'unknown'}) after this message was sent",
                    )
                )
                return None
            if (left := rec.lease_left(owner, now)) > 0:
                decision.append(Busy(rec, left + LEASE_MARGIN))
                return None
            when = now_utc()
            if rec.state is JobState.running:  # its worker vanished: expire that attempt
                rec._end_attempt(None, AttemptOutcome.expired, when)
            if rec.tries_used >= max_attempts and rec.state is not JobState.failed:
                rec.state, rec.finished_at, rec.lease_owner, rec.lease_until = JobState.failed, when, None, None
                rec.error = JobError(
                    code="attempts_exhausted",
                    permanent=False,
                    attempt=rec.attempts,
                    message=f"each of the {max_attempts} attempts ended without a result (the worker crashed, was "
                    "killed or lost the message)",
                )
                decision.append(Exhausted(rec))
                return rec
            rec.attempts += 1
            rec.state, rec.worker, rec.lease_owner, rec.lease_until = JobState.running, worker, owner, now + lease
            rec.started_at, rec.finished_at, rec.progress, rec.dispatched, rec.error = when, None, None, True, None
            rec.history.append(Attempt(attempt=rec.attempts, worker=worker, owner=owner, started_at=when))
            rec.timings = {"queue_wait": round(max(0.0, now - message.enqueued_at), 4)}
            decision.append(Claimed(rec, rec.attempts))
            return rec

        await self.update(message.job_id, claim)
        return decision[0]

    async def heartbeat(self, job_id: str, *, owner: str, lease: float, progress: Progress | None) -> bool:
        """Renew ``owner``'s lease (and copy its progress). False when the job is no longer this attempt's."""

        def beat(rec: JobRecord | None) -> JobRecord | None:
            if rec is None or rec.state is not JobState.running or rec.lease_owner != owner:
                return None
            rec.progress = progress if progress is not None else rec.progress
            rec.lease_until = time.time() + lease
            return rec

        rec = await self.update(job_id, beat)
        return rec is not None and rec.state is JobState.running and rec.lease_owner == owner

    async def succeed(
        self,
        job_id: str,
        *,
        owner: str,
        results: dict[str, str],
        summary: dict[str, Any],
        timings: dict[str, float],
        progress: Progress | None,
        create: Callable[[], JobRecord] | None = None,
    ) -> JobRecord | None:
        """This attempt's results are stored (at the job's fixed keys): the job is done. A success wins over
        everything but an earlier success (whose results are those same keys)."""

        def succeed(rec: JobRecord | None) -> JobRecord | None:
            if rec is None:
                if create is None:
                    return None
                rec = create()
            if rec.state is JobState.succeeded:
                return None
            when = now_utc()
            rec.state, rec.results, rec.summary, rec.error = JobState.succeeded, results, summary, None
            rec.timings.update({k: round(v, 4) for k, v in timings.items()})
            rec.finished_at, rec.upload_expires_at = when, None
            if rec.lease_owner == owner:
                rec.lease_until = None
            rec.progress = progress or rec.progress
            rec._end_attempt(owner, AttemptOutcome.succeeded, when)
            return rec

        return await self.update(job_id, succeed)

    async def fail(
        self, job_id: str, *, owner: str, error: StreamProcessError, attempt: int, permanent: bool
    ) -> JobRecord | None:
        """This attempt failed for good (a permanent error, or its last try). A late duplicate never
        overwrites a success or a live attempt of someone else."""
        return await self._end(
            job_id,
            owner,
            JobState.failed,
            AttemptOutcome.failed,
            JobError(code=error.code, message=error.message, permanent=permanent, attempt=attempt),
        )

    async def release(
        self, job_id: str, *, owner: str, error: StreamProcessError | None = None, attempt: int = 0
    ) -> JobRecord | None:
        """Give the job back to its queue: after a transient ``error`` (a retry follows), or unfinished when the
        worker stops (``error`` None: the attempt does not count)."""
        outcome = AttemptOutcome.released if error is None else AttemptOutcome.retry
        job_error = (
            None
            if error is None
            else JobError(code=error.code, message=error.message, permanent=False, attempt=attempt)
        )
        return await self._end(job_id, owner, JobState.queued, outcome, job_error)

    async def _end(
        self, job_id: str, owner: str, state: JobState, outcome: AttemptOutcome, error: JobError | None
    ) -> JobRecord | None:
        def end(rec: JobRecord | None) -> JobRecord | None:
            if rec is None or rec.state is JobState.succeeded or rec.held_by_other(owner):
                return None
            if rec.state is JobState.failed and state is not JobState.failed:
                return None
            when = now_utc()
            rec.state, rec.lease_until = state, None
            if rec.lease_owner == owner:
                rec.lease_owner = None
            if error is not None:
                rec.error = error
            if state is JobState.failed:
                rec.finished_at = when
            rec._end_attempt(owner, outcome, when)
            return rec

        return await self.update(job_id, end)

    async def expire_upload(self, job_id: str, *, now: datetime | None = None) -> JobRecord | None:
        """An upload that never came: ``awaiting_upload`` past its URL's expiry → failed ``upload_expired``."""

        def expire(rec: JobRecord | None) -> JobRecord | None:
            when = now or now_utc()
            if (
                rec is None
                or rec.state is not JobState.awaiting_upload
                or rec.upload_expires_at is None
                or rec.upload_expires_at > when
            ):
                return None
            rec.state, rec.finished_at = JobState.failed, when
            rec.error = JobError(
                code="upload_expired",
                permanent=True,
                attempt=0,
                message=f"no upload arrived before the upload URL expired at {rec.upload_expires_at.isoformat()}",
            )
            return rec

        return await self.update(job_id, expire)


def schema_files() -> dict[str, str]:
    """JSON Schemas of the message and record, as written to ``events/schemas/``."""
    return {
        "job-message.schema.json": json.dumps(JobMessage.model_json_schema(), indent=2) + "\n",
        "job-record.schema.json": json.dumps(JobRecord.model_json_schema(), indent=2) + "\n",
    }
