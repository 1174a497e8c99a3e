"""The containers, checked without a Docker engine (the checkers are in tests/containers.py): infra/docker-compose.yml
against the Compose specification's JSON schema and against the project (every STREAMPROCESS_* name a real setting
with a valid value, every StreamProcess image built from this repository's Dockerfiles, commands the CLI accepts, the
MinIO webhook wired to the API, depends_on and healthchecks that can be met); both Dockerfiles linted by hadolint and
read for the image contract (multi-stage, pinned bases, non-root uid 10001, EXPOSE, the `streamprocess` entrypoint,
no downloads but the package index's and the distribution's). Each check is also run on a broken copy: it must fail.
"""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .containers import (
    COMPOSE,
    DOCKERFILES,
    ENV_NAME,
    PYPROJECT,
    ROOT,
    SETTINGS,
    compose_problems,
    dockerfile_problems,
    hadolint,
)


@pytest.fixture
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_passes_every_check(compose: dict[str, Any]) -> None:
    assert compose_problems(compose) == []
    assert set(compose["services"]) >= {"minio", "minio-init", "redis", "api", "router", "stt-worker", "ocr-worker"}
    assert compose["services"]["api"]["command"] == ["api"]
    assert {p.rsplit(":", 1)[-1] for p in compose["services"]["api"]["ports"]} == {"8000", "50051"}


def test_triton_is_a_profile_beside_the_default_stack(compose: dict[str, Any]) -> None:
    """`docker compose up` runs what it always ran; `--profile triton` adds the model repository writer, Triton and
    an OCR worker using it (the checks in tests/containers.py, triton_problems, hold its wiring)."""
    services = compose["services"]
    default = {name for name, svc in services.items() if not svc.get("profiles")}
    assert default == {"minio", "minio-init", "redis", "api", "router", "stt-worker", "ocr-worker"}
    triton = {name for name, svc in services.items() if "triton" in svc.get("profiles", [])}
    assert triton == {"triton-repo", "triton", "ocr-worker-triton"}
    assert services["triton-repo"]["command"][:5] == ["triton", "repo", "/data", "--backend", "onnxruntime"]
    assert "--cpu" in services["triton-repo"]["command"]  # KIND_CPU instances: the compose stack has no GPU
    # The project image (its rapidocr's ONNX files) with the `triton` extra, tagged apart from the default stack's.
    for name in ("triton-repo", "ocr-worker-triton"):
        assert services[name]["build"]["args"]["EXTRAS"] == "[triton]", name
        assert services[name]["image"] != services["ocr-worker"]["image"], name


