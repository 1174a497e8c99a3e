"""Decode any audio (or the audio track of a video) to 16 kHz mono float32, with clear errors.

PyAV (FFmpeg) decodes WAV, MP3, M4A/AAC, FLAC, OGG/Opus, WebM and more, at any sample rate; several channels are
averaged to one. A file that is empty, not decodable, has no audio stream, no samples, or is longer than the limit
raises an :class:`AudioError` (a permanent error: retrying cannot help).

The duration limit holds while decoding, not after: a header that omits or understates the length (a FLAC with
total samples 0, a streamed WebM) cannot make a small file decode to gigabytes before it is refused.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import av.audio.fifo
import av.audio.resampler
import numpy as np

from ..errors import ErrorCode, PermanentError

SAMPLE_RATE = 16000
GROUP_SAMPLES = 500_000  # decoded input samples resampled at a time (as faster_whisper.decode_audio does)


class AudioError(PermanentError):
    code = ErrorCode.BAD_AUDIO


class CorruptAudio(AudioError):
    code = ErrorCode.CORRUPT_MEDIA


class NoAudio(AudioError):
    code = ErrorCode.NO_AUDIO


class TooLong(AudioError):
    code = ErrorCode.AUDIO_TOO_LONG


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
    """The file's audio as 16 kHz mono float32 samples: the same samples as ``faster_whisper.decode_audio``.

    With ``max_duration``, a header that says the file is longer fails before decoding, and decoding stops with
    :class:`TooLong` as soon as the decoded audio passes the limit, whatever the header said. Peak memory is then
    bounded by the limit, not by what the file would decode to: at most ``max_duration × 16 000 × 4`` bytes of float32
    samples (691 MB at the default 3 h limit; 3.8 MB for 60 s) plus one decode group (:data:`GROUP_SAMPLES` input
    samples and their resampled output: a few MB) and FFmpeg's codec state. Without a limit, memory follows the file.
    """
    if path.stat().st_size == 0:
        raise CorruptAudio("the file is empty (0 bytes)")
    duration = probe_duration(path)
    if max_duration is not None and duration is not None and duration > max_duration:
        raise TooLong(f"{duration:.0f} s of audio is over the {max_duration:.0f} s limit")
    samples = _Samples(None if max_duration is None else int(max_duration * SAMPLE_RATE))
    try:
        _decode(path, samples)
    except _OverLimit:
        header = "no length" if duration is None else f"{duration:.0f} s"
        raise TooLong(
            f"the audio is over the {max_duration:.0f} s limit (decoding stopped there; "
            f"the file's header gave {header})"
        ) from None
    except av.error.FFmpegError as e:
        raise CorruptAudio(f"cannot decode the audio: {_ffmpeg_message(e)}") from None
    except (ValueError, IndexError) as e:  # PyAV on streams with no decodable frames
        raise CorruptAudio(f"cannot decode the audio: {e}") from None
    audio = samples.result()
    if audio.size == 0:
        raise NoAudio("the audio stream holds no samples")
    return audio


class _OverLimit(Exception):
    pass


class _Samples:
    """float32 samples appended chunk by chunk, never more than ``limit`` of them.

    With a limit the array for ``limit`` samples is reserved up front; its pages become resident only as samples are
    written, so resident memory is the samples actually kept (4 bytes each) and never more than the limit's worth.
    """

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.n = 0
        self.chunks: list[np.ndarray] = []  # without a reservation: joined at the end (twice the memory, briefly)
        self.buffer: np.ndarray | None = None
        if limit is not None:
            try:
                self.buffer = np.empty(limit, dtype=np.float32)
            except MemoryError:  # a limit beyond the address space the system will reserve: still enforced below
                pass

    def append(self, s16: np.ndarray) -> None:
        m = s16.size
        if self.limit is not None and self.n + m > self.limit:
            raise _OverLimit
        if self.buffer is None:
            self.chunks.append(s16.astype(np.float32) / 32768.0)
        else:
            part = self.buffer[self.n : self.n + m]
            part[:] = s16
            part /= 32768.0  # exact (a power of two): the same values as decode_audio's astype(float32) / 32768
        self.n += m

    def result(self) -> np.ndarray:
        if self.buffer is None:
            return np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=np.float32)
        if self.n == 0:
            return np.zeros(0, dtype=np.float32)
        # Give back the unused reservation. realloc shrinks in place (glibc: mremap of the mapping, no copy).
        self.buffer.resize(self.n, refcheck=False)
        return self.buffer


def _decode(path: Path, samples: _Samples) -> None:
    """faster_whisper.decode_audio's steps (skip invalid frames, group, resample to s16 mono 16 kHz, flush), one
    group at a time into ``samples``."""
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    try:
        with av.open(str(path), mode="r", metadata_errors="ignore") as container:
            groups = _groups(_valid_frames(container.decode(audio=0)))
            for group in itertools.chain(groups, [None]):  # None flushes the resampler
                for frame in resampler.resample(group):
                    samples.append(frame.to_ndarray().reshape(-1))
    finally:
        del resampler
        gc.collect()  # PyAV resampler objects linger otherwise (SYSTRAN/faster-whisper#390)


def _valid_frames(frames: Iterable[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    iterator = iter(frames)
    while True:
        try:
            yield next(iterator)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue


def _groups(frames: Iterable[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    fifo = av.audio.fifo.AudioFifo()
    for frame in frames:
        frame.pts = None  # ignore timestamp gaps
        fifo.write(frame)
        if fifo.samples >= GROUP_SAMPLES and (group := fifo.read()) is not None:
            yield group
    if fifo.samples > 0 and (group := fifo.read()) is not None:
        yield group


def _ffmpeg_message(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return msg.split(": '")[0]
