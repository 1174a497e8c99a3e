"""The job store: job records as JSON objects in the output bucket, and every transition of a job's life (the
rules are in :mod:`streamprocess.jobs`), each a compare-and-swap on the record."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import ErrorCode, ObjectNotFound, StreamProcessError, TransientError, WriteConflict
from ..progress import Progress
from ..storage.base import ObjectStore
from ..timestamps import now_utc
from .records import Attempt, AttemptOutcome, JobError, JobMessage, JobRecord, JobState, ResultVersion

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

    def __init__(self, store: ObjectStore, prefix: str) -> None:
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
            f"job record {job_id} kept changing under {retries} attempts to update it", code=ErrorCode.WRITE_CONFLICT
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

    async def reopen(
        self,
        message: JobMessage,
        *,
        force: bool = False,
        previous: Callable[[int], dict[str, str]] | None = None,
        tenant: str | None = None,
        settle: float = 30.0,
    ) -> tuple[JobRecord | None, str | None]:
        """A replay's step before sending ``message``: the job goes back to ``queued`` (not yet dispatched) for one
        more run with its full set of attempts. Returns (record, None), or (record as found, why not). The rules:

        - no record, or failed (for good too: the replay is the operator saying the cause is fixed) → queued;
        - succeeded → only with ``force``: its results are set aside first, as version N (1, 2, …), under the
          keys ``previous(N)`` returns (the caller has copied the files there), never overwritten;
        - running, awaiting its upload, or queued and dispatched → not touched;
        - queued, not dispatched, and changed in the last ``settle`` seconds → not touched (another replay or the
          router is sending it now: two replays never both queue it); older → a sender died: queued again.
        """
        why_not: list[str] = []

        def reopen(rec: JobRecord | None) -> JobRecord | None:
            why_not.clear()
            if rec is not None:
                if rec.state is JobState.succeeded and not force:
                    why_not.append(f"job {rec.job_id} already succeeded (--force runs it again)")
                elif rec.state in (JobState.running, JobState.awaiting_upload) or (
                    rec.state is JobState.queued and rec.dispatched
                ):
                    why_not.append(f"job {rec.job_id} is {rec.state}")
                elif rec.state is JobState.queued and time.time() - rec.updated_at.timestamp() < settle:
                    why_not.append(f"job {rec.job_id} is being queued by another sender")
                if why_not:
                    return None
            rec = rec or JobRecord.from_message(message)
            if rec.state is JobState.succeeded:
                version = len(rec.previous_results) + 1
                kept = previous(version) if previous is not None else dict(rec.results)
                rec.previous_results.append(ResultVersion(version=version, results=kept, finished_at=rec.finished_at))
                rec.results, rec.summary = {}, {}
            rec.tries_from = len(rec.history)
            rec.state, rec.error, rec.finished_at, rec.dispatched = JobState.queued, None, None, False
            rec.lease_owner, rec.lease_until, rec.progress, rec.upload_expires_at = None, None, None, None
            rec.media_type, rec.options = message.media_type, message.options
            rec.tenant = rec.tenant or tenant
            return rec

        record = await self.update(message.job_id, reopen)
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
                    code=ErrorCode.ATTEMPTS_EXHAUSTED,
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
                code=ErrorCode.UPLOAD_EXPIRED,
                permanent=True,
                attempt=0,
                message=f"no upload arrived before the upload URL expired at {rec.upload_expires_at.isoformat()}",
            )
            return rec

        return await self.update(job_id, expire)
