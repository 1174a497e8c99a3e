"""Local services for development, tests and benchmarks: redis-server and moto's S3/SQS server, on 127.0.0.1.

    python -m infra.local_services          # start both, print the settings that use them, Ctrl+C to stop
    python -m infra.local_services --redis-port 6380 --moto-port 5001

moto's server comes with the ``dev`` extra (``.venv/bin/pip install -e '.[dev]'``), redis-server from Debian
(``apt-get install redis-server``). Ctrl+C or SIGTERM stops both servers before the command exits.

Tests (tests/conftest.py) and benchmarks (bench/) start them through the same context managers.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, never one this process was given before: the kernel may hand the same
    ephemeral port to two binds in a row once the first socket is closed (a CI run started tritonserver with its
    gRPC and metrics ports equal), so callers that take several ports get distinct ones."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


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


def _last_line(log: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return lines[-1][-300:]
    return ""


def _wait_started(port: int, proc: subprocess.Popen[bytes], log: Path, what: str) -> None:
    """:func:`wait_port`, with the server's own last words when it exits first (a port in use, a bad option)."""
    try:
        wait_port(port, proc)
    except (RuntimeError, TimeoutError) as e:
        said = _last_line(log)
        raise RuntimeError(f"{what}: {e}" + (f" (it said: {said})" if said else "")) from None


def _check_free(port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            raise RuntimeError(
                f"port {port} on 127.0.0.1 is in use (a server already running?); choose another port"
            ) from None


def moto_missing() -> str | None:
    """The first module moto's server needs that is not installed (``moto[server]``: moto and Flask), or None."""
    for module in ("moto", "flask", "flask_cors"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


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
    return [
        exe,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes" if appendonly else "no",
        "--dir",
        str(workdir),
    ]


@contextlib.contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """A throw-away redis-server (no persistence); yields its URL."""
    if port:
        _check_free(port)
    port = port or free_port()
    with tempfile.TemporaryDirectory(prefix="sp-redis-") as workdir:
        log = Path(workdir) / "redis.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(redis_command(port, workdir), stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_started(port, proc, log, "redis-server")
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(proc)


@contextlib.contextmanager
def moto_server(port: int | None = None, log: Path | None = None) -> Iterator[str]:
    """moto's server (S3, SQS and the S3→SQS notifications between them); yields its endpoint URL."""
    absent = moto_missing()
    if absent:
        raise RuntimeError(
            f"moto's server is not installed (no module {absent}): "
            ".venv/bin/pip install -e '.[dev]' (or pip install 'moto[server]')"
        )
    if port:
        _check_free(port)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = port or free_port()
    exe = Path(sys.executable).with_name("moto_server")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "moto.server"]
    with contextlib.ExitStack() as stack:
        if log is None:
            log = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sp-moto-"))) / "moto.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([*cmd, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_started(port, proc, log, "moto's server")
            yield f"http://127.0.0.1:{port}"
        finally:
            _stop(proc)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (and SIGINT) unwind the with-blocks, which stop the servers; a second signal waits for that."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m infra.local_services", description=__doc__.split("\n")[0])
    parser.add_argument("--redis-port", type=int, default=6379)
    parser.add_argument("--moto-port", type=int, default=5000)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        with redis_server(args.redis_port) as redis_url, moto_server(args.moto_port) as moto_url:
            print("Services are up. To use them:")
            print(f"  export STREAMPROCESS_REDIS_URL={redis_url}")
            print(f"  export STREAMPROCESS_S3_ENDPOINT_URL={moto_url} STREAMPROCESS_SQS_ENDPOINT_URL={moto_url}")
            print("  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing")
            print("Ctrl+C stops them.", flush=True)
            while True:
                time.sleep(3600)
    except KeyboardInterrupt:
        pass
    except RuntimeError as e:  # a server missing, a port in use: one line, no traceback
        sys.exit(f"local services: {e}")


if __name__ == "__main__":
    main()
