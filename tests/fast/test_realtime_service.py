"""The Realtime API's mapping in-process, no model: :class:`RealtimeService` over a :class:`LiveSession` with the
scripted decoder of test_live_session (each 0.4 s run of one level is a word), or fed live events directly. Every
server event is checked against the ``openai`` SDK's model of it (tests/realtime.py)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest

from streamprocess.api.realtime.protocol import LOGPROBS, SessionState
from streamprocess.api.realtime.service import RealtimeService
from streamprocess.errors import ErrorCode
from streamprocess.live import events
from streamprocess.live.limits import SessionLimits
from streamprocess.live.protocol import ProtocolError, StreamConfig
from streamprocess.live.scheduler import BatchScheduler
from streamprocess.live.session import LiveSession
from streamprocess.stt.types import Word
from tests.fast.test_live_session import ScriptedDecoder, script, speak
from tests.realtime import b64, check, pcm16

LIMITS = SessionLimits(commit_min=1.0, sentence_trim=2.0, stall_flush=5.0, idle_timeout=10.0)
MANUAL_16K = {
    "type": "session.update",
    "session": {
        "type": "transcription",
        "audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}, "turn_detection": None}},
        "include": [LOGPROBS],
    },
}
COMPLETED = "conversation.item.input_audio_transcription.completed"
DELTA = "conversation.item.input_audio_transcription.delta"


class Harness:
    """A session and its service; ``out`` is every server event, replies and stream events, in the order made."""

    def __init__(self, scheduler: BatchScheduler, *, beta: bool = False, check_config: Any = None) -> None:
        state = SessionState()
        self.session = LiveSession("rt", state.stream_config(), scheduler.decode, LIMITS, model="scripted")
        self.session.report_turns()
        self.service = RealtimeService(self.session, check_config or (lambda c: None), state=state, beta=beta)
        self.out: list[dict[str, Any]] = [check(self.service.greeting())]
        self.session.start()
        self.pump = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        while True:
            event = await self.session.next_event()
            self.out += [check(e) for e in self.service.translate(event)]
            if isinstance(event, events.Closed):
                return

    def send(self, event: dict[str, Any] | str | None) -> list[dict[str, Any]]:
        replies = [
            check(e)
            for e in self.service.handle(event if event is None or isinstance(event, str) else json.dumps(event))
        ]
        self.out += replies
        return replies

    async def append(self, audio: np.ndarray, pace: float = 0.005) -> None:
        """16 kHz ``audio`` in 100 ms appends (the session is at 16 kHz)."""
        for i in range(0, audio.size, 1600):
            self.send({"type": "input_audio_buffer.append", "audio": b64(pcm16(audio[i : i + 1600], 16000))})
            await asyncio.sleep(pace)

    async def until(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 5.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate(self.out):
            assert asyncio.get_running_loop().time() < deadline, [e["type"] for e in self.out]
            await asyncio.sleep(0.01)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.out if e["type"] == kind]

    async def close(self) -> None:
        await self.session.stop()
        await asyncio.wait_for(self.pump, 5)
        await self.session.abort()


@pytest.fixture
async def scheduler() -> AsyncIterator[Callable[[ScriptedDecoder], BatchScheduler]]:
    made: list[BatchScheduler] = []

    def make(decoder: ScriptedDecoder) -> BatchScheduler:
        made.append(BatchScheduler(decoder))
        return made[-1]

    yield make
    for s in made:
        await s.close()


def deltas_of(out: list[dict[str, Any]], item_id: str) -> str:
    return "".join(e["delta"] for e in out if e["type"] == DELTA and e["item_id"] == item_id)


async def test_commits_end_items_whose_deltas_come_while_the_audio_does(scheduler: Any) -> None:
    first, second = "One two three four five.", "Six seven eight nine ten."
    words = script(first, second)
    h = Harness(scheduler(ScriptedDecoder(words)))
    assert h.out[0]["type"] == "session.created"
    assert h.out[0]["session"]["audio"]["input"]["turn_detection"]["type"] == "server_vad"  # OpenAI's default
    [updated] = h.send(MANUAL_16K)
    assert updated["type"] == "session.updated" and updated["session"]["include"] == [LOGPROBS]
    assert updated["session"]["audio"]["input"]["turn_detection"] is None
    assert updated["session"]["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 16000}
    audio = speak(words)
    await h.append(audio[: audio.size // 2])
    before_commit = len(h.out)
    h.send({"type": "input_audio_buffer.commit", "event_id": "c1"})
    await h.until(lambda out: any(e["type"] == COMPLETED for e in out))
    await h.append(audio[audio.size // 2 :])
    h.send({"type": "input_audio_buffer.commit", "event_id": "c2"})
    await h.until(lambda out: len([e for e in out if e["type"] == COMPLETED]) == 2)
    await h.close()

    one, two = h.of(COMPLETED)
    assert (one["transcript"], two["transcript"]) == (first, second)
    committed = h.of("input_audio_buffer.committed")
    assert [c["item_id"] for c in committed] == [one["item_id"], two["item_id"]]
    assert [c["previous_item_id"] for c in committed] == [None, one["item_id"]]
    for done in (one, two):
        assert deltas_of(h.out, done["item_id"]) == done["transcript"]  # append-only: the deltas add up
        assert done["usage"] == {"type": "duration", "seconds": 2.0}
        assert "".join(p["token"] for p in done["logprobs"]).strip() == done["transcript"]
        assert [p["logprob"] for p in done["logprobs"]] == [0.0] * 5  # the scripted words' probability is 1
    assert any(e["type"] == DELTA and e["item_id"] == one["item_id"] for e in h.out[:before_commit])
    assert h.out.index(committed[0]) < h.out.index(one)  # committed, then completed, as OpenAI orders them
    assert not h.of("error")


async def test_a_commit_without_audio_is_refused_and_the_session_goes_on(scheduler: Any) -> None:
    words = script("Still here.")
    h = Harness(scheduler(ScriptedDecoder(words)))
    h.send(MANUAL_16K)
    h.send({"type": "input_audio_buffer.commit", "event_id": "too-soon"})
    await h.until(lambda out: any(e["type"] == "error" for e in out))
    [error] = h.of("error")
    assert error["error"]["code"] == "no_audio" and error["error"]["event_id"] == "too-soon"
    assert error["error"]["type"] == "invalid_request_error"
    await h.append(speak(words))
    h.send({"type": "input_audio_buffer.commit"})
    await h.until(lambda out: any(e["type"] == COMPLETED for e in out))
    await h.close()
    assert [e["transcript"] for e in h.of(COMPLETED)] == ["Still here."]
    assert not h.of("input_audio_buffer.committed")[0]["previous_item_id"]


async def test_clear_drops_what_is_not_final_and_its_item(scheduler: Any) -> None:
    dropped, kept = "Forget these words now", "Keep only this."
    words = script(dropped, kept)
    h = Harness(scheduler(ScriptedDecoder(words)))
    h.send(MANUAL_16K)
    audio = speak(words)
    cut = 4 * int(0.4 * 16000)
    await h.append(audio[:cut])
    await h.until(lambda out: any(e["type"] == DELTA for e in out))  # an item had begun
    started = h.of(DELTA)[0]["item_id"]
    h.send({"type": "input_audio_buffer.clear", "event_id": "clr"})
    await h.append(audio[cut:])
    h.send({"type": "input_audio_buffer.commit"})
    await h.until(lambda out: any(e["type"] == COMPLETED for e in out))
    await h.close()
    [done] = h.of(COMPLETED)
    assert done["transcript"] == kept and done["item_id"] != started
    assert len(h.of("input_audio_buffer.cleared")) == 1
    assert h.out.index(h.of("input_audio_buffer.cleared")[0]) < h.out.index(done)
    assert not [e for e in h.out if e.get("item_id") == started and e["type"] != DELTA]  # never committed


async def test_a_language_change_mid_item_finalizes_the_words_so_far(scheduler: Any) -> None:
    words = script("Before the change", "after it.")
    h = Harness(scheduler(ScriptedDecoder(words)))
    h.send(MANUAL_16K)
    audio = speak(words)
    cut = 3 * int(0.4 * 16000)
    await h.append(audio[:cut])
    [updated] = h.send(
        {
            "type": "session.update",
            "session": {
                "type": "transcription",
                "audio": {"input": {"transcription": {"language": "EN", "prompt": "Words."}}},
            },
        }
    )
    transcription = updated["session"]["audio"]["input"]["transcription"]
    assert transcription == {"model": None, "language": "en", "prompt": "Words."}
    assert updated["session"]["audio"]["input"]["turn_detection"] is None  # what the update did not name stays
    await h.append(audio[cut:])
    h.send({"type": "input_audio_buffer.commit"})
    await h.until(lambda out: any(e["type"] == COMPLETED for e in out))
    await h.close()
    assert [f.text for f in h.session.captioner.finals] == ["Before the change", "after it."]
    assert [e["transcript"] for e in h.of(COMPLETED)] == ["Before the change after it."]  # still one item
    assert h.session.config.language == "en" and h.session.config.prompt == "Words."


@pytest.mark.parametrize(
    ("event", "code", "param"),
    [
        ("not json", "bad_request", None),
        (None, "bad_request", None),  # a binary frame
        ({"type": "response.create"}, "bad_request", "type"),
        ({"type": "input_audio_buffer.append", "audio": "%%%"}, "bad_audio", "audio"),
        ({"type": "input_audio_buffer.append", "audio": "AAAA"}, "bad_audio", "audio"),  # 3 bytes: not PCM16
        ({"type": "input_audio_buffer.append"}, "bad_request", "audio"),
        (
            {"type": "session.update", "session": {"type": "realtime"}},
            "bad_config",
            "session.type",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "transcription", "audio": {"input": {"format": {"type": "audio/pcmu"}}}},
            },
            "bad_config",
            "session.audio.input.format.type",
        ),
        (
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"format": {"type": "audio/pcm", "rate": 44100}}},
                },
            },
            "bad_config",
            "session.audio.input.format.rate",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "transcription", "audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}},
            },
            "bad_config",
            "session.audio.input.turn_detection.type",
        ),
        (
            {
                "type": "session.update",
                "session": {
                    "type": "transcription",
                    "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 20}}},
                },
            },
            "bad_config",
            "session.audio.input.turn_detection.silence_duration_ms",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "transcription", "include": ["item.input_audio_transcription.segments"]},
            },
            "bad_config",
            "session.include.0",
        ),
        (
            {"type": "transcription_session.update", "session": {"input_audio_format": "g711_ulaw"}},
            "bad_config",
            "session.input_audio_format",
        ),
        (
            {
                "type": "session.update",
                "session": {"type": "transcription", "audio": {"input": {"transcription": {"language": "fr"}}}},
            },
            "unsupported_language",
            "session.audio.input.transcription.language",
        ),
    ],
)
async def test_a_bad_event_gets_an_error_and_changes_nothing(
    scheduler: Any, event: Any, code: str, param: str | None
) -> None:
    def english_only(config: StreamConfig) -> None:
        if config.language not in (None, "en"):
            raise ProtocolError("English-only", code=ErrorCode.UNSUPPORTED_LANGUAGE)

    h = Harness(scheduler(ScriptedDecoder({})), check_config=english_only)
    named = isinstance(event, dict)
    [error] = h.send({**event, "event_id": "evt-1"} if named else event)
    assert error["type"] == "error" and error["error"]["code"] == code and error["error"]["param"] == param, error
    assert error["error"]["event_id"] == ("evt-1" if named else None)  # the client event at fault
    assert error["error"]["type"] == "invalid_request_error"
    assert h.service.state == SessionState() and h.session.config == SessionState().stream_config()
    [updated] = h.send({"type": "session.update", "session": {"type": "transcription"}})  # the session goes on
    assert updated["type"] == "session.updated"
    await h.close()


async def test_the_beta_shape(scheduler: Any) -> None:
    h = Harness(scheduler(ScriptedDecoder({})), beta=True)
    created = h.out[0]
    assert created["type"] == "transcription_session.created" and created["session"]["input_audio_format"] == "pcm16"
    [updated] = h.send(
        {
            "type": "transcription_session.update",
            "session": {
                "input_audio_format": "pcm16",
                "input_audio_transcription": {"model": "whisper-1", "language": "en", "prompt": "jfk"},
                "turn_detection": {"type": "server_vad", "threshold": 0.6, "silence_duration_ms": 700},
                "input_audio_noise_reduction": {"type": "near_field"},
                "include": [LOGPROBS],
            },
        }
    )
    session = updated["session"]
    assert updated["type"] == "transcription_session.updated"
    assert session["turn_detection"] == {
        "type": "server_vad",
        "threshold": 0.6,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 700,
    }
    assert session["input_audio_noise_reduction"] == {"type": "near_field"} and session["include"] == [LOGPROBS]
    vad = h.session.config.vad
    assert (vad.enabled, vad.threshold, vad.min_silence_ms, vad.speech_pad_ms) == (True, 0.6, 700, 300)
    assert h.session.config.language == "en" and h.session.config.prompt == "jfk"
    # the GA update works on a beta connection too, and answers in its own shape
    [ga] = h.send(
        {"type": "session.update", "session": {"type": "transcription", "audio": {"input": {"turn_detection": None}}}}
    )
    assert ga["type"] == "session.updated" and not h.session.config.vad.enabled
    await h.close()


def test_vad_utterances_become_items() -> None:
    """The mapping alone, fed the events a VAD stream makes: each utterance an item, announced by speech_started,
    committed at speech_stopped, completed after its final decode; deltas only of committed words."""
    service = RealtimeService(None, lambda c: None, state=SessionState())  # type: ignore[arg-type]
    hi = Word(word=" Hello", start=0.3, end=0.7, probability=0.5)
    there = Word(word=" there.", start=0.7, end=1.2, probability=0.25)
    stream: list[events.LiveEvent] = [
        events.Ready(session_id="s", model="m", sample_rate=24000, encoding="pcm_s16le"),
        events.SpeechStarted(time=0.25),
        events.Partial(text="Hello th", start=0.3, end=1.0, stability=0.5, audio_end=1.0, committed=""),
        events.Partial(text="Hello the", start=0.3, end=1.1, stability=0.5, audio_end=1.1, committed="Hello"),
        events.SpeechStopped(time=1.5),
        events.Final(id=0, start=0.3, end=1.2, text="Hello there.", words=[hi, there], audio_end=1.5, language="en"),
        events.TurnEnded(cause="speech_stopped", start=0.25, end=1.5),
        events.SpeechStarted(time=2.0),
        events.Final(id=1, start=2.1, end=2.5, text="Bye.", words=[hi], audio_end=3.0),
        events.SpeechStopped(time=3.0),
        events.TurnEnded(cause="speech_stopped", start=2.0, end=3.0),
        events.StreamWarning(code="audio_dropped", message="4.0 s of audio dropped", start=3.0, end=7.0),
        events.Error(code="idle_timeout", message="no audio"),
        events.Closed(
            reason="idle_timeout", audio_seconds=7, finals=2, partials=2, decodes=3, dropped_seconds=4, text=""
        ),
    ]
    out = [check(e) for event in stream for e in service.translate(event)]
    kinds = [e["type"] for e in out]
    assert kinds == [
        "input_audio_buffer.speech_started",
        DELTA,
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        DELTA,
        COMPLETED,
        "input_audio_buffer.speech_started",
        DELTA,
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        COMPLETED,
        "error",
        "error",
    ]
    first, second = out[0]["item_id"], out[6]["item_id"]
    assert first != second and all(e.get("item_id") in (None, first) for e in out[:6])
    assert (out[0]["audio_start_ms"], out[2]["audio_end_ms"]) == (250, 1500)
    assert [out[1]["delta"], out[4]["delta"]] == ["Hello", " there."]
    assert out[5]["transcript"] == "Hello there." and out[5]["usage"] == {"type": "duration", "seconds": 1.25}
    assert out[5]["languages"] == [{"code": "en"}] and "logprobs" not in out[5]  # logprobs only when asked
    assert out[9]["previous_item_id"] == first and out[10]["transcript"] == "Bye."
    assert [e["error"]["type"] for e in out[-2:]] == ["server_error", "invalid_request_error"]
    assert [e["error"]["code"] for e in out[-2:]] == ["audio_dropped", "idle_timeout"]


def test_a_sentence_final_behind_the_committed_words_is_not_sent_twice() -> None:
    """A sentence's final often comes when words after it were committed (and sent) already: the deltas go on from
    where they were, and still add up to the transcript."""
    service = RealtimeService(None, lambda c: None, state=SessionState())  # type: ignore[arg-type]
    hello, how = (
        Word(word=" Hello.", start=0, end=0.5, probability=1),
        Word(word=" How", start=1, end=1.2, probability=1),
    )
    stream: list[events.LiveEvent] = [
        events.Partial(text="Hello. How are", start=0, end=1.6, stability=0.7, audio_end=2, committed="Hello. How"),
        events.Final(id=0, start=0, end=0.5, text="Hello.", words=[hello], audio_end=2.5),
        events.Partial(text="How are yo", start=1, end=1.9, stability=0.7, audio_end=2.5, committed="How are"),
        events.Final(id=1, start=1, end=2.2, text="How are you?", words=[how], audio_end=3),
        events.TurnEnded(cause="commit", start=0, end=3),
    ]
    out = [check(e) for event in stream for e in service.translate(event)]
    assert [e["delta"] for e in out if e["type"] == DELTA] == ["Hello. How", " are", " you?"]
    assert out[-1]["type"] == COMPLETED and out[-1]["transcript"] == "Hello. How are you?"
