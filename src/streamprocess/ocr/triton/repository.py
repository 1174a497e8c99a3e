"""Write a Triton model repository for the OCR models (:mod:`.models`): per model ``config.pbtxt`` and
``1/model.onnx`` (with ``1/model.py`` for the python backend), and ``ppocr_rec/characters.txt``.

- ``backend="onnxruntime"`` (production: NGC's tritonserver image): ``platform: "onnxruntime_onnx"``, on the GPU
  (``KIND_GPU``) or the CPU, optionally with TensorRT as the GPU execution accelerator.
- ``backend="python"`` (development: the tritonserver shipped in the PyPI package nvidia-pytriton has only this
  backend): the same names, dtypes and dims, served by ``python_model.py`` running the same ONNX files on
  onnxruntime (CPU).

Both batch (``max_batch_size``) with ``dynamic_batching``: preferred batch sizes and a queue delay. Only the three
model folders are written; anything else in the folder (a README) is left alone. An existing model folder is
replaced only with ``force=True``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import models
from .models import CHARACTERS_FILE, CHARACTERS_PARAMETER, MODEL_NAMES, MODELS, REC, ModelSpec, Tensor

Backend = Literal["onnxruntime", "python"]
Kind = Literal["gpu", "cpu"]

PYTHON_MODEL = Path(__file__).with_name("python_model.py")

#: Batch sizes per model: pages (det) are large and rarely the same size; crops (cls, rec) are small and many.
DEFAULT_MAX_BATCH = {models.DET: 8, models.CLS: 64, models.REC: 64}
DEFAULT_QUEUE_DELAY_US = 2000


class RepositoryExists(FileExistsError):
    """The folder already holds one of the models (replace it with ``force``)."""


@dataclass(frozen=True)
class RepositoryOptions:
    backend: Backend = "onnxruntime"
    kind: Kind = "gpu"
    tensorrt: bool = False
    max_batch_size: dict[str, int] | None = None  # per model; default DEFAULT_MAX_BATCH
    preferred_batch_sizes: Sequence[int] | None = None  # default: powers of two from 4 up to each max
    queue_delay_us: int = DEFAULT_QUEUE_DELAY_US
    dynamic_batching: bool = True  # off: each request runs as it came (the benchmark's unbatched baseline)
    instances: int = 1  # model instances per GPU (or on the CPU)
    ir_version: int | None = None  # re-save the ONNX files at this IR version (an old Triton; see models)

    def check(self) -> None:
        if self.backend not in ("onnxruntime", "python"):
            raise ValueError(f"unknown backend {self.backend!r}: onnxruntime or python")
        if self.kind not in ("gpu", "cpu"):
            raise ValueError(f"unknown instance kind {self.kind!r}: gpu or cpu")
        if self.backend == "python" and self.kind == "gpu":
            raise ValueError("the python backend runs onnxruntime on the CPU: use kind 'cpu' (--cpu)")
        if self.tensorrt and (self.backend != "onnxruntime" or self.kind != "gpu"):
            raise ValueError("TensorRT needs the onnxruntime backend on the GPU")
        if self.queue_delay_us < 0:
            raise ValueError(f"the queue delay must be >= 0 microseconds, not {self.queue_delay_us}")
        if self.instances < 1:
            raise ValueError(f"instances must be >= 1, not {self.instances}")
        for name, size in self.batch_sizes().items():
            if size < 1:
                raise ValueError(f"{name}: max_batch_size must be >= 1, not {size}")
            if any(p < 1 or p > size for p in self.preferred(name)):
                raise ValueError(f"{name}: preferred batch sizes must be between 1 and max_batch_size ({size})")

    def batch_sizes(self) -> dict[str, int]:
        unknown = set(self.max_batch_size or {}) - set(MODEL_NAMES)
        if unknown:
            raise ValueError(f"no such model: {', '.join(sorted(unknown))} (models: {', '.join(MODEL_NAMES)})")
        return {**DEFAULT_MAX_BATCH, **(self.max_batch_size or {})}

    def preferred(self, name: str) -> list[int]:
        size = self.batch_sizes()[name]
        if self.preferred_batch_sizes is not None:
            return sorted(set(self.preferred_batch_sizes))
        powers = [2**k for k in range(2, 16) if 2**k < size]
        return [*powers, size]


def write_repository(
    directory: Path,
    *,
    backend: Backend = "onnxruntime",
    kind: Kind | None = None,
    tensorrt: bool = False,
    max_batch_size: dict[str, int] | None = None,
    preferred_batch_sizes: Sequence[int] | None = None,
    queue_delay_us: int = DEFAULT_QUEUE_DELAY_US,
    dynamic_batching: bool = True,
    instances: int = 1,
    ir_version: int | None = None,
    force: bool = False,
) -> list[Path]:
    """Write the three model folders into ``directory`` (created if missing) and return them. ``kind`` defaults to
    ``gpu`` for onnxruntime and ``cpu`` for python. Raises :class:`RepositoryExists` if a model folder is there
    and ``force`` is false, ``ValueError`` for options that do not fit together."""
    options = RepositoryOptions(
        backend=backend,
        kind=kind or ("cpu" if backend == "python" else "gpu"),
        tensorrt=tensorrt,
        max_batch_size=max_batch_size,
        preferred_batch_sizes=preferred_batch_sizes,
        queue_delay_us=queue_delay_us,
        dynamic_batching=dynamic_batching,
        instances=instances,
        ir_version=ir_version,
    )
    options.check()
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(f"{directory} is not a folder")
    existing = [directory / n for n in MODEL_NAMES if (directory / n).exists()]
    if existing and not force:
        raise RepositoryExists(
            f"{directory} already holds {', '.join(p.name for p in existing)}: replace them with --force"
        )
    directory.mkdir(parents=True, exist_ok=True)
    chars = models.characters(models.model_files()[REC])
    # Write beside the target, then swap each folder in: a failure leaves no half-written model.
    with tempfile.TemporaryDirectory(prefix=".triton-repo-", dir=directory) as tmp:
        staged = Path(tmp)
        for name in MODEL_NAMES:
            _write_model(staged / name, name, options, chars)
        for name in MODEL_NAMES:
            if (directory / name).exists():
                shutil.rmtree(directory / name)
            (staged / name).rename(directory / name)
    return [directory / n for n in MODEL_NAMES]


def _write_model(folder: Path, name: str, options: RepositoryOptions, chars: list[str]) -> None:
    version = folder / "1"
    version.mkdir(parents=True)
    (version / "model.onnx").write_bytes(models.served_onnx(name, options.ir_version))
    if options.backend == "python":
        shutil.copyfile(PYTHON_MODEL, version / "model.py")
    parameters = {}
    if name == REC:
        (folder / CHARACTERS_FILE).write_text(models.characters_text(chars), encoding="utf-8")
        parameters[CHARACTERS_PARAMETER] = models.characters_sha256(chars)
    (folder / "config.pbtxt").write_text(model_config(MODELS[name], options, parameters), encoding="utf-8")


def model_config(spec: ModelSpec, options: RepositoryOptions, parameters: dict[str, str]) -> str:
    """The ``config.pbtxt`` text of one model."""
    size = options.batch_sizes()[spec.name]
    engine = 'backend: "python"' if options.backend == "python" else 'platform: "onnxruntime_onnx"'
    lines = [f'name: "{spec.name}"', engine, f"max_batch_size: {size}"]
    lines += [_tensors("input", spec.inputs), _tensors("output", spec.outputs)]
    preferred = ", ".join(str(p) for p in options.preferred(spec.name))
    if options.dynamic_batching:
        lines.append(
            "dynamic_batching {\n"
            f"  preferred_batch_size: [ {preferred} ]\n"
            f"  max_queue_delay_microseconds: {options.queue_delay_us}\n"
            "}"
        )
    kind = "KIND_GPU" if options.kind == "gpu" else "KIND_CPU"
    lines.append(f"instance_group [\n  {{ kind: {kind}, count: {options.instances} }}\n]")
    if options.tensorrt:
        lines.append(_tensorrt(spec.name))
    for key, value in parameters.items():
        lines.append(f'parameters {{\n  key: "{key}"\n  value: {{ string_value: "{value}" }}\n}}')
    return "\n".join(lines) + "\n"


def _tensors(role: str, tensors: Sequence[Tensor]) -> str:
    items = ",\n".join(
        f'  {{ name: "{t.name}", data_type: TYPE_{t.dtype}, dims: [ {", ".join(str(d) for d in t.dims)} ] }}'
        for t in tensors
    )
    return f"{role} [\n{items}\n]"


def _tensorrt(name: str) -> str:
    """onnxruntime's TensorRT execution provider (FP16, engines cached across restarts): unsupported subgraphs
    fall back to CUDA; the first requests of each new input shape wait for an engine build."""
    params = {
        "precision_mode": "FP16",
        "max_workspace_size_bytes": str(1 << 30),
        "trt_engine_cache_enable": "true",
        "trt_engine_cache_path": f"/tmp/triton-trt-cache/{name}",
    }
    body = "\n".join(f'        parameters {{ key: "{k}" value: "{v}" }}' for k, v in params.items())
    return (
        "optimization {\n  execution_accelerators {\n    gpu_execution_accelerator: [\n"
        f'      {{\n        name: "tensorrt"\n{body}\n      }}\n    ]\n  }}\n}}'
    )
