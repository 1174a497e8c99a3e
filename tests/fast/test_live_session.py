"""Live captioning in-process, no model: ``LiveSession`` and ``BatchScheduler`` with a scripted decoder.

The audio is made of "words": 0.4 s runs of one constant level each, the level naming the word in a script. The
decoder reads the levels back from whatever buffer it is given and answers the script's words with their times,
as Whisper would with a perfect ear, so what the tests see is the session's own policy: when it decodes, what it
commits, its finals, its totals, its backpressure, and how it ends.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import numpy as np
import pytest

from streamprocess.live import events
from streamprocess.live.agreement import norm
from streamprocess.live.archive import FinishedStream
from streamprocess.live.decoder import DecodeRequest, Hypothesis
from streamprocess.live.limits import PoolSettings, SessionLimits
from streamprocess.live.pcm import encode
from streamprocess.live.pool import LivePool
from streamprocess.live.protocol import PoolFull, StreamConfig
from streamprocess.live.scheduler import BatchScheduler
from streamprocess.live.session import LiveSession
from streamprocess.runtime import Runtime
from streamprocess.stt.types import Word

SR = 16000
WORD = 0.4  # seconds of audio per word
MIN_RUN = 0.2  # a shorter run of one level (the start of a word at the buffer's end) is not heard yet
FRAME = 1600  # 100 ms
NO_VAD = {"vad": {"enabled": False}}
#: Small numbers, so a few seconds of audio exercise commits, sentence finals and trimming.
LIMITS = SessionLimits(commit_min=1.0, sentence_trim=2.0, stall_flush=0.3, idle_timeout=5.0)


def script(*sentences: str, first: int = 1) -> dict[int, str]:
    """Level code → word, numbered from ``first`` (streams sharing a decoder use codes of their own)."""
    words = " ".join(sentences).split()
    return {first + i: w for i, w in enumerate(words)}


def speak(words: dict[int, str]) -> np.ndarray:
    """The audio of ``words``: each code as a 0.4 s run at level code/100."""
    return np.concatenate([np.full(int(WORD * SR), code / 100, np.float32) for code in words])


class ScriptedDecoder:
    """A :class:`~streamprocess.live.scheduler.Decoder` that hears the levels of its requests' audio."""

    def __init__(self, words: dict[int, str], *, delay: float = 0.0, fail_on: int | None = None) -> None:
        self.words, self.delay, self.fail_on = words, delay, fail_on
        self.batches: list[int] = []  # the size of every batch decoded
        self._lock = threading.Lock()

    @property
    def requests(self) -> int:
        return sum(self.batches)

    def batch_key(self, request: DecodeRequest) -> bool:
        return False

    def window(self, request: DecodeRequest) -> float:
        return 10.0  # every buffer costs the same (as under Whisper's 10 s floor): any may batch with any

    def decode(self, requests: list[DecodeRequest]) -> list[Hypothesis]:
        with self._lock:
            self.batches.append(len(requests))
        time.sleep(self.delay)
        return [self._hear(r.audio) for r in requests]

    def _hear(self, audio: np.ndarray) -> Hypothesis:
        codes = np.rint(audio * 100).astype(int)
        edges = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist(), codes.size]
        words = []
        for a, b in zip(edges, edges[1:], strict=False):
            code = int(codes[a]) if b > a else 0
            if code == self.fail_on:
                raise RuntimeError(f"the decoder choked on word {code}")
            if code in self.words and (b - a) >= MIN_RUN * SR:
                words.append(Word(word=" " + self.words[code], start=a / SR, end=b / SR, probability=1.0))
        return Hypothesis(words=words, language="en")


