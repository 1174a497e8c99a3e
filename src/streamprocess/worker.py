"""The worker runtime: consume queues with N concurrent handlers, at-least-once, with nothing lost.

For each message a heartbeat extends its visibility while the handler runs (a crashed worker's message comes
back after the visibility timeout and is redone), and the handler answers with an :class:`Outcome`, which the
worker carries out on the queue:

- ``ack``: the work is terminal (a job succeeded, or failed for good with its record written);
- ``retry``: visible again after a delay: a transient error (exponential backoff, :class:`RetryPolicy`);
- ``wait``: the job is held by another attempt under a live lease: the message is put back as a fresh copy that
  comes back when that lease runs out (waiting on a long job never counts toward the queue's dead-letter limit);
- ``dead_letter``: failed for good (a :class:`~streamprocess.errors.PermanentError`, or the last attempt): the
  job's record says why, and the message moves to the dead-letter queue, logged and counted.

Attempts are counted by the handler (a job's record knows how many of its attempts ended without a result), so
a poison input that kills its worker every time ends in a failed record, never a crash loop. An exception that
escapes a handler (its record store unreachable, say) leaves the message to come back later: nothing is acked
that is not done.

Stopping (SIGTERM, ``max_jobs`` reached, ``idle_exit`` seconds without work, or in ``burst`` mode the queues it
consumes found empty with nothing in flight) stops receiving, lets in-flight jobs finish within
``shutdown_grace`` seconds, then releases the rest back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from .errors import ErrorCode, PermanentError, StreamProcessError, TransientError
from .metrics import DEAD_LETTERED, QUEUE_DEPTH
from .queues.base import Message, MessageLost, Queue

log = logging.getLogger(__name__)


class Action(StrEnum):
    ack = "ack"
    retry = "retry"
    wait = "wait"
    dead_letter = "dead_letter"


@dataclass(frozen=True)
class Outcome:
    """What a handler asks the worker to do with the message it handled."""

    action: Action
    delay: float = 0.0  # retry, wait: seconds until the message is visible again
    reason: str = ""  # dead_letter: why (logged with the message)

    @classmethod
    def done(cls) -> Outcome:
        return cls(Action.ack)

    @classmethod
    def later(cls, delay: float) -> Outcome:
        return cls(Action.retry, delay=delay)

    @classmethod
    def wait(cls, delay: float) -> Outcome:
        return cls(Action.wait, delay=delay)

    @classmethod
    def dead(cls, reason: str) -> Outcome:
        return cls(Action.dead_letter, reason=reason)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 3
    base_delay: float = 2.0
    max_delay: float = 300.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter in the upper half: base·2^(attempt-1)·U(0.5, 1), capped."""
        delay = min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))
        return delay * random.uniform(0.5, 1.0)

    def after(self, error: StreamProcessError, attempt: int) -> Outcome:
        """What follows attempt number ``attempt`` failing with ``error``."""
        if isinstance(error, PermanentError):
            return Outcome.dead(str(error))
        if attempt >= self.max_attempts:
            return Outcome.dead(f"{error} (attempt {attempt} of {self.max_attempts})")
        return Outcome.later(self.backoff(attempt))


def as_error(e: BaseException) -> StreamProcessError:
    """Any exception as a :class:`StreamProcessError` (unknown ones are transient ``internal_error``)."""
    return (
        e
        if isinstance(e, StreamProcessError)
        else TransientError(f"{type(e).__name__}: {e}", code=ErrorCode.INTERNAL_ERROR)
    )


class Handler(Protocol):
    """What a consumer calls; the job handler and the event router implement it. ``handle`` answers how the
    message is settled; on cancellation (the worker stops) it puts its work back and re-raises."""

    label: str

    async def handle(self, message: Message, policy: RetryPolicy) -> Outcome: ...


@dataclass
class WorkerOptions:
    concurrency: int = 2
    visibility_timeout: float = 60.0
    max_attempts: int = 3
    retry_base_delay: float = 2.0
    retry_max_delay: float = 300.0
    shutdown_grace: float = 30.0
    max_jobs: int | None = None
    idle_exit: float | None = None
    receive_wait: float = 20.0
    #: Process what is queued, then return: once every queue this worker consumes has nothing available, delayed
    #: or in flight (checked twice in a row, ``burst_poll`` seconds apart) and none of its handlers runs. Exact on
    #: the embedded and Redis queues; SQS's counts are approximate.
    burst: bool = False
    burst_poll: float = 0.05
    #: Seconds between two :meth:`Queue.maintain` calls on the queues the worker keeps (``keep``).
    maintain_interval: float = 5.0

    @property
    def heartbeat_interval(self) -> float:
        return max(0.05, self.visibility_timeout / 3)

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.retry_base_delay, self.retry_max_delay)


