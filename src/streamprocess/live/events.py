"""The events a live stream sends back, as one discriminated union.

The session emits these objects; each transport maps them once: the WebSocket sends :func:`to_json` of each, gRPC
turns each into a ``TranscriptEvent`` message (``grpc_server``). Field meanings are in :mod:`.protocol`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from ..stt.types import Word


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ready(_Event):
    type: Literal["ready"] = "ready"
    session_id: str
    model: str
    sample_rate: int
    encoding: str


class SpeechStarted(_Event):
    type: Literal["speech_started"] = "speech_started"
    time: float


class SpeechStopped(_Event):
    type: Literal["speech_stopped"] = "speech_stopped"
    time: float


class Partial(_Event):
    type: Literal["partial"] = "partial"
    text: str
    start: float
    end: float
    stability: float
    audio_end: float


class Final(_Event):
    type: Literal["final"] = "final"
    id: int
    start: float
    end: float
    text: str
    words: list[Word]
    audio_end: float


class StreamWarning(_Event):
    type: Literal["warning"] = "warning"
    code: str
    message: str
    start: float | None = None
    end: float | None = None


class Error(_Event):
    type: Literal["error"] = "error"
    code: str
    message: str


class Closed(_Event):
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
    Ready | SpeechStarted | SpeechStopped | Partial | Final | StreamWarning | Error | Closed, Field(discriminator="type")
]
_ADAPTER: TypeAdapter[LiveEvent] = TypeAdapter(LiveEvent)


def to_json(event: LiveEvent) -> dict[str, Any]:
    """The event as the WebSocket sends it (unset optional fields left out)."""
    return event.model_dump(mode="json", exclude_none=True)


def from_json(data: dict[str, Any]) -> LiveEvent:
    """An event read back from its JSON form (clients, tests)."""
    return _ADAPTER.validate_python(data)
