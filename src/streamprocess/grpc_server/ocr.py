"""``streamprocess.v1.OCRService``: each document becomes an ordinary OCR job through
:class:`~streamprocess.submit.Submissions` (stored, queued, processed by the workers); the reply is its
:class:`~streamprocess.ocr.types.Document`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from ..errors import ErrorCode, StreamProcessError
from ..jobs import JobState
from ..ocr.formats import to_markdown
from ..ocr.types import Page, Table
from ..submit import Submissions
from ..tenants import Credentials
from ..v1 import ocr_pb2, ocr_pb2_grpc
from .refusals import Authenticated


def _table(table: Table | None) -> ocr_pb2.Table | None:
    if table is None:
        return None
    cells = [ocr_pb2.Cell(**cell.model_dump()) for cell in table.cells]
    return ocr_pb2.Table(rows=table.rows, cols=table.cols, ruled=table.ruled, cells=cells)


def to_page(page: Page) -> ocr_pb2.Page:
    blocks = [
        ocr_pb2.Block(
            bbox=block.bbox,
            kind=block.kind,
            table=_table(block.table),
            lines=[
                ocr_pb2.Line(
                    text=line.text,
                    bbox=line.bbox,
                    confidence=line.confidence,
                    words=[ocr_pb2.Word(text=w.text, bbox=w.bbox, confidence=w.confidence) for w in line.words],
                    script=line.script or "",
                    engine=line.engine or "",
                )
                for line in block.lines
            ],
        )
        for block in page.blocks
    ]
    fields = [
        ocr_pb2.FormField(
            key=f.key, value=f.value, key_bbox=f.key_bbox, value_bbox=f.value_bbox or (), confidence=f.confidence
        )
        for f in page.fields
    ]
    return ocr_pb2.Page(
        index=page.index,
        width=page.width,
        height=page.height,
        dpi=page.dpi,
        engine=page.engine,
        text=page.text,
        blocks=blocks,
        fields=fields,
        checkboxes=[ocr_pb2.Checkbox(label=c.label, checked=c.checked, bbox=c.bbox) for c in page.checkboxes],
        warnings=page.warnings,
    )


class OCRService(Authenticated, ocr_pb2_grpc.OCRServiceServicer):
    def __init__(self, submissions: Submissions, credentials: Credentials) -> None:
        super().__init__(credentials)
        self.subs = submissions

    async def _one(self, request: ocr_pb2.DocumentRequest, tenant: str) -> ocr_pb2.OCRResponse:
        t0 = time.perf_counter()
        response = ocr_pb2.OCRResponse(request_id=request.request_id)
        try:
            options = {
                "lang": "+".join(request.languages) or None,
                "engine": request.engine or None,
                "dpi": str(request.dpi) if request.dpi else None,
            }
            job_id = await self.subs.submit_bytes(
                request.content,
                request.filename or "document",
                "ocr",
                {k: v for k, v in options.items() if v},
                tenant=tenant,
            )
            response.job_id = job_id
            record = await self.subs.wait(job_id, self.subs.settings.wait_max, tenant)
            if record.state is JobState.failed:
                error = record.error
                response.error.CopyFrom(
                    ocr_pb2.Error(
                        code=error.code if error else ErrorCode.FAILED,
                        message=error.message if error else "the job failed",
                    )
                )
            elif record.state is not JobState.succeeded:
                response.error.CopyFrom(
                    ocr_pb2.Error(code=ErrorCode.TIMEOUT, message=f"job {job_id} is still {record.state}")
                )
            else:
                document = await self.subs.document(record)
                response.pages.extend(to_page(p) for p in document.pages)
                response.text = document.text
                response.markdown = to_markdown(document)
                response.ok = True
        except StreamProcessError as e:
            response.error.CopyFrom(ocr_pb2.Error(code=e.code, message=e.message))
        response.seconds = time.perf_counter() - t0
        return response

    async def ProcessDocument(
        self, request: ocr_pb2.DocumentRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> ocr_pb2.OCRResponse:
        tenant = await self._authenticate(context)
        return await self._one(request, tenant)

    async def BatchProcess(
        self, request_iterator: AsyncIterator[ocr_pb2.DocumentRequest], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[ocr_pb2.OCRResponse]:
        tenant = await self._authenticate(context, request_iterator)
        done: asyncio.Queue[ocr_pb2.OCRResponse | None] = asyncio.Queue()
        tasks: set[asyncio.Task[None]] = set()

        async def answer(request: ocr_pb2.DocumentRequest) -> None:
            await done.put(await self._one(request, tenant))

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
