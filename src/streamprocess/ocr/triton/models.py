"""The Triton model contract, as code: model names, tensor names, dtypes and dims, the recognition dictionary and its
sha256, and the ONNX files served (out of the installed rapidocr package, the recognition model rewritten).

Three models, each with a batch dimension (``max_batch_size`` > 0) and dynamic batching; dims exclude the batch:

- ``ppocr_det``: ``x`` FP32 [3, -1, -1] (H and W multiples of 32) -> ``fetch_name_0`` FP32 [1, -1, -1]
- ``ppocr_cls``: ``x`` FP32 [3, 48, 192] -> ``save_infer_model/scale_0.tmp_1`` FP32 [2]
- ``ppocr_rec``: ``x`` FP32 [3, 48, -1] -> ``indices`` INT64 [-1] and ``scores`` FP32 [-1]: the argmax and the max
  over the class axis of the model's softmaxed [T, 18710] output, computed on the server by the two nodes
  :func:`rewrite_rec` appends (about 18 MB per 1920-px line stays on the server).

The recognition dictionary lives only in the rec ONNX metadata (``character``), which Triton does not expose: the
repository ships it as ``ppocr_rec/characters.txt`` (one character a line, as rapidocr splits it) and its sha256 as
the config parameter ``characters_sha256``, which a client compares with its own dictionary.

ONNX IR version: the det and rec models are IR 10 (opset 11), the cls model IR 7. IR 10 came with ONNX 1.16 and
needs onnxruntime 1.18 or later; current NGC releases of Triton ship a newer onnxruntime in their onnxruntime
backend (25.03: 1.20.1, per the server's build.py), so the models are served as they are. For an older Triton
(23.12 ships onnxruntime 1.16.3, which reads at most IR 9) write the repository with ``ir_version=9``
(:func:`lower_ir_version`): IR 10 only adds 4-bit types and function overloads, which these models do not use, so
re-saving them at IR 9 changes nothing else (a fast test runs both on onnxruntime: identical outputs).

Needs the ``onnx`` package (the ``triton`` extra) for the rewrite and the dims; nothing here talks to a server.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onnx import ModelProto, ValueInfoProto

DET = "ppocr_det"
CLS = "ppocr_cls"
REC = "ppocr_rec"
MODEL_NAMES = (DET, CLS, REC)

INPUT = "x"  # every model's input
DET_OUTPUT = "fetch_name_0"
CLS_OUTPUT = "save_infer_model/scale_0.tmp_1"
REC_RAW_OUTPUT = "fetch_name_0"  # the rec model's own output: softmax [N, T, 18710], replaced by the two below
REC_INDICES = "indices"
REC_SCORES = "scores"

CHARACTERS_FILE = "characters.txt"  # beside ppocr_rec/config.pbtxt
CHARACTERS_PARAMETER = "characters_sha256"  # the ppocr_rec config parameter holding its sha256
CHARACTER_METADATA_KEY = "character"  # where the rec ONNX model keeps its dictionary

#: The ONNX files in rapidocr's models folder, by model name.
ONNX_FILES = {
    DET: "PP-OCRv6_det_small.onnx",
    CLS: "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    REC: "PP-OCRv6_rec_small.onnx",
}

#: Triton's dtype names (config ``TYPE_<name>``, inference ``datatype``) for the ONNX element types used here.
ONNX_TO_TRITON_DTYPE = {1: "FP32", 7: "INT64"}  # onnx.TensorProto.FLOAT, INT64


@dataclass(frozen=True)
class Tensor:
    """One input or output: its name, Triton dtype (``FP32``, ``INT64``) and dims without the batch dimension."""

    name: str
    dtype: str
    dims: tuple[int, ...]


@dataclass(frozen=True)
class ModelSpec:
    name: str
    inputs: tuple[Tensor, ...]
    outputs: tuple[Tensor, ...]


#: The contract. :func:`check_contract` verifies it against the ONNX files actually served.
MODELS: dict[str, ModelSpec] = {
    DET: ModelSpec(DET, (Tensor(INPUT, "FP32", (3, -1, -1)),), (Tensor(DET_OUTPUT, "FP32", (1, -1, -1)),)),
    CLS: ModelSpec(CLS, (Tensor(INPUT, "FP32", (3, 48, 192)),), (Tensor(CLS_OUTPUT, "FP32", (2,)),)),
    REC: ModelSpec(
        REC,
        (Tensor(INPUT, "FP32", (3, 48, -1)),),
        (Tensor(REC_INDICES, "INT64", (-1,)), Tensor(REC_SCORES, "FP32", (-1,))),
    ),
}


class ContractError(ValueError):
    """An ONNX file does not match the contract (a rapidocr release changed its models, say)."""


def models_dir() -> Path:
    """rapidocr's bundled models folder."""
    import rapidocr

    return Path(rapidocr.__file__).resolve().parent / "models"


