"""Queues behind one interface: embedded (SQLite), SQS and Redis Streams."""

from __future__ import annotations

from ..config import QueueBackend, Settings
from .base import Message, MessageLost, Queue, QueueDepth, dlq_name

__all__ = ["Message", "MessageLost", "Queue", "QueueDepth", "dlq_name", "make_queue", "embedded_queue_path"]

ROLES = ("events", "stt", "ocr")


def embedded_queue_path(settings: Settings):  # type: ignore[no-untyped-def]
    from ..storage.local import INTERNAL_DIR

    return settings.data_dir / INTERNAL_DIR / "queue.db"


def make_queue(settings: Settings, role: str) -> Queue:
    """The queue for ``role`` (``events``, ``stt`` or ``ocr``) as the settings configure it.

    Queue-level dead-lettering happens after ``max_attempts + 1`` receives: the worker itself fails a job (with a
    record) when it sees a message beyond ``max_attempts``, so the queue's limit is only the backstop for a worker
    that dies while doing so.
    """
    name = settings.queue_name(role)
    common = {"visibility_timeout": settings.visibility_timeout, "max_receives": settings.max_attempts + 1}
    if settings.queue is QueueBackend.embedded:
        from .embedded import EmbeddedQueue

        return EmbeddedQueue(embedded_queue_path(settings), name, poll_interval=settings.queue_poll_interval, **common)
    if settings.queue is QueueBackend.sqs:
        from .sqs import SQSQueue

        return SQSQueue(name, endpoint_url=settings.sqs_endpoint_url, region=settings.aws_region, **common)
    from .redis_streams import RedisStreamQueue

    return RedisStreamQueue(name, url=settings.redis_url, **common)
