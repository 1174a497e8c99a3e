"""Nothing lost, nothing doubled: crashes, duplicates, poison inputs and retries, with real worker processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamprocess.jobs import JobState
from streamprocess.runtime import Runtime

from .helpers import ROOT, Pipeline, as_json, cli, dlq_bodies
from .processors import PNG, scripted_input

pytestmark = pytest.mark.slow


@pytest.fixture(params=["embedded", "redis"])
def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pipeline]:
    extra = {}
    if request.param == "redis":
        extra = {
            "queue": "redis",
            "redis_url": request.getfixturevalue("redis_url"),
            "queue_prefix": f"sp{os.urandom(4).hex()}-",
        }
    p = Pipeline(tmp_path, visibility_timeout=2, max_attempts=3, retry_base_delay=0.2, retry_max_delay=1, **extra)
    yield p
    p.stop()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Pipeline]:
    p = Pipeline(tmp_path, visibility_timeout=2, max_attempts=3, retry_base_delay=0.2, retry_max_delay=1)
    yield p
    p.stop()


async def test_sigkill_mid_job_is_redone_once(pipeline: Pipeline) -> None:
    first = pipeline.start_worker()
    await pipeline.drop("long.wav", scripted_input("sleep=2.5"))
    running = await pipeline.wait_state("long.wav", JobState.running)
    while pipeline.runs(running.job_id) == 0:
        await asyncio.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait()

    pipeline.start_worker()
    done = await pipeline.wait_state("long.wav", JobState.succeeded, timeout=40)
    assert done.job_id == running.job_id
    assert done.attempts == 2
    assert [a.outcome for a in done.history] == ["expired", "succeeded"]  # the killed attempt lost its lease
    assert pipeline.runs(done.job_id) == 2
    assert pipeline.result_files(done.job_id) == ["result.txt"]
    assert done.results == {"result.txt": f"results/{done.job_id}/result.txt"}
    assert done.progress is not None and done.progress.fraction == 1.0
    assert len(await pipeline.records()) == 1


async def test_duplicate_events_make_one_job_and_one_result(embedded: Pipeline) -> None:
    rt = await embedded.runtime()
    try:
        data = scripted_input("sleep=0.3")
        await embedded.drop("dup.wav", data)
        # S3 fires twice for some multipart uploads, and the same bytes may be uploaded again: same ETag.
        [event] = [m async for m in _peek_events(rt)]
        await rt.queues["events"].send(event)
        await embedded.drop("dup.wav", data)
        embedded.start_worker("--concurrency", "4")
        done = await embedded.wait_state("dup.wav", JobState.succeeded)
        await asyncio.sleep(1.5)  # give any duplicate time to run
        assert embedded.runs(done.job_id) == 1
        assert done.attempts == 1 and len(done.history) == 1
        assert embedded.result_files(done.job_id) == ["result.txt"]
        assert len(await embedded.records()) == 1
        # A duplicate job message that met the running job waits for its lease, then finds it done and goes.
        deadline = time.monotonic() + 15
        while (await rt.queues["stt"].depth()).total and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert (await rt.queues["stt"].depth()).total == 0
        assert (await rt.queues["events"].depth()).total == 0
        assert embedded.runs(done.job_id) == 1
    finally:
        await rt.close()


async def _peek_events(rt):  # type: ignore[no-untyped-def]
    q = rt.queues["events"]
    for m in await q.receive(10, wait=1):
        yield m.body
        await q.nack(m)


async def test_poison_inputs_fail_clearly_and_the_worker_keeps_going(embedded: Pipeline) -> None:
    rt = await embedded.runtime()
    try:
        embedded.start_worker()
        await rt.queues["events"].send("this is not an event {")
        await rt.queues["stt"].send('{"job_id": 42}')
        await embedded.drop("corrupt.png", scripted_input("fail=permanent", header=PNG))
        await embedded.drop("notes.txt", b"plain text is not media")
        await embedded.drop("good.wav", scripted_input())

        corrupt = await embedded.wait_state("corrupt.png", JobState.failed)
        assert corrupt.kind == "ocr" and corrupt.error is not None
        assert (corrupt.error.code, corrupt.error.permanent) == ("corrupt_media", True)
        assert embedded.runs(corrupt.job_id) == 1  # no retry storm
        assert [a.outcome for a in corrupt.history] == ["failed"]

        text = await embedded.wait_state("notes.txt", JobState.failed)
        assert text.error is not None and text.error.code == "unsupported_media"
        assert "not an audio, video, image or PDF" in text.error.message

        good = await embedded.wait_state("good.wav", JobState.succeeded)
        assert embedded.result_files(good.job_id) == ["result.txt"]

        ocr_dlq = [as_json(b) for b in await dlq_bodies(rt, "ocr")]
        assert [b["job_id"] for b in ocr_dlq] == [corrupt.job_id]
        assert '{"job_id": 42}' in await dlq_bodies(rt, "stt")
        events_dlq = await dlq_bodies(rt, "events")
        assert "this is not an event {" in events_dlq
        assert any("notes.txt" in b for b in events_dlq)
        assert embedded.workers[0].poll() is None  # still running
        # Every dead-lettered message is logged with what it was about, and listed by `streamprocess queues`.
        log = embedded.log_text()
        assert "dead-lettered" in log and "inbox/notes.txt" in log and corrupt.job_id in log
        listing = subprocess.run(
            cli("queues"), env=embedded.env(), capture_output=True, text=True, timeout=60, cwd=ROOT, check=True
        ).stdout
        assert "inbox/notes.txt" in listing and "not an event" in listing
        assert f"job {corrupt.job_id} (inbox/corrupt.png)" in listing and "corrupt_media" in listing
    finally:
        await rt.close()


async def test_transient_errors_are_retried_with_backoff(embedded: Pipeline) -> None:
    embedded.start_worker()
    await embedded.drop("flaky.wav", scripted_input("fail=transient-until=3"))
    done = await embedded.wait_state("flaky.wav", JobState.succeeded)
    assert done.attempts == 3 and embedded.runs(done.job_id) == 3
    assert [a.outcome for a in done.history] == ["retry", "retry", "succeeded"]
    assert done.error is None


async def test_retries_run_out_into_a_failed_record(embedded: Pipeline) -> None:
    embedded.start_worker()
    await embedded.drop("never.wav", scripted_input("fail=transient-until=99"))
    failed = await embedded.wait_state("never.wav", JobState.failed)
    assert failed.attempts == 3 and embedded.runs(failed.job_id) == 3
    assert failed.error is not None and (failed.error.code, failed.error.permanent) == ("engine_busy", False)
    assert [a.outcome for a in failed.history] == ["retry", "retry", "failed"]


async def test_a_crash_loop_ends_in_a_failed_record(embedded: Pipeline) -> None:
    """An input that kills its worker every time (a segfaulting decoder) is tried max_attempts times, then failed;
    the worker that sees it next stays up and processes other files."""
    await embedded.drop("segfault.wav", scripted_input("crash"))
    job_id = None
    for _ in range(3):
        w = embedded.start_worker()
        assert w.wait(60) == 3  # the scripted crash exits 3
        job_id = job_id or (await embedded.wait_state("segfault.wav", JobState.running)).job_id
    assert embedded.runs(job_id) == 3
    survivor = embedded.start_worker()
    failed = await embedded.wait_state("segfault.wav", JobState.failed, timeout=30)
    assert failed.error is not None and failed.error.code == "attempts_exhausted"
    assert embedded.runs(job_id) == 3  # not run a fourth time
    await embedded.drop("after.wav", scripted_input())
    await embedded.wait_state("after.wav", JobState.succeeded)
    assert survivor.poll() is None


async def test_sigterm_drains_in_flight_work(embedded: Pipeline) -> None:
    w = embedded.start_worker("--concurrency", "2")
    await embedded.drop("a.wav", scripted_input("sleep=1.5"))
    await embedded.wait_state("a.wav", JobState.running)
    w.send_signal(signal.SIGTERM)
    await embedded.drop("b.wav", scripted_input())  # arrives after SIGTERM: must wait for the next worker
    assert w.wait(30) == 0
    a = await embedded.wait_state("a.wav", JobState.succeeded, timeout=1)
    assert embedded.runs(a.job_id) == 1
    assert [r.source.key for r in await embedded.records()] == ["inbox/a.wav"]
    rt = await embedded.runtime()
    try:  # b's event was not taken: it waits in the queue for the next worker
        assert (await rt.queues["events"].depth()).available == 1
    finally:
        await rt.close()


async def test_sigterm_past_the_grace_period_releases_the_job(embedded: Pipeline) -> None:
    w = embedded.start_worker(shutdown_grace=0.5)
    await embedded.drop("slow.wav", scripted_input("sleep=30"))
    await embedded.wait_state("slow.wav", JobState.running)
    t = time.monotonic()
    w.send_signal(signal.SIGTERM)
    assert w.wait(20) == 0 and time.monotonic() - t < 10
    released = await embedded.wait_state("slow.wav", JobState.queued, timeout=5)
    assert [a.outcome for a in released.history] == ["released"]
    rt = await embedded.runtime()
    try:
        assert (await rt.queues["stt"].depth()).available == 1  # back in the queue at once
    finally:
        await rt.close()


async def test_max_jobs_and_idle_exit_let_a_keda_job_pod_finish(embedded: Pipeline) -> None:
    for i in range(3):
        await embedded.drop(f"batch-{i}.wav", scripted_input())
    # The router needs its own budget: route everything first, then run a job pod capped at 2 jobs.
    router = embedded.start_worker("--queue", "events", "--idle-exit", "1")
    assert router.wait(30) == 0
    t = time.monotonic()
    pod = embedded.start_worker("--queue", "stt", "--max-jobs", "2")
    assert pod.wait(30) == 0
    done = [r for r in await embedded.records() if r.state is JobState.succeeded]
    assert len(done) == 2
    idle = embedded.start_worker("--queue", "stt", "--idle-exit", "1.5")
    assert idle.wait(30) == 0 and time.monotonic() - t > 1.5
    assert len([r for r in await embedded.records() if r.state is JobState.succeeded]) == 3
    assert "max-jobs" in embedded.log_text() and "idle-exit" in embedded.log_text()


async def test_burst_drains_every_queue_then_exits(embedded: Pipeline) -> None:
    """`worker --burst` (a Job that drains its queues): routes and runs everything queued, retries included, and
    exits 0 once nothing is left, without an idle timer."""
    for i in range(2):
        await embedded.drop(f"burst-{i}.wav", scripted_input())
    await embedded.drop("flaky.wav", scripted_input("fail=transient-until=2"))
    worker = embedded.start_worker("--burst")
    assert worker.wait(60) == 0, embedded.log_text()
    records = await embedded.records()
    assert sorted(r.state for r in records) == [JobState.succeeded] * 3, embedded.log_text()
    assert "exiting (burst)" in embedded.log_text()
    async with Runtime(embedded.settings) as rt:
        for role, queue in rt.queues.items():
            assert (await queue.depth()).total == 0, role


def test_scripted_inputs_are_media() -> None:
    from streamprocess.media import detect

    assert detect(scripted_input()).kind == "stt"
    assert detect(scripted_input(header=PNG)).kind == "ocr"
    assert json.loads(json.dumps({"ok": True}))
