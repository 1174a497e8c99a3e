"""Jobs: deterministic ids, the job message on the queue, the job record in the object store, and the job's life.

- :func:`job_id_for` (:mod:`.ids`) hashes (bucket, key, version or ETag, kind), so every duplicate event for one object
  version maps to one job, and its results to one place.
- :class:`JobMessage` (:mod:`.records`) is what the ``stt``/``ocr`` queues carry
  (``events/schemas/job-message.schema.json``).
- :class:`JobRecord` (:mod:`.records`) is ``<jobs_prefix><job_id>.json``: state, tenant, attempts, per-stage
  timings, progress, error code and message, result keys.
- :class:`JobStore` (:mod:`.store`) reads and writes records, and is the one home of the job's life: every change
  of state is one of its named transitions, each a compare-and-swap on the record, with its rules written down
  once, as below.

The life of a job (``→`` is a transition, ``[..]`` a state)::

    create ─→ [awaiting_upload] ──expire_upload──→ [failed: upload_expired]
      │              │ enqueue
      └───────→ [queued] ──claim──→ [running] ──succeed──→ [succeeded]
                   ↑                │  │ heartbeat (lease)
                   └────release─────┘  └──fail──→ [failed]
    a running job whose lease passed lost its worker: the next claim expires that attempt and takes it over,
    or fails the job (attempts_exhausted) once ``max_attempts`` attempts were used up.
    reopen (``streamprocess replay``) takes a failed job, or with ``force`` a succeeded one (its results set aside
    as a previous version), back to [queued] for one more run.

A worker acks a message only when the job is terminal; a claim that finds the job running under another live
lease answers :class:`Busy` (the message is made visible again when that lease runs out), never "done".
"""

from __future__ import annotations

from ..progress import Progress
from .ids import JOB_ID_LENGTH, is_job_id, job_id_for
from .records import (
    Attempt,
    AttemptOutcome,
    JobError,
    JobMessage,
    JobRecord,
    JobState,
    ResultVersion,
    SourceRef,
    schema_files,
)
from .store import LEASE_MARGIN, Busy, Claim, Claimed, Exhausted, JobStore, Mutation, Settled

__all__ = [
    "JOB_ID_LENGTH",
    "LEASE_MARGIN",
    "Attempt",
    "AttemptOutcome",
    "Busy",
    "Claim",
    "Claimed",
    "Exhausted",
    "JobError",
    "JobMessage",
    "JobRecord",
    "JobState",
    "JobStore",
    "Mutation",
    "Progress",
    "ResultVersion",
    "Settled",
    "SourceRef",
    "is_job_id",
    "job_id_for",
    "schema_files",
]
