"""The Kubernetes manifests (k8s/): every overlay renders offline with `kubectl kustomize`, its core objects validate
with kubernetes-validate --strict, its KEDA objects against KEDA's CRD schemas made strict (and their trigger fields
against the fields KEDA reads), every pod follows this project's rules; deliberately broken overlays
(tests/k8s_broken/) fail those same checks for the reason they were broken. Then the settings the scaling relies on,
read from the rendered objects. Running what the manifests say is tests/test_k8s_run.py."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from streamprocess.config import Settings
from streamprocess.metrics import LIVE_ACTIVE
from streamprocess.queues.redis_streams import GROUP, RedisStreamQueue

from .containers import command_problem
from .helpers import ROOT
from .k8s_manifests import (
    KEDA_KINDS,
    OVERLAYS,
    TRITON_IMAGE,
    all_problems,
    container_of,
    containers,
    find,
    flags,
    ident,
    pod_spec,
    render,
    rendered,
    rendered_with,
)

BROKEN = Path(__file__).resolve().parent / "k8s_broken"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_and_validates(overlay: str) -> None:
    docs = rendered(overlay)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget", "ScaledJob"} <= kinds
    assert {"ScaledObject", "ConfigMap", "ServiceAccount", "Namespace"} <= kinds
    assert all_problems(docs) == []


#: Each deliberately broken overlay (tests/k8s_broken/<case>) and the problem the checks must report.
BROKEN_CASES = [
    ("misspelt-trigger", "streamprocess-stt: trigger 0 (aws-sqs-queue): unknown metadata field 'queueLenght'"),
    ("no-gpu-limit", "ScaledJob/streamprocess-stt container worker: no nvidia.com/gpu: 1 limit"),
    ("unknown-scaledjob-field", "('pendingPodCondition' was unexpected)"),
    ("unknown-field-in-job-pod", "spec.jobTargetRef.template.spec.containers.0: Additional properties"),
    ("root-container", "Deployment/streamprocess-router container router: may run as root"),
    ("misspelt-core-field", "Kubernetes 1.30.0 schema: spec.template.spec.containers.0: Additional properties"),
    ("unknown-setting", "STREAMPROCESS_VISIBILITY_TIMOUT is not a setting"),
    ("triton-ready-on-live", "container triton: its readinessProbe is not GET /v2/health/ready on the HTTP port"),
    ("triton-metrics-not-scraped", "Deployment/streamprocess-triton: the metrics port 8002 is not annotated"),
    ("triton-no-gpu", "Deployment/streamprocess-triton container triton: no nvidia.com/gpu: 1 limit"),
    ("triton-repository-elsewhere", "no init container writes its model repository ('/models') with `triton repo`"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "reason"), BROKEN_CASES)
def test_broken_manifest_fails_for_its_reason(case: str, reason: str) -> None:
    problems = all_problems(render(BROKEN / case))
    assert problems, f"{case} passed every check"
    assert any(reason in p for p in problems), problems
    # Broken in one object only: everything else in it still passes.
    assert len({p.split(":")[0].split(" container ")[0] for p in problems}) == 1, problems


def test_every_broken_case_is_tested() -> None:
    cases = {p.name for p in BROKEN.iterdir() if (p / "kustomization.yaml").exists()}
    assert cases == {case for case, _ in BROKEN_CASES}


def settings_of(overlay: str) -> Settings:
    """The settings every StreamProcess pod of the overlay gets from its ConfigMap."""
    config = next(d for d in rendered(overlay) if d["kind"] == "ConfigMap" and "streamprocess-config" in ident(d))
    values = {k.removeprefix("STREAMPROCESS_").lower(): v for k, v in config["data"].items() if k.startswith("STR")}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_job_scaling_settings(overlay: str) -> None:
    """Scale to zero; `accurate` deducting pending Jobs (a GPU pod waiting for a node is pending until it is
    scheduled and ready, keda#1323); a metric that leaves out what running Jobs hold; the trigger watching the very
    queue the Job's worker consumes."""
    docs = rendered(overlay)
    settings = settings_of(overlay)
    for role in ("stt", "ocr"):
        job = find(docs, "ScaledJob", f"streamprocess-{role}")
        spec = job["spec"]
        assert spec["minReplicaCount"] == 0 and spec["maxReplicaCount"] >= 1
        assert spec["scalingStrategy"]["strategy"] == "accurate"
        assert {"PodScheduled", "Ready"} <= set(spec["scalingStrategy"]["pendingPodConditions"])
        assert spec["pollingInterval"] <= 30 and spec["successfulJobsHistoryLimit"] >= 1
        assert spec["rollout"]["strategy"] == "gradual"  # an update does not kill running Jobs
        args = container_of(job)["args"]
        assert args[:3] == ["worker", "--queue", role] and "--idle-exit" in args and "--max-jobs" in args
        # The pod is ready (and stops counting as pending) when its worker serves metrics, on the port it is told.
        probe = container_of(job)["readinessProbe"]["httpGet"]
        ports = {p["name"]: p["containerPort"] for p in container_of(job)["ports"]}
        assert ports[probe["port"]] == int(args[args.index("--metrics-port") + 1])
        [trigger] = spec["triggers"]
        meta = trigger["metadata"]
        if overlay == "aws":
            assert trigger["type"] == "aws-sqs-queue"
            assert meta["queueURL"].endswith(f".amazonaws.com/AWS_ACCOUNT_ID/{settings.queue_name(role)}")
            assert f"sqs.{settings.aws_region}." in meta["queueURL"] and meta["awsRegion"] == settings.aws_region
            assert meta["scaleOnInFlight"] == "false" and meta["activationQueueLength"] == "0"
            auth = find(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
            assert auth["spec"]["podIdentity"] == {"provider": "aws", "identityOwner": "workload"}
        else:
            assert trigger["type"] == "redis-streams"
            assert meta["stream"] == RedisStreamQueue(settings.queue_name(role), url="redis://x").stream
            assert meta["consumerGroup"] == GROUP
            url = urlsplit(settings.redis_url)  # the Redis the workers use (database 0: KEDA's default too)
            assert meta["address"] == f"{url.hostname}.streamprocess.svc:{url.port}" and url.path == "/0"
            assert int(meta["lagCount"]) >= 1 and meta["activationLagCount"] == "0"  # KEDA >= 2.17: 0 is allowed
            redis = container_of(find(docs, "Deployment", "streamprocess-redis"))["image"]
            assert int(re.search(r":(\d+)", redis).group(1)) >= 7  # type: ignore[union-attr]  # lag needs Redis 7+
    assert settings.queue.value == {"aws": "sqs", "minio": "redis"}[overlay] and settings.store.value == "s3"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_gpu_pods_and_the_live_pool(overlay: str) -> None:
    docs = rendered(overlay)
    live = find(docs, "Deployment", "streamprocess-live")
    assert "replicas" not in live["spec"]  # the ScaledObject's HPA owns it
    scaled = find(docs, "ScaledObject", "streamprocess-live")
    assert scaled["spec"]["scaleTargetRef"]["name"] == "streamprocess-live"
    assert scaled["spec"]["minReplicaCount"] >= 1  # hot models: never to zero
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "prometheus" and LIVE_ACTIVE._name in trigger["metadata"]["query"]  # type: ignore[attr-defined]
    env = {e["name"]: e.get("value") for e in container_of(live)["env"]}
    max_streams = int(env["STREAMPROCESS_LIVE_MAX_STREAMS"])
    assert 0 < float(trigger["metadata"]["threshold"]) < max_streams  # a new pod loads before the others are full
    api = find(docs, "Deployment", "streamprocess-api")
    assert {e["name"]: e.get("value") for e in container_of(api)["env"]}["STREAMPROCESS_LIVE_MAX_STREAMS"] == "0"
    for doc in (live, find(docs, "ScaledJob", "streamprocess-stt")):
        assert container_of(doc)["image"].endswith("-gpu"), ident(doc)  # built from Dockerfile.gpu
    for doc in (api, find(docs, "Deployment", "streamprocess-router"), find(docs, "ScaledJob", "streamprocess-ocr")):
        assert "nvidia.com/gpu" not in container_of(doc)["resources"]["limits"], ident(doc)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_disruption_budgets_autoscaling_and_grace(overlay: str) -> None:
    docs = rendered(overlay)
    budgets = [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    for dep in (d for d in docs if d["kind"] == "Deployment" and "streamprocess-" in d["metadata"]["name"]):
        labels = dep["spec"]["template"]["metadata"]["labels"]
        if labels.get("app.kubernetes.io/name") != "streamprocess":
            continue  # MinIO and Redis: single replicas of someone else's image
        covering = [b for b in budgets if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1, f"{ident(dep)}: {len(covering)} PodDisruptionBudgets"
    hpa = find(docs, "HorizontalPodAutoscaler", "streamprocess-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "streamprocess-api" and hpa["spec"]["minReplicas"] >= 2
    grace = settings_of(overlay).shutdown_grace
    for doc in docs:
        spec = pod_spec(doc)
        if spec and container_of(doc)["image"].startswith("ghcr.io/OWNER/streamprocess"):
            # SIGTERM: in-flight jobs get STREAMPROCESS_SHUTDOWN_GRACE, then are released; the kill must come later.
            assert spec["terminationGracePeriodSeconds"] > grace, ident(doc)
            assert "/tmp" in {m["mountPath"] for m in container_of(doc)["volumeMounts"]}, ident(doc)
            # The image's entrypoint (tini -- streamprocess) stays: tini forwards SIGTERM to the service.
            assert "command" not in container_of(doc), ident(doc)


def test_api_probes() -> None:
    api = container_of(find(rendered("aws"), "Deployment", "streamprocess-api"))
    assert api["livenessProbe"]["httpGet"]["path"] == "/health"
    assert api["readinessProbe"]["httpGet"]["path"] == "/ready"
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert api["startupProbe"]["grpc"]["port"] == ports["grpc"] == 50051  # grpc.health.v1, Kubernetes' own probe
    assert ports["http"] == settings_of("aws").port


def test_aws_identity() -> None:
    docs = rendered("aws")
    account = find(docs, "ServiceAccount", "streamprocess")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
    for doc in docs:
        spec = pod_spec(doc)
        if spec is not None:
            assert spec["serviceAccountName"] == "streamprocess", ident(doc)


def test_minio_notifies_the_api() -> None:
    """MinIO's webhook target posts to the API Service's /events/s3 with the events token the API reads; the setup
    Job subscribes the bucket the pods use, for new objects under the inbox prefix only."""
    docs = rendered("minio")
    settings = settings_of("minio")
    minio = container_of(find(docs, "Deployment", "streamprocess-minio"))
    env = {e["name"]: e for e in minio["env"]}
    service = find(docs, "Service", "streamprocess-api")
    port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "http")
    endpoint = f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc:{port}/events/s3"
    assert env["MINIO_NOTIFY_WEBHOOK_ENDPOINT_STREAMPROCESS"]["value"] == endpoint
    token = env["MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_STREAMPROCESS"]["valueFrom"]["secretKeyRef"]
    assert token["key"] == "STREAMPROCESS_EVENTS_TOKEN"
    api = container_of(find(docs, "Deployment", "streamprocess-api"))
    assert {"secretRef": {"name": token["name"]}} in api["envFrom"]
    assert env["MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_STREAMPROCESS"]["value"]  # events wait on disk while the API is down
    setup = container_of(find(docs, "Job", "streamprocess-minio-setup"))
    script = shlex.split(setup["args"][0].replace("\\\n", " "))
    assert {e["name"]: e["value"] for e in setup["env"]}["BUCKET"] == settings.bucket
    assert "arn:minio:sqs::STREAMPROCESS:webhook" in script
    assert script[script.index("--prefix") + 1] == settings.inbox_prefix and "put" in script
    s3 = settings.s3_endpoint_url or ""
    assert s3.startswith("http://streamprocess-minio:") and "http://streamprocess-minio:9000" in setup["args"][0]


def test_keda_objects_are_checked_against_every_crd_used() -> None:
    kinds = {d["kind"] for overlay in OVERLAYS for d in rendered(overlay) if d["apiVersion"].startswith("keda.sh/")}
    assert kinds == set(KEDA_KINDS)


def test_deployment_guide_matches_the_manifests() -> None:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    names = {f"STREAMPROCESS_{f.upper()}" for f in Settings.model_fields}
    assert set(re.findall(r"STREAMPROCESS_[A-Z_]+[A-Z]", guide)) <= names
    for path in re.findall(r"`(k8s/[\w./-]+)`", guide):
        assert (ROOT / path).exists(), path
    for overlay in OVERLAYS:
        assert f"kubectl apply -k k8s/overlays/{overlay}" in guide
    stt = container_of(find(rendered("aws"), "ScaledJob", "streamprocess-stt"))["args"]
    assert " ".join(stt) in guide  # the job pod's command line, as the guide shows it

    def per_kind(overlay: str, value: Callable[[dict[str, Any]], object]) -> str:
        docs = rendered(overlay)
        stt, ocr = (find(docs, "ScaledJob", f"streamprocess-{role}") for role in ("stt", "ocr"))
        return f"{value(stt)} (STT), {value(ocr)} (OCR)"

    # The numbers the guide's table gives are the manifests'.
    assert f"| {per_kind('aws', lambda j: j['spec']['triggers'][0]['metadata']['queueLength'])} |" in guide
    assert f"| {per_kind('minio', lambda j: j['spec']['triggers'][0]['metadata']['lagCount'])} |" in guide
    assert f"| {per_kind('aws', lambda j: j['spec']['maxReplicaCount'])} |" in guide
    polling = find(rendered("aws"), "ScaledJob", "streamprocess-stt")["spec"]["pollingInterval"]
    assert f"| `pollingInterval` | {polling} s |" in guide
    assert "docs/deployment.md" in (ROOT / "README.md").read_text()
    # Triton: how to opt in, and the image and command lines the component runs, as the guide shows them.
    assert "components:\n  - ../../components/triton\n" in guide
    triton = find(rendered_with("aws", "triton"), "Deployment", "streamprocess-triton")
    server = container_of(triton)
    assert f"`{server['image']}`" in guide and f"`{' '.join(server['args'])}`" in guide
    init = (pod_spec(triton) or {})["initContainers"][0]["args"]
    assert f"`streamprocess {' '.join(init)}`" in guide
    job = container_of(find(rendered_with("aws", "triton"), "ScaledJob", "streamprocess-ocr"))
    ocr = {e["name"]: e["value"] for e in job["env"]}
    assert f"`STREAMPROCESS_TRITON_URL={ocr['STREAMPROCESS_TRITON_URL']}`" in guide


def test_the_minio_overlay_and_the_compose_file_run_the_same_third_party_images() -> None:
    """MinIO, its client and Redis are pinned once in spirit: the cluster and the compose stack use the same tags."""
    import yaml

    compose = yaml.safe_load((ROOT / "infra" / "docker-compose.yml").read_text())
    images = [s["image"] for s in compose["services"].values() if "image" in s]
    in_compose = {image for image in images if "streamprocess" not in image}
    docs = rendered_with("minio", "triton")  # the compose file's `triton` profile: the cluster with Triton
    in_cluster = {c["image"] for doc in docs for c in containers(doc) if "streamprocess" not in c["image"]}
    assert in_compose and in_compose == in_cluster


# ---------------------------------------------------------------------------------------------- Triton (component)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_with_triton_renders_and_validates(overlay: str) -> None:
    """k8s/components/triton opted into either overlay: every check passes, Triton's included (triton_problems: its
    probes, ports, scrape annotations, model repository; gpu_problems: one GPU, the GPU nodes' selector and taint)."""
    docs = rendered_with(overlay, "triton")
    assert all_problems(docs) == []
    names = {ident(d) for d in docs} - {ident(d) for d in rendered(overlay)}
    assert names == {f"{k}/streamprocess-triton" for k in ("Deployment", "Service", "PodDisruptionBudget")}
    triton = find(docs, "Deployment", "streamprocess-triton")
    stt = find(docs, "ScaledJob", "streamprocess-stt")
    for key in ("nodeSelector", "tolerations"):  # the GPU nodes the STT pods go to
        assert (pod_spec(triton) or {})[key] == (pod_spec(stt) or {})[key], key


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_triton_serves_the_ocr_jobs(overlay: str) -> None:
    """The OCR job pods get the `triton` engine and a URL naming the Triton Service's gRPC port by its cluster DNS
    name; the Service exposes the pod's HTTP, gRPC and metrics ports. Without the component nothing changes."""
    docs = rendered_with(overlay, "triton")
    service = find(docs, "Service", "streamprocess-triton")
    server = container_of(find(docs, "Deployment", "streamprocess-triton"))
    container_ports = {p["name"]: p["containerPort"] for p in server["ports"]}
    service_ports = {p["name"]: p for p in service["spec"]["ports"]}
    assert set(service_ports) == set(container_ports) == {"http", "grpc", "metrics"}
    assert all(service_ports[name]["targetPort"] == name for name in container_ports)
    assert container_ports["metrics"] == 8002 and TRITON_IMAGE in server["image"]
    labels = find(docs, "Deployment", "streamprocess-triton")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    budget = find(docs, "PodDisruptionBudget", "streamprocess-triton")
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()

    ocr = container_of(find(docs, "ScaledJob", "streamprocess-ocr"))
    env = {e["name"]: e.get("value") for e in ocr["env"]}
    assert env["STREAMPROCESS_OCR_ENGINE"] == "triton"
    url = urlsplit(env["STREAMPROCESS_TRITON_URL"])
    assert url.scheme == "grpc" and url.port == service_ports["grpc"]["port"]
    assert url.hostname == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    # The settings the job pod ends with (its ConfigMap, then its own env) are valid ones.
    config = next(d for d in docs if d["kind"] == "ConfigMap" and "streamprocess-config" in ident(d))["data"]
    values = {k.removeprefix("STREAMPROCESS_").lower(): v for k, v in {**config, **env}.items() if k.startswith("STR")}
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]  # _env_file: pydantic-settings' own
    assert settings.ocr_engine == "triton" and settings.triton_url == env["STREAMPROCESS_TRITON_URL"]
    # Only the OCR jobs use Triton; without the component they run the local engine.
    for doc in docs:
        for c in containers(doc):
            names = {e["name"] for e in c.get("env", [])}
            assert ("STREAMPROCESS_TRITON_URL" in names) == (ident(doc) == "ScaledJob/streamprocess-ocr"), ident(doc)
    plain = container_of(find(rendered(overlay), "ScaledJob", "streamprocess-ocr"))
    assert not {"STREAMPROCESS_OCR_ENGINE", "STREAMPROCESS_TRITON_URL"} & {e["name"] for e in plain["env"]}


def test_triton_model_repository_is_written_by_the_cli(tmp_path: Path) -> None:
    """The init container's command line is one this project's CLI accepts, for the repository the server is told to
    serve; run here as it would run there (into a temporary folder), it writes the three OCR models for the GPU."""
    spec = pod_spec(find(rendered_with("minio", "triton"), "Deployment", "streamprocess-triton"))
    assert spec is not None
    [init] = spec["initContainers"]
    server = container_of(find(rendered_with("minio", "triton"), "Deployment", "streamprocess-triton"))
    repository = flags(server["args"])["--model-repository"]
    assert init["image"] == container_of(find(rendered("minio"), "ScaledJob", "streamprocess-ocr"))["image"]
    assert "command" not in init  # the image's entrypoint: tini, then `streamprocess`
    args = init["args"]
    assert args[:3] == ["triton", "repo", repository] and flags(args)["--backend"] == "onnxruntime"
    assert "--cpu" not in args  # KIND_GPU instances on the GPU the pod holds
    assert command_problem(args) is None
    out = tmp_path / "models"
    run = subprocess.run(
        [sys.executable, "-m", "streamprocess", *args[:2], str(out), *args[3:]], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    for model in ("ppocr_det", "ppocr_cls", "ppocr_rec"):
        config = (out / model / "config.pbtxt").read_text()
        assert 'platform: "onnxruntime_onnx"' in config and "KIND_GPU" in config and "dynamic_batching" in config
        assert (out / model / "1" / "model.onnx").stat().st_size > 0
    assert (out / "ppocr_rec" / "characters.txt").read_text().strip()


@pytest.mark.slow
def test_triton_command_line_runs_on_a_real_tritonserver(tmp_path: Path) -> None:
    """The manifest's tritonserver flags, on a real tritonserver (nvidia-pytriton's, python backend: the same models,
    inputs and outputs) on free ports: it starts with them, and answers the probes' paths and the scrape annotation's
    path on the ports they name. The compose file's `triton` service runs the same command line."""
    import yaml

    from infra.local_services import free_port
    from streamprocess.ocr.triton.repository import write_repository
    from streamprocess.ocr.triton.server import LocalTriton

    compose = yaml.safe_load((ROOT / "infra" / "docker-compose.yml").read_text())
    doc = find(rendered_with("minio", "triton"), "Deployment", "streamprocess-triton")
    server = container_of(doc)
    assert compose["services"]["triton"]["command"] == server["args"]
    assert compose["services"]["triton"]["image"] == server["image"]
    # Ports and the repository are this machine's; every other flag is the manifest's.
    named = ("--model-repository", "--http-port", "--grpc-port", "--metrics-port")
    extra = [a for a in server["args"][1:] if a.split("=")[0] not in named]
    assert "--strict-readiness=true" in extra
    repo = tmp_path / "models"
    write_repository(repo, backend="python")
    ports = {"http": free_port(), "grpc": free_port(), "metrics": free_port()}
    with LocalTriton(repo, ports["http"], ports["grpc"], ports["metrics"], extra_args=extra) as triton:
        assert triton.process is not None and triton.process.poll() is None
        by_name = {p["name"]: ports[p["name"]] for p in server["ports"]}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = server[probe]["httpGet"]
            url = f"http://127.0.0.1:{by_name[get['port']]}{get['path']}"
            with urllib.request.urlopen(url, timeout=5) as response:
                assert response.status == 200, (probe, url)
        notes = doc["spec"]["template"]["metadata"]["annotations"]
        port = {p["containerPort"]: p["name"] for p in server["ports"]}[int(notes["prometheus.io/port"])]
        url = f"http://127.0.0.1:{by_name[port]}{notes['prometheus.io/path']}"
        with urllib.request.urlopen(url, timeout=5) as response:
            assert "nv_inference_request_success" in response.read().decode()
