"""The embedded queue: a SQLite file, durable across restarts, shared by any number of processes.

All queues of a deployment live in one database file (one table, a ``queue`` column); a queue's DLQ is the queue
named ``<name>-dlq``. Receivers in the same process are woken at once by a send; other processes poll every
``poll_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .base import Message, MessageLost, Queue, QueueDepth, dlq_name

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    queue TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt TEXT,
    in_flight INTEGER NOT NULL DEFAULT 0,
    dead_reason TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue, visible_at);
"""


# Receivers waiting in this process, by (database, queue), so a send wakes them without polling.
_waiters: dict[tuple[str, str], weakref.WeakSet[EmbeddedQueue]] = {}
_waiters_lock = threading.Lock()


class EmbeddedQueue(Queue):
    def __init__(
        self,
        path: Path | str,
        name: str,
        *,
        visibility_timeout: float = 60.0,
        max_receives: int | None = 5,
        poll_interval: float = 0.05,
    ) -> None:
        self.path = Path(path)
        self.name = name
        self.visibility_timeout = visibility_timeout
        self.max_receives = max_receives
        self.poll_interval = poll_interval
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        self._dlq: EmbeddedQueue | None = None
        self._wake: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._key = (str(self.path.resolve()), name)
        with _waiters_lock:
            _waiters.setdefault(self._key, weakref.WeakSet()).add(self)

    # ------------------------------------------------------------------ helpers
    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        def locked() -> T:
            with self._lock:
                return fn(*args)

        return await asyncio.to_thread(locked)

    def _wake_receivers(self) -> None:
        with _waiters_lock:
            peers = list(_waiters.get(self._key, ()))
        for peer in peers:
            for loop, event in list(peer._wake):
                try:
                    loop.call_soon_threadsafe(event.set)
                except RuntimeError:  # that loop is closed
                    peer._wake.discard((loop, event))

    # ------------------------------------------------------------------ interface
    async def send(self, body: str, *, delay: float = 0) -> str:
        msg_id = uuid.uuid4().hex
        now = time.time()

        def insert() -> None:
            self._db.execute(
                "INSERT INTO messages (id, queue, body, sent_at, visible_at) VALUES (?, ?, ?, ?, ?)",
                (msg_id, self.name, body, now, now + max(0.0, delay)),
            )

        await self._run(insert)
        if delay <= 0:
            self._wake_receivers()
        return msg_id

    def _signature(self) -> tuple[int, ...]:
        """Changes whenever any process writes the database (WAL or main file): a cheap stat, no query."""
        sig: list[int] = []
        for suffix in ("", "-wal"):
            try:
                st = os.stat(f"{self.path}{suffix}")
                sig += [st.st_mtime_ns, st.st_size]
            except FileNotFoundError:
                sig += [0, 0]
        return tuple(sig)

    def _receive_sync(self, max_messages: int, vt: float) -> tuple[list[Message], float | None]:
        """Messages, and when none: the time the next delayed or hidden one becomes visible."""
        now = time.time()
        out: list[Message] = []
        self._db.execute("BEGIN IMMEDIATE")
        try:
            rows = self._db.execute(
                "SELECT id, body, sent_at, receive_count FROM messages "
                "WHERE queue = ? AND visible_at <= ? ORDER BY seq LIMIT ?",
                (self.name, now, max_messages),
            ).fetchall()
            for msg_id, body, sent_at, count in rows:
                if self.max_receives is not None and count >= self.max_receives:
                    self._db.execute(
                        "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, in_flight = 0, "
                        "receipt = NULL, dead_reason = ? WHERE id = ?",
                        (dlq_name(self.name), now, f"received {count} times without being acked", msg_id),
                    )
                    continue
                receipt = uuid.uuid4().hex
                self._db.execute(
                    "UPDATE messages SET receive_count = receive_count + 1, in_flight = 1, visible_at = ?, "
                    "receipt = ? WHERE id = ?",
                    (now + vt, receipt, msg_id),
                )
                out.append(Message(id=msg_id, body=body, receive_count=count + 1, receipt=receipt, sent_at=sent_at))
            next_due = None
            if not out:
                next_due = self._db.execute(
                    "SELECT MIN(visible_at) FROM messages WHERE queue = ?", (self.name,)
                ).fetchone()[0]
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        return out, next_due

    async def receive(
        self, max_messages: int = 1, *, wait: float = 0, visibility_timeout: float | None = None
    ) -> list[Message]:
        vt = self.visibility_timeout if visibility_timeout is None else visibility_timeout
        deadline = time.monotonic() + wait
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        self._wake.add(waiter)
        try:
            while True:
                event.clear()
                signature = self._signature()
                messages, next_due = await self._run(self._receive_sync, max_messages, vt)
                if messages or deadline - time.monotonic() <= 0:
                    return messages
                # Wait for a send in this process, a write by another process (seen as a change of the database
                # files, checked every poll_interval without a query), or the next hidden message's time.
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return []
                    try:
                        await asyncio.wait_for(event.wait(), timeout=min(self.poll_interval, remaining))
                        break
                    except TimeoutError:
                        pass
                    if self._signature() != signature or (next_due is not None and time.time() >= next_due):
                        break
        finally:
            self._wake.discard(waiter)

    async def peek(self, max_messages: int = 10) -> list[Message]:
        def select() -> list[tuple[str, str, float, int, str | None]]:
            return self._db.execute(
                "SELECT id, body, sent_at, receive_count, dead_reason FROM messages WHERE queue = ? ORDER BY seq "
                "LIMIT ?",
                (self.name, max_messages),
            ).fetchall()

        return [
            Message(id=i, body=b, receive_count=c, receipt="", sent_at=t, attributes={"reason": r} if r else {})
            for i, b, t, c, r in await self._run(select)
        ]

    def _update(self, message: Message, sql: str, args: tuple[object, ...]) -> int:
        return self._db.execute(sql + " WHERE id = ? AND receipt = ?", (*args, message.id, message.receipt)).rowcount

    async def ack(self, message: Message) -> None:
        await self._run(self._update, message, "DELETE FROM messages", ())

    async def nack(self, message: Message, *, delay: float = 0) -> None:
        await self._run(
            self._update,
            message,
            "UPDATE messages SET in_flight = 0, receipt = NULL, visible_at = ?",
            (time.time() + max(0.0, delay),),
        )
        if delay <= 0:
            self._wake_receivers()

    async def extend(self, message: Message, visibility_timeout: float) -> None:
        n = await self._run(
            self._update, message, "UPDATE messages SET visible_at = ?", (time.time() + visibility_timeout,)
        )
        if n == 0:
            raise MessageLost(f"message {message.id} on {self.name} is no longer held by this receiver")

    async def dead_letter(self, message: Message, reason: str) -> None:
        await self._run(
            self._update,
            message,
            "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, in_flight = 0, receipt = NULL, "
            "dead_reason = ?",
            (dlq_name(self.name), time.time(), reason),
        )

    async def depth(self) -> QueueDepth:
        def count() -> QueueDepth:
            now = time.time()
            row = self._db.execute(
                "SELECT "
                "COALESCE(SUM(visible_at <= ?), 0), "
                "COALESCE(SUM(in_flight = 1 AND visible_at > ?), 0), "
                "COALESCE(SUM(in_flight = 0 AND visible_at > ?), 0) "
                "FROM messages WHERE queue = ?",
                (now, now, now, self.name),
            ).fetchone()
            return QueueDepth(available=row[0], in_flight=row[1], delayed=row[2])

        return await self._run(count)

    @property
    def dlq(self) -> EmbeddedQueue:
        if self._dlq is None:
            self._dlq = EmbeddedQueue(
                self.path,
                dlq_name(self.name),
                visibility_timeout=self.visibility_timeout,
                max_receives=None,
                poll_interval=self.poll_interval,
            )
        return self._dlq

    async def close(self) -> None:
        with _waiters_lock:
            peers = _waiters.get(self._key)
            if peers is not None:
                peers.discard(self)
        if self._dlq is not None:
            await self._dlq.close()
        with self._lock:
            self._db.close()
