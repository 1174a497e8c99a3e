"""Raw PCM, the one home of its sample encodings: float32 samples to and from ``pcm_s16le`` / ``pcm_f32le`` bytes
(the client's frames, :mod:`.client`; the server's intake, :mod:`.audio`), and a stream's 16-bit WAV recording.
"""

from __future__ import annotations

import contextlib
import tempfile
import wave

import numpy as np

from ..stt.audio import SAMPLE_RATE

S16_SCALE_IN = 32768.0  # int16 → float: -32768 maps to exactly -1.0
S16_SCALE_OUT = 32767  # float → int16: 1.0 maps to 32767 (clipped first)


def to_s16le(samples: np.ndarray) -> bytes:
    """Float samples (clipped to [-1, 1]) as 16-bit little-endian PCM."""
    return (np.clip(samples, -1, 1) * S16_SCALE_OUT).astype("<i2").tobytes()


def from_s16le(frame: bytes) -> np.ndarray:
    """16-bit little-endian PCM as float32 samples in [-1, 1)."""
    return np.frombuffer(frame, "<i2").astype(np.float32) / S16_SCALE_IN


def encode(samples: np.ndarray, encoding: str = "pcm_s16le") -> bytes:
    """Float samples as a stream's wire ``encoding`` (``pcm_s16le`` or ``pcm_f32le``)."""
    if encoding == "pcm_f32le":
        return samples.astype("<f4").tobytes()
    return to_s16le(samples)


def decode(frame: bytes, encoding: str) -> np.ndarray:
    """A frame of the wire ``encoding`` as float32 samples (unchecked: :class:`.audio.PcmDecoder` validates)."""
    if encoding == "pcm_f32le":
        return np.frombuffer(frame, "<f4").astype(np.float32)
    return from_s16le(frame)


class Recording:
    """The stream's audio as a 16 kHz 16-bit WAV, spooled to disk past 8 MiB (saved with the transcript)."""

    def __init__(self) -> None:
        self.file = tempfile.SpooledTemporaryFile(max_size=8 << 20)
        self.wav = wave.open(self.file, "wb")  # closed by read() or close()
        self.wav.setnchannels(1)
        self.wav.setsampwidth(2)
        self.wav.setframerate(SAMPLE_RATE)

    def write(self, samples: np.ndarray) -> None:
        self.wav.writeframes(to_s16le(samples))

    def read(self) -> bytes:
        self.wav.close()  # writes the header's sizes
        self.file.seek(0)
        return self.file.read()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.wav.close()
        self.file.close()
