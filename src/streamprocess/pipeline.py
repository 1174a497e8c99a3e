"""Running one job: record → download → processor → upload results → record.

Idempotent: a job whose record says ``succeeded`` is skipped, one running under another worker's live lease is
left to it (its own message still guards it), and results go to fixed keys (``<results_prefix><job_id>/<name>``),
so a redone job overwrites rather than duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import socket
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from .errors import FileTooLarge, PermanentError, StreamProcessError
from .jobs import Attempt, JobError, JobMessage, JobRecord, JobState, JobStore, Progress, now_utc
from .metrics import (
    EVENT_TO_DONE_SECONDS,
    JOBS_DUPLICATE,
    JOBS_FAILED,
    JOBS_IN_FLIGHT,
    JOBS_RECEIVED,
    JOBS_RETRIED,
    JOBS_SUCCEEDED,
    STAGE_SECONDS,
)
from .processors import JobContext, Processor
from .queues.base import Message
from .storage.base import ObjectStore

log = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _suffix(key: str) -> str:
    """The key's extension if it is a plain one (decoders like a hint); never anything path-like."""
    suffix = Path(key.rsplit("/", 1)[-1]).suffix
    return suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix) else ""


class InvalidJobMessage(PermanentError):
    code = "invalid_message"


class SourceChanged(PermanentError):
    code = "source_changed"


def parse_job(message: Message) -> JobMessage:
    try:
        return JobMessage.model_validate_json(message.body)
    except ValidationError as e:
        raise InvalidJobMessage(f"not a job message: {e.errors()[0]['msg']}") from None


