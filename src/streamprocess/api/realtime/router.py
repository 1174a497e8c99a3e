"""OpenAI's Realtime API for live transcription: the WebSocket ``/v1/realtime?intent=transcription``, on the same
hot pool as ``/v1/stt/stream`` and gRPC (the same admission, limits and metrics).

The API key comes as ``Authorization: Bearer <key>`` or, from a browser (which cannot set WebSocket headers), as
the subprotocol ``openai-insecure-api-key.<key>`` beside ``realtime``, as OpenAI's own browser clients send them;
the connection is then accepted with the subprotocol ``realtime``. A refusal is an ``error`` event (OpenAI's
shape, our error code) and the close code :mod:`..live.closes` gives that code. The events themselves are
:mod:`.service`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from ...errors import ErrorCode
from ...live.events import Closed
from ...live.protocol import PoolFull
from ...tenants import bearer_token
from ..deps import StreamRefused, stream_tenant
from ..live.closes import close_code
from .protocol import SessionState, error_event
from .service import Event, RealtimeService

if TYPE_CHECKING:
    from ...live.session import LiveSession

router = APIRouter(tags=["realtime"])

KEY_PROTOCOL = "openai-insecure-api-key."
BETA_PROTOCOL = "openai-beta.realtime-v1"
REPLIES = 64  # replies (errors, session.updated) waiting for the writer before the reader waits too


def _authenticate(ws: WebSocket, offered: list[str]) -> str:
    """The caller's tenant, from the bearer header or the browser's key subprotocol."""
    token = bearer_token(ws.headers.get("authorization"))
    if token is None:
        token = next((p.removeprefix(KEY_PROTOCOL) for p in offered if p.startswith(KEY_PROTOCOL)), None)
    how = (
        "send Authorization: Bearer <API key> or, from a browser, the WebSocket subprotocols realtime and "
        "openai-insecure-api-key.<API key>"
    )
    return stream_tenant(ws, token, how)


async def _send(ws: WebSocket, event: Event) -> None:
    await ws.send_text(json.dumps(event))


async def _refuse(ws: WebSocket, refused: StreamRefused) -> None:
    with contextlib.suppress(Exception):
        await _send(ws, error_event(refused.code, refused.message, param=refused.param))
        await ws.close(close_code(refused.code), reason=refused.message[:120])


@router.websocket("/v1/realtime")
async def realtime(ws: WebSocket) -> None:
    """A Realtime transcription session: JSON client events in, JSON server events out."""
    offered: list[str] = list(ws.scope.get("subprotocols") or [])
    await ws.accept(subprotocol="realtime" if "realtime" in offered else None)
    pool = ws.app.state.live
    beta = ws.headers.get("openai-beta", "").replace(" ", "").lower() == "realtime=v1" or BETA_PROTOCOL in offered
    try:
        tenant = _authenticate(ws, offered)
        intent = ws.query_params.get("intent")
        if intent != "transcription":
            raise StreamRefused(
                ErrorCode.BAD_REQUEST,
                f"intent {intent!r} is not served here: connect to /v1/realtime?intent=transcription "
                "(this server runs transcription sessions only)",
                param="intent",
            )
        if pool is None:
            raise StreamRefused(
                ErrorCode.LIVE_DISABLED, "live transcription is off on this server (STREAMPROCESS_LIVE_MAX_STREAMS=0)"
            )
        async with pool.admit() as admission:
            state = SessionState()
            session = admission.open(state.stream_config(), tenant=tenant)
            session.report_turns()
            service = RealtimeService(session, pool.check, state=state, beta=beta)
            await _serve(ws, session, service)
    except PoolFull as e:
        await _refuse(ws, StreamRefused(e.code, e.message))
    except StreamRefused as r:
        await _refuse(ws, r)
    except WebSocketDisconnect:
        pass


async def _serve(ws: WebSocket, session: LiveSession, service: RealtimeService) -> None:
    replies: asyncio.Queue[list[Event]] = asyncio.Queue(REPLIES)
    writer = asyncio.create_task(_write(ws, session, service, replies))
    reader = asyncio.create_task(_read(ws, service, replies))
    done, _ = await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
    if writer in done:  # the stream ended (idle, or failed): close with its reason
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        if not writer.cancelled() and writer.exception() is None:
            reason = writer.result()
            with contextlib.suppress(Exception):
                await ws.close(close_code(reason), reason=reason[:120])
    else:  # the client went away
        await session.abort()
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


async def _read(ws: WebSocket, service: RealtimeService, replies: asyncio.Queue[list[Event]]) -> None:
    """Client events until the client goes away. Never waits on the stream (the WebSocket answers the client's
    pings only while it reads); only on the writer, when the client reads none of the replies it provokes."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        answer = service.handle(message.get("text"))
        if answer:
            await replies.put(answer)


async def _write(
    ws: WebSocket, session: LiveSession, service: RealtimeService, replies: asyncio.Queue[list[Event]]
) -> str:
    """Server events (the greeting, replies, the stream's events) until the stream's ``closed``; its reason."""
    await _send(ws, service.greeting())
    live: asyncio.Future[Any] | None = None
    reply: asyncio.Future[list[Event]] | None = None
    try:
        while True:
            if live is None:
                live = asyncio.ensure_future(session.next_event())
            if reply is None:
                reply = asyncio.ensure_future(replies.get())
            done, _ = await asyncio.wait({live, reply}, return_when=asyncio.FIRST_COMPLETED)
            if reply in done:
                for event in reply.result():
                    await _send(ws, event)
                reply = None
            if live in done:
                got = live.result()
                live = None
                for event in service.translate(got):
                    await _send(ws, event)
                if isinstance(got, Closed):
                    return got.reason
    finally:
        for pending in (live, reply):
            if pending is not None:
                pending.cancel()
