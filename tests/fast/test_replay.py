"""Event replay in this process, on the embedded store and queue: the event archive, every source of
`streamprocess replay` (archive window, backfill, dead-letter redrive, failed jobs, job ids), the filters, a dry
run, a second replay, two at once, --force keeping the earlier results."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from streamprocess.config import Settings
from streamprocess.events import make_object_created_event, parse_records
from streamprocess.jobs import JobMessage, JobState
from streamprocess.replay import Outcome, ReplayOptions, ReplayReport
from streamprocess.runtime import Runtime

from ..helpers import run_burst, wav_bytes
from ..processors import PNG, scripted_input

EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def since() -> datetime:
    return datetime.now(UTC) - timedelta(hours=1)


def until() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=1)


async def states(rt: Runtime) -> dict[str, JobState]:
    return {r.source.key.removeprefix(rt.settings.inbox_prefix): r.state for r in await rt.jobs.list()}


async def depths(rt: Runtime) -> dict[str, int]:
    out = {}
    for role, q in rt.queues.items():
        out[role] = (await q.depth()).total
        out[f"{role}-dlq"] = (await q.dlq.depth()).total
    return out


def counts(report: ReplayReport) -> dict[str, int]:
    return {k.value: v for k, v in report.counts.items() if v}


async def snapshot(rt: Runtime) -> tuple[list[str], dict[str, int]]:
    """Every object in the result store (with its ETag) and every queue's depth: what a dry run must not change."""
    objects = sorted([f"{o.key}@{o.etag}" async for o in rt.result_store.list("")])
    return objects, await depths(rt)


async def test_accepted_events_are_archived_once_by_hour_and_old_hours_expire(runtime: Runtime) -> None:
    inbox = runtime.settings.inbox_prefix
    await runtime.store.put(f"{inbox}a.wav", wav_bytes())
    await run_burst(runtime)
    archived = [o.key async for o in runtime.result_store.list(runtime.settings.archive_prefix)]
    assert len(archived) == 1
    assert archived[0].startswith(f"archive/events/{datetime.now(UTC):%Y/%m/%d/}")
    (record,) = [r async for r in runtime.archive.window(since(), until())]
    assert record.key == f"{inbox}a.wav" and record.is_object_created
    assert await runtime.archive.put(record) is False  # the same event again: one object
    old = record.model_copy(update={"event_time": EPOCH})
    assert await runtime.archive.put(old) is True
    assert runtime.archive.key(old).startswith("archive/events/2020/01/01/00/")
    assert await runtime.archive.expire() == 1
    assert [o.key async for o in runtime.result_store.list("archive/")] == archived
    # Events that start no job are not archived.
    outside = parse_records(make_object_created_event(bucket="local", key="results/x.wav", size=1, etag="e"))
    await runtime.router().route(outside[0])
    assert [o.key async for o in runtime.result_store.list("archive/")] == archived


def test_the_archive_prefix_is_refused_under_the_inbox() -> None:
    with pytest.raises(ValidationError, match="archive_prefix"):
        Settings(archive_prefix="inbox/archive/")
    assert Settings(archive_prefix="inbox/a/", results_bucket="other").archive_prefix == "inbox/a/"


async def test_archive_days_zero_keeps_nothing(settings: Settings) -> None:
    async with Runtime(settings.model_copy(update={"archive_days": 0})) as rt:
        await rt.ensure()
        await rt.store.put(f"{rt.settings.inbox_prefix}a.wav", wav_bytes())
        await run_burst(rt)
        assert await states(rt) == {"a.wav": JobState.succeeded}
        assert [o.key async for o in rt.result_store.list("archive/")] == []


async def test_archive_window_replays_nothing_done_then_force_keeps_the_previous_version(runtime: Runtime) -> None:
    inbox = runtime.settings.inbox_prefix
    await runtime.store.put(f"{inbox}a.wav", wav_bytes())
    await runtime.store.put(f"{inbox}b.png", PNG)
    await run_burst(runtime)
    report = await runtime.replayer(ReplayOptions()).replay_archive(since(), until())
    assert counts(report) == {"skipped_done": 2}
    assert report.report_key == f"jobs/replays/{report.id}.json"
    stored = ReplayReport.model_validate_json(await runtime.result_store.get(report.report_key))
    assert stored.counts == report.counts and len(stored.items) == 2
    # An empty window finds nothing.
    earlier = await runtime.replayer(ReplayOptions()).replay_archive(EPOCH, EPOCH + timedelta(hours=2))
    assert counts(earlier) == {}

    forced = await runtime.replayer(ReplayOptions(force=True, key="*.png")).replay_archive(since(), until())
    assert counts(forced) == {"queued": 1, "skipped_filter": 1}
    (png,) = [r for r in await runtime.jobs.list() if r.kind == "ocr"]
    assert png.state is JobState.queued and png.results == {}
    (v1,) = png.previous_results
    assert v1.version == 1 and set(v1.results) == {"ocr.json", "ocr.txt"}
    assert all(k.startswith(f"results/{png.job_id}/v1/") for k in v1.results.values())
    before = await runtime.result_store.get(v1.results["ocr.txt"])
    await run_burst(runtime)
    done = await runtime.jobs.get(png.job_id)
    assert done is not None and done.state is JobState.succeeded and done.results["ocr.txt"].endswith("/ocr.txt")
    assert [p.version for p in done.previous_results] == [1]
    assert await runtime.result_store.get(v1.results["ocr.txt"]) == before  # never overwritten


