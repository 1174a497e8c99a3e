"""gRPC OCRService over a real server port (`streamprocess up`): one document, a stream with a bad one, auth, and
the generated code being current."""

from __future__ import annotations

import asyncio
import filecmp
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from streamprocess.v1 import ocr_pb2, ocr_pb2_grpc

from . import documents as docs
from .helpers import ROOT, SharedUp

pytestmark = pytest.mark.slow
KEY = "grpc-key"
META = (("authorization", f"Bearer {KEY}"),)


@pytest.fixture(scope="module")
def target(shared_up: SharedUp) -> str:
    """The session's shared server (its keys include KEY; its events token is "tok")."""
    return shared_up.grpc


def png(page=docs.prose_page) -> bytes:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    page()[0].save(buf, "PNG")
    return buf.getvalue()


def test_process_document(target: str) -> None:
    async def go() -> ocr_pb2.OCRResponse:
        async with grpc.aio.insecure_channel(target) as channel:
            stub = ocr_pb2_grpc.OCRServiceStub(channel)
            return await stub.ProcessDocument(
                ocr_pb2.DocumentRequest(request_id="r1", content=png(), filename="page.png", languages=["eng"]),
                metadata=META,
                timeout=120,
            )

    r = asyncio.run(go())
    assert r.ok and r.request_id == "r1" and len(r.job_id) == 32
    assert "routing software" in r.text and r.pages[0].engine == "ppocr" and r.pages[0].width == 1654
    assert r.pages[0].blocks[0].lines[0].words[0].text == "Most"
    assert r.markdown.startswith("<!-- page 1 -->") and "routing software" in r.markdown
    assert {b.kind for b in r.pages[0].blocks} <= {"title", "paragraph", "list"} and not r.pages[0].warnings


def test_batch_stream_answers_each_document_with_per_document_errors(target: str) -> None:
    pdf = io.BytesIO()
    docs.table_page()[0].save(pdf, "PDF", resolution=docs.DPI)
    requests = [
        ocr_pb2.DocumentRequest(request_id="prose", content=png(), filename="a.png"),
        ocr_pb2.DocumentRequest(request_id="broken", content=b"%PDF-1.7\n" + os.urandom(500), filename="b.pdf"),
        ocr_pb2.DocumentRequest(request_id="text", content=b"not a document", filename="c.txt"),
        ocr_pb2.DocumentRequest(request_id="invoice", content=pdf.getvalue(), filename="d.pdf"),
    ]

    async def go() -> list[ocr_pb2.OCRResponse]:
        async def gen():  # type: ignore[no-untyped-def]
            for r in requests:
                yield r

        async with grpc.aio.insecure_channel(target) as channel:
            stub = ocr_pb2_grpc.OCRServiceStub(channel)
            return [r async for r in stub.BatchProcess(gen(), metadata=META, timeout=180)]

    answers = {r.request_id: r for r in asyncio.run(go())}
    assert set(answers) == {"prose", "broken", "text", "invoice"}
    assert answers["prose"].ok and "routing software" in answers["prose"].text
    assert answers["invoice"].ok and "INVOICE" in answers["invoice"].text
    assert not answers["broken"].ok and answers["broken"].error.code == "corrupt_media"
    assert not answers["text"].ok and answers["text"].error.code == "unsupported_media"


@pytest.mark.parametrize(
    "metadata, code",
    [
        ((), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer nope"),), grpc.StatusCode.UNAUTHENTICATED),
        ((("authorization", "Bearer tok"),), grpc.StatusCode.PERMISSION_DENIED),
    ],
)
def test_auth(target: str, metadata: tuple, code: grpc.StatusCode) -> None:
    async def unary() -> None:
        async with grpc.aio.insecure_channel(target) as channel:
            await ocr_pb2_grpc.OCRServiceStub(channel).ProcessDocument(
                ocr_pb2.DocumentRequest(content=b"x"), metadata=metadata, timeout=30
            )

    async def stream() -> None:
        async def one() -> AsyncIterator[ocr_pb2.DocumentRequest]:
            yield ocr_pb2.DocumentRequest(content=b"x")

        async with grpc.aio.insecure_channel(target) as channel:
            [r async for r in ocr_pb2_grpc.OCRServiceStub(channel).BatchProcess(one(), metadata=metadata, timeout=30)]

    # A refusal that raced the client's write came back as INTERNAL (grpc/grpc#36066) one time in ~20: try often.
    for go in [unary] + [stream] * 20:
        with pytest.raises(grpc.aio.AioRpcError) as e:
            asyncio.run(go())
        assert e.value.code() == code, (go.__name__, e.value)


@pytest.mark.parametrize("proto", ["ocr", "stt"])
def test_generated_code_is_current(tmp_path: Path, proto: str) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{ROOT / 'proto'}",
            f"--python_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            str(ROOT / "proto" / "streamprocess" / "v1" / f"{proto}.proto"),
        ],
        check=True,
    )
    for name in (f"{proto}_pb2.py", f"{proto}_pb2_grpc.py", f"{proto}_pb2.pyi"):
        assert filecmp.cmp(
            tmp_path / "streamprocess" / "v1" / name, ROOT / "src" / "streamprocess" / "v1" / name, shallow=False
        ), f"src/streamprocess/v1/{name} is stale: regenerate it (see README)"
