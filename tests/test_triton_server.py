"""A real tritonserver (nvidia-pytriton's, python backend) on the repository `write_repository` writes, started by
LocalTriton on free ports: the models load, answer through tritonclient's HTTP and gRPC clients exactly what
onnxruntime gives on the local ONNX files, batch concurrent requests, and export metrics; `streamprocess triton`."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from PIL import Image
from tritonclient.utils import InferenceServerException

from infra.local_services import free_port
from streamprocess.errors import ExitCode
from streamprocess.ocr.triton import models
from streamprocess.ocr.triton.repository import write_repository
from streamprocess.ocr.triton.server import LocalTriton, wait_ready

from .documents import DPI, font, prose_page
from .helpers import assert_refused, cli, cli_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTriton]:
    repo = tmp_path_factory.mktemp("triton") / "repo"
    write_repository(repo, backend="python")
    with LocalTriton(repo, free_port(), free_port(), free_port()) as server:
        yield server


@pytest.fixture(scope="module")
def page() -> tuple[Image.Image, list[str]]:
    img, text = prose_page()
    return img, text.splitlines()


def normalize(img: Image.Image) -> np.ndarray:
    """As rapidocr feeds its models: (x / 255 - 0.5) / 0.5, channels first, a batch of one."""
    x = (np.asarray(img.convert("RGB"), dtype=np.float32) / 255 - 0.5) / 0.5
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def line_crop(page: tuple[Image.Image, list[str]], k: int) -> np.ndarray:
    """Line ``k`` of the prose page (drawn at 0.8 in, 1.5 line spacing), cut out and scaled to height 48."""
    img, lines = page
    f = font()
    x, y = int(0.8 * DPI), int(0.8 * DPI) + k * int(f.size * 1.5)
    left, top, right, bottom = f.getbbox(lines[k])
    box = img.crop((x + left - 6, y + top - 6, x + right + 6, y + bottom + 6))
    return normalize(box.resize((round(48 * box.width / box.height), 48), Image.Resampling.BILINEAR))


def local(name: str, x: np.ndarray) -> list[np.ndarray]:
    """The local ONNX file's outputs (for rec: the rapidocr file's softmax, reduced here with numpy)."""
    outputs = ort.InferenceSession(str(models.model_files()[name]), providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )
    if name == models.REC:
        return [outputs[0].argmax(axis=2), outputs[0].max(axis=2)]
    return outputs


def infer(client: Any, module: Any, name: str, x: np.ndarray) -> list[np.ndarray]:
    tensor = module.InferInput(models.INPUT, list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    result = client.infer(name, [tensor])
    return [result.as_numpy(t.name) for t in models.MODELS[name].outputs]


@pytest.fixture(scope="module", params=["http", "grpc"])
def client(request: pytest.FixtureRequest, triton: LocalTriton) -> tuple[Any, Any]:
    if request.param == "http":
        return httpclient.InferenceServerClient(triton.http_address), httpclient
    return grpcclient.InferenceServerClient(triton.grpc_address), grpcclient


def test_all_models_ready_with_the_contract(triton: LocalTriton, client: tuple[Any, Any]) -> None:
    c, module = client
    assert c.is_server_ready()
    for name in models.MODEL_NAMES:
        assert c.is_model_ready(name), name
        metadata = c.get_model_metadata(name, **({"as_json": True} if module is grpcclient else {}))
        served = [(t["name"], t["datatype"]) for t in metadata["outputs"]]
        assert served == [(t.name, t.dtype) for t in models.MODELS[name].outputs]
    config = c.get_model_config(models.REC, **({"as_json": True} if module is grpcclient else {}))
    config = config.get("config", config)
    sha = config["parameters"][models.CHARACTERS_PARAMETER]["string_value"]
    assert sha == models.characters_sha256(models.characters())


def test_det_on_a_real_page(client: tuple[Any, Any], page: tuple[Image.Image, list[str]]) -> None:
    img = page[0].resize((736, 1024), Image.Resampling.BILINEAR)  # multiples of 32, as rapidocr's det resize
    x = normalize(img)
    (served,) = infer(*client, models.DET, x)
    (expected,) = local(models.DET, x)
    assert served.shape == (1, 1, 1024, 736)
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)
    assert (served > 0.3).mean() > 0.01  # text found: a real page, not noise


def test_cls_on_crops(client: tuple[Any, Any], page: tuple[Image.Image, list[str]]) -> None:
    crops = [line_crop(page, k)[..., :192] for k in (0, 1, 2)]
    x = np.concatenate([np.pad(c, ((0, 0), (0, 0), (0, 0), (0, 192 - c.shape[3]))) for c in crops])
    (served,) = infer(*client, models.CLS, x)
    (expected,) = local(models.CLS, x)
    assert served.shape == (3, 2)
    np.testing.assert_allclose(served, expected, rtol=1e-5, atol=1e-6)
    assert (served.argmax(axis=1) == 0).all()  # upright lines: class 0 ("0 degrees")


def test_rec_on_crops_of_two_widths(client: tuple[Any, Any], page: tuple[Image.Image, list[str]]) -> None:
    _, lines = page
    chars = ["blank", *models.characters(), " "]
    last = len(lines) - 1  # the short last line
    widths = set()
    for k in (0, last):
        x = line_crop(page, k)
        widths.add(x.shape[3])
        indices, scores = infer(*client, models.REC, x)
        expected_indices, expected_scores = local(models.REC, x)
        assert indices.dtype == np.int64 and scores.dtype == np.float32
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-5, atol=1e-6)
        row = indices[0]
        text = "".join(chars[i] for j, i in enumerate(row) if i and (j == 0 or i != row[j - 1]))
        assert text.replace(" ", "") == lines[k].replace(" ", "")
    assert len(widths) == 2


def test_concurrent_requests_are_batched(triton: LocalTriton, page: tuple[Image.Image, list[str]]) -> None:
    """16 requests sent at once: Triton's dynamic batcher runs them in fewer executions than requests."""
    c = grpcclient.InferenceServerClient(triton.grpc_address)

    def counts() -> tuple[int, int]:
        stats = c.get_inference_statistics(models.REC, as_json=True)["model_stats"][0]
        return int(stats.get("inference_count", 0)), int(stats.get("execution_count", 0))

    before = counts()
    x = line_crop(page, 3)
    tensor = grpcclient.InferInput(models.INPUT, list(x.shape), "FP32")
    tensor.set_data_from_numpy(x)
    done: list[Any] = []
    for _ in range(16):
        c.async_infer(models.REC, [tensor], callback=lambda result, error: done.append(error or result))
    deadline = time.monotonic() + 120
    while len(done) < 16 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(done) == 16 and not any(isinstance(r, Exception) for r in done), done
    inferences, executions = (after - b for after, b in zip(counts(), before, strict=True))
    assert inferences == 16
    assert 1 <= executions < inferences
    assert all(np.array_equal(r.as_numpy(models.REC_INDICES), done[0].as_numpy(models.REC_INDICES)) for r in done)