async def test_backfill_of_a_prefix_dry_run_then_real_then_again(runtime: Runtime, settings: Settings) -> None:
    inbox = Path(settings.data_dir) / settings.inbox_prefix
    (inbox / "old").mkdir(parents=True)
    (inbox / "old" / "a.wav").write_bytes(wav_bytes())  # put there by hand: no event, never processed
    (inbox / "old" / "b.png").write_bytes(PNG)
    (inbox / "other.png").write_bytes(PNG)
    before = await snapshot(runtime)
    dry = await runtime.replayer(ReplayOptions(dry_run=True)).replay_prefix("inbox/old/")
    assert counts(dry) == {"queued": 2} and dry.report_key is None
    assert await snapshot(runtime) == before

    report = await runtime.replayer(ReplayOptions(kind="stt")).replay_prefix("inbox/old/")
    assert counts(report) == {"queued": 1, "skipped_filter": 1}
    report = await runtime.replayer(ReplayOptions()).replay_prefix("inbox/old/")
    assert counts(report) == {"queued": 1, "skipped_busy": 1}  # the wav is queued already
    await run_burst(runtime)
    assert await states(runtime) == {"old/a.wav": JobState.succeeded, "old/b.png": JobState.succeeded}
    again = await runtime.replayer(ReplayOptions()).replay_prefix("inbox/old/")
    assert counts(again) == {"skipped_done": 2}
    assert (await depths(runtime))["stt"] == 0


async def test_failed_jobs_run_again_once_the_cause_is_fixed(settings: Settings) -> None:
    scripted = settings.model_copy(update={"stt_processor": "tests.processors:Scripted", "max_attempts": 1})
    async with Runtime(scripted) as rt:
        await rt.ensure()
        await rt.store.put(f"{scripted.inbox_prefix}flaky.wav", scripted_input("fail=transient-until=2"))
        await rt.store.put(f"{scripted.inbox_prefix}ok.png", PNG)
        await run_burst(rt)
        assert await states(rt) == {"flaky.wav": JobState.failed, "ok.png": JobState.succeeded}
        assert (await depths(rt))["stt-dlq"] == 1
        none = await rt.replayer(ReplayOptions()).replay_failed("corrupt_media")
        assert counts(none) == {}
        report = await rt.replayer(ReplayOptions()).replay_failed("engine_busy")
        assert counts(report) == {"queued": 1}
        await run_burst(rt)
        assert await states(rt) == {"flaky.wav": JobState.succeeded, "ok.png": JobState.succeeded}
        # The job's dead-lettered message is now redundant: the redrive finds it done and removes it.
        redrive = await rt.replayer(ReplayOptions()).replay_dlq(["stt"])
        assert counts(redrive) == {"skipped_done": 1} and redrive.dlq_removed == 1
        assert (await depths(rt))["stt-dlq"] == 0


async def test_a_dead_lettered_bucket_event_is_redriven_to_a_result(settings: Settings) -> None:
    small = settings.model_copy(update={"max_file_size": 50})
    async with Runtime(small) as rt:
        await rt.ensure()
        await rt.store.put(f"{small.inbox_prefix}big.wav", wav_bytes())
        await run_burst(rt)
        (rec,) = await rt.jobs.list()
        assert rec.state is JobState.failed and rec.error is not None and rec.error.code == "file_too_large"
        assert (await depths(rt))["events-dlq"] == 1
        still = await rt.replayer(ReplayOptions()).replay_dlq(["events"])  # the cause is not fixed yet
        assert counts(still) == {"error": 1} and still.dlq_removed == 0
        assert (await depths(rt))["events-dlq"] == 1
    async with Runtime(settings) as rt:  # the limit raised
        before = await snapshot(rt)
        dry = await rt.replayer(ReplayOptions(dry_run=True)).replay_dlq(["events", "stt", "ocr"])
        assert counts(dry) == {"queued": 1}
        assert await snapshot(rt) == before
        report = await rt.replayer(ReplayOptions()).replay_dlq(["events", "stt", "ocr"])
        assert counts(report) == {"queued": 1} and report.dlq_removed == 1
        await run_burst(rt)
        assert await states(rt) == {"big.wav": JobState.succeeded}
        assert (await depths(rt))["events-dlq"] == 0
        again = await rt.replayer(ReplayOptions()).replay_dlq(["events"])
        assert counts(again) == {}


