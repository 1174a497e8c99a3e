"""One Realtime transcription connection over one live stream: client events become calls on the
:class:`~streamprocess.live.session.LiveSession`, and its events become Realtime server events.

Items. Each turn of the stream is one conversation item: with ``server_vad`` a VAD utterance
(``input_audio_buffer.speech_started`` opens it, ``speech_stopped`` and ``committed`` follow the end of speech,
``…transcription.completed`` the utterance's final decode); with ``turn_detection: null`` the audio between the
client's commits (``committed`` and ``completed`` answer each ``input_audio_buffer.commit``).

Deltas before the end of the speech. ``conversation.item.input_audio_transcription.delta`` is append-only, so it
carries only text that will not change: the words LocalAgreement-2 has committed (a partial's ``committed``) and the
finals, as they come, while the speech goes on (OpenAI's models transcribe an item only once it is committed, and
speaches sends no deltas). The deltas of an item add up to its ``completed`` transcript. Its item id is the one
``speech_started`` announced; without VAD, a delta may name an item before ``committed`` does.

Where OpenAI's documents are silent: ``usage`` is ``{"type": "duration", "seconds": …}`` (the turn's audio);
``logprobs`` (asked with ``include``) are per word, ``token`` the word as transcribed and ``logprob`` the log of its
probability; ``languages`` names the language each final was decoded in; a ``clear`` drops the open item, so an item
whose deltas had begun then gets no ``completed``; a commit with less than 100 ms of audio since the last turn is
refused with ``no_audio``, as OpenAI refuses it; a ``session.update`` changing the language, prompt or VAD mid-stream
finalizes the words so far first; the stream's warnings (audio dropped) are ``error`` events of type
``server_error``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import ErrorCode
from ...live.events import (
    Error,
    Final,
    LiveEvent,
    Partial,
    SpeechStarted,
    SpeechStopped,
    StreamWarning,
    TurnCleared,
    TurnEnded,
)
from ...live.protocol import ProtocolError, StreamConfig
from ...live.session import LiveSession
from ...stt.types import Word
from ..live.closes import SERVER_ERROR, close_code
from .protocol import (
    Append,
    BadEvent,
    Clear,
    Commit,
    SessionState,
    SessionUpdate,
    TranscriptionSessionUpdate,
    error_event,
    new_id,
    parse_client_event,
    server_event,
)

log = logging.getLogger(__name__)

MIN_COMMIT = 0.1  # seconds of audio a commit needs (OpenAI refuses less)
SLICE_SECONDS = 1.0  # an append's audio goes to the stream in slices no longer than this (OpenAI allows 15 MiB)
MIN_PROBABILITY = 1e-6  # a word's probability floor for its log (a 0 would be -inf, which JSON cannot carry)
Event = dict[str, Any]


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def logprob(word: Word) -> dict[str, Any]:
    """A word as OpenAI's ``{token, logprob, bytes}``."""
    return {
        "token": word.word,
        "logprob": round(math.log(max(word.probability, MIN_PROBABILITY)), 4),
        "bytes": list(word.word.encode()),
    }


@dataclass
class _Item:
    id: str = field(default_factory=lambda: new_id("item"))
    finals: list[Final] = field(default_factory=list)
    sent: str = ""  # the text sent as deltas
    committed: bool = False  # input_audio_buffer.committed is out

    def text(self, pending: str = "") -> str:
        return " ".join([f.text for f in self.finals] + ([pending] if pending else []))


