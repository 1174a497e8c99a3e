"""The events a live stream sends back, as one discriminated union (each with a ``type``).

The session emits these objects; each transport maps them once: the WebSocket sends :func:`to_json` of each, gRPC
turns each into a ``TranscriptEvent`` message, the OpenAI Realtime door into its own events (``api/realtime``; it
alone asks for the turn events). Times are seconds of stream audio, rounded to the millisecond.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..stt.types import Word


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ready(_Event):
    """The stream is admitted and configured."""

    type: Literal["ready"] = "ready"
    session_id: str
    model: str
    sample_rate: int
    encoding: str


class SpeechStarted(_Event):
    """VAD: speech began at ``time``."""

    type: Literal["speech_started"] = "speech_started"
    time: float


class SpeechStopped(_Event):
    """VAD: speech ended at ``time``."""

    type: Literal["speech_stopped"] = "speech_stopped"
    time: float


class Partial(_Event):
    """The not-yet-final text since the last final. ``start``/``end``: its word times; ``stability``: the share
    of its words already committed by LocalAgreement-2 (committed words never change); ``committed``: those words,
    the start of ``text`` that no later partial or final changes (counting words by spaces fails for languages
    written without them); ``audio_end``: the stream audio this hypothesis has heard."""

    type: Literal["partial"] = "partial"
    text: str
    start: float
    end: float
    stability: float
    audio_end: float
    committed: str | None = None


class Final(_Event):
    """A committed segment that never changes: ``id`` 0, 1, …; ``audio_end`` as in :class:`Partial`. ``language``:
    the stream's language as the latest decode had it (detected on the stream's audio when the config gave none),
    ``language_probability`` that detection's probability (1.0 when the config gave the language, or the model is
    English-only); both left out when the decoder does not say."""

    type: Literal["final"] = "final"
    id: int
    start: float
    end: float
    text: str
    words: list[Word]
    audio_end: float
    language: str | None = None
    language_probability: float | None = None


TurnCause = Literal["speech_stopped", "commit", "gap", "update"]


class TurnEnded(_Event):
    """A turn is over: the audio from ``start`` to ``end`` is in the finals sent before this event, and what comes
    next belongs to the next turn. For transports built on turns (the Realtime API's items), so sent only where
    asked: after :meth:`~.session.LiveSession.commit` (``cause`` ``commit``) always; with
    :meth:`~.session.LiveSession.report_turns`, also after every ``speech_stopped``, once its final decode is out
    (``speech_stopped``; ``gap`` when dropped audio ended the speech, ``update`` when new VAD settings did)."""

    type: Literal["turn_ended"] = "turn_ended"
    cause: TurnCause
    start: float
    end: float


class TurnCleared(_Event):
    """:meth:`~.session.LiveSession.clear`: the turn's audio not yet final, from ``start`` to ``end``, was dropped
    unheard; the next audio starts a new turn."""

    type: Literal["turn_cleared"] = "turn_cleared"
    start: float
    end: float


class StreamWarning(_Event):
    """Not fatal. ``audio_dropped``: audio came faster than the stream could process it (WebSocket only; gRPC's
    flow control slows the client instead) and, beyond a bounded backlog (``SessionLimits.backlog``), was dropped;
    ``start`` and ``end`` are the gap. Sent in stream order, after the finals before the gap; stream time runs on
    over the gap, so later times still match the client's audio (the saved WAV holds only the audio kept)."""

    type: Literal["warning"] = "warning"
    code: str
    message: str
    start: float | None = None
    end: float | None = None


class Error(_Event):
    """Something went wrong; a fatal one is followed by :class:`Closed`."""

    type: Literal["error"] = "error"
    code: str
    message: str


class Closed(_Event):
    """The last event, with totals: ``audio_seconds`` (all the audio sent, dropped included), ``dropped_seconds``,
    the counts, every final's ``text`` joined, and ``job_id`` when the transcript was saved."""

    type: Literal["closed"] = "closed"
    reason: str
    audio_seconds: float
    finals: int
    partials: int
    decodes: int
    dropped_seconds: float
    text: str
    job_id: str | None = None


LiveEvent = Annotated[
    Ready | SpeechStarted | SpeechStopped | Partial | Final | TurnEnded | TurnCleared | StreamWarning | Error | Closed,
    Field(discriminator="type"),
]
_ADAPTER: TypeAdapter[LiveEvent] = TypeAdapter(LiveEvent)


def to_json(event: LiveEvent) -> dict[str, Any]:
    """The event as the WebSocket sends it (unset optional fields left out)."""
    return event.model_dump(mode="json", exclude_none=True)


def from_json(data: dict[str, Any]) -> LiveEvent:
    """An event read back from its JSON form (clients, tests)."""
    return _ADAPTER.validate_python(data)