async def stream(
    session: LiveSession,
    audio: np.ndarray,
    *,
    pace: float | None = 0.01,
    send: Callable[[bytes], Awaitable[None]] | None = None,
    stop: bool = True,
    start: bool = True,
) -> list[events.LiveEvent]:
    """Starts ``session``, feeds ``audio`` in 100 ms frames ``pace`` seconds apart (None: all at once, the driver
    not running meanwhile) through ``send`` (default: ``feed``), stops, and returns every event through ``closed``."""
    if start:  # a pool's Admission.open starts its session itself
        session.start()
    seen: list[events.LiveEvent] = []

    async def read() -> None:
        while not seen or not isinstance(seen[-1], events.Closed):
            seen.append(await session.next_event())

    reader = asyncio.create_task(read())
    for i in range(0, audio.size, FRAME):
        await (send or session.feed)(encode(audio[i : i + FRAME]))
        if pace is not None:
            await asyncio.sleep(pace)
    if stop:
        await session.stop()
    await asyncio.wait_for(reader, 10)
    await session.abort()
    return seen


def of(seen: list[events.LiveEvent], kind: type[Any]) -> list[Any]:
    return [e for e in seen if isinstance(e, kind)]


def check_committed_words_never_change(seen: list[events.LiveEvent]) -> None:
    """The committed part of a partial (its stability) is kept by every later partial and final of the segment."""
    committed: list[str] = []
    for event in seen:
        if isinstance(event, events.Partial | events.Final):
            words = [norm(w) for w in event.text.split()]
            assert words[: len(committed)] == committed, (committed, event.text)
            committed = words[: round(event.stability * len(words))] if isinstance(event, events.Partial) else []


@pytest.fixture
async def scheduler_for() -> AsyncIterator[Callable[..., BatchScheduler]]:
    """Makes schedulers (``BatchScheduler(decoder, **kw)``) and closes them after the test."""
    made: list[BatchScheduler] = []

    def make(decoder: ScriptedDecoder, **kw: Any) -> BatchScheduler:
        made.append(BatchScheduler(decoder, **kw))
        return made[-1]

    yield make
    for s in made:
        await s.close()


THREE = ("One two three four five.", "Six seven eight nine ten.", "Eleven twelve thirteen.")


async def test_a_stream_gives_ready_then_partials_and_finals_in_order_and_its_totals(
    scheduler_for: Callable[..., BatchScheduler],
) -> None:
    words = script(*THREE)
    decoder = ScriptedDecoder(words)
    scheduler = scheduler_for(decoder)
    config = StreamConfig(**NO_VAD)
    session = LiveSession("s1", config, scheduler.decode, LIMITS, model="scripted")
    seen = await stream(session, speak(words))

    assert seen[0] == events.Ready(session_id="s1", model="scripted", sample_rate=16000, encoding="pcm_s16le")
    assert isinstance(seen[-1], events.Closed) and not of(seen[1:-1], events.Ready) + of(seen[1:-1], events.Closed)
    partials, finals = of(seen, events.Partial), of(seen, events.Final)
    assert partials and seen.index(partials[0]) < seen.index(finals[0])  # captions before the first final
    assert [f.id for f in finals] == list(range(len(finals))) and len(finals) >= 2  # sentence finals mid-stream
    assert " ".join(f.text for f in finals) == " ".join(THREE)  # every word once, in order
    for f in finals:
        assert f.text == "".join(w.word for w in f.words).strip() and (f.start, f.end) == (
            f.words[0].start,
            f.words[-1].end,
        )
    assert all(a.end <= b.start for a, b in zip(finals, finals[1:], strict=False))
    check_committed_words_never_change(seen)
    assert all(0 <= p.stability <= 1 for p in partials)
    assert [p.audio_end for p in partials] == sorted(p.audio_end for p in partials)

    closed = seen[-1]
    assert closed.reason == "stop" and closed.audio_seconds == 5.2 and closed.dropped_seconds == 0
    assert (closed.finals, closed.partials, closed.decodes) == (len(finals), len(partials), decoder.requests)
    assert closed.text == " ".join(THREE) and closed.job_id is None
    assert "job_id" not in events.to_json(closed)  # only a saved stream names its job


