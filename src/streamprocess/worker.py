"""The worker runtime: consume queues with N concurrent handlers, at-least-once, with nothing lost.

For each message:

- a heartbeat extends its visibility while the handler runs (a crashed worker's message comes back after the
  visibility timeout and is redone);
- success acks it; a :class:`~streamprocess.errors.PermanentError` (bad media) fails the job with a record and
  moves the message to the dead-letter queue at once, with no retries;
- any other error is retried with exponential backoff (nack with a delay) until ``max_attempts``, then fails the
  job and dead-letters the message; a message delivered more than ``max_attempts`` times (its workers died) is
  failed the same way, so a poison input never becomes a crash loop.

Stopping (SIGTERM, ``max_jobs`` reached, ``idle_exit`` seconds without work) stops receiving, lets in-flight
jobs finish within ``shutdown_grace`` seconds, then releases the rest back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass
from typing import Protocol

from .errors import PermanentError, StreamProcessError, TransientError
from .metrics import QUEUE_DEPTH
from .queues.base import Message, MessageLost, Queue

log = logging.getLogger(__name__)


class AttemptsExhausted(PermanentError):
    code = "attempts_exhausted"


class Handler(Protocol):
    """What a consumer calls; the job handler and the event router implement it."""

    label: str

    async def handle(self, message: Message, attempt: int) -> None: ...

    async def give_up(self, message: Message, error: StreamProcessError, attempt: int) -> None: ...

    async def will_retry(self, message: Message, error: StreamProcessError, attempt: int, delay: float) -> None: ...

    async def released(self, message: Message, attempt: int) -> None: ...


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

    @property
    def heartbeat_interval(self) -> float:
        return max(0.05, self.visibility_timeout / 3)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter in the upper half: base·2^(attempt-1)·U(0.5, 1), capped."""
        delay = min(self.retry_max_delay, self.retry_base_delay * 2 ** max(0, attempt - 1))
        return delay * random.uniform(0.5, 1.0)


class Worker:
    """Runs one consumer loop per (queue, handler), sharing the job budget and the stop signal."""

    def __init__(self, consumers: list[tuple[Queue, Handler]], options: WorkerOptions) -> None:
        self.consumers = consumers
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

    async def _report_depth(self) -> None:
        while not self.stop_event.is_set():
            for queue, _ in self.consumers:
                with contextlib.suppress(Exception):
                    d = await queue.depth()
                    for state, value in (("available", d.available), ("in_flight", d.in_flight),
                                         ("delayed", d.delayed)):
                        QUEUE_DEPTH.labels(queue.name, state).set(value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), 15)

    # ------------------------------------------------------------------ main loop
    async def run(self) -> None:
        helpers = [asyncio.create_task(self._watch_idle()), asyncio.create_task(self._report_depth())]
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
        opts = self.options
        attempt = message.receive_count
        beat = asyncio.create_task(self._heartbeat(queue, message))
        try:
            try:
                if attempt > opts.max_attempts:
                    raise AttemptsExhausted(
                        f"received {attempt} times: each of the {opts.max_attempts} attempts ended without a result "
                        "(the worker crashed, was killed or lost the message)"
                    )
                await handler.handle(message, attempt)
            except asyncio.CancelledError:
                beat.cancel()
                log.warning("released %s on %s (shutdown grace period over)", message.id, queue.name)
                self.released += 1
                with contextlib.suppress(Exception):
                    await handler.released(message, attempt)
                    await queue.nack(message)
                raise
            except PermanentError as e:
                beat.cancel()
                await self._fail(queue, handler, message, e, attempt)
            except Exception as e:
                beat.cancel()
                err = e if isinstance(e, StreamProcessError) else TransientError(f"{type(e).__name__}: {e}",
                                                                                 code="internal_error")
                if not isinstance(e, StreamProcessError):
                    log.exception("%s: attempt %d of %s failed", handler.label, attempt, message.id)
                if attempt >= opts.max_attempts:
                    await self._fail(queue, handler, message, err, attempt)
                else:
                    delay = opts.backoff(attempt)
                    log.warning("%s: attempt %d of %s failed (%s); retrying in %.1f s",
                                handler.label, attempt, message.id, err, delay)
                    with contextlib.suppress(Exception):
                        await handler.will_retry(message, err, attempt, delay)
                    await queue.nack(message, delay=delay)
            else:
                beat.cancel()
                await queue.ack(message)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Acking or dead-lettering failed: the message reappears after the visibility timeout and is redone.
            log.exception("%s: could not settle message %s", handler.label, message.id)
        finally:
            beat.cancel()
            self.completed += 1
            self._last_activity = time.monotonic()

    async def _fail(self, queue: Queue, handler: Handler, message: Message, error: StreamProcessError,
                    attempt: int) -> None:
        log.error("%s: %s failed for good on attempt %d: %s", handler.label, message.id, attempt, error)
        try:
            await handler.give_up(message, error, attempt)
        except Exception:
            log.exception("%s: could not record the failure of %s", handler.label, message.id)
        await queue.dead_letter(message, str(error))
