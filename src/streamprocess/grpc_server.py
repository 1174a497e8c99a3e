"""The gRPC front door on grpc.aio: ``streamprocess.v1.OCRService`` (ProcessDocument, BatchProcess) and
``streamprocess.v1.STTService`` (StreamingRecognize).

Each OCR document becomes an ordinary OCR job through :class:`~streamprocess.submit.Submissions` (stored, queued,
processed by the workers), and the answer is read from its ``ocr.json``. A StreamingRecognize call is a live
captioning stream on the same hot pool as the WebSocket (:mod:`streamprocess.live`). The API key travels as the
metadata ``authorization: Bearer <key>``: none or an unknown one is UNAUTHENTICATED, the events token
PERMISSION_DENIED; a full live pool is RESOURCE_EXHAUSTED.

A refused client stream is drained before its status goes out (:func:`drain`): a grpc.aio client whose write is
still in flight when the status arrives replaces that status with ``INTERNAL: Internal error from Core``
(grpc/grpc#36066). The drain is bounded (``DRAIN_MESSAGES``, ``DRAIN_BYTES``, ``DRAIN_SECONDS``), so a client that
never stops sending cannot hold the server; such a client may still be told INTERNAL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import json_format

from .api.auth import credential
from .config import Settings
from .errors import ExitCode, StartupError, StreamProcessError
from .jobs import JobState
from .live.protocol import PoolFull, ProtocolError, parse_config
from .submit import Submissions
from .v1 import ocr_pb2, ocr_pb2_grpc, stt_pb2, stt_pb2_grpc

if TYPE_CHECKING:
    from .live.pool import LivePool
    from .live.session import LiveSession

log = logging.getLogger(__name__)
CONFIG_TIMEOUT = 10.0
# How much of a refused (or finished) client stream is read and discarded before the status is sent: until the
# client half-closes, or at most this many messages, bytes or seconds.
DRAIN_MESSAGES = 256
DRAIN_BYTES = 64 << 20
DRAIN_SECONDS = 2.0


async def drain(requests: AsyncIterator[Any], seconds: float = DRAIN_SECONDS) -> bool:
    """Reads and discards a client stream until the client half-closes (True) or a bound is reached (False).

    Sending a status while the client is still writing makes a grpc.aio client report INTERNAL instead of that
    status (grpc/grpc#36066); once the client has half-closed, no write of its can race the status."""
    deadline = time.monotonic() + seconds
    iterator = aiter(requests)
    messages = size = 0
    while messages < DRAIN_MESSAGES and size < DRAIN_BYTES:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            message = await asyncio.wait_for(anext(iterator), left)
        except StopAsyncIteration:
            return True
        except TimeoutError:
            return False
        except grpc.RpcError:  # the client cancelled, or the call is over
            return True
        messages += 1
        size += message.ByteSize()
    return False


def to_page(page: dict[str, Any]) -> ocr_pb2.Page:
    blocks = []
    for block in page["blocks"]:
        lines = [
            ocr_pb2.Line(
                text=line["text"],
                bbox=line["bbox"],
                confidence=line["confidence"],
                words=[
                    ocr_pb2.Word(text=w["text"], bbox=w["bbox"], confidence=w["confidence"])
                    for w in line.get("words", [])
                ],
            )
            for line in block["lines"]
        ]
        blocks.append(ocr_pb2.Block(bbox=block["bbox"], kind=block.get("kind", "text"), lines=lines))
    text = "\n\n".join("\n".join(line["text"] for line in b["lines"]) for b in page["blocks"] if b["lines"])
    return ocr_pb2.Page(
        index=page["index"],
        width=page["width"],
        height=page["height"],
        dpi=page["dpi"],
        engine=page["engine"],
        text=text,
        blocks=blocks,
    )


class _Authenticated:
    def __init__(self, settings: Settings, api_keys: Mapping[str, str]) -> None:
        self.api_keys = api_keys  # key -> tenant
        self.events_tokens = settings.events_token_list()

    @staticmethod
    async def _first(requests: AsyncIterator[Any], timeout: float | None = None) -> Any | None:
        """A client stream's first message, or None when it ends (or sends nothing in ``timeout`` s) first."""
        try:
            return await asyncio.wait_for(anext(aiter(requests)), timeout)
        except (StopAsyncIteration, TimeoutError):
            return None

    @staticmethod
    async def _refuse(
        context: grpc.aio.ServicerContext,
        code: grpc.StatusCode,
        details: str,
        requests: AsyncIterator[Any] | None = None,
    ) -> None:
        """Ends the call with ``code``; a client stream (``requests``) is drained first (bounded, see
        :func:`drain`) so that a grpc.aio client gets ``code`` and not INTERNAL. Every refusal of a streaming call
        goes through here."""
        if requests is not None:
            await drain(requests)
        await context.abort(code, details)

    async def _authenticate(self, context: grpc.aio.ServicerContext, requests: AsyncIterator[Any] | None = None) -> str:
        """Checks the metadata's API key and returns its tenant; pass a streaming call's ``requests`` so a refusal
        drains them."""
        metadata = dict(context.invocation_metadata() or ())
        scheme, _, token = str(metadata.get("authorization", "")).partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            await self._refuse(
                context, grpc.StatusCode.UNAUTHENTICATED, "send metadata authorization: Bearer <API key>", requests
            )
        caller = credential(token, self.api_keys, self.events_tokens)
        if caller is not None and caller.kind == "events":
            await self._refuse(
                context, grpc.StatusCode.PERMISSION_DENIED, "the events token cannot call this service", requests
            )
        if caller is None or caller.tenant is None:
            await self._refuse(context, grpc.StatusCode.UNAUTHENTICATED, "unknown API key", requests)
            raise AssertionError("unreachable: abort raises")
        return caller.tenant


class OCRService(_Authenticated, ocr_pb2_grpc.OCRServiceServicer):
    def __init__(self, submissions: Submissions, api_keys: Mapping[str, str]) -> None:
        super().__init__(submissions.settings, api_keys)
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
                        code=error.code if error else "failed", message=error.message if error else "the job failed"
                    )
                )
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

    async def ProcessDocument(
        self, request: ocr_pb2.DocumentRequest, context: grpc.aio.ServicerContext
    ) -> ocr_pb2.OCRResponse:
        tenant = await self._authenticate(context)
        return await self._one(request, tenant)

    async def BatchProcess(
        self, request_iterator: AsyncIterator[ocr_pb2.DocumentRequest], context: grpc.aio.ServicerContext
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


def to_event(event: dict[str, Any]) -> stt_pb2.TranscriptEvent:
    message = json_format.ParseDict(event, stt_pb2.TranscriptEvent(), ignore_unknown_fields=True)
    message.is_final = event["type"] == "final"
    return message


class STTService(_Authenticated, stt_pb2_grpc.STTServiceServicer):
    """Live captions: the first AudioChunk holds the config, then audio; events stream back."""

    def __init__(self, live: LivePool | None, settings: Settings, api_keys: Mapping[str, str]) -> None:
        super().__init__(settings, api_keys)
        self.live = live

    async def StreamingRecognize(
        self, request_iterator: AsyncIterator[stt_pb2.AudioChunk], context: grpc.aio.ServicerContext
    ) -> AsyncIterator[stt_pb2.TranscriptEvent]:
        tenant = await self._authenticate(context, request_iterator)
        if self.live is None:
            await self._refuse(
                context, grpc.StatusCode.UNAVAILABLE, "live captioning is off on this server", request_iterator
            )
        first: stt_pb2.AudioChunk | None = await self._first(request_iterator, CONFIG_TIMEOUT)
        if first is None:  # the client half-closed, or sent nothing for CONFIG_TIMEOUT s: nothing to drain
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no config: send an AudioChunk with config first")
        if first.WhichOneof("payload") != "config":  # type: ignore[union-attr]
            await self._refuse(
                context,
                grpc.StatusCode.INVALID_ARGUMENT,
                "the first AudioChunk must carry the config",
                request_iterator,
            )
        try:
            config = parse_config(
                json_format.MessageToDict(
                    first.config,  # type: ignore[union-attr]
                    preserving_proto_field_name=True,
                )
            )
        except ProtocolError as e:
            await self._refuse(context, grpc.StatusCode.INVALID_ARGUMENT, e.message, request_iterator)
        try:
            async with self.live.admit() as admission:  # type: ignore[union-attr]
                session = admission.open(config, tenant=tenant)
                reader = asyncio.create_task(self._read(request_iterator, session))
                try:
                    while True:
                        event = await session.next_event()
                        yield to_event(event)
                        if event["type"] == "closed":
                            break
                    # Before the status: let the reader see the client's half-close (or drain what it still
                    # sends after an error), so no write of the client's races the status (grpc/grpc#36066).
                    await asyncio.wait({reader}, timeout=DRAIN_SECONDS)
                finally:
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
        except PoolFull as e:
            await self._refuse(context, grpc.StatusCode.RESOURCE_EXHAUSTED, e.message, request_iterator)

    @staticmethod
    async def _read(chunks: AsyncIterator[stt_pb2.AudioChunk], session: LiveSession) -> None:
        """Audio in until ``stop``, the client's half-close or a protocol error; after a stop or an error whatever
        the client still sends is drained (bounded) and discarded."""
        async for chunk in chunks:
            if session.closed.is_set():  # the stream ended on the server's side (idle, failure)
                break
            kind = chunk.WhichOneof("payload")
            if kind == "audio":
                try:
                    await session.feed(chunk.audio)
                except ProtocolError as e:
                    await session.fail(e.code, e.message)
                    break
            elif kind == "stop":
                await session.stop()
                break
            else:
                await session.fail("bad_request", "only the first AudioChunk may carry a config")
                break
        else:
            await session.stop()  # the client closed its side
            return
        await drain(chunks)


async def start(
    submissions: Submissions, api_keys: Mapping[str, str], host: str, port: int, live: LivePool | None = None
) -> grpc.aio.Server:
    """Serves both services on ``host:port``; raises :class:`StartupError` (PORT_IN_USE) when it cannot bind."""
    limit = submissions.settings.upload_max_size + (1 << 20)
    # grpc sets SO_REUSEPORT by default: a second server on the same port would bind too and take half the calls.
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", 64 << 20),
            ("grpc.so_reuseport", 0),
        ]
    )
    ocr_pb2_grpc.add_OCRServiceServicer_to_server(OCRService(submissions, api_keys), server)
    stt_pb2_grpc.add_STTServiceServicer_to_server(STTService(live, submissions.settings, api_keys), server)
    address = f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)  # grpcio raises RuntimeError (older ones returned 0)
    except RuntimeError:
        bound = 0
    if not bound:  # one line: grpc's core has logged another saying why
        raise StartupError(
            ExitCode.PORT_IN_USE,
            f"gRPC port {port} on {host} is in use (or cannot be listened on); "
            "set STREAMPROCESS_GRPC_PORT to a free port (0 turns gRPC off).",
        )
    await server.start()
    return server
