"""The central batching scheduler: admission of decode requests and batching, apart from model execution.

Every stream's decode request lands here. One loop takes the oldest request, waits up to ``max_wait`` for company
unless the batch is full (counted from that request's arrival, or from the last batch's return: the streams it
served come straight back, and would otherwise fall into a batch of their own again and again), picks the requests
most alike in cost — the window the encoder sees, :meth:`Decoder.window`: batching pays only for similar short
inputs, and every buffer under the decoder's floor costs the same — and runs them as one call of the decoder on a
free worker thread: up to ``concurrency`` calls run at once (the model's CTranslate2 workers; on CPU one per core,
:func:`.pool.worker_plan`). While every worker is busy, requests pile up and the next batch is formed from them as
soon as one is free: continuous batching without a fixed tick. Requests are spread over the free workers before
they are batched (n requests on n idle workers run at once, not in one call). A request may be late-bound: it is
taken anew from its stream when its batch starts, so time spent queueing behind other streams does not make its
audio stale.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from .. import metrics
from .decoder import DecodeRequest, Hypothesis

log = logging.getLogger(__name__)


class Decoder(Protocol):
    def decode(self, requests: list[DecodeRequest]) -> list[Hypothesis]: ...

    def batch_key(self, request: DecodeRequest) -> Any: ...

    def window(self, request: DecodeRequest) -> float: ...


Refresh = Callable[[], DecodeRequest]


@dataclass
class _Item:
    request: DecodeRequest
    future: asyncio.Future[Hypothesis]
    refresh: Refresh | None = None
    enqueued: float = field(default_factory=time.monotonic)


class BatchScheduler:
    def __init__(
        self,
        decoder: Decoder,
        *,
        max_batch: int = 8,
        max_wait: float = 0.01,
        length_ratio: float = 1.5,
        length_slack: float = 2.0,
        concurrency: int = 1,
    ) -> None:
        self.decoder = decoder
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.length_ratio = length_ratio
        self.length_slack = length_slack  # seconds: short buffers batch together whatever their ratio
        self._pending: list[_Item] = []
        self._wake = asyncio.Event()
        self.concurrency = max(1, concurrency)  # model calls at once (the decoder's workers)
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="live-decoder")
        self._slots = asyncio.Semaphore(self.concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._done_at = 0.0  # when the last batch came back

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="live-scheduler")

    async def close(self) -> None:
        tasks = [t for t in (self._task, *self._running) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for item in self._pending:
            item.future.cancel()
        self._pending.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)

    @property
    def queued(self) -> int:
        return len(self._pending)

    async def decode(self, request: DecodeRequest, refresh: Refresh | None = None) -> Hypothesis:
        """Queues ``request`` and returns its hypothesis; cancelling the caller withdraws it. With ``refresh``, the
        request is taken anew from it when its batch starts (late binding): a live stream's request then carries
        the audio that arrived while it queued, not only what it had when it asked."""
        self.start()
        item = _Item(request, asyncio.get_running_loop().create_future(), refresh)
        self._pending.append(item)
        self._wake.set()
        return await item.future

    def run_now(self, fn: Callable[[], Any]) -> asyncio.Future[Any]:
        """Runs ``fn`` on a model thread: warm-up and the like."""
        return asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._pending = [i for i in self._pending if not i.future.done()]
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._slots.acquire()  # a model worker is free: the batch is formed now, from all that waits
            self._pending = [i for i in self._pending if not i.future.done()]
            if not self._pending:
                self._slots.release()
                continue
            oldest = self._pending[0]
            while len(self._pending) < self.max_batch:
                remaining = max(oldest.enqueued, self._done_at) + self.max_wait - time.monotonic()
                if remaining <= 0:
                    break
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), remaining)
                except TimeoutError:
                    break
            # spread what waits over the free workers before batching it: n streams on n idle workers decode at
            # once, not one after the other in one call
            free = self.concurrency - len(self._running)
            try:
                batch = self._bind(self._pick(min(self.max_batch, -(-len(self._pending) // max(free, 1)))))
            except Exception as e:  # a scheduling bug must end the waiting streams with an error, not hang them
                log.exception("live scheduler failed to form a batch")
                for item in self._pending:
                    if not item.future.done():
                        item.future.set_exception(e)
                self._pending = []
                batch = []
            if not batch:
                self._slots.release()
                continue
            task = loop.create_task(self._execute(batch), name="live-batch")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _execute(self, batch: list[_Item]) -> None:
        """One model call for ``batch`` on a free worker; its results (or its failure) to each request."""
        try:
            started = time.monotonic()
            for item in batch:
                metrics.LIVE_QUEUE_WAIT.observe(started - item.enqueued)
            metrics.LIVE_BATCH_SIZE.observe(len(batch))
            loop = asyncio.get_running_loop()
            try:
                results = await loop.run_in_executor(self._executor, self.decoder.decode, [i.request for i in batch])
            except Exception as e:  # the model failed: every request of the batch hears it
                log.exception("live decode failed for a batch of %d", len(batch))
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(e)
                return
            metrics.LIVE_DECODE_SECONDS.observe(time.monotonic() - started)
            for item, result in zip(batch, results, strict=True):
                if not item.future.done():
                    item.future.set_result(result)
        finally:
            self._done_at = time.monotonic()
            self._slots.release()

    @staticmethod
    def _bind(batch: list[_Item]) -> list[_Item]:
        """Takes each late-bound request from its stream now; one that fails hears why and leaves the batch."""
        bound = []
        for item in batch:
            if item.refresh is not None:
                try:
                    item.request = item.refresh()
                except Exception as e:
                    item.future.set_exception(e)
                    continue
            bound.append(item)
        return bound

    def _pick(self, limit: int) -> list[_Item]:
        """The oldest live request and those most like it in window (same batch key), up to ``limit``."""
        live = [i for i in self._pending if not i.future.done()]
        if not live:
            self._pending = []
            return []
        anchor = live[0]
        key = self.decoder.batch_key(anchor.request)
        window = self.decoder.window
        alike = sorted(
            (i for i in live[1:] if self.decoder.batch_key(i.request) == key),
            key=lambda i: abs(window(i.request) - window(anchor.request)),
        )
        batch = [anchor]
        lo = hi = window(anchor.request)
        for item in alike:
            if len(batch) >= limit:
                break
            s = window(item.request)
            new_lo, new_hi = min(lo, s), max(hi, s)
            if new_hi - new_lo > self.length_slack and new_hi > self.length_ratio * max(new_lo, 1e-3):
                continue
            batch.append(item)
            lo, hi = new_lo, new_hi
        chosen = {id(i) for i in batch}
        self._pending = [i for i in live if id(i) not in chosen]
        return batch
