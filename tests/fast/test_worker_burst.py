"""The worker in burst mode on the embedded queue, in this process: it processes what is queued (across queues:
an event routed to a job queue is processed too), waits out retry delays, and returns once nothing is left."""

from __future__ import annotations

import asyncio
import time

from streamprocess.config import Settings
from streamprocess.jobs import JobState
from streamprocess.runtime import Runtime
from streamprocess.worker import Worker

from ..helpers import wav_bytes
from ..processors import PNG, scripted_input

ROLES = ["events", "stt", "ocr"]


async def burst(rt: Runtime, roles: list[str] = ROLES, timeout: float = 20) -> Worker:
    worker, missing = rt.worker(roles, burst=True, receive_wait=1.0)
    assert not missing, missing
    await asyncio.wait_for(worker.run(), timeout)
    return worker


async def test_burst_returns_at_once_when_the_queues_are_empty(runtime: Runtime) -> None:
    start = time.monotonic()
    worker = await burst(runtime)
    assert worker.received == 0 and worker.completed == 0
    assert time.monotonic() - start < 5


async def test_dropped_files_are_routed_processed_and_the_queues_left_empty(runtime: Runtime) -> None:
    inbox = runtime.settings.inbox_prefix
    await runtime.store.put(f"{inbox}call.wav", wav_bytes())
    await runtime.store.put(f"{inbox}scan.png", PNG)
    worker = await burst(runtime)
    records = {r.source.key: r for r in await runtime.jobs.list()}
    assert {k: r.state for k, r in records.items()} == {
        f"{inbox}call.wav": JobState.succeeded,
        f"{inbox}scan.png": JobState.succeeded,
    }
    assert worker.completed == 4  # two events routed, two jobs run
    for role in ROLES:
        assert (await runtime.queues[role].depth()).total == 0


async def test_burst_waits_for_a_retry_that_is_due_later(settings: Settings) -> None:
    scripted = settings.model_copy(update={"stt_processor": "tests.processors:Scripted"})
    async with Runtime(scripted) as rt:
        await rt.ensure()
        await rt.store.put(f"{scripted.inbox_prefix}flaky.wav", scripted_input("fail=transient-until=3"))
        await burst(rt)
        (record,) = await rt.jobs.list()
        assert record.state is JobState.succeeded
        assert (scripted.data_dir.parent / f"{record.job_id}.runs").read_text().count("\n") == 3