class JobHandler:
    """Runs jobs of one kind with one processor (a :class:`~streamprocess.worker.Handler`)."""

    def __init__(
        self,
        kind: str,
        processor: Processor,
        *,
        source_store: ObjectStore,
        result_store: ObjectStore,
        jobs: JobStore,
        results_prefix: str = "results/",
        max_file_size: int = 2 << 30,
        visibility_timeout: float = 60.0,
        worker: str | None = None,
        progress_interval: float = 1.0,
    ) -> None:
        self.kind = kind
        self.label = kind
        self.processor = processor
        self.source_store = source_store
        self.result_store = result_store
        self.jobs = jobs
        self.results_prefix = results_prefix
        self.max_file_size = max_file_size
        self.visibility_timeout = visibility_timeout
        self.worker = worker or worker_id()
        self.progress_interval = progress_interval
        self._owners: dict[str, str] = {}  # message receipt -> lease owner of the attempt it started

    def result_key(self, job_id: str, name: str) -> str:
        return f"{self.results_prefix}{job_id}/{name}"

    # ------------------------------------------------------------------ Handler
    async def handle(self, message: Message, attempt: int) -> None:
        job = parse_job(message)
        JOBS_RECEIVED.labels(self.kind).inc()
        owner = f"{self.worker}/{uuid.uuid4().hex[:8]}"
        skip: list[str] = []

        def claim(rec: JobRecord | None) -> JobRecord | None:
            skip.clear()
            rec = rec or JobRecord.from_message(job)
            if rec.state is JobState.succeeded:
                skip.append("already succeeded")
            elif rec.held_by_other(owner):
                skip.append(f"running on {rec.worker}")
            elif rec.state is JobState.failed and rec.finished_at and rec.finished_at.timestamp() >= job.enqueued_at:
                skip.append(f"already failed ({rec.error.code if rec.error else 'unknown'}) after this message")
            if skip:
                return None
            started = now_utc()
            rec.state, rec.attempts, rec.worker, rec.lease_owner = JobState.running, attempt, self.worker, owner
            rec.started_at, rec.finished_at, rec.progress, rec.dispatched = started, None, None, True
            rec.lease_until = time.time() + self.visibility_timeout
            rec.history.append(Attempt(attempt=attempt, worker=self.worker, started_at=started))
            rec.timings = {"queue_wait": round(max(0.0, time.time() - job.enqueued_at), 4)}
            return rec

        await self.jobs.update(job.job_id, claim)
        if skip:
            log.info("job %s: skipping duplicate message (%s)", job.job_id, skip[0])
            JOBS_DUPLICATE.labels(self.kind).inc()
            return
        self._owners[message.receipt] = owner
        JOBS_IN_FLIGHT.labels(self.kind).inc()
        try:
            await self._run(job, owner)
        finally:
            JOBS_IN_FLIGHT.labels(self.kind).dec()
        self._owners.pop(message.receipt, None)

    async def _run(self, job: JobMessage, owner: str) -> None:
        t_start = time.perf_counter()
        timings: dict[str, float] = {}
        with tempfile.TemporaryDirectory(prefix=f"sp-{job.job_id[:8]}-") as tmp:
            tmpdir = Path(tmp)
            # --- download
            t0 = time.perf_counter()
            info = await self.source_store.head(job.source.key)
            if info.size > self.max_file_size:
                raise FileTooLarge(f"{info.size} bytes is over the {self.max_file_size}-byte limit")
            if job.source.etag and not job.source.version_id and info.etag != job.source.etag:
                raise SourceChanged(
                    f"{job.source.key!r} was replaced (ETag {info.etag}, job was for {job.source.etag}); "
                    "the new version has its own job"
                )
            input_path = tmpdir / f"input{_suffix(job.source.key)}"
            await self.source_store.download(job.source.key, input_path)
            timings["download"] = time.perf_counter() - t0

            # --- process, with progress copied into the record while it runs
            out_dir = tmpdir / "out"
            out_dir.mkdir()
            latest: list[Progress] = []
            lock = threading.Lock()

            def on_progress(done: float, total: float | None, unit: str) -> None:
                with lock:
                    latest[:] = [Progress(done=done, total=total, unit=unit)]

            ctx = JobContext(
                job_id=job.job_id, kind=job.kind, input_path=input_path, media_type=job.media_type,
                options=dict(job.options), output_dir=out_dir, source_key=job.source.key, on_progress=on_progress,
            )
            t0 = time.perf_counter()
            ticker = asyncio.create_task(self._tick(job.job_id, owner, latest, lock))
            try:
                result = await asyncio.to_thread(self.processor.process, ctx)
            finally:
                ticker.cancel()
                await asyncio.gather(ticker, return_exceptions=True)
            timings["process"] = time.perf_counter() - t0

            # --- upload
            t0 = time.perf_counter()
            results = {}
            for name, path in result.outputs.items():
                key = self.result_key(job.job_id, name)
                await self.result_store.put(key, Path(path), content_type=result.content_types.get(name))
                results[name] = key
            timings["upload"] = time.perf_counter() - t0

        timings["total"] = time.perf_counter() - t_start
        for stage, seconds in timings.items():
            STAGE_SECONDS.labels(self.kind, stage).observe(seconds)
        finished = now_utc()

        def succeed(rec: JobRecord | None) -> JobRecord | None:
            rec = rec or JobRecord.from_message(job)
            if rec.state is JobState.succeeded and rec.lease_owner != owner:
                return None  # another attempt finished first; its results are these same keys
            rec.state, rec.results, rec.summary = JobState.succeeded, results, result.summary
            rec.timings.update({k: round(v, 4) for k, v in timings.items()})
            rec.finished_at, rec.lease_until, rec.error = finished, None, None
            if latest:
                rec.progress = latest[0]
            _end_attempt(rec, self.worker, finished, "succeeded")
            return rec

        record = await self.jobs.update(job.job_id, succeed)
        if record is not None and record.event_time:
            EVENT_TO_DONE_SECONDS.labels(self.kind).observe((finished - record.event_time).total_seconds())
        JOBS_SUCCEEDED.labels(self.kind).inc()
        log.info("job %s (%s) succeeded in %.3f s: %s", job.job_id, job.source.key, timings["total"],
                 ", ".join(results.values()))

    async def _tick(self, job_id: str, owner: str, latest: list[Progress], lock: threading.Lock) -> None:
        """Copy progress into the record about once a second, and keep the record's lease fresh."""
        written: Progress | None = None
        lease_until = time.time() + self.visibility_timeout
        while True:
            await asyncio.sleep(self.progress_interval)
            with lock:
                current = latest[0] if latest else None
            if current == written and lease_until - time.time() > self.visibility_timeout * 2 / 3:
                continue

            def tick(rec: JobRecord | None, current: Progress | None = current) -> JobRecord | None:
                if rec is None or rec.lease_owner != owner:
                    return None  # another attempt took the job over
                rec.progress = current
                rec.lease_until = time.time() + self.visibility_timeout
                return rec

            try:
                rec = await self.jobs.update(job_id, tick)
                written = current
                if rec is not None and rec.lease_until:
                    lease_until = rec.lease_until
            except Exception as e:  # progress is best effort; the job goes on
                log.warning("could not update job %s: %s", job_id, e)

    async def _settle(self, message: Message, attempt: int, state: JobState, outcome: str,
                      error: StreamProcessError | None) -> None:
        try:
            job = parse_job(message)
        except InvalidJobMessage:
            log.error("dropping to the DLQ a message that is not a job: %r", message.body[:200])
            return
        owner = self._owners.pop(message.receipt, "")

        def settle(rec: JobRecord | None) -> JobRecord | None:
            rec = rec or JobRecord.from_message(job)
            if rec.state is JobState.succeeded or rec.held_by_other(owner):
                return None  # a late duplicate must not overwrite a success or a live attempt
            rec.state = state
            rec.attempts = max(rec.attempts, attempt)
            rec.lease_until = None
            if error is not None:
                permanent = isinstance(error, PermanentError) and error.code != "attempts_exhausted"
                rec.error = JobError(code=error.code, message=error.message, permanent=permanent, attempt=attempt)
            if state is JobState.failed:
                rec.finished_at = now_utc()
            _end_attempt(rec, self.worker, now_utc(), outcome, attempt)
            return rec

        await self.jobs.update(job.job_id, settle)

    async def give_up(self, message: Message, error: StreamProcessError, attempt: int) -> None:
        JOBS_FAILED.labels(self.kind, error.code).inc()
        await self._settle(message, attempt, JobState.failed, "failed", error)

    async def will_retry(self, message: Message, error: StreamProcessError, attempt: int, delay: float) -> None:
        JOBS_RETRIED.labels(self.kind, error.code).inc()
        await self._settle(message, attempt, JobState.queued, "retry", error)

    async def released(self, message: Message, attempt: int) -> None:
        await self._settle(message, attempt, JobState.queued, "released", None)


def _end_attempt(rec: JobRecord, worker: str, when: datetime, outcome: str, attempt: int | None = None) -> None:
    """Close this worker's open entry in the record's history."""
    for entry in reversed(rec.history):
        if entry.worker == worker and entry.outcome is None and attempt in (None, entry.attempt):
            entry.ended_at, entry.outcome = when, outcome
            return
