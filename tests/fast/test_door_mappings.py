"""Each door maps every error code once (HTTP status, gRPC status, WebSocket close code), every live event once
(JSON, TranscriptEvent), and reads bearer credentials one way."""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from streamprocess.api import create_app
from streamprocess.api.live import router as live_router
from streamprocess.api.live.closes import CLOSE_CODES, close_code
from streamprocess.api.problems import HTTP_STATUS
from streamprocess.config import Settings
from streamprocess.errors import ErrorCode
from streamprocess.grpc_server import start
from streamprocess.grpc_server.status import GRPC_STATUS
from streamprocess.grpc_server.stt import to_event
from streamprocess.live.events import (
    Closed,
    Error,
    Final,
    LiveEvent,
    Partial,
    Ready,
    SpeechStarted,
    SpeechStopped,
    StreamWarning,
    from_json,
    to_json,
)
from streamprocess.live.limits import PoolSettings
from streamprocess.live.pool import LivePool
from streamprocess.runtime import Runtime
from streamprocess.stt.types import Word
from streamprocess.tenants import Credentials, bearer_token
from streamprocess.v1 import stt_pb2, stt_pb2_grpc

from ..helpers import DeafDecoder

SRC = Path(__file__).resolve().parents[2] / "src" / "streamprocess"


@pytest.mark.parametrize("table", [HTTP_STATUS, GRPC_STATUS, CLOSE_CODES], ids=["http", "grpc", "websocket"])
def test_every_error_code_has_one_entry_per_door(table: dict) -> None:
    assert set(table) == set(ErrorCode)


def test_every_error_code_in_the_source_is_an_error_code() -> None:
    written = set()
    for path in SRC.rglob("*.py"):
        if "v1" not in path.parts:
            written |= set(re.findall(r'\bcode\s*=\s*"([a-z_]+)"', path.read_text("utf-8")))
    assert written - set(ErrorCode) == set()


def test_close_codes() -> None:
    assert close_code("stop") == close_code("idle_timeout") == 1000
    assert close_code("config_expected") == close_code("bad_config") == close_code("bad_audio") == 1007
    assert close_code("unauthenticated") == close_code("live_disabled") == 1008
    assert close_code("frame_too_large") == 1009
    assert close_code("internal_error") == close_code("no such reason") == 1011
    assert close_code("pool_full") == 1013


def test_bearer_credentials() -> None:
    assert bearer_token("Bearer abc ") == bearer_token("bearer abc") == "abc"
    assert bearer_token(None) is bearer_token("") is bearer_token("Basic abc") is bearer_token("Bearer ") is None
    creds = Credentials({"k1": "acme"}, ["events"])
    assert creds.identify("k1") == ("api", "acme")
    assert creds.identify("events") == ("events", None)
    assert creds.identify("nope") is None


WORD = Word(word=" Hi", start=0.5, end=0.9, probability=0.75)
EVENTS: list[LiveEvent] = [
    Ready(session_id="s1", model="tiny", sample_rate=48000, encoding="pcm_f32le"),
    SpeechStarted(time=0.25),
    SpeechStopped(time=1.5),
    Partial(text="Hi th", start=0.5, end=1.25, stability=0.5, audio_end=1.5, committed="Hi"),
    Final(id=3, start=0.5, end=0.9, text="Hi", words=[WORD], audio_end=1.5),
    Final(id=4, start=0.5, end=0.9, text="Hi", words=[WORD], audio_end=1.5, language="de", language_probability=0.97),
    StreamWarning(code="audio_dropped", message="dropped", start=2.5, end=4.0),
    Error(code="bad_audio", message="odd frame"),
    Closed(
        reason="stop", audio_seconds=4.0, finals=1, partials=2, decodes=3, dropped_seconds=1.5, text="Hi", job_id="j"
    ),
]


@pytest.mark.parametrize("event", EVENTS, ids=[f"{e.type}-{i}" for i, e in enumerate(EVENTS)])
def test_each_live_event_keeps_every_field_on_grpc(event: LiveEvent) -> None:
    message = json_format.MessageToDict(to_event(event), preserving_proto_field_name=True)
    expected = to_json(event)
    if isinstance(event, Final):
        assert message.pop("is_final") is True
    assert message == expected


