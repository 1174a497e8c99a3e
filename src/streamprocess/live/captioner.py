"""One stream's captions from its audio: VAD, when to decode, what to commit, when to finalize and trim.

The session's driver (:mod:`.session`) hands the audio in order (:meth:`Captioner.on_audio`, :meth:`Captioner.skip`
for a gap) and calls :meth:`Captioner.maybe_decode` after each step; the captioner emits the VAD, partial, final
and gap events through the ``emit`` it was given.

- Audio goes through the streaming VAD. Outside speech nothing is decoded (the buffer keeps a short pre-roll).
- In speech, once ``step`` seconds of new audio came (a pause is decoded once, not again and again) and the
  stream has no decode in flight, the whole buffer is sent to the shared scheduler, its committed words as a
  forced prefix (only the rest is generated). A stream never has two decodes queued, so under load each decode
  simply covers more new audio.
- Each hypothesis goes through LocalAgreement-2; committed words never change. Committed words through a sentence
  end become a ``final`` and the buffer is trimmed there (once it holds ``sentence_trim`` seconds; at a clause end,
  a comma, once committed words span ``clause_trim`` seconds: every decode forces them in again token by token);
  at VAD end-of-speech (or a stop, or a stall) the buffer is decoded once more and everything left becomes a
  ``final``. A buffer reaching ``buffer_max`` seconds is cut
  at its committed words (or its older words when none are committed), so memory stays bounded.
- Turns, for transports built on them (the Realtime API's items): :meth:`Captioner.commit` finalizes the buffer
  mid-stream and ends the turn (``turn_ended``), :meth:`Captioner.clear` drops what is not final yet
  (``turn_cleared``), :meth:`Captioner.reconfigure` takes new settings in stream order; with ``turns`` set, every
  VAD end of speech ends a turn too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

import numpy as np

from .. import metrics
from ..errors import ErrorCode
from ..stt.audio import SAMPLE_RATE
from ..stt.types import Word
from .agreement import CLAUSE_END, LocalAgreement, text_of
from .audio import StreamingVad
from .decoder import DecodeRequest, Hypothesis
from .events import (
    Final,
    LiveEvent,
    Partial,
    SpeechStarted,
    SpeechStopped,
    StreamWarning,
    TurnCause,
    TurnCleared,
    TurnEnded,
)
from .limits import SessionLimits
from .protocol import StreamConfig, VadConfig
from .scheduler import Refresh


class Decode(Protocol):
    """How a stream decodes: :meth:`BatchScheduler.decode <.scheduler.BatchScheduler.decode>` (``refresh``: the
    request taken anew when its batch starts)."""

    def __call__(self, request: DecodeRequest, refresh: Refresh | None = None) -> Awaitable[Hypothesis]: ...


Emit = Callable[[LiveEvent], Awaitable[None]]


def _seconds(samples: int) -> float:
    return round(samples / SAMPLE_RATE, 3)


class Captioner:
    def __init__(self, config: StreamConfig, limits: SessionLimits, decode: Decode, emit: Emit) -> None:
        self.config = config
        self.limits = limits
        self._decode_fn = decode
        self._emit = emit
        self.vad = StreamingVad(config.vad) if config.vad.enabled else None
        self.la = LocalAgreement(lookahead=limits.commit_lookahead)
        self.buffer = np.zeros(0, np.float32)
        self.buf_start = 0  # stream sample index of buffer[0]
        self.received = 0  # samples of stream time: the audio heard and the gaps dropped
        self.dropped = 0  # samples in gaps
        self.in_speech = self.vad is None
        self.decoded_to = 0
        self.prompt = config.prompt
        self.finals: list[Final] = []
        self.partials = 0
        self.decodes = 0
        self.language = config.language or ""
        self.language_probability: float | None = 1.0 if config.language else None  # the latest decode's
        self._arrival = time.monotonic()  # when the newest audio arrived
        self.decoding: asyncio.Task[Hypothesis] | None = None  # the decode in flight
        self._decode_meta: tuple[int, int, float] = (0, 0, 0.0)
        self.turns = False  # say where each VAD utterance ends (turn_ended): LiveSession.report_turns
        self.turn_start = 0  # stream sample where the open turn began

    @property
    def text(self) -> str:
        return " ".join(f.text for f in self.finals)

    def has_pending_speech(self) -> bool:
        """Words not yet final and no decode in flight: a stall should finalize them."""
        return bool(self.la.pending()) and self.decoding is None

    def buffer_full(self) -> bool:
        return self.buffer.size >= self.limits.buffer_max * SAMPLE_RATE

    def cancel_decode(self) -> None:
        if self.decoding is not None:
            self.decoding.cancel()
            self.decoding = None

    # ------------------------------------------------------------------ audio
    async def on_audio(self, samples: np.ndarray, arrival: float) -> None:
        self._arrival = arrival
        self.buffer = np.concatenate([self.buffer, samples]) if self.buffer.size else samples.copy()
        self.received += samples.size
        for event in self.vad.feed(samples) if self.vad is not None else ():
            at = int(event.time * SAMPLE_RATE)
            if event.kind == "start":
                self.in_speech = True
                self._trim_to(max(at, self.buf_start))
                self.decoded_to = self.buf_start
                self.turn_start = max(self.turn_start, at)
                await self._emit(SpeechStarted(time=round(event.time, 3)))
            else:
                await self._emit(SpeechStopped(time=round(event.time, 3)))
                await self.finalize(at)
                self.in_speech = False
                if self.turns:
                    await self._end_turn("speech_stopped", at)
        if not self.in_speech and self.vad is not None:  # keep only the pre-roll VAD may date a start back to
            keep = int((self.config.vad.min_speech_ms + self.config.vad.speech_pad_ms + 100) * SAMPLE_RATE / 1000)
            self._trim_to(max(self.buf_start, self.received - keep))

    async def skip(self, samples: int) -> None:
        """Audio the transport dropped: the utterance so far is finalized, stream time moves on over the gap, and
        the client is told (``warning``)."""
        start = self.received
        speaking = self.vad is not None and self.in_speech
        if speaking:
            await self._emit(SpeechStopped(time=_seconds(start)))
        await self.finalize(None)
        if speaking and self.turns:
            await self._end_turn("gap", start)
        self.received += samples
        self.dropped += samples
        self.buffer = np.zeros(0, np.float32)
        self.buf_start = self.decoded_to = self.received
        self.la = LocalAgreement(lookahead=self.limits.commit_lookahead)  # nothing after a gap repeats before it
        if self.vad is not None:
            self.vad = self._fresh_vad(self.config.vad)
            self.in_speech = False
        await self._emit(
            StreamWarning(
                code=ErrorCode.AUDIO_DROPPED,
                start=_seconds(start),
                end=_seconds(self.received),
                message=f"{samples / SAMPLE_RATE:.1f} s of audio dropped: it came faster than the stream could "
                f"process it (at most {self.limits.backlog:.0f} s may wait); send audio in real time",
            )
        )

    def _fresh_vad(self, config: VadConfig) -> StreamingVad:
        """A new VAD state on the stream's clock."""
        vad = StreamingVad(config)
        vad.position = vad.heard_until = self.received
        return vad

    # ------------------------------------------------------------------ turns
    async def _end_turn(self, cause: TurnCause, end: int) -> None:
        await self._emit(TurnEnded(cause=cause, start=_seconds(self.turn_start), end=_seconds(end)))
        self.turn_start = max(self.turn_start, end)

    async def commit(self) -> None:
        """The transport's commit (the Realtime API's ``input_audio_buffer.commit``): everything heard so far is
        finalized now, not at the end of the speech, and the turn ends (``turn_ended``, even one without audio:
        the transport answers the commit with it). Speech going on belongs to the next turn."""
        await self.finalize(None)
        await self._end_turn("commit", self.received)

    async def clear(self) -> None:
        """The transport's clear (the Realtime API's ``input_audio_buffer.clear``): what is not final yet is dropped
        unheard (the buffer, the words not yet final, the decode in flight, the VAD's state) and the turn ends
        there (``turn_cleared``)."""
        self.cancel_decode()
        self.buffer = np.zeros(0, np.float32)
        self.buf_start = self.decoded_to = self.received
        self.la = LocalAgreement(lookahead=self.limits.commit_lookahead)
        if self.vad is not None:
            self.vad = self._fresh_vad(self.config.vad)
            self.in_speech = False
        await self._emit(TurnCleared(start=_seconds(self.turn_start), end=_seconds(self.received)))
        self.turn_start = self.received

    async def reconfigure(self, config: StreamConfig) -> None:
        """New settings from this point of the stream on (the Realtime API's ``session.update``). The words so far
        are finalized under the old ones (no utterance is decoded half in one language, half in another); new VAD
        settings mid-speech end the speech there (``speech_stopped``, and ``turn_ended`` ``update`` with
        ``turns``). The sample rate and encoding are the session's (its PCM decoder), not the captioner's."""
        old, self.config = self.config, config
        if config.model_copy(update={"sample_rate": old.sample_rate, "encoding": old.encoding}) == old:
            return
        new_vad = config.vad != old.vad
        ends_speech = new_vad and self.vad is not None and self.in_speech
        if ends_speech:
            await self._emit(SpeechStopped(time=_seconds(self.received)))
        await self.finalize(None)
        if ends_speech and self.turns:
            await self._end_turn("update", self.received)
        if config.prompt != old.prompt:
            self.prompt = config.prompt
        if new_vad:
            self.vad = self._fresh_vad(config.vad) if config.vad.enabled else None
            self.in_speech = self.vad is None

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
            task=self.config.task,
        )

    def maybe_decode(self) -> None:
        """Sends the buffer to the scheduler when it is worth a decode (see the module's notes)."""
        if self.decoding is not None or not self.in_speech:
            return
        if self.buffer.size < self.limits.min_audio * SAMPLE_RATE:
            return
        if not self.buffer_full():
            if self.received - self.decoded_to < self.limits.step * SAMPLE_RATE:
                return
            if self.vad is not None and self.vad.heard_until + self.limits.step * SAMPLE_RATE <= self.decoded_to:
                return  # a pause, decoded once past its start already: the hypothesis would not change
        # sized by the buffer as it is (no copy), bound by _snapshot when its batch starts
        self.decoding = asyncio.ensure_future(self._decode_fn(self._request(self.buffer), refresh=self._snapshot))
        self.decodes += 1

    def _snapshot(self) -> DecodeRequest:
        """The decode request for the buffer as it is now. The scheduler calls it when the request's batch starts,
        so a request that queued behind other streams still carries every frame that came meanwhile."""
        self.decoded_to = self.received
        self._decode_meta = (self.buf_start, self.received, self._arrival)
        return self._request(self.buffer.copy())

    @staticmethod
    def _absolute(words: list[Word], offset: int) -> list[Word]:
        t = offset / SAMPLE_RATE
        return [
            Word(start=round(w.start + t, 3), end=round(w.end + t, 3), word=w.word, probability=w.probability)
            for w in words
        ]

    async def take_decode(self) -> None:
        """The decode in flight is done: commit what agrees, hand out finals, show the rest as a partial."""
        task, self.decoding = self.decoding, None
        assert task is not None
        hyp = task.result()  # a model failure ends the stream with internal_error
        self.language, self.language_probability = hyp.language, hyp.language_probability
        start, end, arrival = self._decode_meta
        if start != self.buf_start:  # a final cut the buffer while this ran: its times no longer fit
            return
        heard = (end - start) / SAMPLE_RATE
        self.la.insert(
            self._absolute(hyp.words, start), commit=heard >= self.limits.commit_min, heard_until=end / SAMPLE_RATE
        )
        sentences = self.la.take_sentences(end / SAMPLE_RATE) if heard >= self.limits.sentence_trim else []
        if not sentences and self._committed_seconds() >= self.limits.clause_trim > 0:
            sentences = self.la.take_sentences(end / SAMPLE_RATE, ends=CLAUSE_END)
        if sentences:
            await self._emit_final(sentences, end, arrival)
            self._trim_to(int(sentences[-1].end * SAMPLE_RATE))
        if self.buffer.size >= (self.limits.buffer_max - self.limits.step) * SAMPLE_RATE:
            await self._cut(end, arrival)
        pending = self.la.pending()
        if self.config.interim_results and pending:
            committed = len(self.la.committed)
            self.partials += 1
            metrics.LIVE_PARTIAL_LATENCY.observe(time.monotonic() - arrival)
            await self._emit(
                Partial(
                    text=text_of(pending),
                    start=pending[0].start,
                    end=pending[-1].end,
                    stability=round(committed / len(pending), 3),
                    audio_end=_seconds(end),
                    committed=text_of(self.la.committed),
                )
            )

    def _committed_seconds(self) -> float:
        """Seconds of the buffer under committed words: each decode forces them in again token by token (CTranslate2
        feeds a prompt's tokens after <|notimestamps|> one decoder step at a time, ~3 ms each with tiny.en here),
        and aligns them again."""
        return self.la.committed[-1].end - self.buf_start / SAMPLE_RATE if self.la.committed else 0.0

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

    async def finalize(self, end: int | None) -> None:
        """End of an utterance (VAD), of the stream, or a stall: decode the buffer once more up to ``end`` (a
        stream sample; None: all of it) and hand out everything not yet final."""
        if self.decoding is not None:
            await asyncio.wait({self.decoding})  # a cancellation here is the driver's own: let it through
            await self.take_decode()
        end = self.received if end is None else min(end, self.received)
        fresh: list[Word] = []
        span = end - self.buf_start
        speech = self.in_speech or bool(self.la.pending())
        if speech and span >= self.limits.min_audio * SAMPLE_RATE:
            hyp = await self._decode_fn(self._request(self.buffer[:span].copy()))
            self.decodes += 1
            self.language, self.language_probability = hyp.language, hyp.language_probability
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
        final = Final(
            id=len(self.finals),
            start=words[0].start,
            end=words[-1].end,
            text=text,
            words=words,
            audio_end=_seconds(end),
            language=self.language or None,
            language_probability=self.language_probability,
        )
        self.finals.append(final)
        self.prompt = ((self.prompt or "") + " " + text).strip()[-400:]
        await self._emit(final)
