"""The Triton client's pure logic: URLs, width buckets, the argmax stand-in for rapidocr's CTC decoder, and which
errors are retried (tests/test_triton_engine.py runs the engine against a real tritonserver)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from geventhttpclient.response import HTTPConnectionClosed
from pydantic import ValidationError
from tritonclient.utils import InferenceServerException

from streamprocess.config import Settings
from streamprocess.errors import PermanentError, TransientError
from streamprocess.ocr.options import OcrOptions
from streamprocess.ocr.triton.client import (
    REC_STRIDE,
    ArgmaxPreds,
    RemoteRecSession,
    TritonOptions,
    TritonRequestError,
    TritonUnavailable,
    bucket_width,
    is_transient,
    parse_triton_url,
)


@pytest.mark.parametrize(
    ("url", "protocol", "host", "port"),
    [
        ("http://localhost:8000", "http", "localhost", 8000),
        ("grpc://triton.ocr.svc:8001", "grpc", "triton.ocr.svc", 8001),
        ("http://10.0.0.7:8000/", "http", "10.0.0.7", 8000),
        ("grpc://[::1]:8001", "grpc", "::1", 8001),
    ],
)
def test_urls_that_parse(url: str, protocol: str, host: str, port: int) -> None:
    target = parse_triton_url(url)
    assert (target.protocol, target.host, target.port) == (protocol, host, port)
    Settings(triton_url=url)  # the setting takes it too


@pytest.mark.parametrize(
    "url",
    ["localhost:8000", "https://h:8000", "http://h", "grpc://:8001", "http://h:8000/v2", "http://h:port", "tcp://h:1"],
)
def test_urls_refused_clearly(url: str) -> None:
    with pytest.raises(ValueError, match="http://host:port|http:// or grpc://"):
        parse_triton_url(url)
    with pytest.raises(ValidationError, match="STREAMPROCESS_TRITON_URL"):
        Settings(triton_url=url)


def test_triton_engine_needs_a_url() -> None:
    with pytest.raises(ValidationError, match="needs STREAMPROCESS_TRITON_URL"):
        Settings(ocr_engine="triton")
    assert Settings(ocr_engine="triton", triton_url="grpc://h:8001").triton_url == "grpc://h:8001"
    assert OcrOptions.from_mapping({"engine": "triton"}).engine == "triton"


@pytest.mark.parametrize(
    ("width", "bucket"),
    [
        (1, 320),
        (320, 320),
        (321, 640),
        (700, 960),
        (1280, 1280),
        (1281, 1920),
        (1920, 1920),
        (1921, 2560),
        (3000, 3200),
    ],
)
def test_bucket_choice(width: int, bucket: int) -> None:
    assert bucket_width(width) == bucket
    assert bucket_width(width) % REC_STRIDE == 0


def _decoder() -> Any:
    from rapidocr.ch_ppocr_rec.utils import CTCLabelDecode

    return CTCLabelDecode(character=list("abcdefghij"))  # classes: blank, a..j, space


def _softmax(n: int, t: int, classes: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, t, classes)) * 4
    e = np.exp(logits - logits.max(axis=2, keepdims=True))
    return (e / e.sum(axis=2, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_argmax_stand_in_decodes_as_the_softmax(seed: int) -> None:
    preds = _softmax(4, 40, 12, seed)
    decoder = _decoder()
    kw = {"wh_ratio_list": [3.0, 5.0, 6.5, 2.0], "max_wh_ratio": 6.67}
    expected = decoder(preds, True, **kw)
    got = decoder(ArgmaxPreds(preds.argmax(axis=2), preds.max(axis=2)), True, **kw)
    assert got[0] == expected[0]  # (text, confidence) per line
    assert [w.__dict__ for w in got[1]] == [w.__dict__ for w in expected[1]]  # word groups, columns, confidences
    assert any(text for text, _ in expected[0])  # the check decoded something


def test_argmax_stand_in_answers_only_the_class_axis() -> None:
    p = ArgmaxPreds(np.zeros((1, 3), np.int64), np.zeros((1, 3), np.float32))
    assert p.shape == (1, 3) and len(p) == 1
    with pytest.raises(NotImplementedError):
        p.argmax(axis=1)
    with pytest.raises(ValueError):
        ArgmaxPreds(np.zeros((1, 3), np.int64), np.zeros((1, 4), np.float32))


class _Recorder:  # what RemoteRecSession sends, answered as the server would (argmax of a known softmax)
    options = TritonOptions("http://h:1")

    def __init__(self) -> None:
        self.widths: list[int] = []

    def infer(self, model: str, inputs: dict[str, np.ndarray], outputs: list[str]) -> dict[str, np.ndarray]:
        x = inputs["x"]
        self.widths.append(x.shape[-1])
        assert not x[..., 100:].any()  # padded with zeros past the batch's own width
        t = x.shape[-1] // REC_STRIDE
        idx = np.tile(np.arange(t), (x.shape[0], 1))
        return {"indices": idx, "scores": np.full(idx.shape, 0.5, np.float32)}


def test_recognition_pads_to_the_bucket_and_cuts_back() -> None:
    rec = _Recorder()
    session = RemoteRecSession(rec, ["a", "b"], (320, 640))  # type: ignore[arg-type]  # the recorder answers infer
    preds = session(np.ones((2, 3, 48, 100), np.float32))
    assert rec.widths == [320]
    assert preds.argmax(axis=2).shape == (2, 100 // REC_STRIDE)
    assert session.have_key() and session.get_character_list() == ["a", "b"]


def _ise(status: str | None) -> InferenceServerException:
    return InferenceServerException("boom", status=status)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_ise("StatusCode.UNAVAILABLE"), True),
        (_ise("StatusCode.DEADLINE_EXCEEDED"), True),
        (_ise("StatusCode.INVALID_ARGUMENT"), False),
        (_ise("StatusCode.NOT_FOUND"), False),
        (_ise("503"), True),
        (_ise("500"), True),
        (_ise("400"), False),
        (_ise(None), True),  # raised by the client itself: a broken connection
        (ConnectionRefusedError(111, "refused"), True),
        (ConnectionResetError(104, "reset"), True),
        (TimeoutError("timed out"), True),
        (HTTPConnectionClosed("connection closed."), True),  # tritonclient.http: a server stopped mid-answer
        (ValueError("a bug"), False),
    ],
)
def test_retry_classification(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_error_kinds() -> None:
    assert issubclass(TritonUnavailable, TransientError) and not issubclass(TritonUnavailable, PermanentError)
    assert issubclass(TritonRequestError, PermanentError)
