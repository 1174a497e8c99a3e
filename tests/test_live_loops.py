"""Issue 19's repeated phrases in live finals ("Ask what you can do for your country. Ask what YOU can do FOR YOUR
COUNTRY.", words of zero length), reproduced and fixed.

The loop is Whisper's on a short window: the decode at the end of an utterance repeats the phrase it just heard,
and the alignment squeezes the copy into the last frames. With the default 10 s encoder floor it came up in one
stream of two in the issue's runs; a 5 s floor brings it out every time, so these tests decode on a 5 s floor
(measured on jfk.flac: "As what you can do for your country. As what can do to your country?", the copy's seven
words all at 10.42 s; with commits from 1 s buffers also "As not. As not!"). N streams of the same recording run
at once through one scheduler with two model workers, each stream fed frame by frame and decoded as soon as its
last decode returned (no wall clock: the same decodes every run)."""

from __future__ import annotations

import asyncio
import dataclasses

import numpy as np
import pytest

from streamprocess.live import decoder as live_decoder
from streamprocess.live.agreement import norm
from streamprocess.live.captioner import Captioner
from streamprocess.live.decoder import WhisperDecoder
from streamprocess.live.events import Final, LiveEvent
from streamprocess.live.limits import PoolSettings
from streamprocess.live.pool import LivePool
from streamprocess.live.protocol import StreamConfig
from streamprocess.stt import models
from streamprocess.stt.audio import load_audio

from .helpers import JFK, shared
from .scoring import wer

STREAMS = 2


def repeats(text: str) -> list[str]:
    """Phrases of two words or more said twice in a row."""
    w = [norm(x) for x in text.split() if norm(x)]
    return [
        " ".join(w[i : i + n])
        for n in range(2, len(w) // 2 + 1)
        for i in range(len(w) - 2 * n + 1)
        if w[i : i + n] == w[i + n : i + 2 * n]
    ]


def unheard(finals: list[Final]) -> list[str]:
    """Runs of two words or more of zero length (under 20 ms each) in the finals: words no audio was heard for,
    the issue's capitals ("Ask what YOU can do FOR YOUR COUNTRY.")."""
    runs, run = [], []
    for w in [w for f in finals for w in f.words] + [None]:
        if w is not None and w.end - w.start < 0.02:
            run.append(w.word.strip())
            continue
        if len(run) >= 2:
            runs.append(" ".join(run))
        run = []
    return runs


async def stream(pool: LivePool, audio: np.ndarray) -> list[Final]:
    finals: list[Final] = []

    async def emit(event: LiveEvent) -> None:
        if isinstance(event, Final):
            finals.append(event)

    captioner = Captioner(StreamConfig(), pool.limits, pool.scheduler.decode, emit)
    for k in range(0, audio.size, 1600):
        await captioner.on_audio(audio[k : k + 1600], 0.0)
        captioner.maybe_decode()
        if captioner.decoding is not None:
            await asyncio.wait({captioner.decoding})
            await captioner.take_decode()
    await captioner.finalize(None)
    return finals


def run_streams() -> list[list[Final]]:
    jfk = load_audio(shared("jfk.flac"))
    audio = np.concatenate([jfk, np.zeros(16000, np.float32)])

    async def main() -> list[list[Final]]:
        spec = dataclasses.replace(models.resolve(), workers=2, cpu_threads=1)  # as the pool's plan on 2 cores
        model = models.load(spec, replica="loops")
        pool = LivePool(PoolSettings(), decoder=WhisperDecoder(model, min_seconds=5.0, workers=2))
        try:
            return list(await asyncio.gather(*(stream(pool, audio) for _ in range(STREAMS))))
        finally:
            await pool.close()

    return asyncio.run(main())


def test_concurrent_streams_on_a_short_window_reproduce_the_loop_without_the_guard(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(live_decoder, "drop_squeezed_repeats", lambda words: words)
    looped = [unheard(finals) for finals in run_streams()]
    # measured: "As what can do to your country?" after "As what you can do for your country.", all at 10.42 s
    assert all(looped), looped  # the loop is there in every stream


def test_no_phrase_repeats_in_the_finals() -> None:
    for finals in run_streams():
        text = " ".join(f.text for f in finals)
        assert not repeats(text) and not unheard(finals), text
        assert wer(JFK, text) <= 0.15, text  # measured 0.091: "As not", "As what" (the 5 s floor's own errors)
        for f in finals:
            assert all(w.end >= w.start for w in f.words)
