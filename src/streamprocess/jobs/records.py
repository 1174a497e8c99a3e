"""What a job is on the wire and at rest: :class:`JobMessage` on the ``stt``/``ocr`` queues
(``events/schemas/job-message.schema.json``) and :class:`JobRecord`, the ``<jobs_prefix><job_id>.json`` object
(state, tenant, attempts, per-stage timings, progress, error code and message, result keys)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from ..progress import Progress
from ..timestamps import UTCDateTime, now_utc


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


class ResultVersion(BaseModel):
    """Results a forced replay (``streamprocess replay --force``) set aside before running the job again: copies
    of the earlier result files, never overwritten."""

    version: int  # 1 for the first results set aside, then 2, …
    results: dict[str, str]  # result name -> object key of the copy
    finished_at: UTCDateTime | None = None  # when the earlier run finished
    replaced_at: UTCDateTime = Field(default_factory=now_utc)


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
    previous_results: list[ResultVersion] = Field(default_factory=list)  # set aside by forced replays, oldest first
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


def schema_files() -> dict[str, str]:
    """JSON Schemas of the message and record, as written to ``events/schemas/``."""
    return {
        "job-message.schema.json": json.dumps(JobMessage.model_json_schema(), indent=2) + "\n",
        "job-record.schema.json": json.dumps(JobRecord.model_json_schema(), indent=2) + "\n",
    }
