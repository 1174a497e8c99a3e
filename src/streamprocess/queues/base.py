"""The queue interface: at-least-once delivery with visibility timeouts and a dead-letter queue.

Three implementations sit side by side: :mod:`.embedded` (SQLite file), :mod:`.sqs` (aiobotocore) and
:mod:`.redis_streams` (Redis Streams consumer groups).

Semantics shared by all three (and checked by one contract test suite):

- ``receive`` long-polls up to ``wait`` seconds and hides what it returns for the visibility timeout; a message
  not acked in time is delivered again (its ``receive_count`` grows).
- ``extend`` pushes the deadline out again (the worker's heartbeat); ``nack(delay)`` makes it visible after
  ``delay`` seconds; ``ack`` removes it.
- A message received more than ``max_receives`` times is moved to the dead-letter queue instead of being
  delivered; ``dead_letter`` moves one there at once (a permanent failure). The DLQ is itself a :class:`Queue`
  (``queue.dlq``), so replay tools read it like any other.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from ..errors import ErrorCode, TransientError


class MessageLost(TransientError):
    """The message's receipt is no longer valid: it timed out and was delivered again, or was deleted."""

    code = ErrorCode.MESSAGE_LOST


@dataclass
class Message:
    id: str
    body: str
    receive_count: int
    receipt: str  # opaque handle for ack/nack/extend (SQS receipt handle, stream entry id, ...)
    sent_at: float | None = None  # epoch seconds when first sent, where the backend knows it
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueDepth:
    available: int  # ready to be received now
    in_flight: int  # received, not yet acked
    delayed: int = 0  # sent or nacked with a delay that has not passed

    @property
    def total(self) -> int:
        return self.available + self.in_flight + self.delayed


class Queue(abc.ABC):
    name: str
    max_receives: int | None
    visibility_timeout: float

    @abc.abstractmethod
    async def send(self, body: str, *, delay: float = 0) -> str:
        """Enqueue; returns the message id."""

    @abc.abstractmethod
    async def receive(
        self, max_messages: int = 1, *, wait: float = 0, visibility_timeout: float | None = None
    ) -> list[Message]:
        """Up to ``max_messages`` messages, waiting at most ``wait`` seconds for the first."""

    @abc.abstractmethod
    async def ack(self, message: Message) -> None:
        """Done: delete the message."""

    async def ack_many(self, messages: list[Message]) -> None:
        for m in messages:
            await self.ack(m)

    @abc.abstractmethod
    async def nack(self, message: Message, *, delay: float = 0) -> None:
        """Give the message back, visible again after ``delay`` seconds."""

    async def requeue(self, message: Message, *, delay: float) -> None:
        """Put the message back as a fresh copy visible after ``delay`` seconds, then ack this delivery (the copy
        is sent first, so a crash in between leaves two, never none). Unlike :meth:`nack`, waiting this way does
        not count toward ``max_receives``."""
        await self.send(message.body, delay=delay)
        await self.ack(message)

    @abc.abstractmethod
    async def extend(self, message: Message, visibility_timeout: float) -> None:
        """Keep the message hidden for ``visibility_timeout`` more seconds from now."""

    @abc.abstractmethod
    async def dead_letter(self, message: Message, reason: str) -> None:
        """Move the message to the dead-letter queue now."""

    @abc.abstractmethod
    async def peek(self, max_messages: int = 10) -> list[Message]:
        """Up to ``max_messages`` messages in the queue, oldest first, without taking them (for listings such as
        ``streamprocess queues``; a dead-lettered message's ``attributes["reason"]`` says why, where kept).
        On SQS this is a sample: a receive with a zero visibility timeout."""

    @abc.abstractmethod
    async def depth(self) -> QueueDepth:
        """How many messages wait, are in flight and are delayed (approximate on SQS)."""

    @property
    @abc.abstractmethod
    def dlq(self) -> Queue:
        """The dead-letter queue (a queue of the same kind without a DLQ of its own)."""

    async def maintain(self) -> int:
        """Make what waits countable from outside, for a process that runs while no consumer of this queue does
        (KEDA scales the job queues' workers to zero): on Redis, move due delayed messages into the stream and give
        back messages a dead consumer held. Returns how many it moved. Nothing to do elsewhere: SQS counts delayed
        and in-flight messages itself, and the embedded queue is not scaled from outside."""
        return 0

    async def ensure(self) -> None:  # noqa: B027 - optional hook
        """Create the queue (and its DLQ) if it does not exist."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


def dlq_name(name: str) -> str:
    return f"{name}-dlq"
