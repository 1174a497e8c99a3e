"""The Kubernetes manifests as the tests see them: overlays rendered with `kubectl kustomize`, the checks every
rendered object must pass (Kubernetes' schemas, KEDA's CRD schemas made strict, KEDA trigger fields, the pod rules
of this project), and the container a manifest runs, as a command line and environment. Used by tests/test_k8s*.py
(test modules never import each other)."""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from streamprocess.config import Settings

from .helpers import ROOT

K8S = ROOT / "k8s"
OVERLAYS = ("aws", "minio")
KEDA_CRDS = ROOT.parent / "shared" / "schemas" / "keda"
#: The oldest Kubernetes the manifests are for (native gRPC probes: GA in 1.27; Job podFailurePolicy: on by default
#: since 1.26, GA in 1.31) and a recent one.
K8S_VERSIONS = ("1.30.0", "1.35.0")
KEDA_KINDS = {k: k.lower() + "s" for k in ("ScaledJob", "ScaledObject", "TriggerAuthentication")}  # CRD file names

#: Trigger metadata keys KEDA 2.20 reads, per trigger type (pkg/scalers/*_scaler.go, the `keda:"name=..."` tags;
#: a key read from the workload's environment is also accepted as `<key>FromEnv`). The CRD leaves metadata
#: free-form, so a misspelt key would be ignored by KEDA, silently: this list makes it an error.
TRIGGER_KEYS: dict[str, set[str]] = {
    "aws-sqs-queue": set(
        (
            "queueURL queueURLFromEnv queueLength activationQueueLength awsRegion awsEndpoint scaleOnInFlight "
            "scaleOnDelayed identityOwner awsAccessKeyID awsAccessKeyIDFromEnv awsSecretAccessKeyFromEnv "
            "awsSessionToken awsRoleArn"
        ).split()
    ),
    "redis-streams": set(
        (
            "address addressFromEnv host hostFromEnv port portFromEnv username usernameFromEnv password "
            "passwordFromEnv sentinelUsername sentinelUsernameFromEnv sentinelPassword sentinelPasswordFromEnv "
            "sentinelMaster sentinelMasterFromEnv unsafeSsl enableTLS databaseIndex stream consumerGroup "
            "pendingEntriesCount streamLength lagCount activationLagCount"
        ).split()
    ),
    "prometheus": set(
        (
            "serverAddress query queryParameters threshold activationThreshold namespace customHeaders "
            "ignoreNullValues unsafeSsl awsRegion timeout identityOwner"
        ).split()
    ),
}

Doc = dict[str, Any]