async def _fake_admit() -> AsyncIterator[object]:
    yield object()


class _NeverConfigured:
    """A live pool that admits every stream (the config never comes, so no session opens)."""

    admit = staticmethod(contextlib.asynccontextmanager(_fake_admit))


def test_a_stream_without_its_config_closes_with_1007(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live_router, "CONFIG_TIMEOUT", 0.2)
    app = create_app(Runtime(Settings(data_dir=tmp_path / "data")), {"k": "acme"}, live=_NeverConfigured())  # type: ignore[arg-type]  # a stand-in pool
    with (
        TestClient(app) as client,
        client.websocket_connect("/v1/stt/stream", headers={"Authorization": "Bearer k"}) as ws,
    ):
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert error["type"] == "error" and error["code"] == "config_expected"
    assert closed.value.code == 1007


@pytest.fixture
def deaf_app(tmp_path: Path) -> Iterator[TestClient]:
    pool = LivePool(PoolSettings(max_streams=1), decoder=DeafDecoder())
    app = create_app(Runtime(Settings(data_dir=tmp_path / "data")), {"k": "acme"}, live=pool)
    with TestClient(app) as client:
        yield client


def _events(ws: Any) -> tuple[list[dict[str, Any]], int]:
    seen = []
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            seen.append(ws.receive_json())
    return seen, closed.value.code


def test_the_websocket_sends_each_event_as_its_json(deaf_app: TestClient) -> None:
    with deaf_app.websocket_connect("/v1/stt/stream", headers={"Authorization": "Bearer k"}) as ws:
        ws.send_text(json.dumps({"encoding": "pcm_s16le", "vad": {"enabled": False}}))
        ws.send_bytes(b"\0\0" * 1600)
        ws.send_text(json.dumps({"type": "stop"}))
        seen, code = _events(ws)
    ready, closed = from_json(seen[0]), from_json(seen[-1])
    assert isinstance(ready, Ready) and ready.sample_rate == 16000 and ready.encoding == "pcm_s16le"
    assert isinstance(closed, Closed) and closed.reason == "stop" and code == 1000


def test_the_websocket_closes_a_stream_with_the_code_of_its_error(deaf_app: TestClient) -> None:
    with deaf_app.websocket_connect("/v1/stt/stream?token=k") as ws:
        ws.send_text(json.dumps({}))
        ws.send_bytes(b"\0" * 3)  # half a sample
        seen, code = _events(ws)
    assert [e["type"] for e in seen] == ["ready", "error", "closed"] and seen[1]["code"] == "bad_audio"
    assert code == 1007
    with deaf_app.websocket_connect("/v1/stt/stream?token=nope") as ws:
        seen, code = _events(ws)
    assert seen == [to_json(Error(code="unauthenticated", message="unknown API key"))] and code == 1008


async def test_grpc_streams_each_event_with_its_fields(tmp_path: Path) -> None:
    pool = LivePool(PoolSettings(max_streams=1), decoder=DeafDecoder())
    rt = Runtime(Settings(data_dir=tmp_path / "data"))
    subs = rt.submissions()
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = await start(subs, Credentials({"k": "acme"}, []), "127.0.0.1", port, live=pool)

    async def chunks() -> AsyncIterator[stt_pb2.AudioChunk]:
        yield stt_pb2.AudioChunk(config=stt_pb2.StreamConfig(sample_rate=8000, vad=stt_pb2.VadConfig(enabled=False)))
        yield stt_pb2.AudioChunk(audio=b"\0\0" * 800)
        yield stt_pb2.AudioChunk(stop=True)

    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            call = stt_pb2_grpc.STTServiceStub(channel).StreamingRecognize(
                chunks(), metadata=(("authorization", "Bearer k"),), timeout=30
            )
            seen = [event async for event in call]
    finally:
        await server.stop(None)
        await pool.close()
    assert [e.type for e in seen] == ["ready", "closed"]
    assert seen[0].sample_rate == 8000 and seen[0].encoding == "pcm_s16le"
    assert seen[-1].reason == "stop" and seen[-1].audio_seconds == pytest.approx(0.1)
