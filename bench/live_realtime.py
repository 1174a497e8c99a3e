"""What bench/live.py needs for the OpenAI Realtime protocol (``--protocol realtime``): a client streaming a recording
to ``/v1/realtime?intent=transcription`` as OpenAI's clients do, and the latency both protocols can be measured by.

The Realtime protocol shows only text that will not change (its deltas are append-only), and its events carry no
audio times, so its latency cannot be the native protocol's (the first partial whose ``audio_end`` reaches a frame).
Both are measured here by the latency of stable text instead: for each word of the recording, from sending the audio
of its end to the arrival of the first event whose stable text holds it: a Realtime delta, or on the native protocol
a final or a partial's ``committed`` words. Where each word ends comes from a reference alignment of the recording
(stock faster-whisper ``transcribe`` with word timestamps, the default model), matched to the streamed transcript
word by word (``difflib``); words the stream got wrong are left out.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

import numpy as np
import websockets

from streamprocess.live.agreement import norm
from tests.realtime import pcm16  # 16 kHz float samples as 24 kHz PCM16, as the tests send them

RATE = 24000  # OpenAI's PCM16 rate
FRAME_MS = 100


def reference_words(samples: np.ndarray) -> list[tuple[str, float]]:
    """(normalised word, end second) of 16 kHz ``samples`` by the default model's own word timestamps."""
    segments, _ = _reference_model().transcribe(samples, language="en", word_timestamps=True, vad_filter=False)
    return [(norm(w.word), float(w.end)) for s in segments for w in (s.words or []) if norm(w.word)]


_MODEL: Any = None


def _reference_model() -> Any:
    global _MODEL
    if _MODEL is None:
        from streamprocess.stt import models

        _MODEL = models.load(models.resolve(), replica="bench-reference")
    return _MODEL


def stable_latencies(
    stable: list[tuple[float, str]], sent: list[tuple[float, float]], reference: list[tuple[str, float]]
) -> list[float]:
    """Seconds from sending each reference word's end to the arrival of the stable text holding it. ``stable``:
    (arrival, all the stream's stable text so far), append-only; ``sent``: (audio seconds sent, when)."""
    if not stable or not sent:
        return []
    arrival: list[float] = []  # arrival of the stable text's k-th word
    for t, text in stable:
        arrival += [t] * max(0, len(text.split()) - len(arrival))
    words = [norm(w) for w in stable[-1][1].split()]
    out = []
    matcher = SequenceMatcher(a=[w for w, _ in reference], b=words, autojunk=False)
    for block in matcher.get_matching_blocks():
        for i in range(block.size):
            end = reference[block.a + i][1]
            sent_at = next((when for audio, when in sent if audio >= end - 1e-6), sent[-1][1])
            out.append(arrival[block.b + i] - sent_at)
    return out


def native_stable(events: list[dict[str, Any]]) -> list[tuple[float, str]]:
    """The native stream's stable text after each event: its finals, and the last partial's ``committed`` words."""
    finals: list[str] = []
    out = []
    for e in events:
        if e["type"] == "final":
            finals.append(e["text"])
            out.append((e["received"], " ".join(finals)))
        elif e["type"] == "partial" and e.get("committed"):
            out.append((e["received"], " ".join([*finals, e["committed"]])))
    return out


@dataclass
class Realtime:
    events: list[dict[str, Any]] = field(default_factory=list)  # each with "received" (s since the stream began)
    sent: list[tuple[float, float]] = field(default_factory=list)  # (audio seconds sent so far, wall time)
    close_code: int | None = None

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    @property
    def text(self) -> str:
        return " ".join(e["transcript"] for e in self.of("conversation.item.input_audio_transcription.completed"))

    @property
    def settled(self) -> bool:
        started = len(self.of("input_audio_buffer.speech_started"))
        done = len(self.of("conversation.item.input_audio_transcription.completed"))
        return started == len(self.of("input_audio_buffer.speech_stopped")) and done >= started

    def stable(self) -> list[tuple[float, str]]:
        """The stable text after each delta: every item's deltas, the items apart by a space."""
        text, item, out = "", None, []
        for e in self.of("conversation.item.input_audio_transcription.delta"):
            if item is not None and e["item_id"] != item:
                text += " "
            text, item = text + e["delta"], e["item_id"]
            out.append((e["received"], text.strip()))
        return out


async def realtime_caption(
    base: str, api_key: str, samples: np.ndarray, *, tail_silence: float = 1.0, vad: dict[str, Any] | None = None
) -> Realtime:
    """Streams 16 kHz ``samples`` (then ``tail_silence`` s of silence) to ``base`` (``ws://host:port``) in real
    time as 24 kHz PCM16 appends of 100 ms, with server VAD (``vad``: its settings); returns every event once the
    last item completed (or 30 s passed)."""
    pcm = pcm16(np.concatenate([samples, np.zeros(int(tail_silence * 16000), np.float32)]))
    turn = {"type": "server_vad", **(vad or {})}
    update = {
        "type": "session.update",
        "session": {"type": "transcription", "audio": {"input": {"turn_detection": turn}}},
    }
    result = Realtime()
    url = f"{base}/v1/realtime?intent=transcription"
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {api_key}"}, max_size=None) as ws:
        t0 = time.monotonic()

        async def receive() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                async for message in ws:
                    result.events.append({**json.loads(message), "received": time.monotonic() - t0})

        receiver = asyncio.create_task(receive())
        await ws.send(json.dumps(update))
        frame = RATE * FRAME_MS // 1000 * 2
        start = time.monotonic()
        for i in range(0, len(pcm), frame):
            chunk = pcm[i : i + frame]
            seconds = (i + len(chunk)) / 2 / RATE
            await asyncio.sleep(max(0.0, start + seconds - time.monotonic()))  # a live source has it once it is over
            if receiver.done():
                break
            audio = base64.b64encode(chunk).decode()
            await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": audio}))
            result.sent.append((seconds, time.monotonic() - t0))
        deadline = time.monotonic() + 30
        while not (result.settled and result.events) and time.monotonic() < deadline and not receiver.done():
            await asyncio.sleep(0.05)
        await ws.close()
        await receiver
        result.close_code = 1000 if result.settled and not result.of("error") else ws.close_code
    return result