def model_files() -> dict[str, Path]:
    """The original ONNX file of each model, in the installed rapidocr package; a missing one is an error."""
    folder = models_dir()
    files = {name: folder / filename for name, filename in ONNX_FILES.items()}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"rapidocr's models are missing: {', '.join(missing)} (reinstall rapidocr)")
    return files


# ------------------------------------------------------------------------------------------ the dictionary
def characters(rec_onnx: bytes | Path | None = None) -> list[str]:
    """The recognition dictionary from the rec ONNX metadata, split as rapidocr splits it (``str.splitlines``),
    without the blank and space rapidocr adds around it. Default: the installed rec model."""
    import onnx

    if rec_onnx is None:
        rec_onnx = model_files()[REC]
    data = rec_onnx.read_bytes() if isinstance(rec_onnx, Path) else rec_onnx
    model = onnx.load_from_string(data)
    meta = {p.key: p.value for p in model.metadata_props}
    if CHARACTER_METADATA_KEY not in meta:
        raise ContractError(f"the rec model has no {CHARACTER_METADATA_KEY!r} metadata (its dictionary)")
    return meta[CHARACTER_METADATA_KEY].splitlines()


def characters_text(chars: list[str]) -> str:
    """The contents of ``characters.txt``: one character a line, each line ended by a newline."""
    return "".join(f"{c}\n" for c in chars)


def characters_sha256(chars: list[str]) -> str:
    """The sha256 (hex) of ``characters.txt`` as UTF-8: what the config parameter ``characters_sha256`` holds."""
    return hashlib.sha256(characters_text(chars).encode("utf-8")).hexdigest()


def read_characters(path: Path) -> list[str]:
    """A ``characters.txt`` read back (the inverse of :func:`characters_text`)."""
    return path.read_text(encoding="utf-8").splitlines()


