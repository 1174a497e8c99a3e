"""Jobs: deterministic ids, the job message on the queue, and the job record in the object store.

- :func:`job_id_for` hashes (bucket, key, version or ETag, kind), so every duplicate event for one object
  version maps to one job, and its results to one place.
- :class:`JobMessage` is what the ``stt``/``ocr`` queues carry (``events/schemas/job-message.schema.json``).
- :class:`JobRecord` is ``<jobs_prefix><job_id>.json``: state, attempts, per-stage timings, progress, error
  code and message, result keys. :class:`JobStore` reads and writes it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from .errors import ObjectNotFound, TransientError, WriteConflict
from .storage.base import ObjectStore

JOB_ID_LENGTH = 32


def job_id_for(bucket: str, key: str, version: str | None, kind: str) -> str:
    """A stable id for processing one version of one object as ``kind``."""
    material = "\x00".join([bucket, key, version or "", kind])
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()[:JOB_ID_LENGTH]


def is_job_id(value: str) -> bool:
    return len(value) == JOB_ID_LENGTH and all(c in "0123456789abcdef" for c in value)


def now_utc() -> datetime:
    return datetime.now(UTC)


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
    event_time: datetime | None = None  # when the object landed (the bucket event's time)
    enqueued_at: float = Field(default_factory=time.time)


class JobError(BaseModel):
    code: str
    message: str
    permanent: bool
    attempt: int
    at: datetime = Field(default_factory=now_utc)


class Progress(BaseModel):
    done: float
    total: float | None = None
    unit: str = "seconds"

    @property
    def fraction(self) -> float | None:
        return None if not self.total else min(1.0, self.done / self.total)


class Attempt(BaseModel):
    attempt: int
    worker: str
    started_at: datetime
    ended_at: datetime | None = None
    outcome: str | None = None  # succeeded, failed, retry, released


class JobRecord(BaseModel):
    job_id: str
    kind: str
    state: JobState = JobState.queued
    source: SourceRef
    media_type: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 0
    created_at: datetime = Field(default_factory=now_utc)
    updated_at: datetime = Field(default_factory=now_utc)
    event_time: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
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

    @classmethod
    def from_message(cls, msg: JobMessage) -> JobRecord:
        return cls(
            job_id=msg.job_id, kind=msg.kind, source=msg.source, media_type=msg.media_type,
            options=msg.options, event_time=msg.event_time,
        )

    def held_by_other(self, owner: str) -> bool:
        """Running under a live lease of another attempt (in this process or any other)."""
        return (
            self.state is JobState.running
            and self.lease_owner not in (None, owner)
            and (self.lease_until or 0) > time.time()
        )


Mutation = Callable[["JobRecord | None"], "JobRecord | None"]


class JobStore:
    """Job records as JSON objects under a prefix of the output bucket.

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
                    self.key(job_id), new.model_dump_json(indent=2).encode(), content_type="application/json",
                    if_match=etag, if_none_match=etag is None,
                )
            except WriteConflict:
                continue
            return new
        raise TransientError(f"job record {job_id} kept changing under {retries} attempts to update it",
                             code="write_conflict")

    async def list(self) -> list[JobRecord]:
        out = []
        async for info in self.store.list(self.prefix):
            if info.key.endswith(".json"):
                try:
                    out.append(JobRecord.model_validate_json(await self.store.get(info.key)))
                except (ObjectNotFound, ValueError):
                    continue
        return out


def schema_files() -> dict[str, str]:
    """JSON Schemas of the message and record, as written to ``events/schemas/``."""
    return {
        "job-message.schema.json": json.dumps(JobMessage.model_json_schema(), indent=2) + "\n",
        "job-record.schema.json": json.dumps(JobRecord.model_json_schema(), indent=2) + "\n",
    }
