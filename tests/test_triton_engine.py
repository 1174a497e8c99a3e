"""The ``triton`` OCR engine against a real tritonserver (the one nvidia-pytriton ships, serving the python-backend
development repository on free ports): the same text and boxes as the local PP-OCR engine, clear errors for what
Triton refuses, retries for what goes away, and a worker that waits for Triton and loses no job when it dies."""

from __future__ import annotations

import os
import re
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from infra.local_services import free_port
from streamprocess.ocr import OcrEngine, OcrOptions
from streamprocess.ocr.engines.ppocr import PPOCREngine
from streamprocess.ocr.options import InvalidOcrOptions
from streamprocess.ocr.triton import client, server
from streamprocess.ocr.triton.repository import write_repository
from streamprocess.ocr.types import Document

from . import documents as docs

pytestmark = pytest.mark.slow

PAGES = {  # name: (image, languages)
    "english": (docs.prose_page()[0], "eng"),
    "two-column": (docs.two_column_page()[0], "eng"),
    "chinese": (docs.cjk_page(docs.CHINESE, "chi_sim")[0], "chi_sim"),
    "japanese": (docs.cjk_page(docs.JAPANESE, "jpn")[0], "jpn"),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("triton-repo")
    write_repository(path, backend="python", force=True)
    return path


@pytest.fixture(scope="module")
def triton(repo: Path) -> Iterator[server.LocalTriton]:
    with server.LocalTriton(repo, free_port(), free_port(), free_port()) as t:
        yield t


@pytest.fixture(scope="module")
def local() -> OcrEngine:
    return OcrEngine(runtime="onnxruntime")  # the server runs the same ONNX files on onnxruntime


def read(ocr: OcrEngine, tmp_path: Path, image: Image.Image, **options: object) -> Document:
    path = tmp_path / f"page-{time.monotonic_ns()}.png"
    image.save(path, dpi=(docs.DPI, docs.DPI))
    return ocr.process(path, OcrOptions(**options))


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_triton_reads_as_the_local_engine(
    triton: server.LocalTriton, local: OcrEngine, tmp_path: Path, protocol: str
) -> None:
    url = triton.http_url if protocol == "http" else triton.grpc_url
    remote = OcrEngine(triton=client.TritonOptions(url))
    for name, (image, lang) in PAGES.items():
        ours = read(local, tmp_path, image, languages=lang, engine="ppocr").pages[0]
        theirs = read(remote, tmp_path, image, languages=lang, engine="triton").pages[0]
        assert ours.engine == "ppocr" and theirs.engine == "triton", name
        assert theirs.text == ours.text and ours.text.strip(), name
        a = [line for block in ours.blocks for line in block.lines]
        b = [line for block in theirs.blocks for line in block.lines]
        assert len(a) == len(b), name
        for x, y in zip(a, b, strict=True):
            assert max(abs(p - q) for p, q in zip(x.bbox, y.bbox, strict=True)) <= 1, (name, x.text, x.bbox, y.bbox)
            assert [w.text for w in x.words] == [w.text for w in y.words], (name, x.text)
            # Words are placed from the CTC columns: the padding to a width bucket moves characters' peaks by up to
            # about one and a half columns (a column: 8 px of the 48-px-high crop; measured), never the text.
            column = 8 * (x.bbox[3] - x.bbox[1]) / 48
            for wx, wy in zip(x.words, y.words, strict=True):
                assert max(abs(p - q) for p, q in zip(wx.bbox, wy.bbox, strict=True)) <= 2 * column, (name, wx.text)
    assert remote.triton.connection is not None and remote.triton.connection.retries == 0


def test_triton_routes_as_auto(triton: server.LocalTriton, tmp_path: Path) -> None:
    remote = OcrEngine(triton=client.TritonOptions(triton.grpc_url))
    korean = read(remote, tmp_path, docs.cjk_page(docs.KOREAN, "kor")[0], languages="kor", engine="triton")
    assert korean.pages[0].engine == "tesseract"  # PP-OCR has no Hangul: Tesseract, as for auto
    with pytest.raises(InvalidOcrOptions, match="STREAMPROCESS_TRITON_URL"):  # engine triton, no server given
        OcrEngine().check(OcrOptions(engine="triton"))


def test_requests_triton_refuses_fail_permanently(triton: server.LocalTriton) -> None:
    import numpy as np

    connection = client.TritonConnection(client.TritonOptions(triton.grpc_url, attempts=3, backoff=0.01))
    with pytest.raises(client.TritonRequestError, match="ppocr_cls"):  # cls takes [3, 48, 192] only
        connection.infer("ppocr_cls", {"x": np.zeros((1, 3, 32, 100), np.float32)}, ["save_infer_model/scale_0.tmp_1"])
    with pytest.raises(client.TritonRequestError, match="no_such_model"):
        connection.infer("no_such_model", {"x": np.zeros((1, 3, 48, 320), np.float32)}, ["indices"])
    assert connection.retries == 0  # refused at once, not retried


def test_a_different_dictionary_is_refused(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "repo"
    write_repository(other, backend="python")
    config = other / "ppocr_rec" / "config.pbtxt"
    text, n = re.subn(
        r'(characters_sha256".*?string_value:\s*")[0-9a-f]+', r"\g<1>" + "0" * 64, config.read_text(), flags=re.S
    )
    assert n == 1
    config.write_text(text)
    with server.LocalTriton(other, free_port(), free_port(), free_port()) as t:
        with pytest.raises(client.TritonRequestError, match="dictionary") as e:
            PPOCREngine(triton=client.TritonOptions(t.http_url))
    assert e.value.code == "engine_error"


def test_an_absent_server_is_transient_after_retries() -> None:
    connection = client.TritonConnection(
        client.TritonOptions(f"http://127.0.0.1:{free_port()}", attempts=3, backoff=0.01)
    )
    with pytest.raises(client.TritonUnavailable, match="after 3 attempts") as e:
        connection.model_parameters("ppocr_rec")
    assert connection.retries == 2 and e.value.code == "engine_unavailable"
    assert not connection.is_ready()


def test_cli_ocr_on_triton(triton: server.LocalTriton, local: OcrEngine, tmp_path: Path) -> None:
    import subprocess

    from streamprocess.errors import ExitCode

    from .helpers import assert_refused, cli, cli_env

    image, _ = PAGES["english"]
    image.save(tmp_path / "page.png", dpi=(docs.DPI, docs.DPI))
    run = {"env": cli_env(), "cwd": tmp_path, "capture_output": True, "text": True, "timeout": 300}
    out = subprocess.run(
        cli("ocr", "page.png", "--engine", "triton", "--triton-url", triton.grpc_url, "-f", "json"), **run
    )
    assert out.returncode == 0, out.stderr
    doc = Document.model_validate_json(out.stdout)
    assert doc.engine == "triton" and doc.pages[0].text == read(local, tmp_path, image, engine="ppocr").pages[0].text
    out = subprocess.run(cli("ocr", "page.png", "--engine", "triton", "--triton-url", "localhost:8001"), **run)
    assert_refused(out, ExitCode.BAD_SETTING, "STREAMPROCESS_TRITON_URL", "grpc://host:port")


def test_doctor_reports_triton(triton: server.LocalTriton) -> None:
    from streamprocess.config import Settings
    from streamprocess.doctor.ocr import check_ocr_runtime, check_triton
    from streamprocess.doctor.report import Status

    assert check_triton(Settings()) == []  # no Triton configured: nothing to say
    [ok] = check_triton(Settings(ocr_engine="triton", triton_url=triton.http_url))
    assert ok.status is Status.ok and ok.required and "same dictionary" in ok.detail
    absent = Settings(ocr_engine="triton", triton_url=f"grpc://127.0.0.1:{free_port()}")
    [down] = [c for c in check_ocr_runtime(absent) if c.name == "Triton"]
    assert down.status is Status.fail and down.required and "not ready" in down.detail


def _metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))


