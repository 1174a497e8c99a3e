"""Live captioning over WebSocket (``/v1/stt/stream``) and the browser page (``/live``).

The API key comes as ``Authorization: Bearer <key>`` or, for browsers (which cannot set WebSocket headers), as
the ``token`` query parameter. Events go out as :func:`~streamprocess.live.events.to_json` of each; the close code
of each way a stream ends is in :mod:`.closes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from importlib import resources
from typing import TYPE_CHECKING

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response

from ...errors import ErrorCode
from ...live.events import Closed, Error, to_json
from ...live.protocol import CONFIG_TIMEOUT, PoolFull, ProtocolError, parse_config
from ...tenants import bearer_token
from ..deps import StreamRefused, stream_tenant
from .closes import close_code

if TYPE_CHECKING:
    from ...live.pool import LivePool
    from ...live.session import LiveSession

router = APIRouter(tags=["live"])


def _authenticate(ws: WebSocket) -> str:
    """The caller's tenant (a saved session becomes that tenant's job)."""
    token = bearer_token(ws.headers.get("authorization")) or ws.query_params.get("token", "")
    return stream_tenant(ws, token, "send Authorization: Bearer <API key> or ?token=<API key>")


async def _refuse(ws: WebSocket, refused: StreamRefused) -> None:
    with contextlib.suppress(Exception):
        await ws.send_json(to_json(Error(code=refused.code, message=refused.message)))
        await ws.close(close_code(refused.code), reason=refused.message[:120])


@router.websocket("/v1/stt/stream")
async def stream(ws: WebSocket) -> None:
    """Live captions: config frame, then PCM frames in; ready/partial/final/… events out."""
    await ws.accept()
    pool: LivePool | None = ws.app.state.live
    try:
        tenant = _authenticate(ws)
        if pool is None:
            raise StreamRefused(
                ErrorCode.LIVE_DISABLED, "live captioning is off on this server (STREAMPROCESS_LIVE_MAX_STREAMS=0)"
            )
    except StreamRefused as r:
        await _refuse(ws, r)
        return
    try:
        async with pool.admit() as admission:
            try:
                first = await asyncio.wait_for(ws.receive(), CONFIG_TIMEOUT)
            except TimeoutError:
                message = f"no config frame within {CONFIG_TIMEOUT:.0f} s"
                raise StreamRefused(ErrorCode.CONFIG_EXPECTED, message) from None
            if first["type"] == "websocket.disconnect":
                return
            try:
                config = parse_config(first["text"] if first.get("text") is not None else first.get("bytes", b""))
                session = admission.open(config, tenant=tenant)  # refuses a language the model cannot do
            except ProtocolError as e:
                raise StreamRefused(e.code, e.message) from None
            writer = asyncio.create_task(_send_events(ws, session))
            reader = asyncio.create_task(_read_frames(ws, session))
            done, _ = await asyncio.wait({writer, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done and reader.exception() is None and reader.result():
                await writer  # the client stopped, or sent something bad: the writer ends after "closed"
            else:  # the client went away, or the stream ended
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
                if writer not in done:
                    await session.abort()
                    writer.cancel()
                    await asyncio.gather(writer, return_exceptions=True)
            if writer.done() and not writer.cancelled() and writer.exception() is None:
                reason = writer.result()
                with contextlib.suppress(Exception):
                    await ws.close(close_code(reason), reason=reason[:120])
    except PoolFull as e:
        await _refuse(ws, StreamRefused(e.code, e.message))
    except StreamRefused as r:
        await _refuse(ws, r)
    except WebSocketDisconnect:
        pass


async def _read_frames(ws: WebSocket, session: LiveSession) -> bool:
    """Frames in: audio to the session, ``{"type": "stop"}`` to finish. True when the stream ends in an orderly
    way (stop, or a protocol error that ``closed`` will report), False when the client went away.

    This loop never waits on the session: the WebSocket answers the client's keepalive pings only while it reads,
    and they queue behind the audio, so a server that stopped reading while the stream was behind would be cut off
    with 1011. Audio beyond the session's backlog is dropped instead, and said (``warning`` ``audio_dropped``)."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return False
        if message.get("bytes") is not None:
            try:
                session.offer(message["bytes"])
            except ProtocolError as e:
                await session.fail(e.code, e.message)
                return True
            continue
        try:
            control = json.loads(message.get("text") or "")
        except ValueError:
            control = None
        kind = control.get("type") if isinstance(control, dict) else None
        if kind == "stop":
            await session.stop()
            return True
        await session.fail(ErrorCode.BAD_REQUEST, 'text frames after the config must be {"type": "stop"}')
        return True


async def _send_events(ws: WebSocket, session: LiveSession) -> str:
    """Events out until ``closed``; returns the close reason."""
    while True:
        event = await session.next_event()
        await ws.send_text(json.dumps(to_json(event)))
        if isinstance(event, Closed):
            return event.reason


@router.get("/live", include_in_schema=False)
async def live_page() -> HTMLResponse:
    """The browser captioning page: microphone → AudioWorklet → 16 kHz PCM → WebSocket → captions."""
    return HTMLResponse(resources.files("streamprocess.api").joinpath("static/live.html").read_text("utf-8"))


@router.get("/live/pcm-worklet.js", include_in_schema=False)
async def live_worklet() -> Response:
    js = resources.files("streamprocess.api").joinpath("static/pcm-worklet.js").read_text("utf-8")
    return Response(js, media_type="text/javascript")
