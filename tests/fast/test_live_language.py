"""A live stream asking for a language or a task its model cannot do is refused as the CLI and jobs refuse it
(``unsupported_language``; ``unsupported_task`` for ``translate`` on an English-only model: the one check in
:func:`streamprocess.stt.models.check_language`): by the pool, and through both doors, the WebSocket
``/v1/stt/stream`` (close 1007) and gRPC's StreamingRecognize (INVALID_ARGUMENT), served here in this process by
uvicorn and grpc.aio on free ports, over a scripted decoder (no model). A stream's task reaches the decoder, and its
finals carry the language the decoder reported and that language's probability, on both doors."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import grpc
import numpy as np
import pytest
import uvicorn
import websockets

from infra.local_services import free_port
from streamprocess import grpc_server
from streamprocess.errors import ErrorCode
from streamprocess.live.client import caption
from streamprocess.live.decoder import DecodeRequest, Hypothesis
from streamprocess.live.limits import PoolSettings
from streamprocess.live.pcm import to_s16le
from streamprocess.live.pool import LivePool
from streamprocess.live.protocol import ProtocolError, StreamConfig
from streamprocess.runtime import Runtime
from streamprocess.tenants import Credentials
from streamprocess.v1 import stt_pb2, stt_pb2_grpc
from tests.fast.conftest import KEY
from tests.fast.test_live_session import ScriptedDecoder, script, speak


class EnglishOnly(ScriptedDecoder):
    """Says what it can do as WhisperDecoder does: English-only, like the bundled tiny.en."""

    multilingual = False
    supported_languages = ["en"]


class Multilingual(ScriptedDecoder):
    multilingual = True
    supported_languages = ["en", "fr", "ko"]


async def test_the_pool_refuses_a_language_the_model_cannot_do() -> None:
    pool = LivePool(PoolSettings(max_streams=2), decoder=EnglishOnly(script("Hello.")))
    multi = LivePool(PoolSettings(model="base", max_streams=2), decoder=Multilingual(script("Bonjour.")))
    try:
        async with pool.admit() as admission:
            with pytest.raises(ProtocolError) as e:
                admission.open(StreamConfig(language="fr"))
            assert e.value.code == ErrorCode.UNSUPPORTED_LANGUAGE
            assert "English-only" in e.value.message and "'fr'" in e.value.message
        for language in (None, "en", "EN", "auto"):
            async with pool.admit() as admission:
                assert admission.open(StreamConfig(language=language)).config.language in (None, "en")
        async with pool.admit() as admission:
            with pytest.raises(ProtocolError) as e:
                admission.open(StreamConfig(task="translate"))
            assert e.value.code == ErrorCode.UNSUPPORTED_TASK and "cannot translate" in e.value.message
        async with multi.admit() as admission:
            admission.open(StreamConfig(language="fr"))
        async with multi.admit() as admission:
            assert admission.open(StreamConfig(task="translate")).config.task == "translate"
        async with multi.admit() as admission:
            with pytest.raises(ProtocolError) as e:
                admission.open(StreamConfig(language="xx"))
            assert e.value.code == ErrorCode.UNSUPPORTED_LANGUAGE
        assert not pool.active and not multi.active  # refused streams hold no slot
    finally:
        await pool.close()
        await multi.close()


@contextlib.asynccontextmanager
async def doors(runtime: Runtime, pool: LivePool) -> AsyncIterator[tuple[int, int]]:
    """The HTTP API (uvicorn) and gRPC over ``pool``; yields their ports."""
    from streamprocess.api import create_app

    http_port, grpc_port = free_port(), free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(runtime, {KEY: "acme"}, live=pool), port=http_port, lifespan="off", log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    grpc_srv = await grpc_server.start(
        runtime.submissions(), Credentials({KEY: "acme"}, []), "127.0.0.1", grpc_port, live=pool
    )
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        yield http_port, grpc_port
    finally:
        await grpc_srv.stop(None)
        server.should_exit = True
        await serving


@pytest.mark.parametrize(
    ("asked", "code", "said"),
    [
        ({"language": "fr"}, "unsupported_language", "English-only"),
        ({"task": "translate"}, "unsupported_task", "cannot translate"),
    ],
)
async def test_both_live_doors_refuse_what_the_english_only_model_cannot_do(
    runtime: Runtime, asked: dict[str, str], code: str, said: str
) -> None:
    pool = runtime.live_pool(decoder=EnglishOnly(script("Hello.")))
    assert pool is not None
    try:
        async with doors(runtime, pool) as (http_port, grpc_port):
            url = f"ws://127.0.0.1:{http_port}/v1/stt/stream"
            async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
                await ws.send(json.dumps({"sample_rate": 16000, **asked}))
                error = json.loads(await ws.recv())
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await ws.recv()
            assert error["type"] == "error" and error["code"] == code, error
            assert said in error["message"]
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007

            async def chunks() -> AsyncIterator[stt_pb2.AudioChunk]:
                yield stt_pb2.AudioChunk(config=stt_pb2.StreamConfig(sample_rate=16000, **asked))
                yield stt_pb2.AudioChunk(stop=True)

            async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                call = stt_pb2_grpc.STTServiceStub(channel).StreamingRecognize(
                    chunks(), metadata=(("authorization", f"Bearer {KEY}"),), timeout=30
                )
                with pytest.raises(grpc.aio.AioRpcError) as refused:
                    [e async for e in call]
            assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert said in (refused.value.details() or "")

            # English (or no language) still streams on both
            async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {KEY}"}) as ws:
                await ws.send(json.dumps({"sample_rate": 16000, "language": "en"}))
                assert json.loads(await ws.recv())["type"] == "ready"
                await ws.send(json.dumps({"type": "stop"}))
                while json.loads(await ws.recv())["type"] != "closed":
                    pass
            assert not pool.active
    finally:
        await pool.close()


class Detecting(Multilingual):
    """Hears German it translates, as Whisper's detection would report it, and keeps the tasks it was asked."""

    supported_languages = ["en", "de"]

    def __init__(self, words: dict[int, str]) -> None:
        super().__init__(words)
        self.tasks: list[str] = []

    def decode(self, requests: list[DecodeRequest]) -> list[Hypothesis]:
        self.tasks += [r.task for r in requests]
        hyps = super().decode(requests)
        for h, r in zip(hyps, requests, strict=True):
            h.language, h.language_probability = (r.language, 1.0) if r.language else ("de", 0.97)
        return hyps


