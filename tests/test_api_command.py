"""`streamprocess api`: the HTTP API and gRPC without workers, as the API Deployment (and the live pool) runs it.
Real subprocesses: it starts, answers its probes (`/ready` without a key, grpc.health.v1 with a real client, metrics
on their own port without a key), takes jobs that wait in their queues until a `streamprocess worker --burst`
drains them, and leaves with code 0 on SIGTERM. Its start-up refusals are `up`'s (one or two lines, an exit code)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from infra.local_services import free_port, wait_port
from streamprocess.errors import ExitCode

from .helpers import assert_refused, cli, cli_env, wav_bytes

QUICK = 30  # seconds a refusal may take on a loaded machine
KEYS = "acme=acme-key,default=drop-key"


def settings_env(tmp: Path, **more: object) -> dict[str, str]:
    base: dict[str, object] = {
        "data_dir": str(tmp / "data"),
        "api_keys": KEYS,
        "live_max_streams": 0,
        "stt_processor": "tests.processors:Echo",
        "ocr_processor": "tests.processors:Echo",
    }
    return cli_env(**{**base, **more})  # a setting given as None is left unset


def health(port: int, service: str) -> str:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def until(check, timeout: float = 30):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def records(data: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (data / "jobs").glob("*.json")}


@pytest.mark.slow
def test_api_serves_probes_queues_jobs_for_workers_and_drains_on_sigterm(tmp_path: Path) -> None:
    port, grpc_port, metrics_port = free_port(), free_port(), free_port()
    env = settings_env(tmp_path, grpc_port=grpc_port)
    log = tmp_path / "api.log"
    proc = subprocess.Popen(
        cli("api", "--port", str(port), "--metrics-port", str(metrics_port)),
        env=env,
        cwd=tmp_path,
        stdout=open(log, "wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        for p in (port, grpc_port, metrics_port):
            wait_port(p, proc, timeout=60)
        base = f"http://127.0.0.1:{port}"
        ready = until(lambda: httpx.get(f"{base}/ready").status_code == 200)
        assert ready, log.read_text()
        assert httpx.get(f"{base}/ready").json() == {"status": "ready"}
        assert until(lambda: health(grpc_port, "") == "SERVING")
        assert health(grpc_port, "streamprocess.v1.OCRService") == "SERVING"
        assert health(grpc_port, "streamprocess.v1.STTService") == "NOT_SERVING"  # live_max_streams=0
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")  # no key on the metrics port
        assert scraped.status_code == 200 and "streamprocess_jobs_received_total" in scraped.text
        assert httpx.get(f"{base}/metrics").status_code == 401  # the API's own /metrics still needs one

        auth = {"Authorization": "Bearer acme-key"}
        r = httpx.post(f"{base}/stt/upload", headers=auth, files={"file": ("a.wav", wav_bytes(), "audio/wav")})
        assert r.status_code == 202, r.text
        job = r.json()["job_id"]
        data = tmp_path / "data"
        (data / "inbox").mkdir(parents=True, exist_ok=True)
        (data / "inbox" / "dropped.wav").write_bytes(wav_bytes() + b"dropped")  # the watcher runs in `api`
        time.sleep(3)  # time enough for any worker to have taken it: there is none
        assert httpx.get(f"{base}/status/{job}", headers=auth).json()["state"] == "queued"
        assert not (data / "results").exists() or not any((data / "results").iterdir())

        worker = subprocess.run(
            cli("worker", "--queue", "events", "--queue", "stt", "--burst"),
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert worker.returncode == 0, worker.stderr[-3000:]
        assert httpx.get(f"{base}/status/{job}", headers=auth).json()["state"] == "succeeded"
        done = {k: r for k, r in records(data).items() if r["state"] == "succeeded"}
        assert len(done) == 2 and {r["tenant"] for r in done.values()} == {"acme", "default"}, records(data)

        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = log.read_text()
    assert "StreamProcess API is up" in out and "none in this process" in out and "SIGTERM" in out
    assert "Traceback" not in out
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def run_api(tmp: Path, port: int, **settings: object) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cli("api", "--port", str(port)),
            env=settings_env(tmp, **settings),
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=QUICK,
        )
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"`api` did not refuse to start within {QUICK} s; its output: {e.stdout!r} {e.stderr!r}")


def test_api_without_keys_is_refused(tmp_path: Path) -> None:
    """Every replica must accept the same keys: `api` does not make one per process as `up` does."""
    out = run_api(tmp_path, free_port(), api_keys=None)
    assert_refused(out, ExitCode.BAD_SETTING, "STREAMPROCESS_API_KEYS")


def test_api_port_taken_is_refused_as_up_refuses(tmp_path: Path, taken: int) -> None:
    assert_refused(run_api(tmp_path, taken), ExitCode.PORT_IN_USE, f"HTTP port {taken}")
    assert_refused(run_api(tmp_path, free_port(), grpc_port=taken), ExitCode.PORT_IN_USE, f"gRPC port {taken}")


def test_api_is_listed_and_explains_itself(tmp_path: Path) -> None:
    out = subprocess.run(cli("--help"), env=cli_env(), capture_output=True, text=True, timeout=QUICK)
    assert out.returncode == 0 and " api " in out.stdout
    out = subprocess.run(cli("api", "--help"), env=cli_env(), capture_output=True, text=True, timeout=QUICK)
    assert out.returncode == 0
    for words in ("without workers", "STREAMPROCESS_API_KEYS", "/ready", "--metrics-port"):
        assert words in " ".join(out.stdout.split()), (words, out.stdout)
