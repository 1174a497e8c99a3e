"""What the tests share: paths, `streamprocess` subprocesses and servers, test media, and driving a pipeline
(settings for a data dir, worker subprocesses, waiting on job records). Test modules import from here, never from
each other; the fixtures live in conftest.py."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from infra.local_services import wait_port
from streamprocess.config import Settings
from streamprocess.errors import ExitCode
from streamprocess.jobs import JobRecord, JobState
from streamprocess.live.decoder import DecodeRequest, Hypothesis
from streamprocess.live.pcm import to_s16le
from streamprocess.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
SHARED_AUDIO = ROOT.parent / "shared" / "testdata" / "audio"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# ---------------------------------------------------------------------------------------------- subprocesses
def cli_env(**settings: object) -> dict[str, str]:
    """Environment for a `streamprocess` subprocess: this interpreter's, plus STREAMPROCESS_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROCESS_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    env["STREAMPROCESS_GRPC_PORT"] = "0"  # servers under test share the machine: no fixed ports
    for k, v in settings.items():
        if v is not None:
            env[f"STREAMPROCESS_{k.upper()}"] = str(v)
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "streamprocess", *args]


@contextlib.contextmanager
def up_server(tmp: Path, env: dict[str, str], port: int, *wait_also: int) -> Iterator[Path]:
    """`streamprocess up --port PORT` as a subprocess in ``tmp`` (log in ``tmp/up.log``), until the block ends."""
    log = tmp / "up.log"
    proc = subprocess.Popen(
        cli("up", "--port", str(port)), env=env, cwd=tmp, stdout=open(log, "wb"), stderr=subprocess.STDOUT
    )
    try:
        for p in (port, *wait_also):
            wait_port(p, proc)
        yield log
    finally:
        proc.terminate()
        proc.wait(30)


@dataclass(frozen=True)
class SharedUp:
    """The session's shared `streamprocess up` (the ``shared_up`` fixture)."""

    http: str  # http://127.0.0.1:PORT
    grpc: str  # 127.0.0.1:PORT
    log: Path


#: The API keys of the modules that use the shared server, each its own (none is another's "wrong key").
SHARED_UP_KEYS = ("grpc-key", "page-key", "docs-key")
SHARED_UP_EVENTS_TOKEN = "tok"


# ---------------------------------------------------------------------------------------------- test media
JFK = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def wav_bytes() -> bytes:
    """100 samples of 16 kHz mono s16 WAV: audio by its header, too short to say anything."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(struct.pack("<100h", *range(100)))
    return buf.getvalue()


def write_wav(path: Path, samples: np.ndarray, rate: int = 16000) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(to_s16le(samples))
    return path


def shared(name: str) -> Path:
    """A recording from the shared test data beside the checkout (the test is skipped without it)."""
    path = SHARED_AUDIO / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared recordings live beside the checkout)")
    return path


def jfk() -> bytes:
    """The JFK clip's bytes (its text is :data:`JFK`), or :func:`wav_bytes` where the shared data is absent."""
    path = SHARED_AUDIO / "jfk.flac"
    return path.read_bytes() if path.exists() else wav_bytes()


# ---------------------------------------------------------------------------------------------- pipelines
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


# ---------------------------------------------------------------------------------------------- refusals, stand-ins
def assert_refused(out: subprocess.CompletedProcess[str], code: ExitCode, *words: str) -> None:
    """A command that could not start: its exit code, one or two lines on stderr naming ``words``, no traceback."""
    said = out.stderr.strip().splitlines()
    assert out.returncode == code, (out.returncode, out.stdout[-2000:], out.stderr[-4000:])
    assert 1 <= len(said) <= 2, out.stderr
    assert "Traceback" not in out.stderr + out.stdout and "StreamProcess is up" not in out.stdout
    for word in words:
        assert word in out.stderr, (word, out.stderr)


class DeafDecoder:
    """A live decoder that hears no words: a pool exists and streams open, take audio and close, with no model."""

    def batch_key(self, request: DecodeRequest) -> bool:
        return False

    def window(self, request: DecodeRequest) -> float:
        return 10.0

    def decode(self, requests: list[DecodeRequest]) -> list[Hypothesis]:
        return [Hypothesis(words=[], language="en") for _ in requests]


async def run_burst(rt: Runtime, roles: tuple[str, ...] = ("events", "stt", "ocr"), timeout: float = 30) -> None:
    """A worker in burst mode in this process: everything queued is processed, then it returns."""
    worker, missing = rt.worker(list(roles), burst=True, receive_wait=1.0)
    assert not missing, missing
    await asyncio.wait_for(worker.run(), timeout)


# ---------------------------------------------------------------------------------------------- the browser
#: Debian's chromium, which Playwright drives (no browser download; scripts/test.sh installs it).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Headless and quiet: no sandbox (containers), no GPU, nothing fetched in the background.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def launch_chromium(playwright: Any, *extra_args: str) -> Any:
    """Debian's chromium under Playwright, with :data:`CHROMIUM_ARGS` and ``extra_args``."""
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (scripts/test.sh installs it)"
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