def test_compose_file_passes_check_jsonschema_cli() -> None:
    cli = Path(sys.executable).parent / "check-jsonschema"
    run = subprocess.run(
        [str(cli), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr


def _break(compose: dict[str, Any], service: str, **changes: Any) -> dict[str, Any]:
    broken = copy.deepcopy(compose)
    svc = broken["services"][service]
    for key, value in changes.items():
        if key == "env":
            svc["environment"] = {**svc["environment"], **value}
        elif value is None:
            del svc[key]
        else:
            svc[key] = value
    return broken


@pytest.mark.parametrize(
    ("service", "changes", "expected"),
    [
        ("router", {"healtcheck": {"test": ["CMD", "true"]}}, "'healtcheck' was unexpected"),  # a misspelt key
        ("redis", {"ports": "6379"}, "schema: services/redis/ports"),
        ("stt-worker", {"env": {"STREAMPROCESS_STT_MODLE": "large-v3"}}, "STREAMPROCESS_STT_MODLE is not a setting"),
        ("ocr-worker", {"env": {"STREAMPROCESS_QUEUE": "rabbitmq"}}, "invalid settings"),
        ("api", {"env": {"STREAMPROCESS_EVENTS_TOKEN": "${EVENTS_TOKEN}"}}, "has no default"),
        ("router", {"build": None, "image": "streamprocess:0.1"}, "not built from this repository's Dockerfiles"),
        ("ocr-worker", {"build": {"context": "..", "dockerfile": "Dockerfile.cpu"}}, "not built from this"),
        ("minio", {"image": "quay.io/minio/minio"}, "is not pinned by a tag"),
        ("stt-worker", {"command": ["worker", "--queues", "stt"]}, "No such option"),
        ("stt-worker", {"command": ["worker", "--queue", "ocr"]}, "no worker consumes the queue(s) ['stt']"),
        ("api", {"entrypoint": ["streamprocess"]}, "overrides the image's entrypoint"),
        ("ocr-worker", {"env": {"STREAMPROCESS_METRICS_PORT": "9200"}}, "healthcheck does not ask a port"),
        ("redis", {"healthcheck": None}, "waits for redis to be healthy, but it has no healthcheck"),
        ("minio-init", {"restart": "on-failure"}, "waits for minio-init to complete, but it restarts"),
        ("minio-init", {"volumes": ["./minio/setup.sh:/init.sh:ro"]}, "mounts ./minio/setup.sh, which does not exist"),
        ("minio", {"env": {"MINIO_NOTIFY_WEBHOOK_ENDPOINT": "http://api:8000/events"}}, "webhook target is not"),
        ("minio", {"env": {"MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN": "other"}}, "auth_token is not the API's"),
        ("minio-init", {"env": {"BUCKET": "uploads"}}, "STREAMPROCESS_BUCKET='media', not 'uploads'"),
        (
            "triton",
            {"healthcheck": {"test": ["CMD", "curl", "-fsS", "http://127.0.0.1:8000/v2/health/live"]}},
            "its healthcheck is not GET /v2/health/ready",
        ),
        ("triton", {"depends_on": None}, "starts before triton-repo has written the model repository"),
        ("triton", {"image": "nvcr.io/nvidia/tritonserver"}, "is not pinned by a tag"),
        ("triton-repo", {"command": ["triton", "repo", "/tmp/models", "--cpu"]}, "no service writes its model"),
        ("triton-repo", {"command": ["triton", "repos", "/data"]}, "`streamprocess triton repos /data`: no such"),
        ("triton-repo", {"restart": "on-failure"}, "waits for triton-repo to complete, but it restarts"),
        (
            "ocr-worker-triton",
            {"env": {"STREAMPROCESS_TRITON_URL": "grpc://triton:8000"}},
            "STREAMPROCESS_TRITON_URL is not grpc://triton:8001",
        ),
        ("ocr-worker-triton", {"env": {"STREAMPROCESS_TRITON_URL": "triton:8001"}}, "invalid settings"),
        ("ocr-worker-triton", {"depends_on": {"redis": {"condition": "service_healthy"}}}, "does not wait for triton"),
        ("ocr-worker-triton", {"profiles": None}, "not in the `triton` profile (the default stack must not change)"),
    ],
)
def test_a_broken_compose_file_fails(compose: dict[str, Any], service: str, changes: dict, expected: str) -> None:
    assert compose_problems(compose) == []
    problems = compose_problems(_break(compose, service, **changes))
    assert any(expected in p for p in problems), problems


def test_documented_settings_are_real() -> None:
    """Every STREAMPROCESS_* name the documentation and the deployment files mention is a setting."""
    files = [ROOT / "README.md", ROOT / "infra" / "README.md", COMPOSE, *DOCKERFILES.values()]
    files += [p for p in (ROOT / "docs").glob("*.md")] + sorted((ROOT / "k8s").rglob("*.yaml"))
    unknown = {f"{p.relative_to(ROOT)}: {n}" for p in files for n in ENV_NAME.findall(p.read_text())}
    unknown = {u for u in unknown if u.rsplit(": ", 1)[1] not in SETTINGS}
    assert unknown == set()
    assert ENV_NAME.findall("STREAMPROCESS_OCR_* and STREAMPROCESS_QUEUE_URL") == ["STREAMPROCESS_QUEUE_URL"]


@pytest.mark.parametrize("kind", DOCKERFILES)
def test_dockerfile_passes_hadolint_and_the_image_contract(kind: str) -> None:
    run = hadolint(DOCKERFILES[kind])
    assert run.returncode == 0, run.stdout + run.stderr
    assert dockerfile_problems(DOCKERFILES[kind].read_text(), gpu=kind == "gpu") == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("USER 10001:10001", "USER root", "does not run as uid 10001"),
        ("USER 10001:10001\n", "", "does not run as uid 10001"),
        ('ENTRYPOINT ["tini", "--", "streamprocess"]', "ENTRYPOINT streamprocess", "ENTRYPOINT is not"),
        ('ENTRYPOINT ["tini", "--", "streamprocess"]', 'ENTRYPOINT ["python", "-m", "x"]', "ENTRYPOINT is not"),
        ("EXPOSE 8000 50051 9100", "EXPOSE 8000", "EXPOSE lacks ['50051', '9100']"),
        ("WORKDIR /app\n", "", "WORKDIR is not /app"),
        ("HF_HOME=/tmp/.cache/huggingface", "HF_HOME=/root/.cache/huggingface", "ENV HF_HOME="),
        ("STREAMPROCESS_DATA_DIR=/data", "STREAMPROCESS_DATADIR=/data", "ENV STREAMPROCESS_DATADIR: not a setting"),
        ("COPY --from=builder", "COPY --chown=0", "not multi-stage"),
        ("COPY models/ /models/", "COPY tests/ /models/", "COPY tests/: .dockerignore keeps it out"),
        ("tini tesseract-ocr $packs", "tini $packs", "does not install tesseract-ocr"),
    ],
)
def test_a_broken_dockerfile_fails(tmp_path: Path, old: str, new: str, expected: str) -> None:
    for kind, path in DOCKERFILES.items():
        text = path.read_text()
        if old not in text:
            continue
        broken = text.replace(old, new)
        assert any(expected in p for p in dockerfile_problems(broken, gpu=kind == "gpu")), kind


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("RUN curl -fsSL https://example.invalid/install.sh | sh", "downloads outside the package index"),
        ("RUN wget -q https://example.invalid/model.bin", "downloads outside the package index"),
        ("ADD https://example.invalid/model.bin /models/", "ADD from the network"),
        ("FROM python:latest AS extra", "not pinned by a tag"),
        ("FROM python AS extra", "not pinned by a tag"),
    ],
)
def test_a_dockerfile_that_downloads_or_floats_fails(line: str, expected: str) -> None:
    broken = DOCKERFILES["cpu"].read_text().replace("WORKDIR /src", f"{line}\nWORKDIR /src")
    assert any(expected in p for p in dockerfile_problems(broken, gpu=False))


