"""Decode any audio (or the audio track of a video) to 16 kHz mono float32, with clear errors.

PyAV (FFmpeg) decodes WAV, MP3, M4A/AAC, FLAC, OGG/Opus, WebM and more, at any sample rate; several channels are
averaged to one. A file that is empty, not decodable, has no audio stream, no samples, or is longer than the limit
raises an :class:`AudioError` (a permanent error: retrying cannot help).
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
from faster_whisper.audio import decode_audio

from ..errors import PermanentError

SAMPLE_RATE = 16000


class AudioError(PermanentError):
    code = "bad_audio"


class CorruptAudio(AudioError):
    code = "corrupt_media"


class NoAudio(AudioError):
    code = "no_audio"


class TooLong(AudioError):
    code = "audio_too_long"


def probe_duration(path: Path) -> float | None:
    """Seconds of audio from the container's header, without decoding; None when the header does not say."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            streams = [s for s in container.streams if s.type == "audio"]
            if not streams:
                kinds = ", ".join(sorted({s.type for s in container.streams})) or "nothing"
                raise NoAudio(f"the file has no audio stream (found: {kinds}; format {container.format.name})")
            s = streams[0]
            if s.duration is not None and s.time_base is not None:
                return float(s.duration * s.time_base)
            if container.duration is not None:
                return container.duration / 1_000_000
            return None
    except av.error.FFmpegError as e:
        raise CorruptAudio(f"cannot read the file as audio: {_ffmpeg_message(e)}") from None


def load_audio(path: Path, *, max_duration: float | None = None) -> np.ndarray:
    """The file's audio as 16 kHz mono float32 samples."""
    if path.stat().st_size == 0:
        raise CorruptAudio("the file is empty (0 bytes)")
    duration = probe_duration(path)
    if max_duration is not None and duration is not None and duration > max_duration:
        raise TooLong(f"{duration:.0f} s of audio is over the {max_duration:.0f} s limit")
    try:
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except av.error.FFmpegError as e:
        raise CorruptAudio(f"cannot decode the audio: {_ffmpeg_message(e)}") from None
    except (ValueError, IndexError) as e:  # PyAV on streams with no decodable frames
        raise CorruptAudio(f"cannot decode the audio: {e}") from None
    if audio.size == 0:
        raise NoAudio("the audio stream holds no samples")
    if max_duration is not None and audio.size / SAMPLE_RATE > max_duration:
        raise TooLong(f"{audio.size / SAMPLE_RATE:.0f} s of audio is over the {max_duration:.0f} s limit")
    return audio


def _ffmpeg_message(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return msg.split(": '")[0]
