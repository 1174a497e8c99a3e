"""`streamprocess replay` through the real CLI on each queue: embedded (SQLite), Redis Streams on a real
redis-server, and SQS + S3 on moto's server. Workers run as `streamprocess worker --burst` subprocesses with the
scripted processor: a bucket event dead-lettered (its file over the size limit) is redriven to a result once the
limit is raised, a job that failed is run again, a dry run changes nothing, a backfill of a prefix runs what no
event announced, the archive window and a second replay queue nothing, --force keeps the earlier result."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from streamprocess.events import make_object_created_event
from streamprocess.jobs import JobRecord, JobState
from streamprocess.runtime import Runtime

from .helpers import ROOT, Pipeline, cli, unique
from .processors import PNG, scripted_input

pytestmark = pytest.mark.slow

SMALL = 300  # bytes: the first worker's size limit, which big.wav is over


@pytest.fixture(params=["embedded", "redis", "sqs"])
def pipeline(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    settings: dict[str, Any] = {"max_attempts": 1, "retry_base_delay": 0.05, "visibility_timeout": 10}
    if request.param == "redis":
        settings.update(queue="redis", redis_url=request.getfixturevalue("redis_url"), queue_prefix=unique("r") + "-")
    elif request.param == "sqs":
        moto = request.getfixturevalue("moto_url")
        settings.update(
            store="s3",
            bucket=request.getfixturevalue("s3_bucket"),
            s3_endpoint_url=moto,
            queue="sqs",
            sqs_endpoint_url=moto,
            queue_prefix=unique("s") + "-",
        )
    p = Pipeline(tmp_path, **settings)
    yield p
    p.stop()


async def drop(p: Pipeline, key: str, data: bytes, *, event: bool = True) -> None:
    """An object lands in the inbox: its bucket event follows (the local store sends it itself; for S3 the test
    sends what the bucket notification would). ``event=False``: put there with no event (a backfill's case)."""
    full = f"{p.settings.inbox_prefix}{key}"
    if not event and p.settings.store == "local":
        path = Path(p.settings.data_dir) / full
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    async with Runtime(p.settings) as rt:
        await rt.ensure()
        info = await rt.store.put(full, data)
        if event and p.settings.store == "s3":
            body = make_object_created_event(bucket=p.settings.bucket, key=full, size=info.size, etag=info.etag)
            await rt.queues["events"].send(json.dumps(body))


def burst(p: Pipeline, **extra: Any) -> None:
    proc = p.start_worker("--burst", **extra)
    assert proc.wait(90) == 0, p.log_text()


def replay(p: Pipeline, *args: str, code: int = 0, **extra: Any) -> str:
    out = subprocess.run(cli("replay", *args), env=p.env(**extra), cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert out.returncode == code, (args, out.stdout, out.stderr[-3000:])
    assert "Traceback" not in out.stderr
    return out.stdout


async def by_name(p: Pipeline) -> dict[str, JobRecord]:
    return {r.source.key.rsplit("/", 1)[-1]: r for r in await p.records()}


async def dlq_depth(p: Pipeline, role: str) -> int:
    async with Runtime(p.settings) as rt:
        await rt.ensure()
        return (await rt.queues[role].dlq.depth()).total


async def test_replay_every_source_through_the_cli(pipeline: Pipeline) -> None:
    p = pipeline
    await drop(p, "big.wav", scripted_input() + b"\0" * SMALL)
    await drop(p, "flaky.wav", scripted_input("fail=transient-until=2"))
    await drop(p, "ok.png", scripted_input(header=PNG))
    burst(p, max_file_size=SMALL)
    jobs = await by_name(p)
    assert {n: r.state for n, r in jobs.items()} == {
        "big.wav": JobState.failed,
        "flaky.wav": JobState.failed,
        "ok.png": JobState.succeeded,
    }
    assert jobs["big.wav"].error and jobs["big.wav"].error.code == "file_too_large"
    assert await dlq_depth(p, "events") == 1 and await dlq_depth(p, "stt") == 1

    # A dry run of the redrive says what it would do and changes nothing.
    out = replay(p, "--dlq", "events", "--dry-run")
    assert "would be queued: 1" in out and "report:" not in out, out
    assert await dlq_depth(p, "events") == 1
    assert (await by_name(p))["big.wav"].updated_at == jobs["big.wav"].updated_at

    # The limit raised: the dead-lettered event is redriven; the failed job runs again.
    out = replay(p, "--dlq", "events")
    assert "queued: 1" in out and "removed from dead-letter queues: 1" in out, out
    assert "queued: 1" in replay(p, "--failed", "--code", "engine_busy")
    burst(p)
    jobs = await by_name(p)
    assert {r.state for r in jobs.values()} == {JobState.succeeded}, {n: r.error for n, r in jobs.items()}
    assert await dlq_depth(p, "events") == 0
    # The flaky job's dead message is redundant now: removed as done.
    out = replay(p, "--dlq", "all")
    assert "skipped, already done: 1" in out and "removed from dead-letter queues: 1" in out, out
    assert await dlq_depth(p, "stt") == 0

    # A backfill: an object no event announced.
    await drop(p, "late/c.png", scripted_input(header=PNG), event=False)
    where = f"s3://{p.settings.bucket}/inbox/late/" if p.settings.store == "s3" else "inbox/late/"
    assert "queued: 1" in replay(p, "--prefix", where)
    out = replay(p, "--prefix", "inbox/")
    assert "queued: 0" in out and "skipped, already done: 3" in out and "skipped, running or queued: 1" in out, out
    burst(p)
    assert (await by_name(p))["c.png"].state is JobState.succeeded

    # The archive window holds the three events the router accepted: all done, nothing queued.
    out = replay(p, "--archive", "--since", "1h")
    assert "queued: 0" in out and "skipped, already done: 3" in out, out
    out = replay(p, "--archive", "--since", "1h", "--key", "*.png", "--kind", "ocr", "--json")
    report = json.loads(out)
    assert report["counts"] == {
        "queued": 0,
        "skipped_done": 1,
        "skipped_busy": 0,
        "skipped_filter": 2,
        "skipped_other": 0,
        "error": 0,
    }
    async with Runtime(p.settings) as rt:
        stored = json.loads(await rt.result_store.get(report["report_key"]))
        assert stored["id"] == report["id"]

    # --force: the job runs again, its earlier result kept as version 1; then a second replay queues nothing.
    ok = (await by_name(p))["ok.png"]
    assert "queued: 1" in replay(p, "--job", ok.job_id, "--force")
    burst(p)
    again = (await by_name(p))["ok.png"]
    assert again.state is JobState.succeeded and [v.version for v in again.previous_results] == [1]
    async with Runtime(p.settings) as rt:
        kept = await rt.result_store.get(again.previous_results[0].results["result.txt"])
        now = await rt.result_store.get(again.results["result.txt"])
    assert kept.startswith(b"run 1 of") and now.startswith(b"run 2 of")
    out = replay(p, "--job", ok.job_id)
    assert "queued: 0" in out and "skipped, already done: 1" in out, out
    # A job id that does not exist is an error (exit 1), said plainly.
    assert "no such job" in replay(p, "--job", "0" * 32, code=1)


def test_bad_command_lines_are_refused(tmp_path: Path) -> None:
    p = Pipeline(tmp_path)
    for args, words in (
        ((), "exactly one source"),
        (("--failed", "--dlq", "events"), "exactly one source"),
        (("--prefix", "results/"), "inbox only"),
        (("--prefix", "s3://other/inbox/"), "not the inbox bucket"),
        (("--dlq", "nope"), "no queue role"),
        (("--archive", "--since", "yesterday"), "ISO 8601"),
        (("--job", "x", "--kind", "pdf"), "--kind"),
    ):
        out = subprocess.run(cli("replay", *args), env=p.env(), cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and words in out.stderr, (args, out.stderr)
