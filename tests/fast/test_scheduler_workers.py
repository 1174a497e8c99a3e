"""The scheduler's model workers: requests spread over free workers and run at once; the pool's worker plan (one
one-thread call per CPU core unless the settings say)."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from streamprocess.live.decoder import DecodeRequest, Hypothesis
from streamprocess.live.limits import PoolSettings
from streamprocess.live.pool import MAX_AUTO_WORKERS, worker_plan
from streamprocess.live.scheduler import BatchScheduler


class SlowDecoder:
    """Every call takes ``delay`` seconds on its thread; records each batch's size and the most calls at once."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.batches: list[int] = []
        self.running = self.most = 0
        self._lock = threading.Lock()

    def batch_key(self, request: DecodeRequest) -> bool:
        return False

    def window(self, request: DecodeRequest) -> float:
        return 10.0

    def decode(self, requests: list[DecodeRequest]) -> list[Hypothesis]:
        with self._lock:
            self.batches.append(len(requests))
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.delay)
        with self._lock:
            self.running -= 1
        return [Hypothesis(words=[], language="en") for _ in requests]


async def decode_all(scheduler: BatchScheduler, n: int) -> float:
    t0 = time.monotonic()
    try:
        await asyncio.gather(*(scheduler.decode(DecodeRequest(np.zeros(16000, np.float32))) for _ in range(n)))
    finally:
        await scheduler.close()
    return time.monotonic() - t0


async def test_two_requests_on_two_idle_workers_run_at_once_not_batched() -> None:
    decoder = SlowDecoder(0.3)
    took = await decode_all(BatchScheduler(decoder, max_batch=4, concurrency=2), 2)
    assert decoder.batches == [1, 1] and decoder.most == 2
    assert took < 0.5  # one call's time, not two


async def test_what_waits_is_spread_over_the_workers_then_batched() -> None:
    decoder = SlowDecoder(0.2)
    await decode_all(BatchScheduler(decoder, max_batch=4, concurrency=2), 4)
    assert sorted(decoder.batches) == [2, 2] and decoder.most == 2


async def test_one_worker_batches_everything_that_waits() -> None:
    decoder = SlowDecoder(0.1)
    await decode_all(BatchScheduler(decoder, max_batch=4, concurrency=1), 4)
    assert decoder.batches == [4] and decoder.most == 1


def test_worker_plan() -> None:
    assert worker_plan(PoolSettings(), "cpu", cores=2) == (2, 1)  # one one-thread call per core
    assert worker_plan(PoolSettings(), "cpu", cores=64) == (MAX_AUTO_WORKERS, 1)
    assert worker_plan(PoolSettings(cpu_threads=2), "cpu", cores=8) == (4, 2)
    assert worker_plan(PoolSettings(workers=3), "cpu", cores=2) == (3, 0)  # as the settings say
    assert worker_plan(PoolSettings(), "cuda", cores=16) == (1, 0)  # one call at a time, batched