async def test_the_json_on_the_wire(scheduler_for: Callable[..., BatchScheduler]) -> None:
    words = script("Hello there.")
    session = LiveSession("j", StreamConfig(**NO_VAD), scheduler_for(ScriptedDecoder(words)).decode, LIMITS)
    seen = await stream(session, speak(words))
    wire = [events.to_json(e) for e in seen]
    assert wire[0] == {"type": "ready", "session_id": "j", "model": "", "sample_rate": 16000, "encoding": "pcm_s16le"}
    final = next(w for w in wire if w["type"] == "final")
    assert final == {
        "type": "final",
        "id": 0,
        "start": 0.0,
        "end": 0.8,
        "text": "Hello there.",
        "language": "en",
        "words": [
            {"start": 0.0, "end": 0.4, "word": " Hello", "probability": 1.0},
            {"start": 0.4, "end": 0.8, "word": " there.", "probability": 1.0},
        ],
        "audio_end": 0.8,
    }
    assert set(wire[-1]) == {
        "type",
        "reason",
        "audio_seconds",
        "finals",
        "partials",
        "decodes",
        "dropped_seconds",
        "text",
    }
    assert [events.from_json(w) for w in wire] == seen  # the mapping loses nothing


async def test_offered_audio_beyond_the_backlog_is_dropped_and_said(
    scheduler_for: Callable[..., BatchScheduler],
) -> None:
    words = script("One two three four five.", "Six seven eight nine ten.", "Eleven twelve thirteen fourteen fifteen.")
    limits = SessionLimits(commit_min=1.0, sentence_trim=2.0, backlog=2.0)
    session = LiveSession("burst", StreamConfig(**NO_VAD), scheduler_for(ScriptedDecoder(words)).decode, limits)

    async def offer(frame: bytes) -> None:  # the WebSocket's intake: never waits
        session.offer(frame)

    seen = await stream(session, speak(words), pace=None, send=offer)  # 6 s at once: the driver cannot keep up
    warnings = of(seen, events.StreamWarning)
    assert [(w.code, w.start, w.end) for w in warnings] == [("audio_dropped", 2.0, 6.0)]
    assert warnings[0].message.startswith("4.0 s of audio dropped")
    before = seen[: seen.index(warnings[0])]
    assert " ".join(f.text for f in of(before, events.Final)) == "One two three four five."  # finalized first
    closed = seen[-1]
    assert isinstance(closed, events.Closed)
    assert (closed.audio_seconds, closed.dropped_seconds) == (6.0, 4.0) and closed.text == "One two three four five."


async def test_streams_decode_together_in_batches(scheduler_for: Callable[..., BatchScheduler]) -> None:
    scripts = [script(f"Stream{i} says alpha bravo charlie delta.", first=1 + 10 * i) for i in range(4)]
    decoder = ScriptedDecoder({k: v for s in scripts for k, v in s.items()}, delay=0.02)
    scheduler = scheduler_for(decoder, max_batch=8, max_wait=0.05)
    sessions = [LiveSession(f"b{i}", StreamConfig(**NO_VAD), scheduler.decode, LIMITS) for i in range(4)]
    results = await asyncio.gather(*(stream(s, speak(w)) for s, w in zip(sessions, scripts, strict=True)))
    assert max(decoder.batches) > 1, decoder.batches  # several sessions' requests in one model call
    for seen, words in zip(results, scripts, strict=True):
        closed = seen[-1]
        assert isinstance(closed, events.Closed) and closed.text == " ".join(words.values())  # no cross-talk
    assert sum(of(r, events.Closed)[0].decodes for r in results) == decoder.requests


async def test_a_decoder_failure_ends_the_stream_with_error_then_closed(
    scheduler_for: Callable[..., BatchScheduler],
) -> None:
    words, healthy = script("Fine so far, then boom."), script("Still here.", first=11)
    scheduler = scheduler_for(ScriptedDecoder(words | healthy, fail_on=max(words)))
    session = LiveSession("f", StreamConfig(**NO_VAD), scheduler.decode, LIMITS)
    seen = await stream(session, speak(words))
    error, closed = seen[-2:]
    assert isinstance(error, events.Error) and error.code == "internal_error" and "choked" in error.message
    assert isinstance(closed, events.Closed) and closed.reason == "internal_error" and session.closed.is_set()
    other = LiveSession("g", StreamConfig(**NO_VAD), scheduler.decode, LIMITS)  # the scheduler carries on
    closed = (await stream(other, speak(healthy)))[-1]
    assert isinstance(closed, events.Closed) and closed.reason == "stop" and closed.text == "Still here."


