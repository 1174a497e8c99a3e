"""The gRPC front door: ``streamprocess.v1.OCRService`` (ProcessDocument, BatchProcess) on grpc.aio.

Each document becomes an ordinary OCR job through :class:`~streamprocess.submit.Submissions` (stored, queued,
processed by the workers), and the answer is read from its ``ocr.json``. The API key travels as the metadata
``authorization: Bearer <key>``: none or an unknown one is UNAUTHENTICATED, the events token PERMISSION_DENIED.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from .api.auth import credential
from .errors import StreamProcessError
from .jobs import JobState
from .submit import Submissions
from .v1 import ocr_pb2, ocr_pb2_grpc

log = logging.getLogger(__name__)


def to_page(page: dict[str, Any]) -> ocr_pb2.Page:
    blocks = []
    for block in page["blocks"]:
        lines = [ocr_pb2.Line(text=line["text"], bbox=line["bbox"], confidence=line["confidence"],
                              words=[ocr_pb2.Word(text=w["text"], bbox=w["bbox"], confidence=w["confidence"])
                                     for w in line.get("words", [])])
                 for line in block["lines"]]
        blocks.append(ocr_pb2.Block(bbox=block["bbox"], kind=block.get("kind", "text"), lines=lines))
    text = "\n\n".join("\n".join(line["text"] for line in b["lines"]) for b in page["blocks"] if b["lines"])
    return ocr_pb2.Page(index=page["index"], width=page["width"], height=page["height"], dpi=page["dpi"],
                        engine=page["engine"], text=text, blocks=blocks)


class OCRService(ocr_pb2_grpc.OCRServiceServicer):
    def __init__(self, submissions: Submissions, api_keys: list[str]) -> None:
        self.subs = submissions
        self.api_keys = api_keys
        token = submissions.settings.events_token
        self.events_tokens = [token.get_secret_value()] if token else []

    async def _authenticate(self, context: grpc.aio.ServicerContext) -> None:
        metadata = dict(context.invocation_metadata() or ())
        scheme, _, token = str(metadata.get("authorization", "")).partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "send metadata authorization: Bearer <API key>")
        kind = credential(token, self.api_keys, self.events_tokens)
        if kind == "events":
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "the events token cannot call the OCR service")
        if kind is None:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown API key")

    async def _one(self, request: ocr_pb2.DocumentRequest) -> ocr_pb2.OCRResponse:
        t0 = time.perf_counter()
        response = ocr_pb2.OCRResponse(request_id=request.request_id)
        try:
            options = {"lang": "+".join(request.languages) or None, "engine": request.engine or None,
                       "dpi": str(request.dpi) if request.dpi else None}
            job_id = await self.subs.submit_bytes(request.content, request.filename or "document", "ocr",
                                                  {k: v for k, v in options.items() if v})
            response.job_id = job_id
            record = await self.subs.wait(job_id, self.subs.settings.wait_max)
            if record.state is JobState.failed:
                error = record.error
                response.error.CopyFrom(ocr_pb2.Error(code=error.code if error else "failed",
                                                      message=error.message if error else "the job failed"))
            elif record.state is not JobState.succeeded:
                response.error.CopyFrom(ocr_pb2.Error(code="timeout", message=f"job {job_id} is still {record.state}"))
            else:
                doc = json.loads((await self.subs.result(record, "json"))[0])
                response.pages.extend(to_page(p) for p in doc["pages"])
                response.text = "\n\f\n".join(p.text for p in response.pages)
                response.ok = True
        except StreamProcessError as e:
            response.error.CopyFrom(ocr_pb2.Error(code=e.code, message=e.message))
        response.seconds = time.perf_counter() - t0
        return response

    async def ProcessDocument(self, request: ocr_pb2.DocumentRequest,
                              context: grpc.aio.ServicerContext) -> ocr_pb2.OCRResponse:
        await self._authenticate(context)
        return await self._one(request)

    async def BatchProcess(self, request_iterator: AsyncIterator[ocr_pb2.DocumentRequest],
                           context: grpc.aio.ServicerContext) -> AsyncIterator[ocr_pb2.OCRResponse]:
        await self._authenticate(context)
        done: asyncio.Queue[ocr_pb2.OCRResponse | None] = asyncio.Queue()
        tasks: set[asyncio.Task[None]] = set()

        async def answer(request: ocr_pb2.DocumentRequest) -> None:
            await done.put(await self._one(request))

        async def read() -> None:
            async for request in request_iterator:
                task = asyncio.create_task(answer(request))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            await asyncio.gather(*list(tasks))
            await done.put(None)

        reader = asyncio.create_task(read())
        try:
            while (item := await done.get()) is not None:
                yield item
        finally:
            reader.cancel()
            for task in list(tasks):
                task.cancel()


async def start(submissions: Submissions, api_keys: list[str], host: str, port: int) -> grpc.aio.Server:
    limit = submissions.settings.upload_max_size + (1 << 20)
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", limit),
                                      ("grpc.max_send_message_length", 64 << 20)])
    ocr_pb2_grpc.add_OCRServiceServicer_to_server(OCRService(submissions, api_keys), server)
    server.add_insecure_port(f"{host}:{port}")
    await server.start()
    return server
