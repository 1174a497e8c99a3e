"""One live stream's policy: VAD, when to decode, what to commit, when to finalize and trim, backpressure.

The transport feeds PCM frames (:meth:`LiveSession.feed`) and reads events (:meth:`LiveSession.next_event`); one
driver task does the rest:

- Audio goes through the streaming VAD. Outside speech nothing is decoded (the buffer keeps a short pre-roll).
- In speech, once ``step`` seconds of new audio came (a pause is decoded once, not again and again) and the
  stream has no decode in flight, the whole buffer is sent to the shared scheduler, its committed words as a
  forced prefix (only the rest is generated). A stream never has two decodes queued, so under load each decode
  simply covers more new audio.
- Each hypothesis goes through LocalAgreement-2; committed words never change. Committed words through a sentence
  end become a ``final`` and the buffer is trimmed there; at VAD end-of-speech (or a stop, or a stall) the buffer
  is decoded once more and everything left becomes a ``final``. A buffer reaching ``buffer_max`` seconds is cut
  at its committed words (or its older words when none are committed), so memory stays bounded.
- Bounded memory, whatever the client's pace. Frames wait for the driver in a queue, and while the buffer is full
  none is taken from it. A transport with its own flow control (gRPC: HTTP/2 windows, keepalive apart from the
  data) calls :meth:`LiveSession.feed`, which blocks once ``inbound_frames`` wait, so the client is slowed to the
  pool's pace and nothing is lost. A transport that must keep reading (the WebSocket: its keepalive pings queue
  behind the audio, and a server that stops reading is cut off with 1011 when they time out) calls
  :meth:`LiveSession.offer`, which never blocks: at most ``backlog`` seconds of audio wait, what comes beyond is
  dropped until the backlog is down to half, and the driver reports each gap in stream order (a ``warning``
  ``audio_dropped`` with its ``start`` and ``end``; stream time runs on over it, so later times still match the
  client's audio). Events wait in a bounded queue too: a client that does not read its captions stalls only its
  own stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .. import metrics
from ..stt.audio import SAMPLE_RATE
from ..stt.types import Word
from .agreement import LocalAgreement, text_of
from .audio import PcmDecoder, StreamingVad
from .decoder import DecodeRequest, Hypothesis
from .protocol import StreamConfig, error_event

log = logging.getLogger(__name__)

_STOP = object()


@dataclass(frozen=True)
class _Gap:
    """``samples`` of audio the transport dropped (:meth:`LiveSession.offer`): stream time moves on over them."""

    samples: int


@dataclass
class SessionLimits:
    step: float = 0.25  # seconds of new audio before the next decode
    buffer_max: float = 15.0  # seconds of audio the decode buffer may hold
    stall_flush: float = 1.0  # no audio this long mid-utterance: finalize it
    idle_timeout: float = 30.0  # no audio this long: close the stream
    min_audio: float = 0.3  # shortest buffer worth decoding
    commit_min: float = 2.0  # hypotheses of shorter buffers are shown, never committed (too little context)
    commit_lookahead: float = 0.5  # words ending this close to the end of the audio heard are not committed yet
    sentence_trim: float = 8.0  # a buffer longer than this is cut at committed sentence ends
    inbound_frames: int = 32  # frames waiting for the driver before feed() blocks
    backlog: float = 30.0  # seconds of audio waiting for the driver before offer() drops audio
    backlog_frames: int = 3000  # frames waiting for the driver before offer() drops audio
    outbound_events: int = 256  # events waiting for the transport


class Recording:
    """The stream's audio as a 16 kHz 16-bit WAV, spooled to disk past 8 MiB (saved with the transcript)."""

    def __init__(self) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=8 << 20)
        self.wav = wave.open(self.file, "wb")
        self.wav.setnchannels(1)
        self.wav.setsampwidth(2)
        self.wav.setframerate(SAMPLE_RATE)

    def write(self, samples: np.ndarray) -> None:
        self.wav.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())

    def read(self) -> bytes:
        self.wav.close()  # writes the header's sizes
        self.file.seek(0)
        return self.file.read()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.wav.close()
        self.file.close()


