"""Drive a pipeline from a test: settings for a data dir, worker subprocesses, and waiting on job records."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from streamprocess.config import Settings
from streamprocess.jobs import JobRecord, JobState
from streamprocess.runtime import Runtime

from .conftest import ROOT, cli, cli_env


class Pipeline:
    """A pipeline on a data dir: the test drops files in-process, workers run as real subprocesses."""

    def __init__(self, tmp: Path, **settings: Any) -> None:
        self.tmp = tmp
        self.state = tmp / "state"
        self.state.mkdir(exist_ok=True)
        self.settings_kw = {
            "data_dir": str(tmp / "data"),
            "stt_processor": "tests.processors:Scripted",
            "ocr_processor": "tests.processors:Scripted",
            "log_level": "INFO",
            **settings,
        }
        self.settings = Settings(**self.settings_kw)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def env(self, **extra: Any) -> dict[str, str]:
        env = cli_env(**{**self.settings_kw, **extra})
        env["SP_TEST_STATE"] = str(self.state)
        return env

    def start_worker(self, *args: str, **extra: Any) -> subprocess.Popen[bytes]:
        log = self.tmp / f"worker-{len(self.logs)}.log"
        self.logs.append(log)
        proc = subprocess.Popen(
            cli("worker", *args), env=self.env(**extra), cwd=ROOT, stdout=open(log, "wb"), stderr=subprocess.STDOUT
        )
        self.workers.append(proc)
        return proc

    def log_text(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')}" for p in self.logs if p.exists())

    def stop(self) -> None:
        for p in self.workers:
            if p.poll() is None:
                p.kill()
                p.wait()

    async def runtime(self) -> Runtime:
        rt = Runtime(self.settings)
        await rt.ensure()
        return rt

    async def drop(self, key: str, data: bytes) -> None:
        async with Runtime(self.settings) as rt:
            await rt.ensure()
            await rt.store.put(f"{self.settings.inbox_prefix}{key}", data)

    async def records(self) -> list[JobRecord]:
        async with Runtime(self.settings) as rt:
            return await rt.jobs.list()

    async def wait_record(self, predicate: Any, timeout: float = 30, what: str = "a matching job record") -> JobRecord:
        deadline = time.monotonic() + timeout
        seen: list[JobRecord] = []
        while time.monotonic() < deadline:
            seen = await self.records()
            for r in seen:
                if predicate(r):
                    return r
            await asyncio.sleep(0.1)
        raise AssertionError(
            f"no {what} within {timeout} s; records: {[(r.source.key, r.state) for r in seen]}\n{self.log_text()}"
        )

    async def wait_state(self, key_suffix: str, state: JobState, timeout: float = 30) -> JobRecord:
        return await self.wait_record(
            lambda r: r.source.key.endswith(key_suffix) and r.state is state,
            timeout,
            f"job for {key_suffix} in state {state}",
        )

    def runs(self, job_id: str) -> int:
        f = self.state / f"{job_id}.runs"
        return len(f.read_text().splitlines()) if f.exists() else 0

    def result_files(self, job_id: str) -> list[str]:
        d = Path(self.settings.data_dir) / self.settings.results_prefix / job_id
        return sorted(p.name for p in d.iterdir()) if d.exists() else []


async def dlq_bodies(rt: Runtime, role: str) -> list[str]:
    q = rt.queues[role].dlq
    got = []
    while batch := await q.receive(10, wait=0.5):  # left unacked: hidden for the rest of the test
        got += [m.body for m in batch]
    return got


def as_json(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body
