"""Local services for development, tests and benchmarks: redis-server and moto's S3/SQS server, on 127.0.0.1.

    python -m infra.local_services          # start both, print the settings that use them, Ctrl+C to stop

Tests (tests/conftest.py) and benchmarks (bench/) start them through the same context managers.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def redis_command(port: int, workdir: str | Path, *, appendonly: bool = False) -> list[str]:
    """The redis-server command line: 127.0.0.1 only, no RDB snapshots; ``appendonly`` keeps an append-only file
    in ``workdir``, so a server killed and started again on the same ``workdir`` has its data (tests/reliability)."""
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed: apt-get install redis-server (scripts/test.sh does it)")
    return [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
            "yes" if appendonly else "no", "--dir", str(workdir)]


@contextlib.contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """A throw-away redis-server (no persistence); yields its URL."""
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="sp-redis-") as workdir:
        proc = subprocess.Popen(redis_command(port, workdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_port(port, proc)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(proc)


@contextlib.contextmanager
def moto_server(port: int | None = None, log: Path | None = None) -> Iterator[str]:
    """moto's server (S3, SQS and the S3→SQS notifications between them); yields its endpoint URL."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = port or free_port()
    exe = Path(sys.executable).with_name("moto_server")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen([*cmd, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)
        if log:
            out.close()  # type: ignore[union-attr]


def main() -> None:
    with redis_server(6379) as redis_url, moto_server(5000) as moto_url:
        print("Services are up. To use them:")
        print(f"  export STREAMPROCESS_REDIS_URL={redis_url}")
        print(f"  export STREAMPROCESS_S3_ENDPOINT_URL={moto_url} STREAMPROCESS_SQS_ENDPOINT_URL={moto_url}")
        print("  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing")
        print("Ctrl+C stops them.")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
