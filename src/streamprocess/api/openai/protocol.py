"""OpenAI's transcription and translation responses (``json`` and ``verbose_json``), field for field, plus the
detected language's probability (OpenAI's SDK keeps fields it does not know: its models allow extra fields)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

#: The ``response_format`` values OpenAI's API takes.
ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]


class Transcription(BaseModel):
    text: str


class Translation(BaseModel):
    text: str


class TranscriptionSegment(BaseModel):
    id: int
    seek: int = 0
    start: float
    end: float
    text: str
    tokens: list[int]
    temperature: float
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float


class TranscriptionWord(BaseModel):
    word: str
    start: float
    end: float


class TranscriptionVerbose(BaseModel):
    task: Literal["transcribe"] = "transcribe"
    language: str  # a name, as OpenAI's: english, german, …
    language_probability: float = Field(description="Beyond OpenAI's: how sure the detection was (1.0 when given).")
    duration: float
    text: str
    segments: list[TranscriptionSegment]
    words: list[TranscriptionWord] | None = None  # when timestamp_granularities[] asks for word


class TranslationVerbose(BaseModel):
    task: Literal["translate"] = "translate"
    language: Literal["english"] = "english"  # OpenAI's: the language of the output translation, always english
    source_language: str = Field(description="Beyond OpenAI's: the language detected in the audio (a name).")
    source_language_probability: float = Field(description="Beyond OpenAI's: how sure that detection was.")
    duration: float
    text: str
    segments: list[TranscriptionSegment]
