"""What the Realtime API tests share: each server event checked against the ``openai`` SDK's own model of it, and
audio as ``input_audio_buffer.append`` carries it."""

from __future__ import annotations

import base64
from typing import Any

import av
import numpy as np
from openai.types.beta.realtime.transcription_session import ClientSecret, TranscriptionSession
from openai.types.realtime.conversation_item_input_audio_transcription_completed_event import (
    ConversationItemInputAudioTranscriptionCompletedEvent,
)
from openai.types.realtime.conversation_item_input_audio_transcription_delta_event import (
    ConversationItemInputAudioTranscriptionDeltaEvent,
)
from openai.types.realtime.input_audio_buffer_cleared_event import InputAudioBufferClearedEvent
from openai.types.realtime.input_audio_buffer_committed_event import InputAudioBufferCommittedEvent
from openai.types.realtime.input_audio_buffer_speech_started_event import InputAudioBufferSpeechStartedEvent
from openai.types.realtime.input_audio_buffer_speech_stopped_event import InputAudioBufferSpeechStoppedEvent
from openai.types.realtime.realtime_error_event import RealtimeErrorEvent
from openai.types.realtime.realtime_transcription_session_create_request import (
    RealtimeTranscriptionSessionCreateRequest,
)
from openai.types.realtime.realtime_transcription_session_create_response import (
    RealtimeTranscriptionSessionCreateResponse,
)
from openai.types.realtime.session_created_event import SessionCreatedEvent
from openai.types.realtime.session_updated_event import SessionUpdatedEvent
from pydantic import BaseModel

from streamprocess.live.pcm import to_s16le

#: The SDK's model of each server event the Realtime door sends.
SDK_MODELS: dict[str, type[BaseModel]] = {
    "session.created": SessionCreatedEvent,
    "session.updated": SessionUpdatedEvent,
    "input_audio_buffer.speech_started": InputAudioBufferSpeechStartedEvent,
    "input_audio_buffer.speech_stopped": InputAudioBufferSpeechStoppedEvent,
    "input_audio_buffer.committed": InputAudioBufferCommittedEvent,
    "input_audio_buffer.cleared": InputAudioBufferClearedEvent,
    "conversation.item.input_audio_transcription.delta": ConversationItemInputAudioTranscriptionDeltaEvent,
    "conversation.item.input_audio_transcription.completed": ConversationItemInputAudioTranscriptionCompletedEvent,
    "error": RealtimeErrorEvent,
}


class WebSocketTranscriptionSession(TranscriptionSession):
    """The beta SDK's transcription session, whose ``client_secret`` is required, though (as the beta API reference
    says) only a session created over REST has one: never one sent over the WebSocket."""

    client_secret: ClientSecret | None = None


def check(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` if the SDK's model of its type validates it (strictly: ``model_validate``, not the SDK's lenient
    ``construct``); session objects also against the full GA transcription session (``id``, ``object``), and beta
    ones against the beta session. 16 kHz audio (our extension) is checked as the 24 kHz OpenAI's model allows."""
    kind = event["type"]
    if kind in ("transcription_session.created", "transcription_session.updated"):
        assert set(event) == {"type", "event_id", "session"}, event
        WebSocketTranscriptionSession.model_validate(event["session"])
        return event
    assert kind in SDK_MODELS, f"{kind} is not an event the door should send"
    as_openai = event
    if kind in ("session.created", "session.updated"):
        session = event["session"]
        if session["audio"]["input"]["format"].get("rate") == 16000:
            fmt = {**session["audio"]["input"]["format"], "rate": 24000}
            session = {**session, "audio": {"input": {**session["audio"]["input"], "format": fmt}}}
            as_openai = {**event, "session": session}
        RealtimeTranscriptionSessionCreateResponse.model_validate(session)
        RealtimeTranscriptionSessionCreateRequest.model_validate(session)
    SDK_MODELS[kind].model_validate(as_openai)
    return event


def pcm16(samples: np.ndarray, rate: int = 24000) -> bytes:
    """16 kHz float samples as PCM16 at ``rate`` (resampled by FFmpeg, as a client's audio stack would)."""
    if rate == 16000:
        return to_s16le(samples)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono")
    frame.sample_rate = 16000
    return b"".join(bytes(f.planes[0])[: f.samples * 2] for f in resampler.resample(frame) + resampler.resample(None))


def b64(pcm: bytes) -> str:
    return base64.b64encode(pcm).decode()
