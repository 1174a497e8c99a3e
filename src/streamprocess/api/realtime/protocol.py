"""The OpenAI Realtime API's transcription events as this server reads and writes them: the shapes of OpenAI's own
(the ``openai`` SDK's models in ``openai.types.realtime`` and ``openai.types.beta.realtime``; the tests validate what
is sent against them).

Client events: ``session.update`` (the GA shape, ``session.type`` ``transcription``) and the beta's
``transcription_session.update``; ``input_audio_buffer.append`` (base64 PCM16), ``.commit`` and ``.clear``. As in
OpenAI's API, a session update changes only the fields it names, and ``turn_detection: null`` turns VAD off. Fields
this server has no use for (``noise_reduction``, newer transcription options) are accepted and ignored, since
clients of newer API versions send more; a value it cannot honour (G.711 audio, another sample rate, semantic VAD)
is refused, naming its ``param``.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ...errors import ErrorCode
from ...live.protocol import StreamConfig, VadConfig
from ...options import normalise_language

LOGPROBS = "item.input_audio_transcription.logprobs"
RATES = (24000, 16000)  # OpenAI's one rate, and 16 kHz as this server's extension (no resampling)


def new_id(prefix: str) -> str:
    """An id in OpenAI's style: ``event_…``, ``item_…``, ``sess_…``."""
    return f"{prefix}_{uuid.uuid4().hex[:22]}"


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AudioFormat(_In):
    type: str = "audio/pcm"
    rate: int = 24000

    @field_validator("type")
    @classmethod
    def _pcm(cls, v: str) -> str:
        if v != "audio/pcm":
            raise ValueError(f"{v!r} is not served here: send audio/pcm (PCM16, mono, little-endian)")
        return v

    @field_validator("rate")
    @classmethod
    def _rate(cls, v: int) -> int:
        if v not in RATES:
            raise ValueError(f"{v} Hz is not served here: 24000 (OpenAI's rate) or 16000 (this server's extension)")
        return v


class Transcription(_In):
    model: str | None = None
    language: str | None = None
    prompt: str | None = Field(None, max_length=1000)


class TurnDetection(_In):
    """``server_vad``, on this server's Silero VAD: ``threshold`` as is, ``silence_duration_ms`` the silence that
    ends an utterance, ``prefix_padding_ms`` the audio kept before the speech (and after it)."""

    type: str = "server_vad"
    threshold: float = Field(0.5, gt=0, lt=1)
    prefix_padding_ms: int = Field(300, ge=0, le=2000)
    silence_duration_ms: int = Field(500, ge=100, le=10_000)

    @field_validator("type")
    @classmethod
    def _server_vad(cls, v: str) -> str:
        if v != "server_vad":
            raise ValueError(f"{v!r} is not served here: use server_vad, or null to commit by hand")
        return v


class NoiseReduction(_In):
    type: Literal["near_field", "far_field"] | None = None


Include = Literal["item.input_audio_transcription.logprobs"]


class AudioInput(_In):
    format: AudioFormat | None = None
    transcription: Transcription | None = None
    turn_detection: TurnDetection | None = None
    noise_reduction: NoiseReduction | None = None


class Audio(_In):
    input: AudioInput | None = None


class Session(_In):
    """``session.update``'s session (GA)."""

    type: str
    audio: Audio | None = None
    include: list[Include] | None = None

    @field_validator("type")
    @classmethod
    def _transcription(cls, v: str) -> str:
        if v != "transcription":
            raise ValueError(f"{v!r} is not served here: this server runs transcription sessions only")
        return v


class BetaSession(_In):
    """``transcription_session.update``'s session (beta)."""

    input_audio_format: str | None = None
    input_audio_transcription: Transcription | None = None
    turn_detection: TurnDetection | None = None
    input_audio_noise_reduction: NoiseReduction | None = None
    include: list[Include] | None = None

    @field_validator("input_audio_format")
    @classmethod
    def _pcm16(cls, v: str | None) -> str | None:
        if v not in (None, "pcm16"):
            raise ValueError(f"{v!r} is not served here: send pcm16 (24 kHz PCM16, mono, little-endian)")
        return v


#: The beta session's fields, by the GA ``audio.input`` field each is.
BETA_NAMES = {
    "input_audio_format": "format",
    "input_audio_transcription": "transcription",
    "turn_detection": "turn_detection",
    "input_audio_noise_reduction": "noise_reduction",
}


class SessionUpdate(_In):
    type: Literal["session.update"]
    event_id: str | None = None
    session: Session


class TranscriptionSessionUpdate(_In):
    type: Literal["transcription_session.update"]
    event_id: str | None = None
    session: BetaSession


class Append(_In):
    type: Literal["input_audio_buffer.append"]
    event_id: str | None = None
    audio: str


class Commit(_In):
    type: Literal["input_audio_buffer.commit"]
    event_id: str | None = None


class Clear(_In):
    type: Literal["input_audio_buffer.clear"]
    event_id: str | None = None


ClientEvent = SessionUpdate | TranscriptionSessionUpdate | Append | Commit | Clear
CLIENT_EVENTS: dict[str, type[ClientEvent]] = {
    "session.update": SessionUpdate,
    "transcription_session.update": TranscriptionSessionUpdate,
    "input_audio_buffer.append": Append,
    "input_audio_buffer.commit": Commit,
    "input_audio_buffer.clear": Clear,
}