async def test_worker_waits_for_triton_and_loses_no_job_when_it_dies(repo: Path, tmp_path: Path) -> None:
    from streamprocess.jobs import JobState

    from .helpers import Pipeline

    ports = free_port(), free_port(), free_port()
    metrics_port = free_port()
    triton = server.LocalTriton(repo, *ports)
    pipeline = Pipeline(
        tmp_path,
        ocr_processor="ocr",
        ocr_engine="triton",
        triton_url=f"grpc://127.0.0.1:{ports[1]}",
        triton_attempts=3,
        max_attempts=10,
        retry_base_delay=0.2,
        retry_max_delay=1.0,
        concurrency=2,
    )
    try:
        # 1. Triton is not there yet: the worker says so and waits, taking no job.
        pipeline.start_worker("--metrics-port", str(metrics_port))
        deadline = time.monotonic() + 120
        while "is not ready" not in pipeline.log_text():
            assert time.monotonic() < deadline and pipeline.workers[0].poll() is None, pipeline.log_text()
            time.sleep(0.2)
        page = docs.prose_page()[0]
        await pipeline.drop("first.png", _png(page, tmp_path))
        triton.start()
        first = await pipeline.wait_state("first.png", JobState.succeeded, timeout=180)
        assert first.attempts == 1  # not taken while Triton was away
        assert pipeline.workers[0].poll() is None

        # 2. Triton dies while the worker reads several documents, and comes back on the same ports.
        pdf = docs.save_pdf([page, docs.two_column_page()[0]], tmp_path / "two.pdf").read_bytes()
        names = [f"doc-{i}.pdf" for i in range(6)]
        for name in names:
            await pipeline.drop(name, pdf)
        await pipeline.wait_record(
            lambda r: r.source.key.endswith(".pdf") and r.state is JobState.succeeded, 300, "a first document read"
        )
        records = await pipeline.records()
        unfinished = [r for r in records if r.source.key.endswith(".pdf") and r.state is not JobState.succeeded]
        assert unfinished, "every document was read before Triton went away: make the work longer"
        assert triton.process is not None
        os.killpg(triton.process.pid, signal.SIGKILL)
        triton.stop()
        triton = server.LocalTriton(repo, *ports)
        triton.start()
        for name in names:
            await pipeline.wait_state(name, JobState.succeeded, timeout=300)
        records = [r for r in await pipeline.records() if r.source.key.endswith(".pdf")]
        assert len(records) == len(names) and all(r.state is JobState.succeeded for r in records)
        retried_requests = _metric(metrics_port, "streamprocess_triton_retries_total")
        assert retried_requests > 0 or any(r.attempts > 1 for r in records), pipeline.log_text()
        assert all(r.summary["engine"] == "triton" for r in records)
    finally:
        pipeline.stop()
        triton.stop()


def _png(image: Image.Image, tmp_path: Path) -> bytes:
    path = tmp_path / f"page-{time.monotonic_ns()}.png"
    image.save(path, dpi=(docs.DPI, docs.DPI))
    return path.read_bytes()