# ------------------------------------------------------------------------------------------ the ONNX graphs
def rewrite_rec(onnx_bytes: bytes) -> bytes:
    """The rec model with ArgMax (axis 2, keepdims 0) and ReduceMax (axes [2], keepdims 0) appended to its softmax
    output: outputs ``indices`` INT64 [N, T] and ``scores`` FP32 [N, T] instead of the [N, T, 18710] softmax. Ties
    go to the first index, as numpy's argmax. The metadata (the dictionary) is kept."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    raw = [o for o in graph.output if o.name == REC_RAW_OUTPUT]
    if len(graph.output) != 1 or not raw:
        raise ContractError(f"the rec model's outputs are {[o.name for o in graph.output]}, not [{REC_RAW_OUTPUT!r}]")
    shape = raw[0].type.tensor_type.shape.dim
    if len(shape) != 3:
        raise ContractError(f"the rec model's output has rank {len(shape)}, not 3 ([N, T, classes])")
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset >= 18:  # ReduceMax takes its axes as an input from opset 18 on
        axes = helper.make_tensor("streamprocess_rec_axes", TensorProto.INT64, [1], [2])
        graph.initializer.append(axes)
        reduce_max = helper.make_node("ReduceMax", [REC_RAW_OUTPUT, axes.name], [REC_SCORES], keepdims=0)
    else:
        reduce_max = helper.make_node("ReduceMax", [REC_RAW_OUTPUT], [REC_SCORES], axes=[2], keepdims=0)
    argmax = helper.make_node("ArgMax", [REC_RAW_OUTPUT], [REC_INDICES], axis=2, keepdims=0)
    graph.node.extend([argmax, reduce_max])
    batch, steps = (d.dim_param or d.dim_value or None for d in shape[:2])
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info(REC_INDICES, TensorProto.INT64, [batch, steps]),
            helper.make_tensor_value_info(REC_SCORES, TensorProto.FLOAT, [batch, steps]),
        ]
    )
    onnx.checker.check_model(model)
    return model.SerializeToString()


def lower_ir_version(onnx_bytes: bytes, ir_version: int) -> bytes:
    """The model re-saved at ``ir_version`` (for an onnxruntime too old for its own); refused below IR 7 or when the
    model uses what only a later IR has (4-bit types or function overloads, IR 10)."""
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    if ir_version >= model.ir_version:
        return onnx_bytes
    if ir_version < 7:
        raise ValueError(f"IR version {ir_version} is too old for these models (opset 11 needs IR 7 or later)")
    if ir_version < 10 and _uses_ir10(model):
        raise ContractError("the model uses 4-bit types or function overloads, which need IR 10")
    model.ir_version = ir_version
    onnx.checker.check_model(model)
    return model.SerializeToString()


def _uses_ir10(model: ModelProto) -> bool:
    from onnx import TensorProto

    four_bit = {TensorProto.UINT4, TensorProto.INT4}
    graph = model.graph
    if any(t.data_type in four_bit for t in graph.initializer):
        return True
    infos = [*graph.input, *graph.output, *graph.value_info]
    if any(v.type.tensor_type.elem_type in four_bit for v in infos):
        return True
    nodes = [*graph.node, *(n for f in model.functions for n in f.node)]
    return any(n.overload for n in nodes)


@cache
def served_onnx(name: str, ir_version: int | None = None) -> bytes:
    """The ONNX bytes served as model ``name`` (``1/model.onnx``): the rapidocr file, the rec one rewritten by
    :func:`rewrite_rec`, re-saved at ``ir_version`` if given; checked against the contract."""
    data = model_files()[name].read_bytes()
    if name == REC:
        data = rewrite_rec(data)
    if ir_version is not None:
        data = lower_ir_version(data, ir_version)
    check_contract(name, data)
    return data


def check_contract(name: str, onnx_bytes: bytes) -> None:
    """Raise :class:`ContractError` unless the served graph has the contract's tensor names and dtypes, a batch
    dimension, the same rank, and the same size wherever the ONNX file fixes one."""
    import onnx

    graph = onnx.load_from_string(onnx_bytes).graph
    initializers = {t.name for t in graph.initializer}
    spec = MODELS[name]
    for role, declared, actual in (
        ("input", spec.inputs, [i for i in graph.input if i.name not in initializers]),
        ("output", spec.outputs, list(graph.output)),
    ):
        by_name = {v.name: v for v in actual}
        if sorted(by_name) != sorted(t.name for t in declared):
            raise ContractError(f"{name}: {role}s are {sorted(by_name)}, expected {sorted(t.name for t in declared)}")
        for tensor in declared:
            _check_tensor(name, tensor, by_name[tensor.name])


def _check_tensor(model: str, tensor: Tensor, value: ValueInfoProto) -> None:
    elem = value.type.tensor_type.elem_type
    dtype = ONNX_TO_TRITON_DTYPE.get(elem)
    if dtype != tensor.dtype:
        raise ContractError(f"{model}: {tensor.name} is ONNX element type {elem}, expected {tensor.dtype}")
    dims = [d.dim_value if d.HasField("dim_value") else -1 for d in value.type.tensor_type.shape.dim]
    if len(dims) != len(tensor.dims) + 1:
        raise ContractError(f"{model}: {tensor.name} has rank {len(dims)}, expected {len(tensor.dims) + 1} (batch)")
    if dims[0] not in (-1, 0):
        raise ContractError(f"{model}: {tensor.name} has a fixed batch dimension {dims[0]}")
    for got, want in zip(dims[1:], tensor.dims, strict=True):
        if got > 0 and got != want:
            raise ContractError(f"{model}: {tensor.name} dims are {dims[1:]}, the contract says {list(tensor.dims)}")
