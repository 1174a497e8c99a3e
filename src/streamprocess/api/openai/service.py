"""A transcript as OpenAI's ``verbose_json``, of a transcription or of a translation."""

from __future__ import annotations

from ...stt.types import Transcript
from .protocol import TranscriptionSegment, TranscriptionVerbose, TranscriptionWord, TranslationVerbose

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


def language_name(code: str) -> str:
    """OpenAI names languages (``german``); a code without a name here stays a code."""
    return LANGUAGE_NAMES.get(code, code)


def segments(transcript: Transcript) -> list[TranscriptionSegment]:
    return [
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


def verbose(transcript: Transcript, words: bool) -> TranscriptionVerbose:
    """``transcript`` as OpenAI's ``verbose_json``; ``words``: with its words (timestamp_granularities[]=word)."""
    return TranscriptionVerbose(
        language=language_name(transcript.language),
        language_probability=transcript.language_probability,
        duration=transcript.duration,
        text=transcript.text,
        segments=segments(transcript),
        words=[
            TranscriptionWord(word=w.word.strip(), start=w.start, end=w.end)
            for s in transcript.segments
            for w in (s.words or [])
        ]
        if words
        else None,
    )


def verbose_translation(transcript: Transcript) -> TranslationVerbose:
    """A translation's ``transcript`` as OpenAI's ``verbose_json`` (``language`` english, as OpenAI's), with the
    language detected in the audio and its probability."""
    return TranslationVerbose(
        source_language=language_name(transcript.language),
        source_language_probability=transcript.language_probability,
        duration=transcript.duration,
        text=transcript.text,
        segments=segments(transcript),
    )