async def test_a_translated_stream_s_finals_carry_its_language_on_both_doors(runtime: Runtime) -> None:
    words = script("Hello there.")
    decoder = Detecting(words)
    pool = runtime.live_pool(decoder=decoder)
    assert pool is not None
    audio = np.concatenate([speak(words), np.zeros(8000, np.float32)])
    config = {"vad": {"enabled": False}, "task": "translate"}
    try:
        async with doors(runtime, pool) as (http_port, grpc_port):
            ws = await caption(f"ws://127.0.0.1:{http_port}/v1/stt/stream", KEY, audio, speed=20, config=config)
            finals = ws.of("final")
            assert finals and " ".join(f["text"] for f in finals) == "Hello there.", ws.events
            assert all(f["language"] == "de" and f["language_probability"] == 0.97 for f in finals), finals
            assert decoder.tasks and set(decoder.tasks) == {"translate"}, decoder.tasks

            async def chunks() -> AsyncIterator[stt_pb2.AudioChunk]:
                vad = stt_pb2.VadConfig(enabled=False)
                yield stt_pb2.AudioChunk(config=stt_pb2.StreamConfig(sample_rate=16000, language="de", vad=vad))
                pcm = to_s16le(audio)
                for i in range(0, len(pcm), 3200):
                    yield stt_pb2.AudioChunk(audio=pcm[i : i + 3200])
                yield stt_pb2.AudioChunk(stop=True)

            decoder.tasks.clear()
            async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                call = stt_pb2_grpc.STTServiceStub(channel).StreamingRecognize(
                    chunks(), metadata=(("authorization", f"Bearer {KEY}"),), timeout=30
                )
                events = [e async for e in call]
            grpc_finals = [e for e in events if e.is_final]
            assert grpc_finals and " ".join(e.text for e in grpc_finals) == "Hello there.", events
            # the language given: the finals say it, with probability 1.0; the task left unset is transcribe
            assert all(e.language == "de" and e.language_probability == 1.0 for e in grpc_finals), grpc_finals
            assert all(e.HasField("language_probability") for e in grpc_finals)
            assert set(decoder.tasks) == {"transcribe"}, decoder.tasks
    finally:
        await pool.close()