def test_hadolint_fails_a_broken_dockerfile(tmp_path: Path) -> None:
    """Root as the last USER (DL3002) and an unpinned, uncleaned apt-get (DL3008, DL3009) fail the lint."""
    broken = tmp_path / "Dockerfile"
    text = DOCKERFILES["cpu"].read_text().replace("USER 10001:10001", "USER root")
    broken.write_text(text.replace("WORKDIR /app", "RUN apt-get update && apt-get install -y curl\nWORKDIR /app"))
    run = hadolint(broken)
    assert run.returncode != 0
    assert "DL3002" in run.stdout and "DL3008" in run.stdout, run.stdout


def test_the_gpu_image_must_be_cuda_12_with_cudnn() -> None:
    text = DOCKERFILES["gpu"].read_text()
    assert dockerfile_problems(text, gpu=True) == []
    broken = text.replace("12.6.3-cudnn-runtime", "12.6.3-runtime")
    assert any("not a CUDA 12 runtime image with cuDNN" in p for p in dockerfile_problems(broken, gpu=True))
    broken = text.replace("onnxruntime-gpu==", "onnxruntime==")
    assert any("lacks onnxruntime-gpu" in p for p in dockerfile_problems(broken, gpu=True))
    assert "nvidia-ml-py>=12" in PYPROJECT["project"]["optional-dependencies"]["gpu"]
