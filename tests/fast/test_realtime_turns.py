"""The turns a live session reports for the Realtime API, in-process: jfk.flac through the real Silero VAD, with a
decoder that hears nothing (no model), so what is seen is where turns end. A session that does not ask for turns
(the native WebSocket and gRPC) gets none of these events."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from streamprocess.live import events
from streamprocess.live.limits import SessionLimits
from streamprocess.live.pcm import encode
from streamprocess.live.protocol import StreamConfig
from streamprocess.live.scheduler import BatchScheduler
from streamprocess.live.session import LiveSession
from streamprocess.stt.audio import load_audio
from tests.fast.test_live_session import ScriptedDecoder

from ..helpers import shared


def of(seen: list[events.LiveEvent], kind: type[Any]) -> list[Any]:
    return [e for e in seen if isinstance(e, kind)]


async def run(
    audio: np.ndarray, *, turns: bool, limits: SessionLimits | None = None, burst: bool = False, between: Any = None
) -> list[events.LiveEvent]:
    """``audio`` through a session (16 kHz, VAD on) in 100 ms frames; ``between(session, frame)`` after each;
    ``burst``: all at once through ``offer`` (the driver falls behind); every event through ``closed``."""
    scheduler = BatchScheduler(ScriptedDecoder({}))
    session = LiveSession("t", StreamConfig(), scheduler.decode, limits or SessionLimits())
    if turns:
        session.report_turns()
    session.start()
    seen: list[events.LiveEvent] = []

    async def read() -> None:
        while not seen or not isinstance(seen[-1], events.Closed):
            seen.append(await session.next_event())

    reader = asyncio.create_task(read())
    try:
        for n, i in enumerate(range(0, audio.size, 1600)):
            session.offer(encode(audio[i : i + 1600]))
            if between is not None:
                await between(session, n)
            if not burst:
                await asyncio.sleep(0.002)
        await session.stop()
        await asyncio.wait_for(reader, 20)
    finally:
        await session.abort()
        await scheduler.close()
    return seen


async def test_every_end_of_speech_ends_a_turn_only_where_turns_are_asked_for() -> None:
    jfk = np.concatenate([load_audio(shared("jfk.flac")), np.zeros(16000, np.float32)])
    plain = await run(jfk, turns=False)
    assert len(of(plain, events.SpeechStopped)) >= 2
    assert not of(plain, events.TurnEnded) + of(plain, events.TurnCleared)  # the native protocol is unchanged

    seen = await run(jfk, turns=True)
    started, stopped, ended = of(seen, events.SpeechStarted), of(seen, events.SpeechStopped), of(seen, events.TurnEnded)
    assert [e.time for e in started] == [e.time for e in of(plain, events.SpeechStarted)]  # the same utterances
    assert len(ended) == len(stopped) == len(started) and {t.cause for t in ended} == {"speech_stopped"}
    for start, stop, turn in zip(started, stopped, ended, strict=True):
        assert seen.index(stop) < seen.index(turn)  # after the end of speech (and its final decode)
        assert (turn.start, turn.end) == (start.time, stop.time)


async def test_a_gap_mid_speech_ends_the_turn_before_the_warning() -> None:
    jfk = load_audio(shared("jfk.flac"))
    seen = await run(jfk, turns=True, limits=SessionLimits(backlog=2.0), burst=True)  # 11 s at once: a gap at 2 s
    [warning] = of(seen, events.StreamWarning)
    gap_turns = [t for t in of(seen, events.TurnEnded) if t.cause == "gap"]
    assert len(gap_turns) == 1 and gap_turns[0].end == warning.start
    assert seen.index(gap_turns[0]) < seen.index(warning)


async def test_clear_and_commit_mid_speech() -> None:
    jfk = np.concatenate([load_audio(shared("jfk.flac")), np.zeros(16000, np.float32)])

    async def between(session: LiveSession, frame: int) -> None:
        if frame == 14:  # 1.5 s sent: inside "And so my fellow Americans"
            session.clear()
        elif frame == 59:  # 6.0 s sent: inside "what your country can do for you"
            session.commit()

    seen = await run(jfk, turns=True, between=between)
    [cleared] = of(seen, events.TurnCleared)
    assert cleared.end == 1.5
    commits = [t for t in of(seen, events.TurnEnded) if t.cause == "commit"]
    assert len(commits) == 1 and commits[0].end == 6.0
    # the clear reset the VAD (no speech_stopped for the speech it dropped): the next speech starts afresh
    kinds = [type(e).__name__ for e in seen]
    after = kinds[seen.index(cleared) + 1 :]
    assert after.index("SpeechStarted") < after.index("SpeechStopped")
    # the commit split the utterance: its speech_stopped then ends the next turn, which began at the commit
    later = [t for t in of(seen, events.TurnEnded) if seen.index(t) > seen.index(commits[0])]
    assert later[0].cause == "speech_stopped" and later[0].start == 6.0
