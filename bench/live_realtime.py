"""What bench/live.py needs for the OpenAI Realtime protocol (``--protocol realtime``): a client streaming a recording
to ``/v1/realtime?intent=transcription`` as OpenAI's clients do.

The Realtime protocol shows only text that will not change (its deltas are append-only) and its events carry no
audio times: its stream is measured by the word-level method of bench/live_words.py with visible = stable = the
deltas so far (``live_words.realtime_run``), so its word and committed latencies are one figure.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets

from tests.realtime import pcm16  # 16 kHz float samples as 24 kHz PCM16, as the tests send them

RATE = 24000  # OpenAI's PCM16 rate
FRAME_MS = 100


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