class Worker:
    """Runs one consumer loop per (queue, handler), sharing the job budget and the stop signal, and keeps the
    queues in ``keep`` countable (:meth:`Queue.maintain`) while it runs: the router keeps the job queues, whose
    workers may all be scaled to zero."""

    def __init__(
        self, consumers: list[tuple[Queue, Handler]], options: WorkerOptions, keep: list[Queue] | None = None
    ) -> None:
        self.consumers = consumers
        self.keep = keep or []
        self.options = options
        self.stop_event = asyncio.Event()
        self.received = 0
        self.completed = 0
        self.released = 0
        self._last_activity = time.monotonic()
        self._in_flight: set[asyncio.Task[None]] = set()

    def stop(self) -> None:
        self.stop_event.set()

    # ------------------------------------------------------------------ budget and idleness
    def _budget(self) -> int | None:
        if self.options.max_jobs is None:
            return None
        return max(0, self.options.max_jobs - self.received)

    def _idle_for(self) -> float:
        return 0.0 if self._in_flight else time.monotonic() - self._last_activity

    async def _watch_idle(self) -> None:
        idle_exit = self.options.idle_exit
        if idle_exit is None:
            return
        while not self.stop_event.is_set():
            idle = self._idle_for()
            if idle >= idle_exit:
                log.info("no work for %.1f s: exiting (--idle-exit)", idle)
                self.stop()
                return
            await asyncio.sleep(min(0.5, max(0.05, idle_exit - idle)))

    async def _queues_empty(self) -> bool:
        for queue, _ in self.consumers:
            try:
                if (await queue.depth()).total:
                    return False
            except Exception as e:  # unknown is not empty: look again next time
                log.warning("burst: depth of %s failed: %s", queue.name, e)
                return False
        return True

    async def _watch_burst(self) -> None:
        if not self.options.burst:
            return
        empty_before = False
        while not self.stop_event.is_set():
            received = self.received
            empty = not self._in_flight and await self._queues_empty()
            if empty and empty_before and not self._in_flight and self.received == received:
                log.info("queues empty and nothing in flight: exiting (burst)")
                self.stop()
                return
            empty_before = empty and self.received == received
            await asyncio.sleep(self.options.burst_poll)

    async def _report_depth(self) -> None:
        while not self.stop_event.is_set():
            for queue, _ in self.consumers:
                for q in (queue, queue.dlq):  # a dead-letter queue's depth counts what the queue itself moved
                    with contextlib.suppress(Exception):
                        d = await q.depth()
                        for state, value in (
                            ("available", d.available),
                            ("in_flight", d.in_flight),
                            ("delayed", d.delayed),
                        ):
                            QUEUE_DEPTH.labels(q.name, state).set(value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), 15)

    async def _maintain(self) -> None:
        while self.keep and not self.stop_event.is_set():
            for queue in self.keep:
                try:
                    if moved := await queue.maintain():
                        log.info("%s: %d message(s) put back where they are counted", queue.name, moved)
                except Exception as e:  # a blip: try again next time
                    log.warning("maintaining %s failed: %s", queue.name, e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), self.options.maintain_interval)

    # ------------------------------------------------------------------ main loop
    async def run(self) -> None:
        helpers = [
            asyncio.create_task(self._watch_idle()),
            asyncio.create_task(self._watch_burst()),
            asyncio.create_task(self._report_depth()),
            asyncio.create_task(self._maintain()),
        ]
        loops = [asyncio.create_task(self._consume(q, h)) for q, h in self.consumers]
        try:
            await asyncio.gather(*loops)
        finally:
            self.stop()
            await self._drain()
            for t in helpers:
                t.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _drain(self) -> None:
        if not self._in_flight:
            return
        log.info("waiting up to %.0f s for %d in-flight job(s)", self.options.shutdown_grace, len(self._in_flight))
        _, pending = await asyncio.wait(set(self._in_flight), timeout=self.options.shutdown_grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    async def _receive(self, queue: Queue, n: int) -> list[Message]:
        wait = self.options.receive_wait
        if self.options.idle_exit is not None:
            wait = min(wait, max(0.1, self.options.idle_exit - self._idle_for()))
        receive = asyncio.create_task(queue.receive(n, wait=wait))
        stop = asyncio.create_task(self.stop_event.wait())
        try:
            done, _ = await asyncio.wait({receive, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
        if receive in done:
            return receive.result()
        receive.cancel()  # messages it may have taken reappear after the visibility timeout
        with contextlib.suppress(BaseException):
            got = await receive
            if got:  # the receive completed as we cancelled it: give them straight back
                for m in got:
                    with contextlib.suppress(Exception):
                        await queue.nack(m)
        return []

    async def _consume(self, queue: Queue, handler: Handler) -> None:
        mine: set[asyncio.Task[None]] = set()
        while not self.stop_event.is_set():
            budget = self._budget()
            if budget == 0:
                log.info("processed --max-jobs %d: draining and exiting", self.options.max_jobs)
                self.stop()
                break
            free = self.options.concurrency - len(mine)
            if free <= 0:
                stop = asyncio.create_task(self.stop_event.wait())
                await asyncio.wait(mine | {stop}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                continue
            n = min(free, 10, budget if budget is not None else 10)
            try:
                messages = await self._receive(queue, n)
            except Exception as e:
                log.warning("receive from %s failed: %s; retrying in 1 s", queue.name, e)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop_event.wait(), 1.0)
                continue
            for m in messages:
                if self._budget() == 0:  # over-received: hand back at once
                    await queue.nack(m)
                    continue
                self.received += 1
                self._last_activity = time.monotonic()
                task = asyncio.create_task(self._process(queue, handler, m))
                mine.add(task)
                self._in_flight.add(task)
                task.add_done_callback(mine.discard)
                task.add_done_callback(self._in_flight.discard)

    # ------------------------------------------------------------------ one message
    async def _heartbeat(self, queue: Queue, message: Message) -> None:
        while True:
            await asyncio.sleep(self.options.heartbeat_interval)
            try:
                await queue.extend(message, self.options.visibility_timeout)
            except MessageLost as e:
                log.warning("heartbeat: %s", e)
                return
            except Exception as e:  # a blip: try again next beat; the timeout leaves room for two misses
                log.warning("heartbeat for %s failed: %s", message.id, e)

    async def _process(self, queue: Queue, handler: Handler, message: Message) -> None:
        policy = self.options.retry
        beat = asyncio.create_task(self._heartbeat(queue, message))
        try:
            try:
                outcome = await handler.handle(message, policy)
            except asyncio.CancelledError:
                beat.cancel()
                log.warning("released %s on %s (shutdown grace period over)", message.id, queue.name)
                self.released += 1
                with contextlib.suppress(Exception):
                    await queue.nack(message)
                raise
            except Exception:
                # The handler could not even settle its work (its record store unreachable, a bug): nothing is
                # acked; the message comes back after a backoff (the queue's own limit is the last resort).
                log.exception(
                    "%s: %s failed unsettled on delivery %d", handler.label, message.id, message.receive_count
                )
                outcome = Outcome.later(policy.backoff(message.receive_count))
            beat.cancel()
            await self._settle(queue, handler, message, outcome)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Acking or dead-lettering failed: the message reappears after the visibility timeout and is redone.
            log.exception("%s: could not settle message %s", handler.label, message.id)
        finally:
            beat.cancel()
            self.completed += 1
            self._last_activity = time.monotonic()

    async def _settle(self, queue: Queue, handler: Handler, message: Message, outcome: Outcome) -> None:
        if outcome.action is Action.ack:
            await queue.ack(message)
        elif outcome.action is Action.retry:
            await queue.nack(message, delay=outcome.delay)
        elif outcome.action is Action.wait:
            await queue.requeue(message, delay=outcome.delay)
        else:
            log.error(
                "%s: message %s dead-lettered on delivery %d: %s; body: %.300s",
                handler.label,
                message.id,
                message.receive_count,
                outcome.reason,
                message.body,
            )
            await queue.dead_letter(message, outcome.reason)
            DEAD_LETTERED.labels(queue.name).inc()
