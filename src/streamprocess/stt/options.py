"""Per-job transcription options: from job options, object metadata (``x-amz-meta-*``, all strings) or settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ErrorCode, PermanentError
from ..options import normalise_language, options_from_mapping


class InvalidOptions(PermanentError):
    code = ErrorCode.INVALID_OPTIONS


class TranscribeOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    language: str | None = Field(None, description="ISO code (en, de, …); None or `auto` detects it.")
    task: Literal["transcribe", "translate"] = Field(
        "transcribe", description="`translate`: the speech in English, whatever its language (multilingual models)."
    )
    vad_filter: bool = Field(True, description="Skip silence with Silero VAD.")
    word_timestamps: bool = False
    beam_size: int = Field(5, ge=1, le=20)
    initial_prompt: str | None = Field(None, max_length=2000)
    hotwords: str | None = Field(None, max_length=2000)
    batched: bool = Field(False, description="BatchedInferencePipeline (pays on GPUs and long files).")
    batch_size: int = Field(8, ge=1, le=64)

    _language = field_validator("language")(lambda v: normalise_language(v))
    _task = field_validator("task", mode="before")(lambda v: v.strip().lower() if isinstance(v, str) else v)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], defaults: TranscribeOptions | None = None) -> TranscribeOptions:
        """Options from strings (object metadata uses dashes: ``word-timestamps: true``); unknown keys ignored."""
        return options_from_mapping(cls, values, defaults, error=InvalidOptions)
