"""A transcript as OpenAI's ``verbose_json``."""

from __future__ import annotations

from ...stt.types import Transcript
from .protocol import TranscriptionSegment, TranscriptionVerbose, TranscriptionWord

LANGUAGE_NAMES = {
    "en": "english",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "it": "italian",
    "pt": "portuguese",
    "nl": "dutch",
    "ja": "japanese",
    "zh": "chinese",
    "ko": "korean",
    "ru": "russian",
    "pl": "polish",
    "tr": "turkish",
    "ar": "arabic",
    "hi": "hindi",
}


def verbose(transcript: Transcript, words: bool) -> TranscriptionVerbose:
    """``transcript`` as OpenAI's ``verbose_json``; ``words``: with its words (timestamp_granularities[]=word)."""
    segments = [
        TranscriptionSegment(
            id=s.id,
            start=s.start,
            end=s.end,
            text=s.text,
            tokens=[],
            temperature=s.temperature or 0.0,
            avg_logprob=s.avg_logprob,
            compression_ratio=s.compression_ratio or 0.0,
            no_speech_prob=s.no_speech_prob,
        )
        for s in transcript.segments
    ]
    return TranscriptionVerbose(
        language=LANGUAGE_NAMES.get(transcript.language, transcript.language),
        duration=transcript.duration,
        text=transcript.text,
        segments=segments,
        words=[
            TranscriptionWord(word=w.word.strip(), start=w.start, end=w.end)
            for s in transcript.segments
            for w in (s.words or [])
        ]
        if words
        else None,
    )
