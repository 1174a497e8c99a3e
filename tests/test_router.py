"""The event router's decisions, on a real local store and embedded queue in this process."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from streamprocess.config import Settings
from streamprocess.events import make_object_created_event
from streamprocess.ingest import RejectedInputs
from streamprocess.jobs import JobError, JobMessage, JobState
from streamprocess.runtime import Runtime

from .helpers import ROOT
from .processors import PNG, scripted_input


@pytest.fixture
async def rt(tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = Runtime(Settings(data_dir=tmp_path / "data", max_file_size=1000))
    await runtime.ensure()
    yield runtime
    await runtime.close()


def event_for(key: str, etag: str = "e", bucket: str = "local", name: str = "ObjectCreated:Put") -> dict:
    return make_object_created_event(bucket=bucket, key=key, size=1, etag=etag, event_name=name)


async def put_quietly(rt: Runtime, key: str, data: bytes):  # type: ignore[no-untyped-def]
    """Store an object without its bucket event (the test sends events itself)."""
    notify, rt.store.notify = rt.store.notify, None
    try:
        return await rt.store.put(key, data)
    finally:
        rt.store.notify = notify


async def test_routes_by_content_to_the_right_queue(rt: Runtime) -> None:
    wav = await put_quietly(rt, "inbox/really-an-image.wav", PNG)
    [routed] = await rt.router().route_payload(event_for("inbox/really-an-image.wav", wav.etag))
    assert (routed.outcome, routed.kind) == ("queued", "ocr")
    [m] = await rt.queues["ocr"].receive(1)
    job = JobMessage.model_validate_json(m.body)
    assert job.job_id == routed.job_id and job.media_type == "image/png"
    record = await rt.jobs.get(routed.job_id)
    assert record is not None and record.state is JobState.queued and record.dispatched
    assert (await rt.queues["stt"].depth()).total == 0


@pytest.mark.parametrize(
    "event, reason",
    [
        (event_for("results/abc/out.json"), "outside the inbox"),
        (event_for("jobs/abc.json"), "outside the inbox"),
        (event_for("inbox/x.wav", bucket="someone-else"), "not the inbox bucket"),
        (event_for("inbox/x.wav", name="ObjectRemoved:Delete"), "does not start jobs"),
        (event_for("inbox/folder/"), "folder marker"),
        (event_for("inbox/deleted-already.wav"), "no longer exists"),
    ],
)
async def test_skips_what_must_not_start_a_job(rt: Runtime, event: dict, reason: str) -> None:
    [routed] = await rt.router().route_payload(event)
    assert routed.outcome == "skipped" and reason in (routed.reason or "")
    assert await rt.jobs.list() == []


async def test_test_event_routes_nothing(rt: Runtime) -> None:
    assert await rt.router().route_payload((ROOT / "events" / "s3-test-event.json").read_text()) == []


async def test_too_large_and_unsupported_inputs_fail_with_records(rt: Runtime) -> None:
    big = await put_quietly(rt, "inbox/huge.wav", scripted_input() + b"\0" * 2000)
    txt = await put_quietly(rt, "inbox/readme.txt", b"just text")
    ok = await put_quietly(rt, "inbox/fine.wav", scripted_input())
    payload = {
        "Records": [
            event_for("inbox/huge.wav", big.etag)["Records"][0],
            event_for("inbox/readme.txt", txt.etag)["Records"][0],
            event_for("inbox/fine.wav", ok.etag)["Records"][0],
        ]
    }
    with pytest.raises(RejectedInputs, match="huge.wav.*file_too_large.*readme.txt.*unsupported_media"):
        await rt.router().route_payload(json.dumps(payload))
    records = {r.source.key: r for r in await rt.jobs.list()}
    assert records["inbox/huge.wav"].error.code == "file_too_large"  # type: ignore[union-attr]
    assert "over the 1000-byte limit" in records["inbox/huge.wav"].error.message  # type: ignore[union-attr]
    assert records["inbox/readme.txt"].error.code == "unsupported_media"  # type: ignore[union-attr]
    assert records["inbox/fine.wav"].state is JobState.queued  # the good record in the same event still ran


async def test_duplicates_and_redrives(rt: Runtime) -> None:
    router = rt.router()
    info = await put_quietly(rt, "inbox/a.wav", scripted_input())
    event = event_for("inbox/a.wav", info.etag)
    [first] = await router.route_payload(event)
    [again] = await router.route_payload(event)
    assert (first.outcome, again.outcome, again.job_id) == ("queued", "duplicate", first.job_id)
    assert (await rt.queues["stt"].depth()).total == 1

    async def set_failure(code: str, permanent: bool) -> None:
        def fail(rec):  # type: ignore[no-untyped-def]
            rec.state = JobState.failed
            rec.error = JobError(code=code, message="x", permanent=permanent, attempt=3)
            return rec

        await rt.jobs.update(first.job_id, fail)

    await set_failure("corrupt_media", True)
    [permanent] = await router.route_payload(event)
    assert permanent.outcome == "duplicate" and "failed for good" in (permanent.reason or "")
    await set_failure("attempts_exhausted", False)
    [redriven] = await router.route_payload(event)  # a replayed event re-runs a job whose retries ran out
    assert redriven.outcome == "queued"
    assert (await rt.queues["stt"].depth()).total == 2
