"""OpenAI's transcription responses (``json`` and ``verbose_json``), field for field."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

#: The ``response_format`` values OpenAI's API takes.
ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]


class Transcription(BaseModel):
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
    task: str = "transcribe"
    language: str  # a name, as OpenAI's: english, german, …
    duration: float
    text: str
    segments: list[TranscriptionSegment]
    words: list[TranscriptionWord] | None = None  # when timestamp_granularities[] asks for word
