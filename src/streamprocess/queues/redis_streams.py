"""Redis Streams queue: one stream per queue, one consumer group of workers.

- ``receive`` reads new entries with XREADGROUP. Before that, it moves due delayed messages into the stream and
  gives back entries a consumer has held longer than the visibility timeout (a crashed worker's): each becomes a
  fresh entry carrying its delivery count (see :mod:`.redis_scripts`). :meth:`RedisStreamQueue.maintain` does the
  same without receiving, for a process that runs while no worker of the queue does (KEDA scales them to zero on
  the group's lag, which counts only entries never delivered).
- A message delivered more than ``max_receives`` times goes to the dead-letter stream ``<name>-dlq``.
- Visibility is the queue's ``visibility_timeout`` (Redis measures it as the entry's idle time): ``extend``
  resets the clock. ``nack`` puts the message back as a fresh entry, at once, or after ``delay`` seconds parked in
  a sorted set until it is due.
- Acked entries are deleted from the stream, so its length is the queue's depth.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ResponseError
from redis.typing import EncodableT

from . import redis_scripts
from .base import Message, MessageLost, Queue, QueueDepth, dlq_name

GROUP = "workers"

#: A stream entry as read with ``decode_responses=True``: its id and its fields (None once deleted while pending).
Entry = tuple[str, dict[str, str] | None]


def _entries(reply: Any) -> list[Entry]:
    """Entries as the client returns them (typed for any encoding; ours decodes to str), or none."""
    return list(reply or [])


def _read_entries(reply: Any) -> list[Entry]:
    """The entries of an XREAD/XREADGROUP reply (RESP2: a list of ``[stream, entries]``), or none."""
    return [entry for _stream, entries in reply or [] for entry in _entries(entries)]


#: A connection the server closed (Redis restarted or failed over) is opened again and the command resent, instead
#: of the first command on each pooled connection failing after a restart. Every command here may safely run twice:
#: delivery is at least once, and jobs are claimed atomically from their records.
_RETRY = Retry(ExponentialBackoff(cap=0.5, base=0.05), 3)

#: Entries one recovery step moves at most (due delayed messages, and again entries held past their timeout).
RECOVER_BATCH = 100


class RedisStreamQueue(Queue):
    def __init__(
        self,
        name: str,
        *,
        url: str = "redis://127.0.0.1:6379/0",
        client: aioredis.Redis | None = None,
        visibility_timeout: float = 60.0,
        max_receives: int | None = 5,
        key_prefix: str = "streamprocess:q:",
        consumer: str | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.visibility_timeout = visibility_timeout
        self.max_receives = max_receives
        self.key_prefix = key_prefix
        self._own_client = client is None
        self.redis = client or aioredis.from_url(url, decode_responses=True, retry=_RETRY)
        self.stream = f"{key_prefix}{name}"
        self.delayed_key = f"{self.stream}:delayed"
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._ready = False
        self._scripts = {
            name: self.redis.register_script(getattr(redis_scripts, name))
            for name in ("ACK", "DEAD_LETTER", "GIVE_BACK", "RECOVER")
        }
        self._dlq: RedisStreamQueue | None = None

    @property
    def _vt_ms(self) -> int:
        return max(1, int(self.visibility_timeout * 1000))

    async def ensure(self) -> None:
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise
        self._ready = True

    async def _ensure_once(self) -> None:
        if not self._ready:
            await self.ensure()

    async def send(self, body: str, *, delay: float = 0, _mid: str | None = None, _rc: int = 0) -> str:
        await self._ensure_once()
        mid = _mid or uuid.uuid4().hex
        fields = {"body": body, "mid": mid, "sent_at": repr(time.time()), "rc": str(_rc)}
        if delay > 0:
            await self._park(fields, delay)
        else:
            await self.redis.xadd(self.stream, dict[EncodableT, EncodableT](fields.items()))
        return mid

    async def _park(self, fields: dict[str, str], delay: float) -> None:
        packed = json.dumps({**fields, "nonce": uuid.uuid4().hex})
        await self.redis.zadd(self.delayed_key, {packed: time.time() + delay})

    def _message(self, entry_id: str, fields: dict[str, str], deliveries: int) -> Message:
        return Message(
            id=fields.get("mid", entry_id),
            body=fields.get("body", ""),
            receive_count=int(fields.get("rc", 0)) + deliveries,
            receipt=entry_id,
            sent_at=float(fields["sent_at"]) if "sent_at" in fields else None,
        )

    async def _run(self, script: str, args: list[EncodableT]) -> Any:
        """One of :mod:`.redis_scripts` on this queue's keys; ARGV starts with what every script takes."""
        dlq = self.dlq
        keys = [self.stream, self.delayed_key, dlq.stream]
        common: list[EncodableT] = [
            GROUP,
            repr(time.time()),
            -1 if self.max_receives is None else self.max_receives,
            self.name,
        ]
        return await self._scripts[script](keys=keys, args=common + args)

    async def _recover(self) -> int:
        """Due delayed messages into the stream, and entries held past the visibility timeout given back as fresh
        entries (or dead-lettered after ``max_receives`` deliveries): one batch. Returns how many moved."""
        promoted, back, dead = await self._run("RECOVER", [self._vt_ms, RECOVER_BATCH])
        return int(promoted) + int(back) + int(dead)

    async def maintain(self) -> int:
        await self._ensure_once()
        moved = 0
        while True:
            try:
                n = await self._recover()
            except ResponseError as e:
                if "NOGROUP" not in str(e):
                    raise
                await self.ensure()  # Redis came back without the group: see receive
                n = await self._recover()
            moved += n
            if n < RECOVER_BATCH:
                return moved

    async def _take(self, max_messages: int, block_ms: int | None) -> list[Message]:
        await self._recover()
        resp = await self.redis.xreadgroup(GROUP, self.consumer, {self.stream: ">"}, count=max_messages, block=block_ms)
        out = [self._message(entry_id, new, 1) for entry_id, new in _read_entries(resp) if new is not None]
        # Too many deliveries: dead-letter instead of delivering. Messages given back are dead-lettered as they are
        # given back; this is for entries whose count was carried under a higher max_receives.
        kept = []
        for m in out:
            if self.max_receives is not None and m.receive_count > self.max_receives:
                await self.dead_letter(m, f"received {m.receive_count - 1} times without being acked")
            else:
                kept.append(m)
        return kept

    async def receive(
        self, max_messages: int = 1, *, wait: float = 0, visibility_timeout: float | None = None
    ) -> list[Message]:
        await self._ensure_once()
        deadline = time.monotonic() + wait
        while True:
            remaining = deadline - time.monotonic()
            # Block in slices so delayed and timed-out messages are noticed while waiting.
            block_ms = int(min(remaining, 1.0) * 1000) if remaining > 0.001 else None
            try:
                messages = await self._take(max_messages, block_ms)
            except ResponseError as e:
                if "NOGROUP" not in str(e):
                    raise
                # Redis came back without the consumer group (restarted without persistence, flushed, failed over
                # to an empty replica): make it again, or every receive from now on fails the same way.
                await self.ensure()
                messages = []
            if messages or deadline - time.monotonic() <= 0:
                return messages

    async def ack(self, message: Message) -> None:
        await self._run("ACK", [message.receipt])

    async def _owned(self, message: Message) -> None:
        info = await self.redis.xpending_range(self.stream, GROUP, min=message.receipt, max=message.receipt, count=1)
        if not info or info[0]["consumer"] != self.consumer:
            raise MessageLost(f"message {message.id} on {self.name} is no longer held by this consumer")

    async def extend(self, message: Message, visibility_timeout: float) -> None:
        await self._owned(message)
        await self.redis.xclaim(self.stream, GROUP, self.consumer, 0, [message.receipt], justid=True)

    async def nack(self, message: Message, *, delay: float = 0) -> None:
        """A fresh entry now (``delay`` 0: waiting again, as KEDA counts it), else parked until due; a stale receipt
        (the message already given back, or held by another consumer now) changes nothing."""
        await self._run(
            "GIVE_BACK",
            [
                message.receipt,
                self.consumer,
                message.body,
                message.id,
                repr(message.sent_at or time.time()),
                message.receive_count,
                repr(time.time() + delay) if delay > 0 else 0,
                uuid.uuid4().hex,
            ],
        )

    async def dead_letter(self, message: Message, reason: str) -> None:
        await self.dlq._ensure_once()
        await self._run(
            "DEAD_LETTER",
            [message.receipt, message.body, message.id, repr(message.sent_at or time.time()), reason],
        )

    async def peek(self, max_messages: int = 10) -> list[Message]:
        await self._ensure_once()
        out = []
        for entry_id, fields in _entries(await self.redis.xrange(self.stream, count=max_messages)):
            if fields is None:
                continue
            m = self._message(entry_id, fields, 0)
            if fields.get("reason"):
                m.attributes["reason"] = fields["reason"]
            out.append(m)
        return out

    async def depth(self) -> QueueDepth:
        await self._ensure_once()
        async with self.redis.pipeline(transaction=False) as p:
            p.xlen(self.stream)
            p.xpending(self.stream, GROUP)
            p.zcard(self.delayed_key)
            length, pending, delayed = await p.execute()
        in_flight = int(pending["pending"]) if pending else 0
        return QueueDepth(available=max(0, int(length) - in_flight), in_flight=in_flight, delayed=int(delayed))

    @property
    def dlq(self) -> RedisStreamQueue:
        if self._dlq is None:
            self._dlq = RedisStreamQueue(
                dlq_name(self.name),
                url=self.url,
                client=self.redis,
                visibility_timeout=self.visibility_timeout,
                max_receives=None,
                key_prefix=self.key_prefix,
                consumer=self.consumer,
            )
        return self._dlq

    async def close(self) -> None:
        if self._own_client:
            await self.redis.aclose()
