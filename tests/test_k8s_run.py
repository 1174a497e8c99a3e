"""Run what the manifests say: the rendered overlays' containers (command, args and environment, resolved from their
ConfigMaps and the Secrets an operator makes) run here as subprocesses, against moto's S3 and SQS (aws overlay) or
a real redis-server with moto's S3 standing in for MinIO (minio overlay).

What is changed from the manifests, and why, and nothing else:
- endpoints that point into the cluster or at AWS: STREAMPROCESS_S3_ENDPOINT_URL, STREAMPROCESS_SQS_ENDPOINT_URL and
  STREAMPROCESS_REDIS_URL point at the local servers (moto plays AWS S3 and SQS, and MinIO: there is no MinIO here);
- credentials: IRSA gives the pods theirs in the cluster; here botocore gets moto's fake keys (conftest);
- ports a pod has to itself (8000, 50051, 9100) become free ports: the tests share one machine;
- HF_HOME (in the pod, its own /tmp emptyDir) becomes a folder of the test's own;
- STREAMPROCESS_STT_DEVICE=cuda becomes cpu: there is no GPU here (the engine and the model are the manifest's).
The processors are the manifests' own (the real STT and OCR engines)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from infra.local_services import free_port, wait_port
from streamprocess.config import Settings
from streamprocess.jobs import JobState
from streamprocess.runtime import Runtime

from .documents import prose_page
from .helpers import JFK, ROOT, jfk
from .k8s_manifests import Doc, container_env, container_of, find, rendered

pytestmark = pytest.mark.slow

#: The Secrets an operator makes (docs/deployment.md, "Secrets"): never in the manifests, so given here.
SECRETS = {
    "streamprocess-secrets": {"STREAMPROCESS_API_KEYS": "ops=k8s-test-key", "STREAMPROCESS_EVENTS_TOKEN": "k8s-tok"},
    "streamprocess-s3": {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"},
}
SLACK = 60  # seconds on top of a pod's own idle limit for start-up and processing on a loaded 2-core machine


class Pod:
    """One container of a rendered overlay, run here as the pod would run it (see the module docstring)."""

    def __init__(self, overlay: str, kind: str, name: str, servers: dict[str, str], tmp: Path) -> None:
        docs = rendered(overlay)
        self.doc: Doc = find(docs, kind, name)
        self.container = container_of(self.doc)
        env = container_env(docs, self.doc, SECRETS)
        self.ports: dict[int, int] = {}  # the pod's port → the free port used here
        local = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROCESS_")}
        if overlay == "aws":
            env |= {"STREAMPROCESS_S3_ENDPOINT_URL": servers["moto"], "STREAMPROCESS_SQS_ENDPOINT_URL": servers["moto"]}
        else:
            assert env["STREAMPROCESS_S3_ENDPOINT_URL"].startswith("http://streamprocess-minio")  # the in-cluster one
            assert env["STREAMPROCESS_REDIS_URL"].startswith("redis://streamprocess-redis")
            env |= {"STREAMPROCESS_S3_ENDPOINT_URL": servers["moto"], "STREAMPROCESS_REDIS_URL": servers["redis"]}
        if "HF_HOME" in env:
            env["HF_HOME"] = str(tmp / "huggingface")
        if env.get("STREAMPROCESS_STT_DEVICE") == "cuda":
            env["STREAMPROCESS_STT_DEVICE"] = "cpu"
        for var in ("STREAMPROCESS_PORT", "STREAMPROCESS_GRPC_PORT"):
            if var in env:
                env[var] = str(self.local_port(int(env[var])))
        self.env = {**local, **env, "PYTHONUNBUFFERED": "1"}
        # No `command` in the manifest: the image's entrypoint, `tini -- streamprocess`, runs the args (tini only
        # forwards signals); here the same console script runs them.
        assert "command" not in self.container
        argv = ["streamprocess", *self.container["args"]]
        if "--metrics-port" in argv:
            i = argv.index("--metrics-port") + 1
            argv[i] = str(self.local_port(int(argv[i])))
        script = Path(sys.executable).parent / "streamprocess"  # the same console script, in this environment
        self.argv = [str(script), *argv[1:]] if script.exists() else [sys.executable, "-m", "streamprocess", *argv[1:]]
        self.settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            **{k.removeprefix("STREAMPROCESS_").lower(): v for k, v in env.items() if k.startswith("STREAMPROCESS_")},
        )
        self.log = tmp / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def local_port(self, pod_port: int) -> int:
        return self.ports.setdefault(pod_port, free_port())

    def probe_url(self, kind: str) -> str:
        get = self.container[kind]["httpGet"]
        named = {p["name"]: p["containerPort"] for p in self.container["ports"]}
        port = named[get["port"]] if isinstance(get["port"], str) else get["port"]
        return f"http://127.0.0.1:{self.ports[port]}{get['path']}"

    def start(self) -> subprocess.Popen[bytes]:
        self.proc = subprocess.Popen(
            self.argv, env=self.env, cwd=self.log.parent, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT
        )
        return self.proc

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def servers(moto_url: str, redis_url: str) -> dict[str, str]:
    return {"moto": moto_url, "redis": redis_url}


async def fresh(settings: Settings) -> None:
    """The manifests' bucket and queues, empty: the queue names are the manifests' own, shared by these tests."""
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.aws_region)
    try:
        where = {} if settings.aws_region == "us-east-1" else {"LocationConstraint": settings.aws_region}
        s3.create_bucket(Bucket=settings.bucket, **({"CreateBucketConfiguration": where} if where else {}))
    except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        pass
    if settings.queue.value == "redis":
        import redis

        client = redis.Redis.from_url(settings.redis_url)
        for key in client.scan_iter(f"streamprocess:q:{settings.queue_prefix}*"):
            client.delete(key)
    if settings.queue.value == "sqs":  # deleted and made again (PurgeQueue allows one call a minute)
        sqs = boto3.client("sqs", endpoint_url=settings.sqs_endpoint_url, region_name=settings.aws_region)
        for url in sqs.list_queues(QueueNamePrefix=settings.queue_prefix).get("QueueUrls", []):
            sqs.delete_queue(QueueUrl=url)
    async with Runtime(settings) as rt:
        await rt.ensure()


def put(settings: Settings, key: str, body: bytes) -> dict[str, Any]:
    """Store an object (as a client would) and return the S3 event its bucket notification sends."""
    s3 = boto3.client("s3", endpoint_url=settings.s3_endpoint_url, region_name=settings.aws_region)
    etag = s3.put_object(Bucket=settings.bucket, Key=key, Body=body)["ETag"].strip('"')
    event = json.loads((ROOT / "events" / "s3-object-created.json").read_text())
    record = event["Records"][0]
    record["s3"]["bucket"] = {"name": settings.bucket, "arn": f"arn:aws:s3:::{settings.bucket}"}
    record["s3"]["object"] = {"key": key, "size": len(body), "eTag": etag, "sequencer": "01"}
    return event


def png_page() -> bytes:
    import io

    img, _ = prose_page("Job pods drain the queue and exit.")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


async def states(settings: Settings) -> dict[str, JobState]:
    async with Runtime(settings) as rt:
        return {r.source.key: r.state for r in await rt.jobs.list()}


async def depth(settings: Settings, role: str) -> tuple[int, int, int]:
    async with Runtime(settings) as rt:
        d = await rt.queues[role].depth()
        return d.available, d.in_flight, d.delayed


def stop(pod: Pod, timeout: float = 45) -> int:
    assert pod.proc is not None
    if pod.proc.poll() is None:
        pod.proc.send_signal(signal.SIGTERM)  # what the kubelet sends
    try:
        return pod.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pod.proc.kill()
        raise AssertionError(f"did not stop within {timeout} s of SIGTERM:\n{pod.text()}") from None


@pytest.fixture
def pods() -> Iterator[list[Pod]]:
    started: list[Pod] = []
    yield started
    for pod in started:
        if pod.proc is not None and pod.proc.poll() is None:
            pod.proc.kill()
            pod.proc.wait()


# ---------------------------------------------------------------------------------------------- ScaledJob pods
@pytest.mark.parametrize(("overlay", "role"), [("aws", "stt"), ("minio", "ocr")])
async def test_job_pod_drains_its_queue_and_exits(
    overlay: str, role: str, servers: dict[str, str], tmp_path: Path, pods: list[Pod]
) -> None:
    """The ScaledJob's container, as a job pod: jobs wait on its queue; it runs them with the real engine, finds
    the queue empty, and exits 0 once its --idle-exit has passed (so the Job completes), well within that limit."""
    pod = Pod(overlay, "ScaledJob", f"streamprocess-{role}", servers, tmp_path)
    pods.append(pod)
    settings = pod.settings
    await fresh(settings)
    run = f"inbox/k8s-{uuid.uuid4().hex[:8]}"
    inputs = {"stt": [("jfk.flac", jfk()), ("again.flac", jfk())], "ocr": [("page.png", png_page())]}[role]
    async with Runtime(settings) as rt:
        for name, body in inputs:
            await rt.router().route_payload(put(settings, f"{run}/{name}", body))
    assert (await depth(settings, role))[0] == len(inputs)

    args = pod.container["args"]
    idle = float(args[args.index("--idle-exit") + 1])
    started = time.monotonic()
    pod.start()
    assert pod.proc is not None
    try:
        code = pod.proc.wait(idle + SLACK)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the job pod did not exit within {idle + SLACK} s:\n{pod.text()}") from None
    took = time.monotonic() - started
    assert code == 0, pod.text()
    assert took >= idle  # it waited its idle limit for more work before leaving
    done = {k: s for k, s in (await states(settings)).items() if k.startswith(run)}
    assert done == {f"{run}/{name}": JobState.succeeded for name, _ in inputs}, pod.text()
    assert await depth(settings, role) == (0, 0, 0)
    async with Runtime(settings) as rt:
        [record] = [r for r in await rt.jobs.list() if r.source.key == f"{run}/{inputs[0][0]}"]
        result, _ = await rt.submissions().result(record, "txt")
    text = result.decode().lower()
    if role == "ocr":
        assert "drain the queue" in text, text
    elif inputs[0][1][:4] == b"fLaC":  # the shared JFK recording (else a short WAV that says nothing)
        assert "fellow americans" in text and "fellow americans" in JFK.lower(), text


# ---------------------------------------------------------------------------------------------- Deployments
@pytest.mark.parametrize("overlay", ["aws", "minio"])
async def test_router_deployment_routes_events_and_answers_its_probes(
    overlay: str, servers: dict[str, str], tmp_path: Path, pods: list[Pod]
) -> None:
    pod = Pod(overlay, "Deployment", "streamprocess-router", servers, tmp_path)
    pods.append(pod)
    settings = pod.settings
    await fresh(settings)
    run = f"inbox/k8s-{uuid.uuid4().hex[:8]}"
    async with Runtime(settings) as rt:
        await rt.queues["events"].send(json.dumps(put(settings, f"{run}/talk.flac", jfk())))
        await rt.queues["events"].send(json.dumps(put(settings, f"{run}/scan.png", png_page())))
    proc = pod.start()
    for probe in ("readinessProbe", "livenessProbe"):
        url = pod.probe_url(probe)
        wait_port(int(url.split(":")[2].split("/")[0]), proc, timeout=SLACK)
        assert httpx.get(url, timeout=5).status_code == 200, pod.text()
    deadline = time.monotonic() + SLACK
    while (await depth(settings, "stt"))[0] + (await depth(settings, "ocr"))[0] < 2:
        assert time.monotonic() < deadline, f"nothing routed:\n{pod.text()}"
        await asyncio.sleep(0.3)
    assert (await depth(settings, "stt"))[0] == 1 and (await depth(settings, "ocr"))[0] == 1
    # The router acks an event after sending its job (and marking it dispatched): wait for that last step.
    while (events := await depth(settings, "events")) != (0, 0, 0) and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert events == (0, 0, 0), pod.text()
    assert {k: s for k, s in (await states(settings)).items() if k.startswith(run)} == {
        f"{run}/talk.flac": JobState.queued,
        f"{run}/scan.png": JobState.queued,
    }
    assert stop(pod) == 0, pod.text()


def grpc_health(port: int) -> str:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


@pytest.mark.parametrize("overlay", ["aws", "minio"])
async def test_api_deployment_answers_its_probes(
    overlay: str, servers: dict[str, str], tmp_path: Path, pods: list[Pod]
) -> None:
    """`streamprocess api` as the API Deployment runs it: the startup probe (grpc.health.v1 on the gRPC port), then
    liveness (/health) and readiness (/ready, the store and every queue reached; no API key) answer 200, metrics
    answer on the metrics port without a key, and SIGTERM ends it with 0."""
    pod = Pod(overlay, "Deployment", "streamprocess-api", servers, tmp_path)
    pods.append(pod)
    await fresh(pod.settings)
    proc = pod.start()
    grpc_port = pod.ports[pod.container["startupProbe"]["grpc"]["port"]]
    wait_port(grpc_port, proc, timeout=SLACK)
    startup = pod.container["startupProbe"]
    deadline = time.monotonic() + startup["periodSeconds"] * startup["failureThreshold"]  # as the kubelet retries it
    while (status := grpc_health(grpc_port)) != "SERVING" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status == "SERVING", pod.text()
    for probe in ("livenessProbe", "readinessProbe"):
        reply = httpx.get(pod.probe_url(probe), timeout=10)
        assert reply.status_code == 200, (probe, reply.text, pod.text())
    metrics = httpx.get(f"http://127.0.0.1:{pod.ports[9100]}/metrics", timeout=5)
    assert metrics.status_code == 200 and "streamprocess_live_streams_active" in metrics.text
    assert "Authorization" not in pod.container.get("startupProbe", {}).get("httpGet", {})  # probes carry no key
    assert stop(pod) == 0, pod.text()
