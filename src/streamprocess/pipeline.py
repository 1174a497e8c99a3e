"""Running one job: claim → download → processor → upload results → succeed (or fail, or release).

Idempotent: every state change is a named transition of :class:`~streamprocess.jobs.JobStore`. A job that is
terminal is not run again (the message is acked); one running under another attempt's live lease is left to it
and its message put back until that lease runs out (never acked while the job is not terminal); results go to
fixed keys (``<results_prefix><job_id>/<name>``), so a redone job overwrites rather than duplicates.
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
from pathlib import Path

from pydantic import ValidationError

from .errors import ErrorCode, FileTooLarge, PermanentError
from .jobs import Busy, Claimed, Exhausted, JobMessage, JobRecord, JobStore, Settled
from .kinds import result_key
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
from .progress import Progress
from .queues.base import Message
from .storage.base import ObjectStore
from .worker import Action, Outcome, RetryPolicy, as_error

log = logging.getLogger(__name__)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _suffix(key: str) -> str:
    """The key's extension if it is a plain one (decoders like a hint); never anything path-like."""
    suffix = Path(key.rsplit("/", 1)[-1]).suffix
    return suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", suffix) else ""


class InvalidJobMessage(PermanentError):
    code = ErrorCode.INVALID_MESSAGE


class SourceChanged(PermanentError):
    code = ErrorCode.SOURCE_CHANGED


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
        results_prefix: str,
        max_file_size: int,
        visibility_timeout: float,
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

    # ------------------------------------------------------------------ Handler
    async def handle(self, message: Message, policy: RetryPolicy) -> Outcome:
        try:
            job = parse_job(message)
        except InvalidJobMessage as e:
            return Outcome.dead(str(e))
        JOBS_RECEIVED.labels(self.kind).inc()
        owner = f"{self.worker}/{uuid.uuid4().hex[:8]}"
        claim = await self.jobs.claim(
            job, owner=owner, worker=self.worker, lease=self.visibility_timeout, max_attempts=policy.max_attempts
        )
        match claim:
            case Settled(reason=reason):
                log.info("job %s: message %s needs no run (%s)", job.job_id, message.id, reason)
                JOBS_DUPLICATE.labels(self.kind).inc()
                return Outcome.done()
            case Busy(record=rec, retry_after=delay):
                log.info(
                    "job %s: running on %s under a live lease; message %s comes back in %.1f s",
                    job.job_id,
                    rec.worker,
                    message.id,
                    delay,
                )
                JOBS_DUPLICATE.labels(self.kind).inc()
                return Outcome.wait(delay)
            case Exhausted(record=rec):
                assert rec.error is not None
                JOBS_FAILED.labels(self.kind, rec.error.code).inc()
                return Outcome.dead(f"{rec.error.code}: {rec.error.message}")
        assert isinstance(claim, Claimed)
        attempt = claim.attempt
        JOBS_IN_FLIGHT.labels(self.kind).inc()
        latest: list[Progress] = []  # the processor's newest progress report (written from its thread)
        lock = threading.Lock()
        # The lease is renewed for the whole attempt: download, processing and upload alike.
        ticker = asyncio.create_task(self._tick(job.job_id, owner, latest, lock))
        try:
            record = await self._run(job, owner, latest, lock)
        except asyncio.CancelledError:  # the worker stops: the job goes back to its queue, this try not counted
            await asyncio.shield(self.jobs.release(job.job_id, owner=owner))
            raise
        except Exception as e:
            error = as_error(e)
            if error is not e:  # not one of ours: a bug or a surprise from a library, worth its traceback
                log.error("job %s: attempt %d raised", job.job_id, attempt, exc_info=e)
            outcome = policy.after(error, attempt)
            if outcome.action is Action.dead_letter:
                JOBS_FAILED.labels(self.kind, error.code).inc()
                await self.jobs.fail(
                    job.job_id, owner=owner, error=error, attempt=attempt, permanent=isinstance(error, PermanentError)
                )
            else:
                log.warning(
                    "job %s: attempt %d failed (%s); retrying in %.1f s", job.job_id, attempt, error, outcome.delay
                )
                JOBS_RETRIED.labels(self.kind, error.code).inc()
                await self.jobs.release(job.job_id, owner=owner, error=error, attempt=attempt)
            return outcome
        finally:
            ticker.cancel()
            await asyncio.gather(ticker, return_exceptions=True)
            JOBS_IN_FLIGHT.labels(self.kind).dec()
        # The job is terminal now: nothing after this point may turn it into a retry.
        try:
            JOBS_SUCCEEDED.labels(self.kind).inc()
            if record is not None and record.event_time and record.finished_at:
                EVENT_TO_DONE_SECONDS.labels(self.kind).observe(
                    (record.finished_at - record.event_time).total_seconds()
                )
        except Exception:
            log.exception("job %s: could not record metrics after it succeeded", job.job_id)
        return Outcome.done()

    async def _run(self, job: JobMessage, owner: str, latest: list[Progress], lock: threading.Lock) -> JobRecord | None:
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

            def on_progress(progress: Progress) -> None:
                with lock:
                    latest[:] = [progress]

            ctx = JobContext(
                job_id=job.job_id,
                kind=job.kind,
                input_path=input_path,
                media_type=job.media_type,
                options=dict(job.options),
                output_dir=out_dir,
                source_key=job.source.key,
                on_progress=on_progress,
            )
            t0 = time.perf_counter()
            result = await asyncio.to_thread(self.processor.process, ctx)
            timings["process"] = time.perf_counter() - t0

            # --- upload
            t0 = time.perf_counter()
            results: dict[str, str] = {}
            for name, path in result.outputs.items():
                key = result_key(self.results_prefix, job.job_id, name)
                await self.result_store.put(key, Path(path), content_type=result.content_types.get(name))
                results[name] = key
            timings["upload"] = time.perf_counter() - t0

        timings["total"] = time.perf_counter() - t_start
        for stage, seconds in timings.items():
            STAGE_SECONDS.labels(self.kind, stage).observe(seconds)
        record = await self.jobs.succeed(
            job.job_id,
            owner=owner,
            results=results,
            summary=result.summary,
            timings=timings,
            progress=latest[0] if latest else None,
            create=lambda: JobRecord.from_message(job),
        )
        log.info(
            "job %s (%s) succeeded in %.3f s: %s",
            job.job_id,
            job.source.key,
            timings["total"],
            ", ".join(results.values()),
        )
        return record

    async def _tick(self, job_id: str, owner: str, latest: list[Progress], lock: threading.Lock) -> None:
        """Copy progress into the record about once a second, and keep the record's lease fresh (renewed when
        a third of it has passed, like the message's visibility)."""
        written: Progress | None = None
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(self.progress_interval)
            with lock:
                current = latest[0] if latest else None
            if current == written and time.monotonic() - renewed < self.visibility_timeout / 3:
                continue
            try:
                if not await self.jobs.heartbeat(job_id, owner=owner, lease=self.visibility_timeout, progress=current):
                    log.warning("job %s: another attempt took the job over; this one finishes anyway", job_id)
                written, renewed = current, time.monotonic()
            except Exception as e:  # a blip: try again next tick; the lease leaves room for two misses
                log.warning("could not update job %s: %s", job_id, e)
