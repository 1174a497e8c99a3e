"""A live captioning client (websockets): streams audio at a chosen pace and collects the events.

Used by the tests and ``bench/live.py``. Each event is stamped with the moment it
arrived (``received``, seconds since the stream began), and :attr:`Captioned.sent` records when each audio
offset left, so latencies can be computed as the protocol promises them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets

from ..stt.audio import SAMPLE_RATE
from .pcm import encode


@dataclass
class Captioned:
    events: list[dict[str, Any]] = field(default_factory=list)  # each with "received" added
    sent: list[tuple[float, float]] = field(default_factory=list)  # (audio seconds sent so far, wall time)
    close_code: int | None = None
    close_reason: str = ""

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    @property
    def text(self) -> str:
        return " ".join(e["text"] for e in self.of("final"))

    def latencies(self) -> list[float]:
        """Caption latency: for each audio frame inside speech (within a final's words), the time from its sending
        to the first partial or final that heard it (whose ``audio_end`` reaches it)."""
        heard = [(e["audio_end"], e["received"]) for e in self.events if e["type"] in ("partial", "final")]
        spans = [(f["start"], f["end"]) for f in self.of("final")]
        out = []
        for audio_t, sent_at in self.sent:
            if not any(a <= audio_t <= b + 0.1 for a, b in spans):
                continue
            covering = [r for a, r in heard if a + 1e-6 >= audio_t]
            if covering:
                out.append(min(covering) - sent_at)
        return out


async def caption(
    url: str,
    api_key: str,
    samples: np.ndarray,
    *,
    speed: float = 1.0,
    frame_ms: int = 100,
    config: dict[str, Any] | None = None,
    on_event: Callable[[dict[str, Any]], None] | None = None,
    tail_silence: float = 0.0,
    sample_rate: int = SAMPLE_RATE,
    encoding: str = "pcm_s16le",
) -> Captioned:
    """Streams mono float32 ``samples`` (at ``sample_rate``) to ``url`` (``ws://host:port/v1/stt/stream``) at
    ``speed`` × real time as ``encoding``, then ``stop``; returns every event. ``tail_silence`` seconds of silence
    follow the audio (as a live microphone would)."""
    if tail_silence:
        samples = np.concatenate([samples, np.zeros(int(tail_silence * sample_rate), np.float32)])
    result = Captioned()
    frame = sample_rate * frame_ms // 1000
    async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {api_key}"}, max_size=None) as ws:
        t0 = time.monotonic()

        async def receive() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):  # an error close: the events say why
                async for message in ws:
                    event = json.loads(message)
                    event["received"] = time.monotonic() - t0
                    result.events.append(event)
                    if on_event is not None:
                        on_event(event)

        receiver = asyncio.create_task(receive())
        await ws.send(json.dumps({"sample_rate": sample_rate, "encoding": encoding, **(config or {})}))
        start = time.monotonic()
        for i in range(0, samples.size, frame):
            chunk = samples[i : i + frame]
            due = start + (i + chunk.size) / sample_rate / speed  # a live source has the frame once it is over
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if receiver.done():
                break
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send(encode(chunk, encoding))
            result.sent.append(((i + chunk.size) / sample_rate, time.monotonic() - t0))
        if not receiver.done():
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send(json.dumps({"type": "stop"}))
        await receiver
        result.close_code, result.close_reason = ws.close_code, ws.close_reason or ""
    return result