def test_a_bad_request_is_a_clear_error(client: tuple[Any, Any]) -> None:
    c, module = client
    with pytest.raises(InferenceServerException, match=r"(?i)shape|dims"):
        infer(c, module, models.CLS, np.zeros((1, 3, 48, 100), dtype=np.float32))  # cls takes [3, 48, 192]


def test_metrics_port_answers(triton: LocalTriton) -> None:
    with urllib.request.urlopen(triton.metrics_url, timeout=10) as response:
        body = response.read().decode()
    assert response.status == 200
    assert f'nv_inference_request_success{{model="{models.REC}"' in body


# ---------------------------------------------------------------------------------------------- the command
def test_serve_command_runs_until_ctrl_c(tmp_path: Path) -> None:
    http, grpc_port, metrics = free_port(), free_port(), free_port()
    args = ["triton", "serve", "--http-port", str(http), "--grpc-port", str(grpc_port), "--metrics-port", str(metrics)]
    with open(tmp_path / "out.log", "wb") as out:
        proc = subprocess.Popen(cli(*args), env=cli_env(), stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        assert wait_ready(f"http://127.0.0.1:{http}", 180, alive=proc), (tmp_path / "out.log").read_text()
        assert httpclient.InferenceServerClient(f"127.0.0.1:{http}").is_model_ready(models.REC)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == ExitCode.OK
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    log = (tmp_path / "out.log").read_text()
    assert f"Triton ready: HTTP http://127.0.0.1:{http}  gRPC grpc://127.0.0.1:{grpc_port}" in log
    assert "Traceback" not in log
    with socket.socket() as s:  # tritonserver is gone: its port is free again
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", http))


def test_serve_refuses_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            cli("triton", "serve", "--grpc-port", str(port), "--http-port", str(free_port())),
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert_refused(out, ExitCode.PORT_IN_USE, f"gRPC port {port}", "--grpc-port")


def test_repo_command_refuses_to_overwrite(tmp_path: Path) -> None:
    first = subprocess.run(
        cli("triton", "repo", str(tmp_path), "--backend", "python"), env=cli_env(), text=True, capture_output=True
    )
    assert first.returncode == 0, first.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(models.MODEL_NAMES)
    again = subprocess.run(cli("triton", "repo", str(tmp_path)), env=cli_env(), text=True, capture_output=True)
    assert_refused(again, ExitCode.FAILED, "already holds", "--force")
    assert 'backend: "python"' in (tmp_path / models.REC / "config.pbtxt").read_text()


def test_serve_refuses_an_onnxruntime_repository(tmp_path: Path) -> None:
    write_repository(tmp_path, backend="onnxruntime", kind="cpu")
    http, grpc_port, metrics = (str(free_port()) for _ in range(3))
    ports = ["--http-port", http, "--grpc-port", grpc_port, "--metrics-port", metrics]
    out = subprocess.run(
        cli("triton", "serve", "--repo", str(tmp_path), *ports), env=cli_env(), capture_output=True, text=True
    )
    assert_refused(out, ExitCode.BAD_SETTING, "onnxruntime backend", "--backend python")
