"""Queues behind one interface: embedded (SQLite), SQS and Redis Streams."""

from __future__ import annotations

from pathlib import Path

from ..config import INTERNAL_DIR, QueueBackend, Settings
from .base import Message, MessageLost, Queue, QueueDepth, dlq_name

__all__ = [
    "Message",
    "MessageLost",
    "Queue",
    "QueueDepth",
    "dlq_name",
    "embedded_queue_path",
    "make_queue",
    "max_receives",
]


def embedded_queue_path(settings: Settings) -> Path:
    return settings.data_dir / INTERNAL_DIR / "queue.db"


def max_receives(settings: Settings) -> int:
    """The queues' own dead-letter limit (SQS ``maxReceiveCount``): ``max_attempts + 1``. Each delivery of a
    message either starts an attempt or ends the message (a delivery that finds the job held by another live
    attempt puts back a fresh copy), and the one after the last attempt fails the job with its record; the
    queue's limit is only the backstop for a worker that dies while doing that."""
    return settings.max_attempts + 1


def make_queue(settings: Settings, role: str) -> Queue:
    """The queue for ``role`` (one of ``kinds.QUEUE_ROLES``: the events queue or a kind's job queue) as the
    settings configure it.

    Queue-level dead-lettering happens after :func:`max_receives` receives: workers count attempts in the job
    record and fail a job (with a record) once its attempts are used up, so the queue's limit is only the
    backstop for a worker that dies while doing so.
    """
    name = settings.queue_name(role)
    visibility_timeout, receives = settings.visibility_timeout, max_receives(settings)
    if settings.queue is QueueBackend.embedded:
        from .embedded import EmbeddedQueue

        return EmbeddedQueue(
            embedded_queue_path(settings),
            name,
            poll_interval=settings.queue_poll_interval,
            visibility_timeout=visibility_timeout,
            max_receives=receives,
        )
    if settings.queue is QueueBackend.sqs:
        from .sqs import SQSQueue

        return SQSQueue(
            name,
            endpoint_url=settings.sqs_endpoint_url,
            region=settings.aws_region,
            visibility_timeout=visibility_timeout,
            max_receives=receives,
        )
    from .redis_streams import RedisStreamQueue

    return RedisStreamQueue(name, url=settings.redis_url, visibility_timeout=visibility_timeout, max_receives=receives)