async def test_a_pause_mid_utterance_is_finalized_and_silence_times_out(
    scheduler_for: Callable[..., BatchScheduler],
) -> None:
    words = script("Waiting for you")
    limits = SessionLimits(commit_min=1.0, stall_flush=0.2, idle_timeout=0.6)
    session = LiveSession("p", StreamConfig(**NO_VAD), scheduler_for(ScriptedDecoder(words)).decode, limits)
    seen = await stream(session, speak(words), stop=False)  # no stop: the client just goes quiet
    finals = of(seen, events.Final)
    assert [f.text for f in finals] == ["Waiting for you"]  # the stall finalized it, long before the timeout
    error, closed = seen[-2:]
    assert isinstance(error, events.Error) and error.code == "idle_timeout"
    assert isinstance(closed, events.Closed) and closed.reason == "idle_timeout" and closed.finals == 1


class DetectingDecoder(ScriptedDecoder):
    """A scripted decoder that detects German with probability 0.93, as a multilingual model would say."""

    def decode(self, requests: list[DecodeRequest]) -> list[Hypothesis]:
        hyps = super().decode(requests)
        for h in hyps:
            h.language, h.language_probability = "de", 0.93
        return hyps


async def test_a_saved_stream_becomes_a_job_through_the_runtime_wiring(runtime: Runtime) -> None:
    words = script("Keep this.", "And this too.")
    pool = runtime.live_pool(decoder=DetectingDecoder(words))
    assert pool is not None and pool.model_name == "default"
    try:
        async with pool.admit() as admission:
            session = admission.open(StreamConfig(save=True, save_audio=True, **NO_VAD), tenant="acme")
            seen = await stream(session, speak(words), start=False)
    finally:
        await pool.close()
    closed = seen[-1]
    assert isinstance(closed, events.Closed) and closed.job_id == session.id
    assert events.to_json(closed)["job_id"] == session.id
    record = await runtime.jobs.get(session.id)
    assert record is not None and record.state == "succeeded" and record.kind == "stt" and record.tenant == "acme"
    names = {"transcript.json", "transcript.txt", "transcript.srt", "transcript.vtt", "audio.wav"}
    assert set(record.results) == names
    transcript = json.loads(await runtime.result_store.get(record.results["transcript.json"]))
    assert transcript["text"] == closed.text and len(transcript["segments"]) == closed.finals
    assert (transcript["language"], transcript["language_probability"]) == ("de", 0.93)  # as the finals said
    with wave.open(io.BytesIO(await runtime.result_store.get(record.results["audio.wav"]))) as wav:
        assert (wav.getframerate(), wav.getnframes()) == (16000, len(words) * WORD * SR)  # every frame kept


async def test_the_pool_admits_up_to_its_limit_and_says_when_saving_fails() -> None:
    async def broken(stream: FinishedStream, *, tenant: str | None) -> str:
        raise OSError("disk full")

    words = script("Lost words.")
    pool = LivePool(PoolSettings(max_streams=1, session=LIMITS), decoder=ScriptedDecoder(words), archive=broken)
    try:
        async with pool.admit() as admission:
            with pytest.raises(PoolFull):
                async with pool.admit():
                    pass
            session = admission.open(StreamConfig(save=True, **NO_VAD))
            seen = await stream(session, speak(words), start=False)
        async with pool.admit():  # the slot is free again
            pass
    finally:
        await pool.close()
    error, closed = seen[-2:]
    assert isinstance(error, events.Error) and error.code == "save_failed" and "disk full" in error.message
    assert isinstance(closed, events.Closed) and closed.text == "Lost words." and closed.job_id is None