class RealtimeService:
    """Client events in (:meth:`handle`), live events out as Realtime events (:meth:`translate`); never blocks, so
    the transport can keep reading while the stream works."""

    def __init__(
        self,
        session: LiveSession,
        check: Callable[[StreamConfig], None],
        *,
        state: SessionState,
        beta: bool = False,
    ) -> None:
        """``session``: opened with ``state.stream_config()``; ``check``: refuses a config the pool cannot do
        (:meth:`LivePool.check <streamprocess.live.pool.LivePool.check>`); ``beta``: the client speaks the beta
        API (``OpenAI-Beta: realtime=v1``), so the session is announced as ``transcription_session.created``."""
        self.session = session
        self.check = check
        self.state = state
        self.beta = beta
        self.id = new_id("sess")
        self.item: _Item | None = None  # the open item
        self.previous: str | None = None  # the last item committed
        self.commits: deque[str | None] = deque()  # event ids of the commits the stream has not answered yet

    # ------------------------------------------------------------------ client events
    def greeting(self) -> Event:
        """The first event: the session as it starts."""
        if self.beta:
            return server_event("transcription_session.created", session=self.state.beta(self.id))
        return server_event("session.created", session=self.state.ga(self.id))

    def handle(self, text: str | None) -> list[Event]:
        """One client event (a text frame; None for a binary one); returns the replies to send now (errors,
        ``session.updated``). Audio, commits and clears go to the stream, whose answers come through
        :meth:`translate` in stream order."""
        event_id: str | None = None
        try:
            if text is None:
                raise BadEvent("Realtime events are JSON text frames; audio goes base64 in input_audio_buffer.append")
            try:
                data = json.loads(text)
            except ValueError as e:
                raise BadEvent(f"the event is not JSON: {e}") from None
            if isinstance(data, dict) and isinstance(data.get("event_id"), str):
                event_id = data["event_id"]
            event = parse_client_event(data)
            match event:
                case Append():
                    self._append(event.audio)
                case Commit():
                    self.commits.append(event.event_id)
                    self.session.commit()
                case Clear():
                    self.session.clear()
                case SessionUpdate() | TranscriptionSessionUpdate():
                    return [self._update(event)]
        except BadEvent as e:
            return [error_event(e.code, e.message, param=e.param, client_event=event_id)]
        return []

    def _append(self, audio: str) -> None:
        try:
            pcm = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise BadEvent("audio is not base64", code=ErrorCode.BAD_AUDIO, param="audio") from None
        if len(pcm) % 2:
            raise BadEvent(
                f"{len(pcm)} bytes of audio are not a whole number of PCM16 samples (2 bytes each)",
                code=ErrorCode.BAD_AUDIO,
                param="audio",
            )
        step = int(self.state.rate * SLICE_SECONDS) * 2
        for i in range(0, len(pcm), step):  # never blocks: beyond the backlog, audio is dropped and said
            self.session.offer(pcm[i : i + step])

    def _update(self, event: SessionUpdate | TranscriptionSessionUpdate) -> Event:
        state = self.state.updated(event)
        config = state.stream_config()
        try:
            self.check(config)
        except ProtocolError as e:
            param = (
                "session.audio.input.transcription.language"
                if isinstance(event, SessionUpdate)
                else "session.input_audio_transcription.language"
            )
            raise BadEvent(e.message, code=e.code, param=param) from None
        self.state = state
        self.session.reconfigure(config)
        if isinstance(event, TranscriptionSessionUpdate):
            return server_event("transcription_session.updated", session=state.beta(self.id))
        return server_event("session.updated", session=state.ga(self.id))

    # ------------------------------------------------------------------ stream events
    def _open(self) -> _Item:
        if self.item is None:
            self.item = _Item()
        return self.item

    def _committed(self, item: _Item) -> Event:
        item.committed = True
        event = server_event("input_audio_buffer.committed", item_id=item.id, previous_item_id=self.previous)
        self.previous = item.id
        return event

    def _delta(self, item: _Item, stable: str) -> list[Event]:
        """The text of ``stable`` (the item's text that will not change) not sent yet. A sentence's final comes
        while words after it were sent already (a partial's committed words): nothing new then."""
        if item.sent.startswith(stable):
            return []
        if not stable.startswith(item.sent):  # never happens by LocalAgreement's rules; deltas cannot take back
            log.warning("realtime %s: %r does not extend the deltas sent (%r)", self.id, stable, item.sent)
            return []
        delta, item.sent = stable[len(item.sent) :], stable
        return [
            server_event(
                "conversation.item.input_audio_transcription.delta", item_id=item.id, content_index=0, delta=delta
            )
        ]

    def _completed(self, item: _Item, seconds: float) -> Event:
        words = [w for f in item.finals for w in f.words]
        languages = list(dict.fromkeys(f.language for f in item.finals if f.language))
        extra: dict[str, Any] = {"logprobs": [logprob(w) for w in words]} if self.state.logprobs else {}
        if languages:
            extra["languages"] = [{"code": code} for code in languages]
        return server_event(
            "conversation.item.input_audio_transcription.completed",
            item_id=item.id,
            content_index=0,
            transcript=item.text(),
            usage={"type": "duration", "seconds": round(max(seconds, 0.0), 3)},
            **extra,
        )

    def translate(self, event: LiveEvent) -> list[Event]:
        """The Realtime events for one live event (``ready`` and ``closed`` have none: the session was announced
        at connect, and the transport closes the connection with ``closed``'s reason)."""
        match event:
            case SpeechStarted():
                item = self._open()
                return [
                    server_event("input_audio_buffer.speech_started", audio_start_ms=_ms(event.time), item_id=item.id)
                ]
            case SpeechStopped():
                item = self._open()
                stopped = server_event(
                    "input_audio_buffer.speech_stopped", audio_end_ms=_ms(event.time), item_id=item.id
                )
                return [stopped, self._committed(item)]
            case Partial():
                if not event.committed:
                    return []
                item = self._open()
                return self._delta(item, item.text(event.committed))
            case Final():
                item = self._open()
                item.finals.append(event)
                return self._delta(item, item.text())
            case TurnEnded():
                return self._turn_ended(event)
            case TurnCleared():
                self.item = None
                return [server_event("input_audio_buffer.cleared")]
            case StreamWarning() | Error():
                server = close_code(event.code) == SERVER_ERROR
                return [error_event(event.code, event.message, server=server)]
        return []

    def _turn_ended(self, event: TurnEnded) -> list[Event]:
        client_event = self.commits.popleft() if event.cause == "commit" and self.commits else None
        seconds = event.end - event.start
        if event.cause == "commit" and self.item is None and seconds < MIN_COMMIT:
            message = (
                f"buffer too small: a commit needs at least {MIN_COMMIT * 1000:.0f} ms of audio, and the buffer "
                f"holds {seconds * 1000:.0f} ms"
            )
            return [error_event(ErrorCode.NO_AUDIO, message, client_event=client_event)]
        item = self._open()
        out = [] if item.committed else [self._committed(item)]
        self.item = None
        return [*out, self._completed(item, seconds)]
