"""Typed results of a transcription (what ``transcript.json`` holds)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Word(BaseModel):
    start: float
    end: float
    word: str
    probability: float


class Segment(BaseModel):
    id: int
    start: float
    end: float
    text: str
    avg_logprob: float
    no_speech_prob: float
    compression_ratio: float | None = None
    temperature: float | None = None
    words: list[Word] | None = None


class Transcript(BaseModel):
    text: str
    language: str
    language_probability: float
    duration: float  # seconds of audio
    duration_after_vad: float | None = None
    model: str
    options: dict[str, Any] = Field(default_factory=dict)
    segments: list[Segment] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)  # decode, transcribe (seconds)

    @classmethod
    def from_json(cls, data: str | bytes) -> Transcript:
        """A transcript from its JSON (``transcript.json`` as a job writes it, or :func:`.formats.to_json`)."""
        return cls.model_validate_json(data)

    @property
    def real_time_factor(self) -> float | None:
        total = sum(self.timings.values())
        return total / self.duration if self.duration else None
