"""Transcript renderings: JSON, plain text, SubRip (SRT) and WebVTT.

Cue times are made safe for players: each cue ends after it starts, no cue starts before the previous one, and
none runs past the audio's end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .types import Transcript


def _timestamp(seconds: float, sep: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def cues(transcript: Transcript) -> Iterator[tuple[float, float, str]]:
    previous_start = 0.0
    for seg in transcript.segments:
        text = seg.text.strip()
        if not text:
            continue
        start = min(max(seg.start, previous_start), transcript.duration)
        end = min(max(seg.end, start + 0.001), max(transcript.duration, start + 0.001))
        previous_start = start
        yield start, end, text


def to_txt(transcript: Transcript) -> str:
    return "".join(f"{text}\n" for _, _, text in cues(transcript))


def to_srt(transcript: Transcript) -> str:
    blocks = [
        f"{i}\n{_timestamp(s, ',')} --> {_timestamp(e, ',')}\n{text}\n"
        for i, (s, e, text) in enumerate(cues(transcript), 1)
    ]
    return "\n".join(blocks)


def to_vtt(transcript: Transcript) -> str:
    blocks = [f"{_timestamp(s, '.')} --> {_timestamp(e, '.')}\n{text}\n" for s, e, text in cues(transcript)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def to_json(transcript: Transcript) -> str:
    return transcript.model_dump_json(indent=2) + "\n"


RENDERERS: dict[str, Callable[[Transcript], str]] = {"json": to_json, "txt": to_txt, "srt": to_srt, "vtt": to_vtt}
FORMATS = tuple(RENDERERS)


def render(transcript: Transcript, fmt: str) -> str:
    try:
        return RENDERERS[fmt](transcript)
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}") from None
