"""Kill storms: real worker processes SIGKILLed at random moments while 200 jobs flow through each queue
(embedded SQLite, Redis Streams on a real redis-server, SQS + S3 on moto's server), and a redis-server killed
and restarted under running workers. Each ends in the one end-state check of :mod:`.endstate`.

``SP_RELIABILITY_SEED`` replays a run's random choices (every figures line names its seed).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from infra.local_services import free_port, redis_command, wait_port
from streamprocess.config import Settings
from streamprocess.jobs import JobState
from streamprocess.runtime import Runtime

from ..helpers import Pipeline, unique
from ..processors import PNG, WAV, scripted_input
from .endstate import end_state, queue_total, wait_terminal

pytestmark = pytest.mark.slow

JOBS = 200
PRE_DROPPED = 60  # dropped before the storm starts; the rest arrive during it
WORKERS = 3
CONCURRENCY = 3
KILLS = 25
MIN_KILLS = 20
STORM_MAX = 90.0  # seconds: the storm stops here even short of KILLS (then MIN_KILLS must have happened)
VISIBILITY = 2.0
#: A kill takes every job of its worker; on SQS (jobs slower than the kill rate) one job was seen killed 7 times in
#: a row. The storm is about nothing lost or stuck, not about running out of tries (test_faults covers that).
MAX_ATTEMPTS = 50
COMMON = {
    "visibility_timeout": VISIBILITY,
    "max_attempts": MAX_ATTEMPTS,
    "retry_base_delay": 0.2,
    "retry_max_delay": 1,
    "shutdown_grace": 1,
}


def seed() -> int:
    return int(os.environ.get("SP_RELIABILITY_SEED") or random.randrange(1 << 30))


def inputs(n: int, rng: random.Random, prefix: str, sleep: tuple[float, float]) -> list[tuple[str, bytes]]:
    """``n`` Scripted inputs (one in four an image for the ocr queue) that sleep a random time, reporting progress."""
    out = []
    for i in range(n):
        image = i % 4 == 3
        commands = f"sleep={rng.uniform(*sleep):.3f}"
        out.append(
            (f"{prefix}/{i:03d}.{'png' if image else 'wav'}", scripted_input(commands, header=PNG if image else WAV))
        )
    return out


@pytest.fixture(params=["embedded", "redis", "sqs"])
async def storm(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, Pipeline, Runtime]]:
    extra: dict[str, object] = {}
    if request.param == "redis":
        extra = {
            "queue": "redis",
            "redis_url": request.getfixturevalue("redis_url"),
            "queue_prefix": unique("storm") + "-",
        }
    elif request.param == "sqs":
        from streamprocess.setup_s3 import setup_s3

        moto = request.getfixturevalue("moto_url")
        extra = {
            "store": "s3",
            "bucket": unique("storm"),
            "s3_endpoint_url": moto,
            "queue": "sqs",
            "sqs_endpoint_url": moto,
            "queue_prefix": unique("storm") + "-",
        }
    p = Pipeline(tmp_path, **COMMON, **extra)
    if request.param == "sqs":
        await setup_s3(p.settings)  # bucket, queues + DLQs + redrive, the bucket's notification to events
    rt = await p.runtime()
    try:
        yield request.param, p, rt
    finally:
        p.stop()
        await rt.close()


def _has_worked(p: Pipeline, w: subprocess.Popen[bytes]) -> bool:
    """The worker has logged routing an event or finishing a job (both log at INFO)."""
    log = p.logs[p.workers.index(w)]
    return log.exists() and log.stat().st_size > 0


def _replace_dead(p: Pipeline, workers: list[subprocess.Popen[bytes]], crashed: list[str]) -> None:
    """A worker that exited without being killed is a bug; note it (with its log) and start another."""
    for i, w in enumerate(workers):
        if w.poll() is not None:
            log = p.logs[p.workers.index(w)]
            crashed.append(f"{log.name} exited {w.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            workers[i] = p.start_worker("--concurrency", str(CONCURRENCY))


async def test_kill_storm(storm: tuple[str, Pipeline, Runtime], reliability_figures: Callable[[str], None]) -> None:
    name, p, rt = storm
    run_seed = seed()
    rng, kill_rng = random.Random(run_seed), random.Random(run_seed + 1)
    files = inputs(JOBS, rng, "storm", (0.05, 0.6))
    keys = [p.settings.inbox_prefix + key for key, _ in files]

    start = time.monotonic()
    for key, data in files[:PRE_DROPPED]:
        await rt.store.put(p.settings.inbox_prefix + key, data)
    workers = [p.start_worker("--concurrency", str(CONCURRENCY)) for _ in range(WORKERS)]

    # The rest arrive during the storm, a batch before each kill, so there is work in flight until the last kill.
    rest = files[PRE_DROPPED:]
    batches = [rest[i::KILLS] for i in range(KILLS)]
    kills, crashed = 0, []
    while kills < KILLS and time.monotonic() - start < STORM_MAX:
        for key, data in batches[kills]:
            await rt.store.put(p.settings.inbox_prefix + key, data)
        batches[kills] = []
        await asyncio.sleep(kill_rng.uniform(0.2, 0.9))
        _replace_dead(p, workers, crashed)
        # Only a worker that has started handling messages is worth killing: a worker still starting (seconds on a
        # busy 2-core machine with moto) would die holding nothing, and the storm would test nothing.
        working = [i for i, w in enumerate(workers) if _has_worked(p, w)]
        if not working:
            continue
        i = kill_rng.choice(working)
        workers[i].send_signal(signal.SIGKILL)
        workers[i].wait()
        kills += 1
        workers[i] = p.start_worker("--concurrency", str(CONCURRENCY))
    storm_seconds = time.monotonic() - start
    for key, data in (f for batch in batches for f in batch):  # the storm ran out of time: drop what is left
        await rt.store.put(p.settings.inbox_prefix + key, data)
    await wait_terminal(rt, keys, timeout=75)
    _replace_dead(p, workers, crashed)
    state = await end_state(rt, keys, p.runs)
    seconds = time.monotonic() - start

    log = p.log_text()
    # Redeliveries that found the job running under a live lease (the case that used to end stuck), and attempts
    # that found their job taken over while they still ran (a lease that lapsed without a kill).
    busy, lease_lost = log.count("under a live lease"), log.count("another attempt took the job over")
    reliability_figures(
        f"RELIABILITY kill-storm queue={name} kills={kills} {state.figures()} busy={busy} "
        f"lease_lost={lease_lost} storm_seconds={storm_seconds:.1f} seconds={seconds:.1f} "
        f"seed={run_seed}"
    )
    assert not crashed, "workers exited on their own:\n" + "\n".join(crashed)
    assert kills >= MIN_KILLS
    assert state.problems == [], "\n".join(state.problems[:20]) + "\n" + log[-6000:]
    assert (state.succeeded, state.lost, state.stuck, state.duplicated_results, state.dlq) == (JOBS, 0, 0, 0, 0)
    assert state.redone > 0, "no kill hit a running job: the storm tested nothing"


# ---------------------------------------------------------------------------------------------- redis restart
class RestartableRedis:
    """A redis-server on a fixed port that can be killed and started again: with an append-only file
    (``persistent``) it comes back with its streams and consumer groups, without one it comes back empty."""

    def __init__(self, workdir: Path, *, persistent: bool) -> None:
        self.workdir = workdir
        self.persistent = persistent
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with open(self.workdir / f"redis-{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen(
                redis_command(self.port, self.workdir, appendonly=self.persistent), stdout=log, stderr=subprocess.STDOUT
            )
        self.starts += 1
        wait_port(self.port, self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture(params=[True, False], ids=["aof", "empty"])
def restartable_redis(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RestartableRedis]:
    workdir = tmp_path / "redis"
    workdir.mkdir()
    server = RestartableRedis(workdir, persistent=request.param)
    server.start()
    try:
        yield server
    finally:
        server.stop()


RESTART_JOBS = 60
BEFORE_RESTART = 40  # dropped before Redis is killed; the rest after it is back
OUTAGE = 3.0  # longer than the visibility timeout: leases and message deadlines pass while Redis is away


async def test_redis_restarted_mid_run(
    restartable_redis: RestartableRedis, tmp_path: Path, reliability_figures: Callable[[str], None]
) -> None:
    """Workers ride out Redis being killed (-9) and started again. With its append-only file every job ends as it
    should; without it (Redis came back empty) the messages it held are gone, but the workers make their consumer
    group again and every input dropped after the restart is processed."""
    redis = restartable_redis
    run_seed = seed()
    rng = random.Random(run_seed)
    p = Pipeline(tmp_path, queue="redis", redis_url=redis.url, queue_prefix=unique("restart") + "-", **COMMON)
    settings: Settings = p.settings
    files = inputs(RESTART_JOBS, rng, "restart", (0.2, 1.0))
    keys = [settings.inbox_prefix + key for key, _ in files]
    before, after = files[:BEFORE_RESTART], files[BEFORE_RESTART:]
    checked = keys if redis.persistent else keys[BEFORE_RESTART:]
    rt = await p.runtime()
    try:
        start = time.monotonic()
        for key, data in before:
            await rt.store.put(settings.inbox_prefix + key, data)
        workers = [p.start_worker("--concurrency", str(CONCURRENCY)) for _ in range(WORKERS)]
        # Kill Redis once a few jobs are done and others are running.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [r.state for r in await rt.jobs.list()]
            if states.count(JobState.succeeded) >= 8 and JobState.running in states:
                break
            await asyncio.sleep(0.1)
        running_at_kill = [r.state for r in await rt.jobs.list()].count(JobState.running)
        messages_at_kill = await queue_total(rt)  # on Redis only: the append-only file must bring them back
        redis.kill()
        await asyncio.sleep(OUTAGE)
        redis.start()
        # The drop's notification goes through this process's own client, whose connections died with the old
        # server: it rides out the restart too. (Dropped only once Redis is back: the local store's notification
        # needs the events queue.)
        for key, data in after:
            await rt.store.put(settings.inbox_prefix + key, data)
        await wait_terminal(rt, checked, timeout=60)
        state = await end_state(rt, checked, p.runs, others=keys)
        seconds = time.monotonic() - start
        alive = sum(w.poll() is None for w in workers)
        log = p.log_text()
        outage_errors = log.count("failed: ") + log.count("could not settle") + log.count("heartbeat for")
        unfinished = sum(not r.terminal for r in await rt.jobs.list())
        reliability_figures(
            f"RELIABILITY redis-restart {'aof' if redis.persistent else 'empty'} "
            f"outage={OUTAGE:.1f}s running_at_kill={running_at_kill} messages_at_kill={messages_at_kill} "
            f"workers_alive={alive}/{len(workers)} {state.figures()} unfinished_all={unfinished} "
            f"outage_log_lines={outage_errors} seconds={seconds:.1f} seed={run_seed}"
        )
        assert alive == len(workers), "workers did not ride out the Redis outage:\n" + log[-8000:]
        assert state.problems == [], "\n".join(state.problems[:20]) + "\n" + log[-6000:]
        assert (state.succeeded, state.lost, state.stuck, state.duplicated_results) == (len(checked), 0, 0, 0)
    finally:
        p.stop()
        await rt.close()
