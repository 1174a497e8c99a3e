"""One live stream as the transport sees it: frames in, events out, one driver task between them.

The transport feeds PCM frames (:meth:`LiveSession.feed` or :meth:`LiveSession.offer`) and reads events
(:meth:`LiveSession.next_event`); the driver hands the audio to the stream's :class:`~.captioner.Captioner` (VAD,
decoding, commits, finals) and ends the stream: ``closed`` after a stop, an idle timeout or a failure.

Bounded memory, whatever the client's pace. Frames wait for the driver in a queue, and while the captioner's buffer
is full none is taken from it. A transport with its own flow control (gRPC: HTTP/2 windows, keepalive apart from the
data) calls :meth:`LiveSession.feed`, which blocks once ``inbound_frames`` wait, so the client is slowed to the
pool's pace and nothing is lost. A transport that must keep reading (the WebSocket: its keepalive pings queue
behind the audio, and a server that stops reading is cut off with 1011 when they time out) calls
:meth:`LiveSession.offer`, which never blocks: at most ``backlog`` seconds of audio wait, what comes beyond is
dropped until the backlog is down to half, and the driver reports each gap in stream order (a ``warning``
``audio_dropped`` with its ``start`` and ``end``; stream time runs on over it, so later times still match the
client's audio). Events wait in a bounded queue too: a client that does not read its captions stalls only its
own stream.

Transports built on turns (the OpenAI Realtime API) also commit, clear and reconfigure mid-stream
(:meth:`LiveSession.commit`, :meth:`LiveSession.clear`, :meth:`LiveSession.reconfigure`): each goes through the
same queue as the audio, so it applies exactly where the client sent it in the stream, and never blocks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from ..errors import ErrorCode
from ..stt.audio import SAMPLE_RATE
from .archive import FinishedStream
from .audio import PcmDecoder
from .captioner import Captioner, Decode
from .events import Closed, Error, LiveEvent, Ready
from .limits import SessionLimits
from .pcm import Recording
from .protocol import StreamConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Gap:
    """``samples`` of audio the transport dropped (:meth:`LiveSession.offer`): stream time moves on over them."""

    samples: int


class _Stop:
    """The end of the audio (:meth:`LiveSession.stop`)."""


class _Commit:
    """:meth:`LiveSession.commit`."""


class _Clear:
    """:meth:`LiveSession.clear`."""


@dataclass(frozen=True)
class _Reconfigure:
    """:meth:`LiveSession.reconfigure`."""

    config: StreamConfig


_STOP, _COMMIT, _CLEAR = _Stop(), _Commit(), _Clear()
# (samples, when they arrived), a gap, the end, or a transport's control in stream order
_Inbound = tuple[np.ndarray, float] | _Gap | _Stop | _Commit | _Clear | _Reconfigure

Saver = Callable[[FinishedStream], Awaitable[str]]  # keeps the transcript; returns its job id


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
        self._saver = saver
        self.pcm = PcmDecoder(config)
        self.captioner = Captioner(config, limits, decode, self._emit)
        self.inbound: asyncio.Queue[_Inbound] = asyncio.Queue()  # bounded by feed() and offer()
        self.backlog = 0  # samples of audio in inbound
        self._gap: int | None = None  # samples dropped since the last frame kept, while dropping
        self._room = asyncio.Event()  # the driver took a frame
        self.events: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=limits.outbound_events)
        self.close_reason: str = "stop"  # or an ErrorCode, or "disconnected"
        self.started_at = datetime.now(UTC)
        self.recording: Recording | None = Recording() if config.save and config.save_audio else None
        self._task: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()

    # ------------------------------------------------------------------ transport side
    def start(self) -> None:
        self.events.put_nowait(
            Ready(
                session_id=self.id, model=self.model, sample_rate=self.config.sample_rate, encoding=self.config.encoding
            )
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
        self._flush_pcm()
        self.inbound.put_nowait(_STOP)

    def _flush_pcm(self) -> None:
        """The resampler's tail into the stream (or into the gap, while dropping)."""
        tail = self.pcm.flush()
        if self._gap is not None:  # still dropping: the resampler's tail belongs to the audio dropped
            self.inbound.put_nowait(_Gap(self._gap + tail.size))
            self._gap = None
        elif tail.size:
            self._keep(tail)

    def report_turns(self) -> None:
        """Also say where each VAD utterance ends (``turn_ended`` after its final), for a transport whose client
        sees turns (the Realtime API's items). Call it before the first audio."""
        self.captioner.turns = True

    def commit(self) -> None:
        """Finalize what was heard so far without ending the stream, and end the turn: ``turn_ended`` (``commit``)
        follows the finals. In stream order, after the audio sent before it; never blocks."""
        self._control(_COMMIT)

    def clear(self) -> None:
        """Drop the audio not yet final (sent before this call) unheard: ``turn_cleared``. Never blocks."""
        self._control(_CLEAR)

    def reconfigure(self, config: StreamConfig) -> None:
        """New settings for the audio sent from now on (sample rate and encoding at once, the rest in stream order:
        :meth:`Captioner.reconfigure <.captioner.Captioner.reconfigure>`). The caller checks that the pool can do
        the language (:meth:`LivePool.check <.pool.LivePool.check>`). Never blocks."""
        if config == self.config or self.closed.is_set():
            return
        if (config.sample_rate, config.encoding) != (self.config.sample_rate, self.config.encoding):
            self._flush_pcm()  # the old rate's last samples, then frames at the new one
            self.pcm = PcmDecoder(config)
        self.config = config
        self._control(_Reconfigure(config))

    def _control(self, item: _Commit | _Clear | _Reconfigure) -> None:
        if self.closed.is_set():
            return
        if self._gap is not None:  # the audio dropped so far came before this
            self.inbound.put_nowait(_Gap(self._gap))
            self._gap = None
        self.inbound.put_nowait(item)

    async def next_event(self) -> LiveEvent:
        return await self.events.get()

    async def _halt(self) -> bool:
        """Stops the driver and any decode; True when the driver was still running."""
        task = self._task
        running = task is not None and not task.done()
        if task is not None and running:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.captioner.cancel_decode()
        return running

    async def fail(self, code: str, message: str) -> None:
        """The transport saw a protocol error: stop the stream and say why (``error`` then ``closed``)."""
        await self._halt()
        self.close_reason = code
        for event in (Error(code=code, message=message), await self._closed_event()):
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
    async def _emit(self, event: LiveEvent) -> None:
        await self.events.put(event)

    async def _run(self) -> None:
        captioner = self.captioner
        get: asyncio.Future[_Inbound] | None = None
        idle_since = time.monotonic()
        try:
            while True:
                if get is None and not captioner.buffer_full():
                    get = asyncio.ensure_future(self.inbound.get())
                waits: set[asyncio.Future[Any]] = {t for t in (get, captioner.decoding) if t is not None}
                done, _ = await asyncio.wait(
                    waits, timeout=self._timeout(idle_since), return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    if time.monotonic() - idle_since >= self.limits.idle_timeout:
                        self.close_reason = ErrorCode.IDLE_TIMEOUT
                        message = f"no audio for {self.limits.idle_timeout:.0f} s: closing the stream"
                        await self._emit(Error(code=ErrorCode.IDLE_TIMEOUT, message=message))
                        break
                    if captioner.has_pending_speech():  # the client paused mid-utterance: do not leave it hanging
                        await captioner.finalize(None)
                    continue
                if captioner.decoding is not None and captioner.decoding in done:
                    await captioner.take_decode()
                if get is not None and get in done:
                    item = get.result()
                    get = None
                    self._room.set()
                    if isinstance(item, _Stop):
                        break
                    idle_since = time.monotonic()
                    match item:
                        case _Gap():
                            await captioner.skip(item.samples)
                        case _Commit():
                            await captioner.commit()
                        case _Clear():
                            await captioner.clear()
                        case _Reconfigure():
                            await captioner.reconfigure(item.config)
                        case (samples, arrival):
                            self.backlog -= samples.size
                            await captioner.on_audio(samples, arrival)
                captioner.maybe_decode()
            if get is not None:
                get.cancel()
            await captioner.finalize(None)
            await self._emit(await self._closed_event())
        except asyncio.CancelledError:
            raise
        except Exception as e:
            log.exception("live session %s failed", self.id)
            self.close_reason = ErrorCode.INTERNAL_ERROR
            await self._emit(
                Error(code=ErrorCode.INTERNAL_ERROR, message=f"the stream failed: {type(e).__name__}: {e}")
            )
            await self._emit(await self._closed_event())
        finally:  # the recording stays open until abort(): fail() may still save it
            captioner.cancel_decode()
            self.closed.set()

    def _timeout(self, idle_since: float) -> float:
        idle_left = self.limits.idle_timeout - (time.monotonic() - idle_since)
        if self.captioner.has_pending_speech():
            return max(0.05, min(self.limits.stall_flush, idle_left))
        return max(0.05, idle_left)

    # ------------------------------------------------------------------ the end
    def finished(self) -> FinishedStream:
        """What the stream heard, for the archive."""
        c = self.captioner
        return FinishedStream(
            session_id=self.id,
            config=self.config,
            model=self.model,
            language=c.language,
            finals=list(c.finals),
            audio_seconds=round(c.received / SAMPLE_RATE, 3),
            started_at=self.started_at,
            recording=self.recording,
        )

    async def _closed_event(self) -> Closed:
        c = self.captioner
        job_id: str | None = None
        if self._saver is not None and self.config.save:
            try:
                job_id = await self._saver(self.finished())
            except Exception as e:  # the captions were delivered; say the archive failed
                log.exception("saving live session %s failed", self.id)
                await self._emit(Error(code=ErrorCode.SAVE_FAILED, message=f"the transcript could not be saved: {e}"))
        return Closed(
            reason=self.close_reason,
            audio_seconds=round(c.received / SAMPLE_RATE, 3),
            finals=len(c.finals),
            partials=c.partials,
            decodes=c.decodes,
            dropped_seconds=round(c.dropped / SAMPLE_RATE, 3),
            text=c.text,
            job_id=job_id,
        )
