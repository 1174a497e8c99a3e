"""`streamprocess up` refuses to start, in one or two plain lines on stderr and a documented exit code, when a port
is taken (by anything, another `up` included: it must not share the gRPC port), a setting is bad, or the queue
cannot be reached. Real subprocesses; the refusals come before any model loads, so each takes a few seconds."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.local_services import free_port
from streamprocess.errors import ExitCode

from .helpers import assert_refused, cli, cli_env, up_server

QUICK = 30  # seconds a refusal may take on a loaded machine (it is ~1-2 s); a server that starts anyway hangs here


def run_up(tmp: Path, port: int, *, argv: list[str] | None = None, **settings: object) -> subprocess.CompletedProcess:
    env = cli_env(**{"live_max_streams": 0, "data_dir": str(tmp / "data"), **settings})
    t0 = time.monotonic()
    try:
        out = subprocess.run(
            (argv or cli()) + ["up", "--port", str(port)],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=QUICK,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"`up` did not refuse to start within {QUICK} s; its output: {e.stdout!r} {e.stderr!r}")
    out.elapsed = time.monotonic() - t0  # type: ignore[attr-defined]
    return out


def test_http_port_taken(tmp_path: Path, taken: int) -> None:
    out = run_up(tmp_path, taken)
    assert_refused(out, ExitCode.PORT_IN_USE, f"HTTP port {taken}", "--port")


def test_grpc_port_taken(tmp_path: Path, taken: int) -> None:
    out = run_up(tmp_path, free_port(), grpc_port=taken)
    assert_refused(out, ExitCode.PORT_IN_USE, f"gRPC port {taken}", "STREAMPROCESS_GRPC_PORT")


@pytest.mark.slow
def test_second_up_does_not_share_the_grpc_port(tmp_path: Path) -> None:
    """gRPC servers set SO_REUSEPORT by default: a second `up` bound the same port and took half the calls."""
    grpc_port = free_port()
    env = cli_env(live_max_streams=0, data_dir=str(tmp_path / "first"), grpc_port=grpc_port)
    with up_server(tmp_path, env, free_port(), grpc_port):
        out = run_up(tmp_path, free_port(), grpc_port=grpc_port, data_dir=str(tmp_path / "second"))
    assert_refused(out, ExitCode.PORT_IN_USE, f"gRPC port {grpc_port}")


def test_grpc_servers_do_not_share_a_port() -> None:
    """Without `grpc.so_reuseport` off, the second server binds as well (SO_REUSEPORT) and the kernel splits the
    connections between the two."""
    from types import SimpleNamespace

    from streamprocess.config import Settings
    from streamprocess.errors import StartupError
    from streamprocess.grpc_server import start

    port, subs = free_port(), SimpleNamespace(settings=Settings(_env_file=None))

    async def go() -> StartupError:
        first = await start(subs, {}, "127.0.0.1", port)  # type: ignore[arg-type]
        try:
            with pytest.raises(StartupError) as refused:
                second = await start(subs, {}, "127.0.0.1", port)  # type: ignore[arg-type]
                await second.stop(None)
            return refused.value
        finally:
            await first.stop(None)

    refused = asyncio.run(go())
    assert refused.exit_code == ExitCode.PORT_IN_USE and f"gRPC port {port}" in refused.message


# The port is checked before anything loads; a port taken between that check and the real bind (a race) is refused
# just as plainly. The check is switched off here to make the race certain.
RACE = [
    sys.executable,
    "-c",
    "import streamprocess.cli as c, streamprocess.service as s; s.check_ports = lambda settings: None; c.main()",
]


def test_http_port_taken_after_the_check(tmp_path: Path, taken: int) -> None:
    out = run_up(tmp_path, taken, argv=RACE)
    assert_refused(out, ExitCode.PORT_IN_USE, f"HTTP port {taken}")


def test_grpc_port_taken_after_the_check(tmp_path: Path, taken: int) -> None:
    out = run_up(tmp_path, free_port(), argv=RACE, grpc_port=taken)
    assert_refused(out, ExitCode.PORT_IN_USE, f"gRPC port {taken}")


def test_bad_setting(tmp_path: Path) -> None:
    out = run_up(tmp_path, free_port(), queue="nonsense")
    assert_refused(out, ExitCode.BAD_SETTING, "STREAMPROCESS_QUEUE", "nonsense")


def test_same_port_for_http_and_grpc(tmp_path: Path) -> None:
    port = free_port()
    out = run_up(tmp_path, port, grpc_port=port)
    assert_refused(out, ExitCode.BAD_SETTING, "STREAMPROCESS_GRPC_PORT", str(port))


def test_queue_unreachable(tmp_path: Path) -> None:
    nobody = free_port()
    out = run_up(tmp_path, free_port(), queue="redis", redis_url=f"redis://127.0.0.1:{nobody}/0")
    assert_refused(out, ExitCode.QUEUE_UNAVAILABLE, "redis", str(nobody))


def test_worker_metrics_port_taken(tmp_path: Path, taken: int) -> None:
    """`worker --metrics-port` on a busy port is refused as `up` refuses one: one line and PORT_IN_USE."""
    env = cli_env(data_dir=str(tmp_path / "data"))
    out = subprocess.run(
        cli("worker", "--metrics-port", str(taken), "--idle-exit", "1"),
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=QUICK,
    )
    assert_refused(out, ExitCode.PORT_IN_USE, f"metrics port {taken}", "--metrics-port")


def test_the_service_starts_and_stops_in_process(tmp_path: Path) -> None:
    """`up`'s composition is :class:`Service`: another entry point (a test here) starts it and stops it in-process."""
    from streamprocess.config import Settings
    from streamprocess.service import Service, Started

    port = free_port()
    grpc_port = next(p for p in iter(free_port, None) if p != port)
    data_dir = tmp_path / "data"
    settings = Settings(_env_file=None, data_dir=data_dir, port=port, grpc_port=grpc_port, live_max_streams=0)

    async def go() -> tuple[Started, int]:
        started: asyncio.Future[Started] = asyncio.get_running_loop().create_future()
        released: list[int] = []
        service = Service(settings, on_started=started.set_result, on_stopped=released.append)
        running = asyncio.create_task(service.run())
        await asyncio.wait([running, started], timeout=QUICK, return_when=asyncio.FIRST_COMPLETED)
        assert started.done(), running.result() if running.done() else "not started in time"
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # the HTTP API listens
            pass
        service.stop()
        await asyncio.wait_for(running, QUICK)
        return started.result(), released[0]

    started, released = asyncio.run(go())
    assert started.generated_key and started.missing == {} and released == 0
