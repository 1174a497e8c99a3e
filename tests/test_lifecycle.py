"""The job's life, in process (fast tier): each named transition of JobStore, and the worker carrying out the
handler's outcome. The real-process versions (kill -9, three queues) are in test_faults.py and tests/reliability/.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streamprocess.config import Settings
from streamprocess.errors import PermanentError, TransientError
from streamprocess.events import make_object_created_event, parse_records
from streamprocess.jobs import (
    Busy,
    Claimed,
    Exhausted,
    JobMessage,
    JobRecord,
    JobState,
    JobStore,
    Settled,
    SourceRef,
)
from streamprocess.metrics import JOBS_RETRIED
from streamprocess.pipeline import JobHandler
from streamprocess.processors import JobContext, ProcessResult
from streamprocess.queues.embedded import EmbeddedQueue
from streamprocess.runtime import Runtime
from streamprocess.storage.local import LocalObjectStore
from streamprocess.worker import Action, RetryPolicy, Worker, WorkerOptions


@pytest.fixture
async def jobs(tmp_path: Path) -> JobStore:
    return JobStore(LocalObjectStore(tmp_path / "store"), "jobs/")


def message(job_id: str = "a" * 32, **kw: object) -> JobMessage:
    fields: dict[str, object] = {"source": SourceRef(bucket="local", key="inbox/a.wav"), **kw}
    return JobMessage(job_id=job_id, kind="stt", media_type="audio/wav", **fields)  # type: ignore[arg-type]


async def claim(jobs: JobStore, owner: str, msg: JobMessage | None = None, lease: float = 30.0, max_attempts: int = 3):  # type: ignore[no-untyped-def]
    return await jobs.claim(
        msg or message(), owner=owner, worker=owner.split("/")[0], lease=lease, max_attempts=max_attempts
    )


async def test_claim_rules(jobs: JobStore) -> None:
    msg = message()
    record, why_not = await jobs.enqueue(msg, tenant="acme")
    assert why_not is None and record.state is JobState.queued and record.tenant == "acme"
    await jobs.dispatched(msg.job_id)
    assert (await jobs.enqueue(msg))[1] == f"job {msg.job_id} is already queued"

    first = await claim(jobs, "w1/a", msg)
    assert isinstance(first, Claimed) and first.attempt == 1
    # A second delivery while the first attempt's lease lives is delayed until the lease runs out, never acked.
    busy = await claim(jobs, "w2/b", msg)
    assert isinstance(busy, Busy) and 29 < busy.retry_after <= 31
    assert await jobs.heartbeat(msg.job_id, owner="w1/a", lease=30, progress=None)
    assert not await jobs.heartbeat(msg.job_id, owner="w2/b", lease=30, progress=None)
    # A late failure of someone else's attempt does not touch the live one.
    assert (
        await jobs.fail(msg.job_id, owner="w2/b", error=PermanentError("x"), attempt=1, permanent=True)
    ).state is JobState.running

    done = await jobs.succeed(
        msg.job_id, owner="w1/a", results={"r": "results/r"}, summary={}, timings={"t": 1}, progress=None
    )
    assert done is not None and done.state is JobState.succeeded and done.lease_until is None
    again = await claim(jobs, "w3/c", msg)
    assert isinstance(again, Settled) and again.reason == "already succeeded"
    # A success is never overwritten: not by a late retry, a late failure or another success.
    await jobs.release(msg.job_id, owner="w1/a", error=TransientError("late"), attempt=1)
    await jobs.fail(msg.job_id, owner="w1/a", error=PermanentError("late"), attempt=1, permanent=True)
    await jobs.succeed(msg.job_id, owner="w3/c", results={}, summary={}, timings={}, progress=None)
    final = await jobs.get(msg.job_id)
    assert final is not None and final.state is JobState.succeeded and final.results == {"r": "results/r"}
    assert [a.outcome for a in final.history] == ["succeeded"]


async def test_an_expired_lease_is_taken_over_and_attempts_run_out(jobs: JobStore) -> None:
    msg = message()
    for n, owner in enumerate(["w1/a", "w2/b", "w3/c"], start=1):
        got = await claim(jobs, owner, msg, lease=0.05)
        assert isinstance(got, Claimed) and got.attempt == n
        await asyncio.sleep(0.06)  # the worker "dies": its lease runs out
    exhausted = await claim(jobs, "w4/d", msg, lease=0.05)
    assert isinstance(exhausted, Exhausted)
    rec = exhausted.record
    assert rec.state is JobState.failed and rec.error is not None
    assert (rec.error.code, rec.error.permanent) == ("attempts_exhausted", False)
    assert [a.outcome for a in rec.history] == ["expired", "expired", "expired"]
    # That failure came after the message was sent: a redelivery of it is settled, not run again.
    assert isinstance(await claim(jobs, "w5/e", msg), Settled)
    # A new event for the object (a re-upload, a replay) enqueues it again, with a full set of attempts.
    newer = message(enqueued_at=time.time() + 1)
    assert (await jobs.enqueue(newer))[1] is None
    again = await claim(jobs, "w6/f", newer)
    assert isinstance(again, Claimed) and again.attempt == 4


async def test_released_attempts_do_not_use_up_tries(jobs: JobStore) -> None:
    msg = message()
    for owner in ["w1/a", "w2/b", "w3/c"]:
        assert isinstance(await claim(jobs, owner, msg), Claimed)
        await jobs.release(msg.job_id, owner=owner)  # a worker stopping (SIGTERM) gives the job back
    fourth = await claim(jobs, "w4/d", msg)
    assert isinstance(fourth, Claimed) and fourth.attempt == 4
    assert [a.outcome for a in fourth.record.history] == ["released", "released", "released", None]


async def test_a_newer_message_reruns_an_older_failure(jobs: JobStore) -> None:
    old = message()
    assert isinstance(await claim(jobs, "w1/a", old), Claimed)
    await jobs.fail(old.job_id, owner="w1/a", error=TransientError("x"), attempt=1, permanent=False)
    assert isinstance(await claim(jobs, "w2/b", old), Settled)  # the failure came after this message
    newer = message(enqueued_at=time.time() + 1)
    assert isinstance(await claim(jobs, "w2/b", newer), Claimed)


async def test_uploads_that_never_come_expire(jobs: JobStore) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    rec = await jobs.create(
        JobRecord(
            job_id="b" * 32,
            kind="ocr",
            state=JobState.awaiting_upload,
            source=SourceRef(bucket="local", key="inbox/uploads/x.png"),
            upload_expires_at=past + timedelta(seconds=60),
        )
    )
    assert (await jobs.expire_upload(rec.job_id)).state is JobState.awaiting_upload  # not yet
    assert await jobs.create(rec.model_copy(update={"state": JobState.failed})) == rec  # create never overwrites
    expired = await jobs.expire_upload(rec.job_id, now=past + timedelta(seconds=61))
    assert expired is not None and expired.state is JobState.failed
    assert expired.error is not None and (expired.error.code, expired.error.permanent) == ("upload_expired", True)


def test_times_without_a_zone_are_utc() -> None:
    event = make_object_created_event(bucket="local", key="inbox/a.wav", size=1, etag="e")
    event["Records"][0]["eventTime"] = "2026-12-01T10:00:00"  # moto's form
    [record] = parse_records(json.dumps(event))
    assert record.event_time == datetime(2026, 12, 1, 10, tzinfo=UTC)
    msg = message(event_time="2026-12-01T10:00:00.500")
    assert msg.event_time is not None and msg.event_time.tzinfo is not None
    assert (datetime.now(UTC) - msg.event_time).total_seconds() > 0


class Quick:
    name = "quick"

    def process(self, ctx: JobContext) -> ProcessResult:
        out = ctx.output("result.txt")
        out.write_text("ok\n")
        return ProcessResult(outputs={"result.txt": out})


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data", visibility_timeout=1, max_attempts=3))
    await runtime.ensure()
    yield runtime
    await runtime.close()


def handler(rt: Runtime, worker: str = "w") -> JobHandler:
    return JobHandler(
        "stt",
        Quick(),
        source_store=rt.store,
        result_store=rt.result_store,
        jobs=rt.jobs,
        results_prefix=rt.settings.results_prefix,
        max_file_size=rt.settings.max_file_size,
        visibility_timeout=rt.settings.visibility_timeout,
        worker=worker,
    )


async def test_a_naive_event_time_does_not_turn_a_success_into_a_retry(rt: Runtime) -> None:
    await rt.store.put("inbox/a.wav", b"RIFF....WAVE")
    info = await rt.store.head("inbox/a.wav")
    body = message(source=SourceRef(bucket="local", key="inbox/a.wav", etag=info.etag)).model_dump(mode="json")
    body["event_time"] = "2026-12-01T10:00:00"  # as moto writes it
    queue = rt.queues["stt"]
    await queue.send(json.dumps(body))
    [m] = await queue.receive(1, wait=1)
    retried = JOBS_RETRIED.labels("stt", "internal_error")._value.get()
    outcome = await handler(rt).handle(m, RetryPolicy())
    assert outcome.action is Action.ack
    assert JOBS_RETRIED.labels("stt", "internal_error")._value.get() == retried
    rec = await rt.jobs.get("a" * 32)
    assert rec is not None and rec.state is JobState.succeeded


async def test_a_redelivery_under_a_dead_workers_live_lease_waits_for_it(rt: Runtime) -> None:
    """The audit's stuck job: a worker dies while its record's lease (renewed by progress) outlives the message's
    visibility. The redelivered message must not be acked as a duplicate: it waits for the lease, then takes the
    job over."""
    await rt.store.put("inbox/a.wav", b"RIFF....WAVE")
    info = await rt.store.head("inbox/a.wav")
    msg = message(source=SourceRef(bucket="local", key="inbox/a.wav", etag=info.etag))
    await rt.queues["stt"].send(msg.model_dump_json())
    dead = await rt.jobs.claim(msg, owner="dead/1", worker="dead", lease=3.0, max_attempts=3)
    assert isinstance(dead, Claimed)  # the dead worker's lease lasts 3 s; the message's visibility is 1 s

    worker = Worker(
        [(rt.queues["stt"], handler(rt, "alive"))],
        WorkerOptions(concurrency=1, visibility_timeout=1, receive_wait=0.2, idle_exit=None),
    )
    task = asyncio.create_task(worker.run())
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            rec = await rt.jobs.get(msg.job_id)
            assert rec is not None
            if rec.state is JobState.succeeded:
                break
            await asyncio.sleep(0.1)
    finally:
        worker.stop()
        await task
    assert rec.state is JobState.succeeded, rec
    assert [(a.worker, a.outcome) for a in rec.history] == [("dead", "expired"), ("alive", "succeeded")]
    assert (await rt.queues["stt"].depth()).total == 0


async def test_the_worker_carries_out_each_outcome(rt: Runtime) -> None:
    """Permanent errors dead-letter with the job failed; transient ones come back after a backoff; a handler
    that cannot settle (its store down) leaves the message to come back, never acked."""

    class Flaky:
        label = "flaky"

        def __init__(self) -> None:
            self.seen: list[int] = []

        async def handle(self, m, policy):  # type: ignore[no-untyped-def]
            self.seen.append(m.receive_count)
            if m.receive_count == 1:
                raise OSError("the record store is unreachable")
            return policy.after(TransientError("busy"), m.receive_count)

    flaky = Flaky()
    queue = EmbeddedQueue(Path(rt.settings.data_dir) / "q.db", "flaky", visibility_timeout=5, max_receives=None)
    await queue.ensure()
    await queue.send("x")
    worker = Worker(
        [(queue, flaky)],
        WorkerOptions(
            concurrency=1,
            visibility_timeout=5,
            receive_wait=0.2,
            retry_base_delay=0.1,
            retry_max_delay=0.2,
            idle_exit=2,
        ),
    )
    await asyncio.wait_for(worker.run(), 20)
    assert flaky.seen == [1, 2, 3]  # unsettled → back; transient → back; the last attempt → dead-lettered
    assert (await queue.depth()).total == 0 and (await queue.dlq.depth()).available == 1
    await queue.close()


async def test_an_event_whose_routers_keep_dying_is_named_in_the_log(
    rt: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    """The queue dead-letters an event on its own (no worker sees it go) after max_attempts + 1 deliveries; the
    last delivery's router says which keys it carries before it starts."""
    from streamprocess.queues.base import Message

    await rt.store.put("inbox/keep-dying.wav", b"RIFF....WAVE")
    event = make_object_created_event(bucket="local", key="inbox/keep-dying.wav", size=12, etag="e")
    last = Message(id="m1", body=json.dumps(event), receive_count=4, receipt="r")
    with caplog.at_level("WARNING", logger="streamprocess.ingest"):
        outcome = await rt.router().handle(last, RetryPolicy(max_attempts=3))
    assert outcome.action is Action.ack
    assert "inbox/keep-dying.wav" in caplog.text and "delivery 4" in caplog.text
