"""The live captioning protocol: the stream config (the first frame), how long a client has to send it, and the
errors that refuse a stream. The events sent back are in :mod:`.events`."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ErrorCode, PermanentError, StreamProcessError
from ..options import normalise_language

Encoding = Literal["pcm_s16le", "pcm_f32le"]
Task = Literal["transcribe", "translate"]  # as a job's (TranscribeOptions.task)
BYTES_PER_SAMPLE = {"pcm_s16le": 2, "pcm_f32le": 4}
#: Seconds a client has to send its config (the first frame) before the stream is refused.
CONFIG_TIMEOUT = 10.0


class ProtocolError(PermanentError):
    """The client broke the protocol; the stream is closed with this code."""

    code = ErrorCode.BAD_REQUEST


class VadConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(True, description="Detect speech with Silero VAD: skip silence, finalize at its end.")
    threshold: float = Field(0.5, gt=0, lt=1, description="Speech probability that starts speech.")
    min_silence_ms: int = Field(500, ge=100, le=10_000, description="Silence that ends an utterance.")
    min_speech_ms: int = Field(200, ge=0, le=5_000, description="Speech needed before `speech_started`.")
    speech_pad_ms: int = Field(200, ge=0, le=2_000, description="Audio kept around speech.")


class StreamConfig(BaseModel):
    """The first message of a stream."""

    model_config = ConfigDict(extra="forbid")

    sample_rate: int = Field(16000, ge=8000, le=192_000, description="Sample rate of the PCM frames (Hz).")
    encoding: Encoding = Field("pcm_s16le", description="`pcm_s16le` or `pcm_f32le`, mono, little-endian.")
    language: str | None = Field(None, description="Language code; unset detects it (multilingual models).")
    task: Task = Field("transcribe", description="`translate`: captions in English, whatever is spoken (multilingual).")
    interim_results: bool = Field(True, description="Send `partial` events.")
    vad: VadConfig = Field(default_factory=VadConfig)
    prompt: str | None = Field(None, max_length=1000, description="Text that conditions the first decode.")
    hotwords: str | None = Field(None, max_length=500, description="Words to favour (names, jargon).")
    save: bool = Field(False, description="Save the final transcript to the object store as a job result.")
    save_audio: bool = Field(False, description="Also save the audio (WAV) with the transcript.")

    _language = field_validator("language")(lambda v: normalise_language(v))  # as a job's option

    @property
    def bytes_per_sample(self) -> int:
        return BYTES_PER_SAMPLE[self.encoding]


class PoolFull(StreamProcessError):
    """Admission refused: the pool serves its maximum number of streams."""

    code = ErrorCode.POOL_FULL


def parse_config(raw: str | bytes | dict[str, Any]) -> StreamConfig:
    """The config from the first frame, or a :class:`ProtocolError` saying what is wrong."""
    if isinstance(raw, bytes):
        raise ProtocolError(
            "the first frame must be the JSON config (a text frame), not audio", code=ErrorCode.CONFIG_EXPECTED
        )
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as e:
            raise ProtocolError(f"the config frame is not JSON: {e}", code=ErrorCode.BAD_CONFIG) from None
    if not isinstance(raw, dict):
        raise ProtocolError("the config frame must be a JSON object", code=ErrorCode.BAD_CONFIG)
    raw = {k: v for k, v in raw.items() if k != "type"}  # {"type": "config", …} is accepted too
    try:
        return StreamConfig.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}" for err in e.errors())
        raise ProtocolError(f"bad config: {problems}", code=ErrorCode.BAD_CONFIG) from None
