"""Running one job: record → download → processor → upload results → record.

Idempotent: a job whose record says ``succeeded`` is skipped, one running under another worker's live lease is
left to it (its own message still guards it), and results go to fixed keys (``<results_prefix><job_id>/<name>``),
so a redone job overwrites rather than duplicates.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import os
import tempfile
import threading
import time
import uuid
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

    def result_key(self, job_id: str, name: str) -> str:
        return f"{self.results_prefix}{job_id}/{name}"

    async def _record(self, job: JobMessage) -> JobRecord:
        return await self.jobs.get(job.job_id) or JobRecord.from_message(job)

    # ------------------------------------------------------------------ Handler
    async def handle(self, message: Message, attempt: int) -> None:
        job = parse_job(message)
        JOBS_RECEIVED.labels(self.kind).inc()
        record = await self._record(job)
        if record.state is JobState.succeeded:
            log.info("job %s already succeeded: skipping duplicate message", job.job_id)
            JOBS_DUPLICATE.labels(self.kind).inc()
            return
        if record.held_by_other(self.worker):
            log.info("job %s is running on %s: skipping duplicate message", job.job_id, record.worker)
            JOBS_DUPLICATE.labels(self.kind).inc()
            return

        started = now_utc()
        record.state = JobState.running
        record.attempts = attempt
        record.worker = self.worker
        record.started_at = started
        record.finished_at = None
        record.lease_until = time.time() + self.visibility_timeout
        record.progress = None
        record.history.append(Attempt(attempt=attempt, worker=self.worker, started_at=started))
        record.timings["queue_wait"] = round(max(0.0, time.time() - job.enqueued_at), 4)
        await self.jobs.save(record)

        JOBS_IN_FLIGHT.labels(self.kind).inc()
        try:
            await self._run(job, record)
        finally:
            JOBS_IN_FLIGHT.labels(self.kind).dec()

    async def _run(self, job: JobMessage, record: JobRecord) -> None:
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
            ticker = asyncio.create_task(self._tick(record, latest, lock))
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
        record.state = JobState.succeeded
        record.results = results
        record.summary = result.summary
        record.timings.update({k: round(v, 4) for k, v in timings.items()})
        record.finished_at = finished
        record.lease_until = None
        record.error = None
        if latest:
            record.progress = latest[0]
        record.history[-1].ended_at = finished
        record.history[-1].outcome = "succeeded"
        if record.event_time:
            EVENT_TO_DONE_SECONDS.labels(self.kind).observe((finished - record.event_time).total_seconds())
        await self.jobs.save(record)
        JOBS_SUCCEEDED.labels(self.kind).inc()
        log.info("job %s (%s) succeeded in %.3f s: %s", job.job_id, job.source.key, timings["total"],
                 ", ".join(results.values()))

    async def _tick(self, record: JobRecord, latest: list[Progress], lock: threading.Lock) -> None:
        """Copy progress into the record about once a second, and keep the record's lease fresh."""
        written: Progress | None = None
        while True:
            await asyncio.sleep(self.progress_interval)
            with lock:
                current = latest[0] if latest else None
            lease_low = (record.lease_until or 0) - time.time() < self.visibility_timeout * 2 / 3
            if current != written or lease_low:
                record.progress = current
                record.lease_until = time.time() + self.visibility_timeout
                try:
                    await self.jobs.save(record)
                    written = current
                except Exception as e:  # progress is best effort; the job goes on
                    log.warning("could not update job %s: %s", record.job_id, e)

    async def _settle(self, message: Message, attempt: int, state: JobState, outcome: str,
                      error: StreamProcessError | None) -> None:
        try:
            job = parse_job(message)
        except InvalidJobMessage:
            log.error("dropping to the DLQ a message that is not a job: %r", message.body[:200])
            return
        record = await self._record(job)
        if record.state is JobState.succeeded:
            return  # a late duplicate must not overwrite a success
        record.state = state
        record.attempts = max(record.attempts, attempt)
        record.lease_until = None
        if error is not None:
            permanent = state is JobState.failed
            record.error = JobError(code=error.code, message=error.message, permanent=permanent, attempt=attempt)
        if state is JobState.failed:
            record.finished_at = now_utc()
        if record.history and record.history[-1].attempt == attempt and record.history[-1].outcome is None:
            record.history[-1].ended_at = now_utc()
            record.history[-1].outcome = outcome
        await self.jobs.save(record)

    async def give_up(self, message: Message, error: StreamProcessError, attempt: int) -> None:
        JOBS_FAILED.labels(self.kind, error.code).inc()
        await self._settle(message, attempt, JobState.failed, "failed", error)

    async def will_retry(self, message: Message, error: StreamProcessError, attempt: int, delay: float) -> None:
        JOBS_RETRIED.labels(self.kind, error.code).inc()
        await self._settle(message, attempt, JobState.queued, "retry", error)

    async def released(self, message: Message, attempt: int) -> None:
        await self._settle(message, attempt, JobState.queued, "released", None)