class BadEvent(Exception):
    """A client event refused: the ``error`` event's ``code``, ``message`` and ``param``."""

    def __init__(self, message: str, *, code: ErrorCode = ErrorCode.BAD_REQUEST, param: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.param = code, message, param


def parse_client_event(data: object) -> ClientEvent:
    """A client event from its JSON, or :class:`BadEvent` saying what is wrong (as OpenAI words it: "Invalid value
    for 'session.audio.input.format.rate': …"); a bad session is ``bad_config``, anything else ``bad_request``."""
    if not isinstance(data, dict):
        raise BadEvent("a client event is a JSON object")
    kind = data.get("type")
    model = CLIENT_EVENTS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise BadEvent(f"unknown event type {kind!r}; this server takes {', '.join(CLIENT_EVENTS)}", param="type")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        param = ".".join(str(p) for p in err["loc"]) or None
        message = err["msg"].removeprefix("Value error, ")
        code = ErrorCode.BAD_CONFIG if model in (SessionUpdate, TranscriptionSessionUpdate) else ErrorCode.BAD_REQUEST
        said = f"Invalid value for '{param}': {message}" if param else message
        raise BadEvent(said, code=code, param=param) from None


class SessionState(_In):
    """The session as configured so far: what ``session.updated`` reports and the stream runs by."""

    rate: int = 24000
    model: str | None = None  # echoed as the client named it: the server's one live model transcribes, whatever it is
    language: str | None = None
    prompt: str | None = None
    turn_detection: TurnDetection | None = Field(default_factory=TurnDetection)  # OpenAI's default: server_vad
    noise_reduction: NoiseReduction | None = None
    logprobs: bool = False

    def updated(self, event: SessionUpdate | TranscriptionSessionUpdate) -> SessionState:
        """This state with the fields ``event`` names (a field given as null is cleared)."""
        session = event.session
        if isinstance(session, Session):
            given = session.audio.input if session.audio is not None and session.audio.input is not None else None
            parts = {k: getattr(given, k) for k in given.model_fields_set} if given is not None else {}
        else:
            parts = {BETA_NAMES[k]: getattr(session, k) for k in session.model_fields_set if k in BETA_NAMES}
        change: dict[str, Any] = {}
        if "format" in parts:
            change["rate"] = parts["format"].rate if isinstance(parts["format"], AudioFormat) else 24000
        if "transcription" in parts:
            t = parts["transcription"] or Transcription()
            change |= {"model": t.model, "language": normalise_language(t.language), "prompt": t.prompt}
        if "turn_detection" in parts:
            change["turn_detection"] = parts["turn_detection"]
        if "noise_reduction" in parts:
            change["noise_reduction"] = parts["noise_reduction"]
        if "include" in session.model_fields_set:
            change["logprobs"] = LOGPROBS in (session.include or [])
        return self.model_copy(update=change)

    def stream_config(self) -> StreamConfig:
        """The live stream's config: PCM16 at the session's rate, its language and prompt, server VAD mapped onto
        the stream's VAD (``prefix_padding_ms`` → ``speech_pad_ms``, ``silence_duration_ms`` →
        ``min_silence_ms``), or none."""
        td = self.turn_detection
        vad = (
            VadConfig(threshold=td.threshold, min_silence_ms=td.silence_duration_ms, speech_pad_ms=td.prefix_padding_ms)
            if td is not None
            else VadConfig(enabled=False)
        )
        return StreamConfig(
            sample_rate=self.rate, encoding="pcm_s16le", language=self.language, prompt=self.prompt, vad=vad
        )

    def _transcription(self) -> dict[str, Any]:
        return {"model": self.model, "language": self.language, "prompt": self.prompt or ""}

    def _turn_detection(self) -> dict[str, Any] | None:
        td = self.turn_detection
        return None if td is None else {"type": "server_vad", **td.model_dump(exclude={"type"})}

    def _noise(self) -> dict[str, Any] | None:
        return None if self.noise_reduction is None else self.noise_reduction.model_dump()

    def ga(self, session_id: str) -> dict[str, Any]:
        """The GA transcription session object (``session.created``, ``session.updated``)."""
        return {
            "type": "transcription",
            "object": "realtime.transcription_session",
            "id": session_id,
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": self.rate},
                    "transcription": self._transcription(),
                    "turn_detection": self._turn_detection(),
                    "noise_reduction": self._noise(),
                }
            },
            "include": [LOGPROBS] if self.logprobs else [],
        }

    def beta(self, session_id: str) -> dict[str, Any]:
        """The beta transcription session object (``transcription_session.created``, ``.updated``)."""
        return {
            "id": session_id,
            "object": "realtime.transcription_session",
            "input_audio_format": "pcm16",
            "input_audio_transcription": self._transcription(),
            "turn_detection": self._turn_detection(),
            "input_audio_noise_reduction": self._noise(),
            "include": [LOGPROBS] if self.logprobs else [],
        }  # no client_secret: only a session made over REST has one


def server_event(type_: str, **fields: Any) -> dict[str, Any]:
    """A server event: its ``type``, a fresh ``event_id``, and ``fields``."""
    return {"type": type_, "event_id": new_id("event"), **fields}


def error_event(
    code: str, message: str, *, server: bool = False, param: str | None = None, client_event: str | None = None
) -> dict[str, Any]:
    """OpenAI's ``error`` event: ``invalid_request_error`` (the client's) or ``server_error``, with our code, the
    ``param`` at fault and the ``event_id`` of the client event that caused it."""
    kind = "server_error" if server else "invalid_request_error"
    detail = {"type": kind, "code": code, "message": message, "param": param, "event_id": client_event}
    return server_event("error", error=detail)