Decode = Callable[..., Awaitable[Hypothesis]]  # (request, refresh=None): BatchScheduler.decode
Saver = Callable[["LiveSession"], Awaitable[str]]  # saves the transcript; returns the job id


class LiveSession:
    def __init__(
        self,
        session_id: str,
        config: StreamConfig,
        decode: Decode,
        limits: SessionLimits,
        *,
        model: str = "",
        saver: Saver | None = None,
    ) -> None:
        self.id = session_id
        self.config = config
        self.model = model
        self.limits = limits
        self._decode_fn = decode
        self._saver = saver
        self.pcm = PcmDecoder(config)
        self.vad = StreamingVad(config.vad) if config.vad.enabled else None
        self.la = LocalAgreement(lookahead=limits.commit_lookahead)
        self.inbound: asyncio.Queue[Any] = asyncio.Queue()  # bounded by feed() and offer()
        self.backlog = 0  # samples of audio in inbound
        self.dropped = 0  # samples offer() dropped
        self._gap: int | None = None  # samples dropped since the last frame kept, while dropping
        self._room = asyncio.Event()  # the driver took a frame
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=limits.outbound_events)
        self.buffer = np.zeros(0, np.float32)
        self.buf_start = 0  # stream sample index of buffer[0]
        self.received = 0  # samples received
        self.in_speech = self.vad is None
        self.decoded_to = 0
        self.prompt = config.prompt
        self.finals: list[dict[str, Any]] = []
        self.counts = {"partials": 0, "decodes": 0}
        self.close_reason = "stop"
        self.started_at = datetime.now(UTC)
        self.language = config.language or ""
        self.recording: Recording | None = Recording() if config.save and config.save_audio else None
        self._arrival = time.monotonic()  # when the newest audio arrived
        self._decode: asyncio.Task[Hypothesis] | None = None
        self._decode_meta: tuple[int, int, float] = (0, 0, 0.0)
        self._task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    # ------------------------------------------------------------------ transport side
    def start(self) -> None:
        self.events.put_nowait(
            {
                "type": "ready",
                "session_id": self.id,
                "model": self.model,
                "sample_rate": self.config.sample_rate,
                "encoding": self.config.encoding,
            }
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"live-{self.id}")

    async def feed(self, frame: bytes) -> None:
        """One binary audio frame; raises :class:`ProtocolError` on a malformed one. Blocks while the stream is
        behind (backpressure): for transports whose flow control and keepalive do not depend on reading."""
        samples = self.pcm(frame)
        while self.inbound.qsize() >= self.limits.inbound_frames and not self.closed.is_set():
            self._room.clear()
            room = asyncio.ensure_future(self._room.wait())
            closed = asyncio.ensure_future(self.closed.wait())
            try:
                await asyncio.wait({room, closed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                room.cancel()
                closed.cancel()
        self._keep(samples)

    def offer(self, frame: bytes) -> None:
        """One binary audio frame, never blocking: for a transport that must keep reading. Raises
        :class:`ProtocolError` on a malformed frame. Audio beyond the backlog (``backlog`` seconds, or
        ``backlog_frames`` frames) is dropped until the backlog is down to half; the driver reports each gap as a
        ``warning`` when it gets there."""
        samples = self.pcm(frame)
        if self.closed.is_set() or not samples.size:
            return
        frames, seconds = self.inbound.qsize(), self.backlog / SAMPLE_RATE
        if self._gap is not None:
            if frames > self.limits.backlog_frames // 2 or seconds > self.limits.backlog / 2:
                self._gap += samples.size
                return
            self.inbound.put_nowait(_Gap(self._gap))
            self._gap = None
        elif frames >= self.limits.backlog_frames or seconds + samples.size / SAMPLE_RATE > self.limits.backlog:
            self._gap = samples.size
            return
        self._keep(samples)

    def _keep(self, samples: np.ndarray) -> None:
        if self.closed.is_set():
            return
        if self.recording is not None:  # every accepted frame, decoded yet or not (not the audio dropped)
            self.recording.write(samples)
        self.backlog += samples.size
        self.inbound.put_nowait((samples, time.monotonic()))

    async def stop(self) -> None:
        """End of audio: finalize what is left, then ``closed``. Never blocks."""
        tail = self.pcm.flush()
        if self._gap is not None:  # still dropping: the resampler's tail belongs to the audio dropped
            self.inbound.put_nowait(_Gap(self._gap + tail.size))
            self._gap = None
        elif tail.size:
            self._keep(tail)
        self.inbound.put_nowait(_STOP)

    async def next_event(self) -> dict[str, Any]:
        return await self.events.get()

    async def _halt(self) -> bool:
        """Stops the driver and any decode; True when the driver was still running."""
        running = self._task is not None and not self._task.done()
        if running:
            self._task.cancel()  # type: ignore[union-attr]
            await asyncio.gather(self._task, return_exceptions=True)  # type: ignore[arg-type]
        self._cancel_decode()
        return running

    async def fail(self, code: str, message: str) -> None:
        """The transport saw a protocol error: stop the stream and say why (``error`` then ``closed``)."""
        await self._halt()
        self.close_reason = code
        for event in (error_event(code, message), await self._closed_event()):
            while self.events.full():  # a client that reads nothing: it gets the error, not old partials
                self.events.get_nowait()
            self.events.put_nowait(event)
        self.closed.set()

    async def abort(self) -> None:
        """The client went away (or the stream is over): stop at once, keep nothing pending, drop the recording."""
        if await self._halt():
            self.close_reason = "disconnected"
        if self.recording is not None:
            self.recording.close()
        self.closed.set()

    # ------------------------------------------------------------------ driver
    async def _emit(self, event: dict[str, Any]) -> None:
        await self.events.put(event)

    async def _run(self) -> None:
        get: asyncio.Future[Any] | None = None
        idle_since = time.monotonic()
        try:
            while True:
                if get is None and not self._buffer_full():
                    get = asyncio.ensure_future(self.inbound.get())
                waits = {t for t in (get, self._decode) if t is not None}
                done, _ = await asyncio.wait(
                    waits, timeout=self._timeout(idle_since), return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    if time.monotonic() - idle_since >= self.limits.idle_timeout:
                        self.close_reason = "idle_timeout"
                        await self._emit(
                            error_event(
                                "idle_timeout", f"no audio for {self.limits.idle_timeout:.0f} s: closing the stream"
                            )
                        )
                        break
                    if self._has_pending_speech():  # the client paused mid-utterance: do not leave it hanging
                        await self._finalize(None)
                    continue
                if self._decode is not None and self._decode in done:
                    await self._take_decode()
                if get is not None and get in done:
                    item = get.result()
                    get = None
                    self._room.set()
                    if item is _STOP:
                        break
                    idle_since = time.monotonic()
                    if isinstance(item, _Gap):
                        await self._skip(item.samples)
                    else:
                        self.backlog -= item[0].size
                        await self._on_audio(*item)
                self._maybe_decode()
            if get is not None:
                get.cancel()
            await self._finalize(None)
            await self._emit(await self._closed_event())
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("live session %s failed", self.id)
            self.close_reason = "internal_error"
            await self._emit(error_event("internal_error", f"the stream failed: {type(e).__name__}: {e}"))
            await self._emit(await self._closed_event())
        finally:  # the recording stays open until abort(): fail() may still save it
            self._cancel_decode()
            self.closed.set()

    def _timeout(self, idle_since: float) -> float:
        idle_left = self.limits.idle_timeout - (time.monotonic() - idle_since)
        if self._has_pending_speech():
            return max(0.05, min(self.limits.stall_flush, idle_left))
        return max(0.05, idle_left)

    def _has_pending_speech(self) -> bool:
        return bool(self.la.pending()) and self._decode is None

    def _buffer_full(self) -> bool:
        return self.buffer.size >= self.limits.buffer_max * SAMPLE_RATE

    def _cancel_decode(self) -> None:
        if self._decode is not None:
            self._decode.cancel()
            self._decode = None

    # ------------------------------------------------------------------ audio
    async def _on_audio(self, samples: np.ndarray, arrival: float) -> None:
        self._arrival = arrival
        self.buffer = np.concatenate([self.buffer, samples]) if self.buffer.size else samples.copy()
        self.received += samples.size
        for event in self.vad.feed(samples) if self.vad is not None else ():
            at = int(event.time * SAMPLE_RATE)
            if event.kind == "start":
                self.in_speech = True
                self._trim_to(max(at, self.buf_start))
                self.decoded_to = self.buf_start
                await self._emit({"type": "speech_started", "time": round(event.time, 3)})
            else:
                await self._emit({"type": "speech_stopped", "time": round(event.time, 3)})
                await self._finalize(at)
                self.in_speech = False
        if not self.in_speech and self.vad is not None:  # keep only the pre-roll VAD may date a start back to
            keep = int((self.config.vad.min_speech_ms + self.config.vad.speech_pad_ms + 100) * SAMPLE_RATE / 1000)
            self._trim_to(max(self.buf_start, self.received - keep))

    async def _skip(self, samples: int) -> None:
        """Audio the transport dropped: the utterance so far is finalized, stream time moves on over the gap, and
        the client is told (``warning``)."""
        start = self.received
        if self.vad is not None and self.in_speech:
            await self._emit({"type": "speech_stopped", "time": round(start / SAMPLE_RATE, 3)})
        await self._finalize(None)
        self.received += samples
        self.dropped += samples
        self.buffer = np.zeros(0, np.float32)
        self.buf_start = self.decoded_to = self.received
        self.la = LocalAgreement(lookahead=self.limits.commit_lookahead)  # nothing after a gap repeats before it
        if self.vad is not None:  # a fresh VAD state on the stream's clock
            self.vad = StreamingVad(self.config.vad)
            self.vad.position = self.vad.heard_until = self.received
            self.in_speech = False
        await self._emit(
            {
                "type": "warning",
                "code": "audio_dropped",
                "start": round(start / SAMPLE_RATE, 3),
                "end": round(self.received / SAMPLE_RATE, 3),
                "message": f"{samples / SAMPLE_RATE:.1f} s of audio dropped: it came faster than the stream could "
                f"process it (at most {self.limits.backlog:.0f} s may wait); send audio in real time",
            }
        )

    def _trim_to(self, sample: int) -> None:
        cut = min(max(sample - self.buf_start, 0), self.buffer.size)
        if cut:
            self.buffer = self.buffer[cut:]
            self.buf_start += cut

    # ------------------------------------------------------------------ decoding
    def _request(self, audio: np.ndarray) -> DecodeRequest:
        return DecodeRequest(
            audio=audio,
            language=self.config.language,
            prompt=self.prompt,
            hotwords=self.config.hotwords,
            prefix=text_of(self.la.committed),
        )

    def _maybe_decode(self) -> None:
        if self._decode is not None or not self.in_speech:
            return
        if self.buffer.size < self.limits.min_audio * SAMPLE_RATE:
            return
        if not self._buffer_full():
            if self.received - self.decoded_to < self.limits.step * SAMPLE_RATE:
                return
            if self.vad is not None and self.vad.heard_until + self.limits.step * SAMPLE_RATE <= self.decoded_to:
                return  # a pause, decoded once past its start already: the hypothesis would not change
        # sized by the buffer as it is (no copy), bound by _snapshot when its batch starts
        self._decode = asyncio.ensure_future(self._decode_fn(self._request(self.buffer), refresh=self._snapshot))
        self.counts["decodes"] += 1

    def _snapshot(self) -> DecodeRequest:
        """The decode request for the buffer as it is now. The scheduler calls it when the request's batch starts,
        so a request that queued behind other streams still carries every frame that came meanwhile."""
        self.decoded_to = self.received
        self._decode_meta = (self.buf_start, self.received, self._arrival)
        return self._request(self.buffer.copy())

    def _absolute(self, words: list[Word], offset: int) -> list[Word]:
        t = offset / SAMPLE_RATE
        return [
            Word(start=round(w.start + t, 3), end=round(w.end + t, 3), word=w.word, probability=w.probability)
            for w in words
        ]

    async def _take_decode(self) -> None:
        task, self._decode = self._decode, None
        assert task is not None
        hyp = task.result()  # a model failure ends the stream with internal_error
        self.language = hyp.language
        start, end, arrival = self._decode_meta
        if start != self.buf_start:  # a final cut the buffer while this ran: its times no longer fit
            return
        heard = (end - start) / SAMPLE_RATE
        self.la.insert(
            self._absolute(hyp.words, start), commit=heard >= self.limits.commit_min, heard_until=end / SAMPLE_RATE
        )
        sentences = self.la.take_sentences(end / SAMPLE_RATE) if heard >= self.limits.sentence_trim else []
        if sentences:
            await self._emit_final(sentences, end, arrival)
            self._trim_to(int(sentences[-1].end * SAMPLE_RATE))
        if self.buffer.size >= (self.limits.buffer_max - self.limits.step) * SAMPLE_RATE:
            await self._cut(end, arrival)
        pending = self.la.pending()
        if self.config.interim_results and pending:
            committed = len(self.la.committed)
            self.counts["partials"] += 1
            metrics.LIVE_PARTIAL_LATENCY.observe(time.monotonic() - arrival)
            await self._emit(
                {
                    "type": "partial",
                    "text": text_of(pending),
                    "start": pending[0].start,
                    "end": pending[-1].end,
                    "stability": round(committed / len(pending), 3),
                    "audio_end": round(end / SAMPLE_RATE, 3),
                }
            )

    async def _cut(self, end: int, arrival: float) -> None:
        """The buffer is full: hand out its committed words (else the older words of the hypothesis) as a final
        and trim after them; with no words at all, keep only the last second."""
        if not self.la.committed:
            older = [w for w in self.la.tail if w.end <= end / SAMPLE_RATE - 1.0]
            self.la.commit(older)
            self.la.tail = self.la.tail[len(older) :]
        words = self.la.take_committed()
        if words:
            await self._emit_final(words, end, arrival)
            self._trim_to(int(words[-1].end * SAMPLE_RATE))
        else:
            self._trim_to(self.received - SAMPLE_RATE)
        self.decoded_to = self.buf_start

    async def _finalize(self, end: int | None) -> None:
        """End of an utterance (VAD), of the stream, or a stall: decode the buffer once more up to ``end`` and
        hand out everything not yet final."""
        if self._decode is not None:
            await asyncio.wait({self._decode})  # a cancellation here is the driver's own: let it through
            await self._take_decode()
        end = self.received if end is None else min(end, self.received)
        fresh: list[Word] = []
        span = end - self.buf_start
        speech = self.in_speech or bool(self.la.pending())
        if speech and span >= self.limits.min_audio * SAMPLE_RATE:
            hyp = await self._decode_fn(self._request(self.buffer[:span].copy()))
            self.counts["decodes"] += 1
            fresh = self.la.fresh(self._absolute(hyp.words, self.buf_start))
        words = self.la.take_all(fresh)
        if words:
            await self._emit_final(words, end, self._arrival)
        self._trim_to(end)
        self.decoded_to = self.buf_start

    async def _emit_final(self, words: list[Word], end: int, arrival: float) -> None:
        text = text_of(words)
        if not text:
            return
        metrics.LIVE_PARTIAL_LATENCY.observe(time.monotonic() - arrival)
        final = {
            "type": "final",
            "id": len(self.finals),
            "start": words[0].start,
            "end": words[-1].end,
            "text": text,
            "words": [w.model_dump() for w in words],
            "audio_end": round(end / SAMPLE_RATE, 3),
        }
        self.finals.append(final)
        self.prompt = ((self.prompt or "") + " " + text).strip()[-400:]
        await self._emit(final)

    async def _closed_event(self) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": "closed",
            "reason": self.close_reason,
            "audio_seconds": round(self.received / SAMPLE_RATE, 3),
            "finals": len(self.finals),
            "partials": self.counts["partials"],
            "decodes": self.counts["decodes"],
            "dropped_seconds": round(self.dropped / SAMPLE_RATE, 3),
            "text": " ".join(f["text"] for f in self.finals),
        }
        if self._saver is not None and self.config.save:
            try:
                event["job_id"] = await self._saver(self)
            except Exception as e:  # the captions were delivered; say the archive failed
                log.exception("saving live session %s failed", self.id)
                await self._emit(error_event("save_failed", f"the transcript could not be saved: {e}"))
        return event
