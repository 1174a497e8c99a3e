"""Redis Streams and KEDA's lagCount: every message that waits is counted in the consumer group's ``lag``.

KEDA's ``redis-streams`` scaler reads ``lag`` from ``XINFO GROUPS`` (go-redis turns a NULL lag into -1) and starts a
Job when it is above ``activationLagCount`` (0). A message given back, one a dead worker held, and a delayed one
must each show up there, with no worker running, once the router's keeper (:meth:`Queue.maintain`) has run. All on
a real redis-server.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from streamprocess.config import Settings
from streamprocess.queues.redis_streams import GROUP, RedisStreamQueue
from streamprocess.runtime import Runtime

from .helpers import unique

MakeQueue = Callable[..., Awaitable[RedisStreamQueue]]


@pytest.fixture
async def make_queue(redis_url: str) -> AsyncIterator[MakeQueue]:
    """Queues on one stream name, each its own consumer on its own connection (as separate pods are)."""
    made: list[RedisStreamQueue] = []
    name = unique("keeper")

    async def make(visibility_timeout: float = 30, max_receives: int | None = 5) -> RedisStreamQueue:
        q = RedisStreamQueue(name, url=redis_url, visibility_timeout=visibility_timeout, max_receives=max_receives)
        await q.ensure()
        made.append(q)
        return q

    yield make
    for q in made:
        await q.close()


async def keda_lag(q: RedisStreamQueue) -> int:
    """The consumer group's lag as KEDA reads it: XINFO GROUPS, the group's ``lag``, NULL as -1."""
    for group in await q.redis.xinfo_groups(q.stream):
        if group["name"] == GROUP:
            return -1 if group["lag"] is None else int(group["lag"])
    raise AssertionError(f"no group {GROUP} on {q.stream}")


async def pending(q: RedisStreamQueue) -> int:
    return int((await q.redis.xpending(q.stream, GROUP))["pending"])


async def test_a_nacked_message_is_counted_and_taken_by_a_new_worker(make_queue: MakeQueue) -> None:
    pod, keeper = await make_queue(), await make_queue()
    await pod.send("released on SIGTERM")
    [m] = await pod.receive(1, wait=1)
    assert await keda_lag(pod) == 0  # delivered: a running Job holds it
    await pod.nack(m)
    assert (await keda_lag(pod), await pending(pod)) == (1, 0)
    assert await keeper.maintain() == 0  # nothing left for the keeper
    await pod.close()
    new_pod = await make_queue()
    [again] = await new_pod.receive(1, wait=1)
    assert (again.id, again.body, again.receive_count) == (m.id, m.body, 2)
    await pod.nack(m)  # a stale receipt (the message was given back already) changes nothing
    await new_pod.ack(again)
    assert (await keda_lag(new_pod), (await new_pod.depth()).total) == (0, 0)


async def test_lag_stays_a_number_while_an_older_message_is_held(make_queue: MakeQueue) -> None:
    """Deleting the group's last delivered entry while an older one is still held made Redis report lag as NULL
    (KEDA: -1, no Job) until a worker read again; the queue keeps it a number."""
    long_job, other = await make_queue(), await make_queue()
    await long_job.send("long")
    await long_job.send("short")
    [held] = await long_job.receive(1, wait=1)
    [short] = await other.receive(1, wait=1)
    await other.nack(short)  # a retry: back at the end of the stream, behind the held one
    assert await keda_lag(other) == 1
    [short] = await other.receive(1, wait=1)
    await other.ack(short)
    await long_job.send("arrives while the long job runs")
    assert await keda_lag(other) == 1
    assert held.body == "long" and await pending(other) == 1


async def test_a_dead_workers_message_is_given_back_by_the_keeper(make_queue: MakeQueue) -> None:
    dead, keeper = await make_queue(visibility_timeout=1), await make_queue(visibility_timeout=1)
    await dead.send("held by a pod that was killed")
    [m] = await dead.receive(1, wait=1)
    await dead.redis.aclose()  # the pod is gone; its entry stays in the pending list
    assert await keeper.maintain() == 0  # not yet: it may still be working
    assert (await keda_lag(keeper), await pending(keeper)) == (0, 1)
    await asyncio.sleep(1.2)
    assert await keeper.maintain() == 1
    assert (await keda_lag(keeper), await pending(keeper)) == (1, 0)
    new_pod = await make_queue(visibility_timeout=1)
    [again] = await new_pod.receive(1, wait=1)
    assert (again.id, again.body, again.receive_count) == (m.id, m.body, 2)


async def test_delayed_messages_are_promoted_by_the_keeper(make_queue: MakeQueue) -> None:
    pod, keeper = await make_queue(), await make_queue()
    await pod.send("sent with a delay", delay=0.8)
    await pod.send("x")
    [m] = await pod.receive(1, wait=1)
    await pod.nack(m, delay=0.8)  # a retry after a backoff
    assert (await pod.depth()).delayed == 2 and await pending(pod) == 0
    assert await keeper.maintain() == 0 and await keda_lag(keeper) == 0  # not due yet
    await asyncio.sleep(1.0)
    assert await keeper.maintain() == 2
    assert await keda_lag(keeper) == 2
    got = await make_queue()
    taken = await got.receive(2, wait=1)
    assert sorted((t.body, t.receive_count) for t in taken) == [("sent with a delay", 1), ("x", 2)]


async def test_a_poison_message_still_reaches_the_dlq_through_the_keeper(make_queue: MakeQueue) -> None:
    """A message that kills every worker it reaches is given back with its deliveries counted, and the keeper
    dead-letters it after max_receives deliveries instead of starting another Job for it."""
    keeper = await make_queue(visibility_timeout=0.3, max_receives=3)
    await keeper.send("kills its worker")
    counts = []
    for _ in range(3):
        assert await keda_lag(keeper) == 1
        pod = await make_queue(visibility_timeout=0.3, max_receives=3)
        [m] = await pod.receive(1, wait=1)
        counts.append(m.receive_count)
        await pod.redis.aclose()  # killed
        await asyncio.sleep(0.4)
        assert await keeper.maintain() == 1
    assert counts == [1, 2, 3]
    assert (await keda_lag(keeper), (await keeper.depth()).total) == (0, 0)
    [dead] = await keeper.dlq.peek()
    assert (dead.id, dead.body, dead.attributes["reason"]) == (m.id, m.body, "received 3 times without being acked")


async def test_two_keepers_and_a_worker_at_once_never_duplicate(make_queue: MakeQueue) -> None:
    dead = await make_queue(visibility_timeout=30)
    n = 150  # more than one recovery batch
    for i in range(n):
        await dead.send(str(i), delay=0.2 if i % 3 == 0 else 0)
    await asyncio.sleep(0.25)
    held = []
    while len(held) < n:
        held += await dead.receive(50, wait=0.5)
    await dead.redis.aclose()
    await asyncio.sleep(0.4)
    a, b = await make_queue(visibility_timeout=0.3), await make_queue(visibility_timeout=0.3)
    worker = await make_queue(visibility_timeout=30)  # reads what they give back, as they do it
    moved_a, moved_b, taken = await asyncio.gather(a.maintain(), b.maintain(), worker.receive(10, wait=0))
    assert moved_a + moved_b == n
    entries = await a.redis.xrange(a.stream)
    bodies = Counter([fields["body"] for _, fields in entries])
    assert set(bodies.values()) == {1} and len(entries) == n, "a message was given back twice"
    assert {m.body for m in taken} <= set(bodies)
    assert await keda_lag(a) == n - len(taken) and await pending(a) == len(taken)


async def test_the_router_keeps_the_job_queues(redis_url: str, tmp_path: Path) -> None:
    """`worker --queue events` (and `up`) keep stt and ocr; a job worker keeps nothing."""
    settings = Settings(
        data_dir=str(tmp_path / "data"),
        queue="redis",
        redis_url=redis_url,
        queue_prefix=unique("router") + "-",
        visibility_timeout=0.5,
        stt_processor="tests.processors:Scripted",
        ocr_processor="tests.processors:Scripted",
    )
    async with Runtime(settings) as rt:
        await rt.ensure()
        stt = rt.queues["stt"]
        assert isinstance(stt, RedisStreamQueue)
        job_pod, _ = rt.worker(["stt"])
        assert job_pod.keep == []
        router, _ = rt.worker(["events"], maintain_interval=0.1, receive_wait=0.2)
        assert {q.name for q in router.keep} == {settings.queue_name("stt"), settings.queue_name("ocr")}
        pod = RedisStreamQueue(stt.name, url=redis_url, visibility_timeout=0.5)
        try:
            await pod.send('{"job_id": "j"}')
            [m] = await pod.receive(1, wait=1)
        finally:
            await pod.close()  # killed holding it
        running = asyncio.create_task(router.run())
        try:
            deadline = time.monotonic() + 10
            while await keda_lag(stt) < 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert await keda_lag(stt) == 1
        finally:
            router.stop()
            await running
        [again] = await stt.receive(1, wait=1)
        assert (again.id, again.receive_count) == (m.id, 2)
