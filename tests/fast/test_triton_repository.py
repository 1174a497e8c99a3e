"""The Triton model repository as written (no server): configs parsed by Triton's own protobuf, the rec rewrite
against numpy on the model's real output, refusals. The served repository is tested in tests/test_triton_server.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from google.protobuf import text_format
from PIL import Image, ImageDraw
from tritonclient.grpc import model_config_pb2 as mc

from streamprocess.ocr.triton import models
from streamprocess.ocr.triton.repository import RepositoryExists, write_repository

from ..documents import font


def config_of(folder: Path) -> mc.ModelConfig:
    return text_format.Parse((folder / "config.pbtxt").read_text(encoding="utf-8"), mc.ModelConfig())


@pytest.fixture(scope="module")
def gpu_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("triton") / "repo"
    write_repository(repo, backend="onnxruntime", tensorrt=True)
    return repo


def session(onnx: bytes | Path) -> ort.InferenceSession:
    return ort.InferenceSession(onnx if isinstance(onnx, bytes) else str(onnx), providers=["CPUExecutionProvider"])


def crop(text: str) -> np.ndarray:
    """A rendered text line as rapidocr feeds it to the rec model: height 48, (x / 255 - 0.5) / 0.5, NCHW."""
    f = font(size_pt=14)
    left, top, right, bottom = f.getbbox(text)
    img = Image.new("RGB", (right + 16, bottom + 12), "white")
    ImageDraw.Draw(img).text((8, 6), text, font=f, fill="black")
    width = int(np.ceil(48 * img.width / img.height))
    img = img.resize((width, 48), Image.Resampling.BILINEAR)
    x = (np.asarray(img, dtype=np.float32) / 255 - 0.5) / 0.5
    return x.transpose(2, 0, 1)[None]


def test_configs_parse_with_the_contract(gpu_repo: Path) -> None:
    for name in models.MODEL_NAMES:
        config = config_of(gpu_repo / name)
        spec = models.MODELS[name]
        assert config.name == name
        assert config.platform == "onnxruntime_onnx" and not config.backend
        assert config.max_batch_size > 1
        for got, want in ((config.input, spec.inputs), (config.output, spec.outputs)):
            assert [(t.name, mc.DataType.Name(t.data_type), tuple(t.dims)) for t in got] == [
                (t.name, f"TYPE_{t.dtype}", t.dims) for t in want
            ]
        batching = config.dynamic_batching
        assert batching.max_queue_delay_microseconds == 2000
        assert list(batching.preferred_batch_size) == sorted(batching.preferred_batch_size)
        assert batching.preferred_batch_size[-1] == config.max_batch_size
        assert [(g.kind, g.count) for g in config.instance_group] == [(mc.ModelInstanceGroup.KIND_GPU, 1)]
        accelerators = config.optimization.execution_accelerators.gpu_execution_accelerator
        assert [a.name for a in accelerators] == ["tensorrt"]
        assert accelerators[0].parameters["precision_mode"] == "FP16"
        assert (gpu_repo / name / "1" / "model.onnx").is_file()
        assert not (gpu_repo / name / "1" / "model.py").exists()
    det, cls, rec = (config_of(gpu_repo / n) for n in models.MODEL_NAMES)
    assert [tuple(t.dims) for t in det.input] == [(3, -1, -1)] and [o.name for o in det.output] == ["fetch_name_0"]
    assert [tuple(t.dims) for t in cls.input] == [(3, 48, 192)]
    assert [(o.name, mc.DataType.Name(o.data_type)) for o in rec.output] == [
        ("indices", "TYPE_INT64"),
        ("scores", "TYPE_FP32"),
    ]


def test_served_onnx_files_have_the_config_names_and_dims(gpu_repo: Path) -> None:
    """What Triton's onnxruntime backend checks at load: the config's tensors exist in the file, same dtype, rank."""
    ort_types = {"FP32": "tensor(float)", "INT64": "tensor(int64)"}
    for name in models.MODEL_NAMES:
        s = session(gpu_repo / name / "1" / "model.onnx")
        config = config_of(gpu_repo / name)
        for got, declared in ((s.get_inputs(), config.input), (s.get_outputs(), config.output)):
            assert [(t.name, t.type, len(t.shape)) for t in got] == [
                (t.name, ort_types[mc.DataType.Name(t.data_type).removeprefix("TYPE_")], len(t.dims) + 1)
                for t in declared
            ]


def test_dictionary_and_its_sha256(gpu_repo: Path) -> None:
    text = (gpu_repo / "ppocr_rec" / models.CHARACTERS_FILE).read_bytes()
    meta = session(models.model_files()[models.REC]).get_modelmeta().custom_metadata_map["character"]
    assert text.decode("utf-8").splitlines() == meta.splitlines()  # as rapidocr reads the metadata
    assert len(meta.splitlines()) + 2 == 18710  # + rapidocr's blank and space: the rec model's classes
    sha = config_of(gpu_repo / "ppocr_rec").parameters[models.CHARACTERS_PARAMETER].string_value
    assert sha == hashlib.sha256(text).hexdigest() == models.characters_sha256(models.characters())
    assert models.read_characters(gpu_repo / "ppocr_rec" / models.CHARACTERS_FILE) == models.characters()
    for name in (models.DET, models.CLS):
        assert not config_of(gpu_repo / name).parameters


def test_rec_rewrite_is_argmax_and_max_of_the_original_output() -> None:
    original = session(models.model_files()[models.REC])
    rewritten = session(models.served_onnx(models.REC))
    assert [o.name for o in rewritten.get_outputs()] == ["indices", "scores"]
    short, long = crop("Shipments rose by eight percent"), crop("Customer calls fell by a fifth in the same period.")
    assert short.shape[3] != long.shape[3]
    for x in (short, long, np.concatenate([short, short])):
        probs = original.run(None, {"x": x})[0]
        indices, scores = rewritten.run(None, {"x": x})
        assert probs.shape[2] == 18710
        assert indices.dtype == np.int64 and scores.dtype == np.float32
        np.testing.assert_array_equal(indices, probs.argmax(axis=2))
        np.testing.assert_array_equal(scores, probs.max(axis=2))
    # a real line: CTC-decoded, the argmax reads the text back
    chars = ["blank", *models.characters(), " "]
    indices = rewritten.run(None, {"x": short})[0][0]
    decoded = "".join(chars[i] for k, i in enumerate(indices) if i and (k == 0 or i != indices[k - 1]))
    assert decoded == "Shipments rose by eight percent"


def test_python_backend_repository(tmp_path: Path) -> None:
    write_repository(tmp_path, backend="python", max_batch_size={"ppocr_rec": 16}, queue_delay_us=500)
    for name in models.MODEL_NAMES:
        config = config_of(tmp_path / name)
        assert config.backend == "python" and not config.platform
        assert [(g.kind, g.count) for g in config.instance_group] == [(mc.ModelInstanceGroup.KIND_CPU, 1)]
        assert config.dynamic_batching.max_queue_delay_microseconds == 500
        assert not config.optimization.execution_accelerators.gpu_execution_accelerator
        model_py = (tmp_path / name / "1" / "model.py").read_text(encoding="utf-8")
        assert "class TritonPythonModel" in model_py
    rec = config_of(tmp_path / "ppocr_rec")
    assert rec.max_batch_size == 16 and list(rec.dynamic_batching.preferred_batch_size) == [4, 8, 16]


def test_existing_models_are_replaced_only_with_force(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("mine\n")
    write_repository(tmp_path, backend="onnxruntime", kind="cpu")
    stale = tmp_path / "ppocr_det" / "2"
    stale.mkdir()
    with pytest.raises(RepositoryExists, match="--force"):
        write_repository(tmp_path, backend="python")
    assert config_of(tmp_path / "ppocr_det").platform == "onnxruntime_onnx"  # untouched
    write_repository(tmp_path, backend="python", force=True)
    assert config_of(tmp_path / "ppocr_det").backend == "python"
    assert not stale.exists()
    assert (tmp_path / "README.md").read_text() == "mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", *sorted(models.MODEL_NAMES)]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "python", "kind": "gpu"}, "python backend runs onnxruntime on the CPU"),
        ({"kind": "cpu", "tensorrt": True}, "TensorRT needs the onnxruntime backend on the GPU"),
        ({"max_batch_size": {"ppocr_det": 0}}, "max_batch_size must be >= 1"),
        ({"max_batch_size": {"det": 4}}, "no such model: det"),
        ({"preferred_batch_sizes": [4, 128]}, "preferred batch sizes must be between 1 and max_batch_size"),
    ],
)
def test_options_that_do_not_fit_are_refused(tmp_path: Path, options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_repository(tmp_path / "repo", **options)  # type: ignore[arg-type]
    assert not (tmp_path / "repo").exists()


def test_lower_ir_version_keeps_the_outputs() -> None:
    det = models.served_onnx(models.DET)
    lowered = models.lower_ir_version(det, 9)
    import onnx

    assert onnx.load_from_string(det).ir_version == 10 and onnx.load_from_string(lowered).ir_version == 9
    x = np.random.default_rng(1).random((1, 3, 64, 96), dtype=np.float32)
    np.testing.assert_array_equal(session(det).run(None, {"x": x})[0], session(lowered).run(None, {"x": x})[0])
    with pytest.raises(ValueError, match="too old"):
        models.lower_ir_version(det, 6)


def test_contract_check_catches_a_renamed_output() -> None:
    import onnx

    model = onnx.load_from_string(models.served_onnx(models.CLS))
    model.graph.output[0].name = "probabilities"
    with pytest.raises(models.ContractError, match="outputs are"):
        models.check_contract(models.CLS, model.SerializeToString())
