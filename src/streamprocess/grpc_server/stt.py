"""``streamprocess.v1.STTService``: a StreamingRecognize call is a live captioning stream on the same hot pool as
the WebSocket (:mod:`streamprocess.live`). The first AudioChunk holds the config, then audio; each live event goes
back as a ``TranscriptEvent`` (:func:`to_event`; a final carries its language and that language's probability). A
config asking for a language or task the model cannot do (``translate`` on an English-only model) is
INVALID_ARGUMENT, as the WebSocket closes 1007; a full pool is RESOURCE_EXHAUSTED."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import json_format

from ..errors import ErrorCode
from ..live.events import (
    Closed,
    Error,
    Final,
    LiveEvent,
    Partial,
    Ready,
    SpeechStarted,
    SpeechStopped,
    StreamWarning,
)
from ..live.protocol import CONFIG_TIMEOUT, PoolFull, ProtocolError, parse_config
from ..tenants import Credentials
from ..v1 import stt_pb2, stt_pb2_grpc
from .refusals import DRAIN_SECONDS, Authenticated, drain, refuse

if TYPE_CHECKING:
    from ..live.pool import LivePool
    from ..live.session import LiveSession


def to_event(event: LiveEvent) -> stt_pb2.TranscriptEvent:
    """A live event as the ``TranscriptEvent`` gRPC sends: each field of the event in the field of its name."""
    message = stt_pb2.TranscriptEvent(type=event.type)
    match event:
        case Ready():
            message.session_id, message.model = event.session_id, event.model
            message.sample_rate, message.encoding = event.sample_rate, event.encoding
        case SpeechStarted() | SpeechStopped():
            message.time = event.time
        case Partial():
            message.text, message.start, message.end = event.text, event.start, event.end
            message.stability, message.audio_end = event.stability, event.audio_end
            if event.committed is not None:
                message.committed = event.committed
        case Final():
            message.is_final = True
            message.id, message.text, message.start, message.end = event.id, event.text, event.start, event.end
            message.audio_end = event.audio_end
            if event.language is not None:
                message.language = event.language
            if event.language_probability is not None:
                message.language_probability = event.language_probability
            message.words.extend(
                stt_pb2.TimedWord(word=w.word, start=w.start, end=w.end, probability=w.probability) for w in event.words
            )
        case StreamWarning():
            message.code, message.message = event.code, event.message
            if event.start is not None:
                message.start = event.start
            if event.end is not None:
                message.end = event.end
        case Error():
            message.code, message.message = event.code, event.message
        case Closed():
            message.reason, message.text = event.reason, event.text
            message.audio_seconds, message.dropped_seconds = event.audio_seconds, event.dropped_seconds
            message.finals, message.partials, message.decodes = event.finals, event.partials, event.decodes
            if event.job_id is not None:
                message.job_id = event.job_id
    return message


class STTService(Authenticated, stt_pb2_grpc.STTServiceServicer):
    """Live captions: the first AudioChunk holds the config, then audio; events stream back."""

    def __init__(self, live: LivePool | None, credentials: Credentials) -> None:
        super().__init__(credentials)
        self.live = live

    async def StreamingRecognize(
        self, request_iterator: AsyncIterator[stt_pb2.AudioChunk], context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[stt_pb2.TranscriptEvent]:
        tenant = await self._authenticate(context, request_iterator)
        if self.live is None:
            await refuse(context, ErrorCode.LIVE_DISABLED, "live captioning is off on this server", request_iterator)
        first = await _first(request_iterator, CONFIG_TIMEOUT)
        if first is None:  # the client half-closed, or sent nothing for CONFIG_TIMEOUT s: nothing to drain
            await refuse(context, ErrorCode.CONFIG_EXPECTED, "no config: send an AudioChunk with config first")
        if first.WhichOneof("payload") != "config":
            await refuse(
                context, ErrorCode.CONFIG_EXPECTED, "the first AudioChunk must carry the config", request_iterator
            )
        try:
            config = parse_config(json_format.MessageToDict(first.config, preserving_proto_field_name=True))
        except ProtocolError as e:
            await refuse(context, e.code, e.message, request_iterator)
        try:
            async with self.live.admit() as admission:
                try:
                    session = admission.open(config, tenant=tenant)  # refuses a language the model cannot do
                except ProtocolError as e:
                    await refuse(context, e.code, e.message, request_iterator)
                reader = asyncio.create_task(_read(request_iterator, session))
                try:
                    while True:
                        event = await session.next_event()
                        yield to_event(event)
                        if isinstance(event, Closed):
                            break
                    # Before the status: let the reader see the client's half-close (or drain what it still
                    # sends after an error), so no write of the client's races the status (grpc/grpc#36066).
                    await asyncio.wait({reader}, timeout=DRAIN_SECONDS)
                finally:
                    reader.cancel()
                    await asyncio.gather(reader, return_exceptions=True)
        except PoolFull as e:
            await refuse(context, e.code, e.message, request_iterator)


async def _first(requests: AsyncIterator[Any], timeout: float | None = None) -> Any | None:
    """A client stream's first message, or None when it ends (or sends nothing in ``timeout`` s) first."""
    try:
        return await asyncio.wait_for(anext(aiter(requests)), timeout)
    except (StopAsyncIteration, TimeoutError):
        return None


async def _read(chunks: AsyncIterator[stt_pb2.AudioChunk], session: LiveSession) -> None:
    """Audio in until ``stop``, the client's half-close or a protocol error; after a stop or an error whatever the
    client still sends is drained (bounded) and discarded."""
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
            await session.fail(ErrorCode.BAD_REQUEST, "only the first AudioChunk may carry a config")
            break
    else:
        await session.stop()  # the client closed its side
        return
    await drain(chunks)