async def test_jobs_by_id_and_tenant_filter(runtime: Runtime) -> None:
    await runtime.store.put(f"{runtime.settings.inbox_prefix}a.wav", wav_bytes())
    await run_burst(runtime)
    (rec,) = await runtime.jobs.list()
    report = await runtime.replayer(ReplayOptions(force=True, tenant="someone-else")).replay_jobs(
        [rec.job_id, "f" * 32]
    )
    assert counts(report) == {"skipped_filter": 1, "error": 1}
    report = await runtime.replayer(ReplayOptions(force=True, tenant="default")).replay_jobs([rec.job_id])
    assert counts(report) == {"queued": 1}


async def test_two_replays_at_once_queue_a_job_once(runtime: Runtime, settings: Settings) -> None:
    inbox = Path(settings.data_dir) / settings.inbox_prefix
    inbox.mkdir(parents=True, exist_ok=True)
    for n in range(5):
        (inbox / f"f{n}.png").write_bytes(PNG)
    reports = await asyncio.gather(*(runtime.replayer(ReplayOptions()).replay_prefix("inbox/") for _ in range(3)))
    assert sum(r.counts[Outcome.queued] for r in reports) == 5
    assert (await runtime.queues["ocr"].depth()).total == 5


async def test_an_interrupted_replay_can_be_run_again(runtime: Runtime, settings: Settings) -> None:
    inbox = Path(settings.data_dir) / settings.inbox_prefix
    inbox.mkdir(parents=True, exist_ok=True)
    for n in range(4):
        (inbox / f"f{n}.png").write_bytes(PNG)
    replayer = runtime.replayer(ReplayOptions())
    replayer.on_item = lambda item: replayer.stop()  # Ctrl+C during the first item
    first = await replayer.replay_prefix("inbox/")
    assert first.interrupted and counts(first) == {"queued": 1}
    stored = json.loads(await runtime.result_store.get(first.report_key or ""))
    assert stored["interrupted"] is True
    second = await runtime.replayer(ReplayOptions()).replay_prefix("inbox/")
    assert counts(second) == {"queued": 3, "skipped_busy": 1}
    await run_burst(runtime)
    assert set((await states(runtime)).values()) == {JobState.succeeded}


async def test_reopen_rules(runtime: Runtime) -> None:
    await runtime.store.put(f"{runtime.settings.inbox_prefix}a.wav", wav_bytes())
    await run_burst(runtime)
    (rec,) = await runtime.jobs.list()
    msg = JobMessage(job_id=rec.job_id, kind=rec.kind, source=rec.source, media_type="audio/x-wav")
    found, why = await runtime.jobs.reopen(msg)
    assert why is not None and "succeeded" in why and found is not None and found.state is JobState.succeeded
    reopened, why = await runtime.jobs.reopen(msg, force=True)
    assert why is None and reopened is not None and reopened.state is JobState.queued
    assert reopened.previous_results[0].results == rec.results
    _, why = await runtime.jobs.reopen(msg, force=True)  # just queued by someone: left to them
    assert why is not None and "being queued" in why
    _, why = await runtime.jobs.reopen(msg, force=True, settle=0)  # its sender died: queued again
    assert why is None
    again = await runtime.jobs.get(rec.job_id)
    assert again is not None and [v.version for v in again.previous_results] == [1]  # one run set aside, once


async def test_rate_limits_how_fast_jobs_are_queued(runtime: Runtime, settings: Settings) -> None:
    inbox = Path(settings.data_dir) / settings.inbox_prefix
    inbox.mkdir(parents=True, exist_ok=True)
    for n in range(5):
        (inbox / f"f{n}.png").write_bytes(PNG)
    start = time.monotonic()
    report = await runtime.replayer(ReplayOptions(rate=20)).replay_prefix("inbox/")
    assert counts(report) == {"queued": 5}
    assert time.monotonic() - start >= 4 / 20
