"""The Realtime door in-process: the app under uvicorn on a free port over a pool with the scripted decoder (no
model), reached by the real ``openai`` SDK's realtime client and by plain ``websockets`` for what the SDK hides
(subprotocols, close codes). Authentication, the intent, admission and refusals; the live pool's own behaviour is
test_live_session's, the real model's tests/test_realtime.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
import websockets
from openai import AsyncOpenAI

from infra.local_services import free_port
from streamprocess.api import create_app
from streamprocess.live.limits import PoolSettings
from streamprocess.live.pool import LivePool
from streamprocess.runtime import Runtime
from streamprocess.tenants import Credentials
from tests.fast.conftest import KEY
from tests.fast.test_live_language import EnglishOnly
from tests.fast.test_live_session import LIMITS, script, speak
from tests.realtime import b64, check, pcm16

EVENTS_TOKEN = "events-tok"
WORDS = script("Hello from the door.")


@contextlib.asynccontextmanager
async def door(runtime: Runtime, pool: LivePool | None) -> AsyncIterator[str]:
    """The HTTP API over ``pool`` under uvicorn; yields its base URL (``http://127.0.0.1:PORT``)."""
    app = create_app(runtime, {KEY: "acme"}, live=pool)
    app.state.credentials = Credentials({KEY: "acme"}, [EVENTS_TOKEN])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, lifespan="off", log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        if pool is not None:
            await pool.close()


def english_pool(max_streams: int = 4) -> LivePool:
    return LivePool(PoolSettings(max_streams=max_streams, session=LIMITS), decoder=EnglishOnly(WORDS))


async def raw(url: str, **connect: Any) -> tuple[list[dict[str, Any]], int | None, str | None]:
    """Connects with ``websockets``, reads every event until the server closes; the events, close code, subprotocol."""
    async with websockets.connect(url.replace("http", "ws", 1), **connect) as ws:
        events = []
        with contextlib.suppress(websockets.ConnectionClosed):
            async for message in ws:
                events.append(check(json.loads(message)))
        return events, ws.close_code, ws.subprotocol


async def test_the_sdk_transcribes_over_the_door(runtime: Runtime) -> None:
    pool = english_pool()
    async with door(runtime, pool) as base:
        client = AsyncOpenAI(api_key=KEY, base_url=f"{base}/v1")
        async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
            created = await conn.recv()
            assert created.type == "session.created"
            await conn.session.update(
                session={
                    "type": "transcription",
                    "audio": {
                        "input": {
                            "format": {"type": "audio/pcm", "rate": 16000},
                            "transcription": {"model": "whisper-1", "language": "en"},
                            "turn_detection": None,
                        }
                    },
                }
            )
            updated = await conn.recv()
            assert updated.type == "session.updated"
            assert updated.session.audio.input.transcription.model == "whisper-1"  # echoed as named
            audio = speak(WORDS)
            for i in range(0, audio.size, 1600):
                await conn.input_audio_buffer.append(audio=b64(pcm16(audio[i : i + 1600], 16000)))
            assert len(pool.active) == 1  # a Realtime session holds a slot of the one live pool
            await conn.input_audio_buffer.commit()
            seen = []
            async for event in conn:
                seen.append(event)
                if event.type == "conversation.item.input_audio_transcription.completed":
                    break
        assert seen[-1].transcript == "Hello from the door."
        assert "input_audio_buffer.committed" in [e.type for e in seen]
        for _ in range(100):  # the slot comes back once the connection is gone
            if not pool.active:
                break
            await asyncio.sleep(0.02)
        assert not pool.active


async def test_browsers_authenticate_with_the_key_subprotocol(runtime: Runtime) -> None:
    async with door(runtime, english_pool()) as base:
        url = f"{base}/v1/realtime?intent=transcription"
        async with websockets.connect(
            url.replace("http", "ws", 1), subprotocols=["realtime", f"openai-insecure-api-key.{KEY}"]
        ) as ws:
            assert ws.subprotocol == "realtime"  # accepted as OpenAI accepts it
            assert check(json.loads(await ws.recv()))["type"] == "session.created"
        # the beta's subprotocol marks a beta client, as its OpenAI-Beta header does
        protocols = ["realtime", f"openai-insecure-api-key.{KEY}", "openai-beta.realtime-v1"]
        async with websockets.connect(url.replace("http", "ws", 1), subprotocols=protocols) as ws:
            assert check(json.loads(await ws.recv()))["type"] == "transcription_session.created"
        headers = {"Authorization": f"Bearer {KEY}", "OpenAI-Beta": "realtime=v1"}
        async with websockets.connect(url.replace("http", "ws", 1), additional_headers=headers) as ws:
            assert ws.subprotocol is None
            assert check(json.loads(await ws.recv()))["type"] == "transcription_session.created"


@pytest.mark.parametrize(
    ("query", "connect", "code", "close"),
    [
        ("?intent=transcription", {}, "unauthenticated", 1008),
        ("?intent=transcription", {"additional_headers": {"Authorization": "Bearer nope"}}, "unauthenticated", 1008),
        (
            "?intent=transcription",
            {"subprotocols": ["realtime", "openai-insecure-api-key.nope"]},
            "unauthenticated",
            1008,
        ),
        (
            "?intent=transcription",
            {"additional_headers": {"Authorization": f"Bearer {EVENTS_TOKEN}"}},
            "forbidden",
            1008,
        ),
        ("", {"additional_headers": {"Authorization": f"Bearer {KEY}"}}, "bad_request", 1007),
        ("?model=gpt-realtime", {"additional_headers": {"Authorization": f"Bearer {KEY}"}}, "bad_request", 1007),
    ],
)
async def test_refusals_are_error_events_then_a_close(
    runtime: Runtime, query: str, connect: dict[str, Any], code: str, close: int
) -> None:
    async with door(runtime, english_pool()) as base:
        events, close_code, _ = await raw(f"{base}/v1/realtime{query}", **connect)
    assert [e["type"] for e in events] == ["error"] and events[0]["error"]["code"] == code
    assert close_code == close
    if code == "bad_request":
        assert events[0]["error"]["param"] == "intent" and "intent=transcription" in events[0]["error"]["message"]


async def test_a_full_pool_and_live_off_refuse_at_once(runtime: Runtime) -> None:
    auth = {"additional_headers": {"Authorization": f"Bearer {KEY}"}}
    pool = english_pool(max_streams=1)
    async with door(runtime, pool) as base:
        url = f"{base}/v1/realtime?intent=transcription".replace("http", "ws", 1)
        async with websockets.connect(url, **auth) as holder:
            assert json.loads(await holder.recv())["type"] == "session.created"
            events, close_code, _ = await raw(url, **auth)
            assert close_code == 1013 and [e["error"]["code"] for e in events] == ["pool_full"]
            assert "limit of 1" in events[0]["error"]["message"]
    async with door(runtime, None) as base:
        events, close_code, _ = await raw(f"{base}/v1/realtime?intent=transcription", **auth)
        assert close_code == 1008 and [e["error"]["code"] for e in events] == ["live_disabled"]


async def test_french_on_an_english_only_model_is_refused_and_the_session_goes_on(runtime: Runtime) -> None:
    async with door(runtime, english_pool()) as base:
        client = AsyncOpenAI(api_key=KEY, base_url=f"{base}/v1")
        async with client.realtime.connect(extra_query={"intent": "transcription"}) as conn:
            await conn.recv()
            french = {"type": "transcription", "audio": {"input": {"transcription": {"language": "fr"}}}}
            await conn.session.update(session=french, event_id="fr-1")
            error = await conn.recv()
            assert error.type == "error" and error.error.code == "unsupported_language"
            assert error.error.event_id == "fr-1" and "English-only" in error.error.message
            assert error.error.param == "session.audio.input.transcription.language"
            await conn.send({"type": "input_audio_buffer.nonsense"})
            error = await conn.recv()
            assert error.type == "error" and error.error.param == "type"
            english = {"type": "transcription", "audio": {"input": {"transcription": {"language": "en"}}}}
            await conn.session.update(session=english)
            updated = await conn.recv()
            assert updated.type == "session.updated"
            assert updated.session.audio.input.transcription.language == "en"
