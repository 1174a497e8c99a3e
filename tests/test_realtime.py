"""OpenAI's Realtime API for live transcription against a real `streamprocess up` (uvicorn, the hot pool, Whisper
tiny.en), driven by the real ``openai`` SDK's realtime clients (GA ``client.realtime`` and beta
``client.beta.realtime``): jfk.flac streamed in real time as 24 kHz PCM16 in 100 ms appends, beside the native
``/v1/stt/stream`` on the same audio; server VAD and manual commits, clear, logprobs, the beta shape, 16 kHz, and
refusals. Every server event is checked against the SDK's model of it (tests/realtime.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import websockets
from openai import AsyncOpenAI

from infra.local_services import free_port
from streamprocess.live.agreement import norm
from streamprocess.live.client import caption
from streamprocess.stt.audio import load_audio

from .helpers import JFK, cli_env, shared, up_server
from .realtime import b64, check, pcm16
from .scoring import wer

pytestmark = pytest.mark.slow
KEY = "realtime-key"
DELTA = "conversation.item.input_audio_transcription.delta"
COMPLETED = "conversation.item.input_audio_transcription.completed"
PAUSE = 2.9  # seconds into jfk.flac: between "… fellow Americans," and "ask not …" (VAD: speech 0.0–2.5, 3.2–)
SERVER_VAD = {"type": "server_vad", "threshold": 0.5, "prefix_padding_ms": 300, "silence_duration_ms": 500}
#: The native stream's VAD as the Realtime session maps SERVER_VAD onto it: the same pipeline on both doors.
NATIVE_VAD = {"vad": {"threshold": 0.5, "min_silence_ms": 500, "speech_pad_ms": 300}}


@dataclass
class Server:
    http: str
    ws: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("realtime")
    port = free_port()
    env = cli_env(api_keys=KEY, data_dir=str(tmp / "data"), live_max_streams=3, live_idle_timeout=15)
    with up_server(tmp, env, port):
        yield Server(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}")


@pytest.fixture(scope="module")
def jfk() -> np.ndarray:
    return load_audio(shared("jfk.flac"))


@dataclass
class Transcribed:
    events: list[dict[str, Any]] = field(default_factory=list)  # each with "received" (s since the first append)
    sent: list[tuple[float, float]] = field(default_factory=list)  # (audio seconds sent, when)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    @property
    def text(self) -> str:
        return " ".join(e["transcript"] for e in self.of(COMPLETED))

    def deltas(self, item_id: str) -> list[dict[str, Any]]:
        return [e for e in self.of(DELTA) if e["item_id"] == item_id]

    def sent_at(self, seconds: float) -> float:
        return next(t for a, t in self.sent if a >= seconds - 1e-6)

    def settled(self) -> bool:
        """Every item committed has completed, and no speech is open."""
        started, stopped = (
            len(self.of("input_audio_buffer.speech_started")),
            len(self.of("input_audio_buffer.speech_stopped")),
        )
        return started == stopped and len(self.of(COMPLETED)) >= len(self.of("input_audio_buffer.committed"))


async def transcribe(
    server: Server,
    audio: np.ndarray,
    session: dict[str, Any],
    *,
    rate: int = 24000,
    speed: float = 1.0,
    tail: float = 1.0,
    commit_at: tuple[float, ...] = (),
    clear_at: tuple[float, ...] = (),
    commit_last: bool = False,
    beta: bool = False,
) -> Transcribed:
    """Streams 16 kHz ``audio`` (then ``tail`` seconds of silence) as PCM16 at ``rate`` in 100 ms appends at
    ``speed`` × real time through the SDK, after one session update; commits (clears) once each of ``commit_at``
    (``clear_at``) seconds is sent, and at the end with ``commit_last``; returns every server event once the last
    item has completed."""
    client = AsyncOpenAI(api_key=KEY, base_url=f"{server.http}/v1", websocket_base_url=f"{server.ws}/v1")
    connect = (
        client.beta.realtime.connect(model="whisper-1", extra_query={"intent": "transcription"})
        if beta
        else client.realtime.connect(extra_query={"intent": "transcription"})
    )
    pcm = pcm16(np.concatenate([audio, np.zeros(int(tail * 16000), np.float32)]), rate)
    result = Transcribed()
    async with connect as conn:
        t0 = time.monotonic()

        async def receive() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    raw = await conn.recv_bytes()
                    event = check(json.loads(raw))
                    assert conn.parse_event(raw).type == event["type"]  # the SDK reads it as that event
                    result.events.append({**event, "received": time.monotonic() - t0})

        receiver = asyncio.create_task(receive())
        if beta:
            await conn.transcription_session.update(session=session)
        else:
            await conn.session.update(session=session)
        frame, marks = rate // 10 * 2, sorted([(s, "commit") for s in commit_at] + [(s, "clear") for s in clear_at])
        start = time.monotonic()
        for i in range(0, len(pcm), frame):
            seconds = (i + len(pcm[i : i + frame])) / 2 / rate
            await asyncio.sleep(max(0.0, start + seconds / speed - time.monotonic()))
            await conn.input_audio_buffer.append(audio=b64(pcm[i : i + frame]))
            result.sent.append((seconds, time.monotonic() - t0))
            while marks and marks[0][0] <= seconds:
                await (
                    conn.input_audio_buffer.commit() if marks.pop(0)[1] == "commit" else conn.input_audio_buffer.clear()
                )
        if commit_last:
            await conn.input_audio_buffer.commit()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (result.settled() and result.of(COMPLETED)):
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # nothing more should come
        await conn.close()
        await receiver
    return result


def check_items(result: Transcribed) -> None:
    """Each item: its deltas add up to its completed transcript; committed once, completed once, in order, each
    committed after the one before it."""
    committed, completed = result.of("input_audio_buffer.committed"), result.of(COMPLETED)
    assert [c["item_id"] for c in committed] == [c["item_id"] for c in completed]
    assert [c["previous_item_id"] for c in committed] == [None] + [c["item_id"] for c in committed[:-1]]
    for done in completed:
        assert "".join(d["delta"] for d in result.deltas(done["item_id"])) == done["transcript"]
        assert done["content_index"] == 0 and done["usage"]["type"] == "duration" and done["usage"]["seconds"] > 0


def test_server_vad_streams_jfk_as_well_as_the_native_protocol(server: Server, jfk: np.ndarray) -> None:
    session = {
        "type": "transcription",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                "turn_detection": SERVER_VAD,
                "noise_reduction": {"type": "near_field"},  # accepted, not applied
            }
        },
    }

    async def both() -> tuple[Transcribed, Any]:
        native = caption(f"{server.ws}/v1/stt/stream", KEY, jfk, tail_silence=1.0, config=NATIVE_VAD)
        return await asyncio.gather(transcribe(server, jfk, session), native)

    realtime, native = asyncio.run(both())
    wer_realtime, wer_native = wer(JFK, realtime.text), wer(JFK, native.text)
    print(f"\nWER realtime {wer_realtime:.3f} ({realtime.text!r}), native {wer_native:.3f} ({native.text!r})")
    # as good as /v1/stt/stream on the same audio, same run: the same pipeline (one word of slack, for timing)
    assert wer_realtime <= wer_native + 1 / len(JFK.split()) and wer_realtime <= 0.10, (realtime.text, native.text)
    assert native.close_code == 1000
    updated = realtime.of("session.updated")
    assert realtime.events[0]["type"] == "session.created" and len(updated) == 1
    assert updated[0]["session"]["audio"]["input"]["turn_detection"] == SERVER_VAD
    check_items(realtime)
    started, stopped = (
        realtime.of("input_audio_buffer.speech_started"),
        realtime.of("input_audio_buffer.speech_stopped"),
    )
    completed = realtime.of(COMPLETED)
    assert len(completed) >= 2 and len(started) == len(stopped) == len(completed)  # one item per utterance
    for start, stop, done in zip(started, stopped, completed, strict=True):
        assert start["item_id"] == stop["item_id"] == done["item_id"]
        assert 0 <= start["audio_start_ms"] < stop["audio_end_ms"] <= 12_000
    assert [s["audio_start_ms"] for s in started] == sorted(s["audio_start_ms"] for s in started)
    # partial text before the speech ends: the first delta while the last words' audio was still to come, and
    # deltas of an utterance before its own speech_stopped
    first_delta = realtime.of(DELTA)[0]["received"]
    assert first_delta < realtime.sent_at(10.5) - 3, (first_delta, realtime.sent_at(10.5))
    stopped_at = {s["item_id"]: s["received"] for s in stopped}
    assert [d for d in realtime.of(DELTA) if d["received"] < stopped_at[d["item_id"]]], realtime.events
    assert not realtime.of("error")


def test_manual_commits_with_logprobs(server: Server, jfk: np.ndarray) -> None:
    session = {
        "type": "transcription",
        "audio": {"input": {"transcription": {"language": "en"}, "turn_detection": None}},
        "include": ["item.input_audio_transcription.logprobs"],
    }
    result = asyncio.run(transcribe(server, jfk, session, commit_at=(PAUSE,), commit_last=True, tail=0.5))
    check_items(result)
    assert not result.of("input_audio_buffer.speech_started") and not result.of("error")  # no VAD events
    first, second = result.of(COMPLETED)
    print(f"\nitems: {first['transcript']!r} | {second['transcript']!r}")
    assert [norm(w) for w in first["transcript"].split()] == ["and", "so", "my", "fellow", "americans"]
    assert wer(JFK, result.text) <= 0.10, result.text
    # the second item's words came as deltas while it was spoken: seconds before the commit that ended it
    deltas = result.deltas(second["item_id"])
    assert len(deltas) >= 3 and deltas[0]["received"] < result.sent_at(jfk.size / 16000) - 3
    for done in (first, second):
        tokens = [p["token"] for p in done["logprobs"]]
        assert "".join(tokens).strip() == done["transcript"]
        assert all(p["logprob"] <= 0 and bytes(p["bytes"]).decode() == p["token"] for p in done["logprobs"])


def test_clear_drops_the_audio_before_it(server: Server, jfk: np.ndarray) -> None:
    session = {"type": "transcription", "audio": {"input": {"turn_detection": None}}}
    result = asyncio.run(transcribe(server, jfk, session, clear_at=(PAUSE,), commit_last=True, speed=2.0))
    check_items(result)
    assert len(result.of("input_audio_buffer.cleared")) == 1
    [done] = result.of(COMPLETED)
    words = [norm(w) for w in done["transcript"].split()]
    assert "fellow" not in words and "americans" not in words and words[-1] == "country", done["transcript"]
    assert wer(JFK.split(",", 1)[1], done["transcript"]) <= 0.10


def test_the_beta_client(server: Server, jfk: np.ndarray) -> None:
    session = {
        "input_audio_format": "pcm16",
        "input_audio_transcription": {"model": "whisper-1", "language": "en"},
        "turn_detection": {"type": "server_vad", "silence_duration_ms": 500},
    }
    result = asyncio.run(transcribe(server, jfk, session, beta=True, speed=2.0))
    assert [e["type"] for e in result.events[:2]] == ["transcription_session.created", "transcription_session.updated"]
    assert result.events[1]["session"]["input_audio_transcription"]["model"] == "whisper-1"
    check_items(result)
    assert wer(JFK, result.text) <= 0.10, result.text


def test_16khz_audio_as_an_extension(server: Server, jfk: np.ndarray) -> None:
    session = {
        "type": "transcription",
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}, "turn_detection": None}},
    }
    result = asyncio.run(transcribe(server, jfk, session, rate=16000, speed=2.0, commit_last=True, tail=0.5))
    assert result.of("session.updated")[0]["session"]["audio"]["input"]["format"]["rate"] == 16000
    check_items(result)
    # What this checks is that 16 kHz audio is taken at 16 kHz (read as 24 kHz it would be sped up 1.5x and garbled).
    # Without VAD, at twice real time, the decodes land differently with the machine's load: WER 0.0 here, 0.136 in
    # a fresh-clone CI run ("asked not", "do to your country"); the accuracy limit proper is the server VAD test's.
    assert wer(JFK, result.text) <= 0.25, result.text


def test_refusals(server: Server) -> None:
    url = f"{server.ws}/v1/realtime?intent=transcription"

    async def refused(**connect: Any) -> tuple[list[dict[str, Any]], int | None]:
        async with websockets.connect(url, **connect) as ws:
            events = []
            with contextlib.suppress(websockets.ConnectionClosed):
                async for message in ws:
                    events.append(check(json.loads(message)))
            return events, ws.close_code

    for connect in (
        {},
        {"additional_headers": {"Authorization": "Bearer nope"}},
        {"subprotocols": ["realtime", "openai-insecure-api-key.nope"]},
    ):
        events, code = asyncio.run(refused(**connect))
        assert code == 1008 and [e["error"]["code"] for e in events] == ["unauthenticated"], events

    async def subprotocol_and_french() -> None:
        protocols = ["realtime", f"openai-insecure-api-key.{KEY}"]
        async with websockets.connect(url, subprotocols=protocols) as ws:  # a browser's way in
            assert ws.subprotocol == "realtime" and json.loads(await ws.recv())["type"] == "session.created"
            french = {"type": "transcription", "audio": {"input": {"transcription": {"language": "fr"}}}}
            await ws.send(json.dumps({"type": "session.update", "event_id": "fr", "session": french}))
            error = check(json.loads(await ws.recv()))["error"]
            assert error["code"] == "unsupported_language" and error["event_id"] == "fr"
            assert "English-only" in error["message"]  # tiny.en
            await ws.send("{not json")
            assert check(json.loads(await ws.recv()))["error"]["code"] == "bad_request"
            english = {"type": "transcription", "audio": {"input": {"transcription": {"language": "en"}}}}
            await ws.send(json.dumps({"type": "session.update", "session": english}))
            updated = check(json.loads(await ws.recv()))
            assert updated["type"] == "session.updated"  # the session went on

    asyncio.run(subprotocol_and_french())