# ---------------------------------------------------------------------------------------------- rendering
def kubectl() -> str:
    """The kubectl scripts/setup.sh found or installed ($KUBECTL), else the one on PATH. Missing in CI is a failure;
    elsewhere the rendering tests skip, saying why."""
    path = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if path is None:
        message = "kubectl is not installed (scripts/test.sh installs it); the manifests cannot be rendered"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def render(directory: Path) -> list[Doc]:
    """`kubectl kustomize DIR`, offline: the objects an overlay would apply. Fails with kustomize's own error."""
    out = subprocess.run([kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, f"kubectl kustomize {directory} failed:\n{out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@functools.cache
def rendered(overlay: str) -> tuple[Doc, ...]:
    return tuple(render(K8S / "overlays" / overlay))


@functools.cache
def rendered_with(overlay: str, component: str) -> tuple[Doc, ...]:
    """An overlay with a component opted in the way docs/deployment.md tells an operator to: `components:
    [../../components/<name>]` added to the overlay's own kustomization.yaml (here in a copy of k8s/), so the
    overlay's `images:` and patches reach the component's objects too."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "k8s"
        shutil.copytree(K8S, tree)
        path = tree / "overlays" / overlay / "kustomization.yaml"
        kustomization = yaml.safe_load(path.read_text())
        kustomization.setdefault("components", []).append(f"../../components/{component}")
        path.write_text(yaml.safe_dump(kustomization, sort_keys=False))
        return tuple(render(path.parent))


def find(docs: tuple[Doc, ...] | list[Doc], kind: str, name: str) -> Doc:
    for d in docs:
        if d["kind"] == kind and d["metadata"]["name"] == name:
            return copy.deepcopy(d)
    raise AssertionError(f"no {kind}/{name} among {[ident(d) for d in docs]}")


def ident(doc: Doc) -> str:
    return f"{doc['kind']}/{doc['metadata']['name']}"


def pod_spec(doc: Doc) -> Doc | None:
    """The pod a workload runs, or None for objects that run none."""
    if doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return doc["spec"]["template"]["spec"]
    if doc["kind"] == "ScaledJob":
        return doc["spec"]["jobTargetRef"]["template"]["spec"]
    return None


# ---------------------------------------------------------------------------------------------- schemas
def strict(schema: Any) -> Any:
    """A CRD schema that refuses unknown fields: `additionalProperties: false` on every object schema that lists
    `properties` and does not keep unknown fields (x-kubernetes-preserve-unknown-fields)."""
    if isinstance(schema, dict):
        out = {k: strict(v) for k, v in schema.items()}
        if "properties" in out and not out.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema


@functools.cache
def keda_validator(kind: str) -> Any:
    import jsonschema

    path = KEDA_CRDS / f"keda.sh_{KEDA_KINDS[kind]}.yaml"
    if not path.exists():
        pytest.skip(f"KEDA's CRDs are absent ({KEDA_CRDS}: the shared schemas live beside the checkout)")
    crd = yaml.safe_load(path.read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    schema = strict(version["schema"]["openAPIV3Schema"])
    return jsonschema.Draft7Validator(schema)


def core_problems(doc: Doc) -> list[str]:
    import kubernetes_validate

    problems = []
    for version in K8S_VERSIONS:
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            problems.append(f"{ident(doc)}: Kubernetes {version} schema: {'.'.join(map(str, e.path))}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{ident(doc)}: no Kubernetes {version} schema for {doc['apiVersion']} {doc['kind']}")
    return problems


def keda_problems(doc: Doc) -> list[str]:
    problems = [
        f"{ident(doc)}: KEDA CRD schema: {'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in keda_validator(doc["kind"]).iter_errors(doc)
    ]
    for i, trigger in enumerate(doc.get("spec", {}).get("triggers", [])):
        allowed = TRIGGER_KEYS.get(trigger.get("type", ""))
        if allowed is None:
            problems.append(f"{ident(doc)}: trigger {i}: type {trigger.get('type')!r} has no list of known fields")
            continue
        for key in sorted(set(trigger.get("metadata", {})) - allowed):
            problems.append(f"{ident(doc)}: trigger {i} ({trigger['type']}): unknown metadata field {key!r}")
    return problems


def schema_problems(docs: tuple[Doc, ...] | list[Doc]) -> list[str]:
    out: list[str] = []
    for doc in docs:
        out += keda_problems(doc) if doc["kind"] in KEDA_KINDS else core_problems(doc)
    return out


# ---------------------------------------------------------------------------------------------- this project's rules
def containers(doc: Doc) -> Iterator[Doc]:
    spec = pod_spec(doc)
    if spec is not None:
        yield from spec.get("initContainers", [])
        yield from spec["containers"]


def pod_problems(doc: Doc) -> list[str]:
    """Every container non-root, read-only root filesystem, no capabilities, no privilege escalation, seccomp
    RuntimeDefault, CPU and memory requested and limited; long-running ones probed."""
    spec = pod_spec(doc)
    if spec is None:
        return []
    pod_sc = spec.get("securityContext", {})
    problems = []
    for c in containers(doc):
        sc = {**pod_sc, **c.get("securityContext", {})}
        where = f"{ident(doc)} container {c['name']}"
        if sc.get("runAsNonRoot") is not True or sc.get("runAsUser", 1) == 0:
            problems.append(f"{where}: may run as root (runAsNonRoot must be true and runAsUser not 0)")
        if c.get("securityContext", {}).get("readOnlyRootFilesystem") is not True:
            problems.append(f"{where}: root filesystem is writable")
        if c.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: privilege escalation allowed")
        if c.get("securityContext", {}).get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{where}: capabilities not all dropped")
        if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{where}: no seccomp RuntimeDefault")
        resources = c.get("resources", {})
        for bound in ("requests", "limits"):
            for res in ("cpu", "memory"):
                if res not in resources.get(bound, {}):
                    problems.append(f"{where}: no {res} in resources.{bound}")
        if doc["kind"] == "Deployment" and c in spec["containers"]:  # init containers run to completion: no probes
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in c:
                    problems.append(f"{where}: no {probe}")
    return problems


def gpu_problems(doc: Doc) -> list[str]:
    """A GPU workload asks the NVIDIA device plugin for one, and may land on (tainted) GPU nodes."""
    spec = pod_spec(doc)
    assert spec is not None
    problems = []
    for c in spec["containers"]:
        if str(c.get("resources", {}).get("limits", {}).get("nvidia.com/gpu")) != "1":
            problems.append(f"{ident(doc)} container {c['name']}: no nvidia.com/gpu: 1 limit")
    if not any(t.get("key") == "nvidia.com/gpu" for t in spec.get("tolerations", [])):
        problems.append(f"{ident(doc)}: no toleration for the nvidia.com/gpu taint")
    if "nvidia.com/gpu.present" not in spec.get("nodeSelector", {}):
        problems.append(f"{ident(doc)}: no GPU node selector")
    return problems


def setting_problems(doc: Doc) -> list[str]:
    """STREAMPROCESS_* names a manifest sets must be settings that exist (config.py): a typo is silently ignored."""
    names = {f"STREAMPROCESS_{f.upper()}" for f in Settings.model_fields}
    found: list[str] = []
    if doc["kind"] == "ConfigMap":
        found += list(doc.get("data", {}))
    for c in containers(doc):
        found += [e["name"] for e in c.get("env", [])]
    return [f"{ident(doc)}: {n} is not a setting" for n in found if n.startswith("STREAMPROCESS_") and n not in names]


TRITON_IMAGE = "nvcr.io/nvidia/tritonserver:"


def flags(args: list[str]) -> dict[str, str]:
    """`--name=value` and `--name value` arguments of a command line, by name."""
    out: dict[str, str] = {}
    for i, arg in enumerate(args):
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            nxt = args[i + 1] if i + 1 < len(args) else ""
            out[name] = value if eq else ("" if nxt.startswith("--") else nxt)
    return out


def triton_problems(doc: Doc) -> list[str]:
    """A Triton pod: ready on /v2/health/ready (strict: every model loaded) and live on /v2/health/live, both on the
    HTTP port it is told; its metrics port exposed and annotated for scraping; the model repository it serves
    written by an init container running this project's CLI into a volume the server mounts there."""
    spec = pod_spec(doc)
    assert spec is not None
    triton = next(c for c in spec["containers"] if c["image"].startswith(TRITON_IMAGE))
    where = f"{ident(doc)} container {triton['name']}"
    args = [*triton.get("command", []), *triton.get("args", [])]
    flag = flags(args)
    problems = []
    if "tritonserver" not in args:
        problems.append(f"{where}: does not run tritonserver")
    if flag.get("--strict-readiness") != "true":
        problems.append(f"{where}: no --strict-readiness=true (ready before its models are)")
    ports = {p["name"]: p["containerPort"] for p in triton.get("ports", [])}
    for port, default in (("http", 8000), ("grpc", 8001), ("metrics", 8002)):
        if ports.get(port) != int(flag.get(f"--{port}-port", default)):
            problems.append(f"{where}: port {port} is not the --{port}-port it listens on")
    for probe, path in (("readinessProbe", "/v2/health/ready"), ("livenessProbe", "/v2/health/live")):
        get = triton.get(probe, {}).get("httpGet", {})
        if get.get("path") != path or ports.get(get.get("port")) != int(flag.get("--http-port", 8000)):
            problems.append(f"{where}: its {probe} is not GET {path} on the HTTP port")
    notes = doc["spec"]["template"]["metadata"].get("annotations", {})
    scrape = (notes.get("prometheus.io/scrape"), notes.get("prometheus.io/port"), notes.get("prometheus.io/path"))
    if scrape != ("true", str(ports.get("metrics")), "/metrics"):
        problems.append(f"{ident(doc)}: the metrics port {ports.get('metrics')} is not annotated for scraping")
    repository = flag.get("--model-repository", "")
    volume = next((m["name"] for m in triton.get("volumeMounts", []) if m["mountPath"] == repository), None)
    writers = [
        c
        for c in spec.get("initContainers", [])
        for m in c.get("volumeMounts", [])
        if m["name"] == volume and not m.get("readOnly") and c.get("args", [])[:3] == ["triton", "repo", m["mountPath"]]
    ]
    if volume is None or not writers:
        problems.append(f"{where}: no init container writes its model repository ({repository!r}) with `triton repo`")
    return problems


def all_problems(
    docs: tuple[Doc, ...] | list[Doc], gpu: tuple[str, ...] = ("streamprocess-stt", "streamprocess-triton")
) -> list[str]:
    out = schema_problems(docs)
    for doc in docs:
        out += pod_problems(doc) + setting_problems(doc)
        if doc["metadata"]["name"] in gpu and pod_spec(doc) is not None:
            out += gpu_problems(doc)
        if any(c["image"].startswith(TRITON_IMAGE) for c in containers(doc)):
            out += triton_problems(doc)
    return out


# ---------------------------------------------------------------------------------------------- what a pod runs
def container_of(doc: Doc, name: str | None = None) -> Doc:
    spec = pod_spec(doc)
    assert spec is not None, f"{ident(doc)} runs no pod"
    return next(c for c in spec["containers"] if name is None or c["name"] == name)


def container_env(docs: tuple[Doc, ...], doc: Doc, secrets: dict[str, dict[str, str]]) -> dict[str, str]:
    """The environment Kubernetes would give the container: its ConfigMaps (from the rendered overlay), the Secrets
    the operator makes (given here by the test, as they are never in the manifests), then its own `env`."""
    c = container_of(doc)
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        if "configMapRef" in source:
            env.update(find(docs, "ConfigMap", source["configMapRef"]["name"])["data"])
        else:
            env.update(secrets[source["secretRef"]["name"]])
    for e in c.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = secrets[ref["name"]][ref["key"]]
    return env
