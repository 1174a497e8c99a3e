"""One contract for every queue: embedded (SQLite), SQS (a real moto server) and Redis Streams (a real redis-server)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from streamprocess.queues import Queue
from streamprocess.queues.embedded import EmbeddedQueue
from streamprocess.queues.redis_streams import RedisStreamQueue
from streamprocess.queues.sqs import SQSQueue

from .helpers import unique

MakeQueue = Callable[..., Awaitable[Queue]]


@pytest.fixture(params=["embedded", "sqs", "redis"])
async def make_queue(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeQueue]:
    made: list[Queue] = []

    async def make(visibility_timeout: float = 30, max_receives: int | None = 5) -> Queue:
        name = unique("q")
        kw = {"visibility_timeout": visibility_timeout, "max_receives": max_receives}
        if request.param == "embedded":
            q: Queue = EmbeddedQueue(tmp_path / "queue.db", name, **kw)
        elif request.param == "sqs":
            q = SQSQueue(name, endpoint_url=request.getfixturevalue("moto_url"), **kw)
        else:
            q = RedisStreamQueue(name, url=request.getfixturevalue("redis_url"), **kw)
        await q.ensure()
        made.append(q)
        return q

    yield make
    for q in made:
        await q.close()


async def receive_until(q: Queue, n: int = 1, timeout: float = 10, **kw: float) -> list:
    """Receive until ``n`` messages have come (or the timeout)."""
    got: list = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += await q.receive(n - len(got), wait=1, **kw)
    return got


async def test_send_receive_ack(make_queue: MakeQueue) -> None:
    q = await make_queue()
    body = '{"hello": "wörld ✓"}'
    msg_id = await q.send(body)
    [m] = await receive_until(q)
    assert (m.id, m.body, m.receive_count) == (msg_id, body, 1)
    assert m.sent_at is not None and abs(m.sent_at - time.time()) < 60
    await q.ack(m)
    assert await q.receive(1, wait=1) == []
    assert (await q.depth()).total == 0


async def test_long_poll_returns_as_soon_as_a_message_arrives(make_queue: MakeQueue) -> None:
    q = await make_queue()
    start = time.monotonic()
    empty = await q.receive(1, wait=1)
    assert empty == [] and time.monotonic() - start >= 0.9  # it did wait

    async def later() -> None:
        await asyncio.sleep(0.3)
        await q.send("late")

    sender = asyncio.create_task(later())
    start = time.monotonic()
    got = await q.receive(1, wait=10)
    await sender
    assert [m.body for m in got] == ["late"]
    assert time.monotonic() - start < 5


async def test_unacked_message_comes_back_after_the_visibility_timeout(make_queue: MakeQueue) -> None:
    q = await make_queue(visibility_timeout=1)
    await q.send("x")
    [first] = await receive_until(q)
    assert await q.receive(1, wait=0) == []  # hidden while held
    [again] = await receive_until(q, timeout=6)
    assert again.id == first.id and again.receive_count == 2


async def test_extend_keeps_a_message_hidden(make_queue: MakeQueue) -> None:
    q = await make_queue(visibility_timeout=2)
    await q.send("x")
    [m] = await receive_until(q)
    await asyncio.sleep(1.2)
    await q.extend(m, 2)
    await asyncio.sleep(1.3)  # past the first deadline, inside the extended one
    assert await q.receive(1, wait=0) == []
    [again] = await receive_until(q, timeout=6)
    assert again.id == m.id


async def test_nack_makes_visible_now_or_after_a_delay(make_queue: MakeQueue) -> None:
    q = await make_queue(visibility_timeout=5)
    await q.send("x")
    [m] = await receive_until(q)
    await q.nack(m)
    [m2] = await receive_until(q, timeout=3)
    assert m2.id == m.id and m2.receive_count == 2
    await q.nack(m2, delay=1.5)
    t = time.monotonic()
    assert await q.receive(1, wait=0) == []
    [m3] = await receive_until(q, timeout=8)
    assert m3.id == m.id and m3.receive_count == 3 and time.monotonic() - t >= 1.0


async def test_nack_with_a_delay_longer_than_the_visibility_timeout(make_queue: MakeQueue) -> None:
    q = await make_queue(visibility_timeout=1)
    await q.send("x")
    [m] = await receive_until(q)
    await q.nack(m, delay=2)
    await asyncio.sleep(1.3)
    assert await q.receive(1, wait=0) == []  # not back at the visibility timeout: the delay rules
    [m2] = await receive_until(q, timeout=8)
    assert m2.id == m.id and m2.receive_count == 2


async def test_requeue_puts_back_a_fresh_delayed_copy(make_queue: MakeQueue) -> None:
    q = await make_queue(visibility_timeout=30, max_receives=2)
    await q.send("waits for a lease")
    for _ in range(3):  # more times than max_receives: waiting never dead-letters
        [m] = await receive_until(q)
        assert (m.body, m.receive_count) == ("waits for a lease", 1)
        await q.requeue(m, delay=1)
        assert await q.receive(1, wait=0) == []
    assert (await q.dlq.depth()).total == 0


async def test_delayed_send(make_queue: MakeQueue) -> None:
    q = await make_queue()
    await q.send("later", delay=1)
    assert await q.receive(1, wait=0) == []
    assert (await q.depth()).available == 0
    [m] = await receive_until(q, timeout=8)
    assert m.body == "later"


async def test_dead_letter_moves_to_the_dlq(make_queue: MakeQueue) -> None:
    q = await make_queue()
    await q.send("poison")
    [m] = await receive_until(q)
    await q.dead_letter(m, "bad media")
    assert await q.receive(1, wait=1) == []
    # A listing sees it without taking it (SQS's peek is a receive with no visibility timeout: retry a little).
    for _ in range(20):
        if peeked := await q.dlq.peek():
            break
    assert [(p.body, p.attributes["reason"]) for p in peeked] == [("poison", "bad media")]
    [d] = await receive_until(q.dlq)
    assert d.body == "poison"


async def test_too_many_receives_go_to_the_dlq(make_queue: MakeQueue) -> None:
    q = await make_queue(visibility_timeout=5, max_receives=2)
    await q.send("crashes every worker")
    for attempt in (1, 2):
        [m] = await receive_until(q)
        assert m.receive_count == attempt
        await q.nack(m)
    assert await q.receive(1, wait=1) == []
    [d] = await receive_until(q.dlq)
    assert d.body == "crashes every worker"


async def test_depth_and_batch_ack(make_queue: MakeQueue) -> None:
    q = await make_queue()
    for i in range(5):
        await q.send(str(i))
    held = await receive_until(q, 2)
    depth = await q.depth()
    assert (depth.available, depth.in_flight) == (3, 2)
    rest = await receive_until(q, 3)
    assert sorted(m.body for m in held + rest) == ["0", "1", "2", "3", "4"]
    await q.ack_many(held + rest)
    assert (await q.depth()).total == 0


async def test_competing_consumers_never_share_a_message(make_queue: MakeQueue) -> None:
    q = await make_queue()
    for i in range(20):
        await q.send(str(i))

    async def consume() -> list[str]:
        got = []
        while True:
            batch = await q.receive(3, wait=1)
            if not batch:
                return got
            got += [m.body for m in batch]
            await q.ack_many(batch)

    a, b = await asyncio.gather(consume(), consume())
    assert sorted(a + b, key=int) == [str(i) for i in range(20)]
    assert not set(a) & set(b)


# ---------------------------------------------------------------------------------------------- embedded only
async def test_embedded_queue_is_durable_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    q = EmbeddedQueue(path, "jobs", visibility_timeout=1)
    await q.send("held when the process died")
    await q.send("survives")
    [held] = await q.receive(1)
    assert held.body == "held when the process died"
    await q.close()  # "crash": the held message was never acked
    q2 = EmbeddedQueue(path, "jobs", visibility_timeout=1)
    got = await receive_until(q2, 2, timeout=5)
    assert sorted(m.body for m in got) == ["held when the process died", "survives"]
    assert {m.body: m.receive_count for m in got}["held when the process died"] == 2
    assert held.receipt not in {m.receipt for m in got}
    await q2.close()
