"""Live audio: PCM frames to 16 kHz mono float32, and a streaming Silero VAD (the model faster-whisper ships)."""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np
from faster_whisper.vad import get_vad_model

from ..errors import ErrorCode
from ..stt.audio import SAMPLE_RATE
from . import pcm
from .protocol import ProtocolError, StreamConfig, VadConfig


class PcmDecoder:
    """Turns the client's PCM frames into 16 kHz float32 samples (resampled by FFmpeg when needed)."""

    def __init__(self, config: StreamConfig, max_frame_seconds: float = 5.0) -> None:
        self.encoding = config.encoding
        self.width = config.bytes_per_sample
        self.rate = config.sample_rate
        self.max_frame_bytes = int(max_frame_seconds * self.rate) * self.width
        self._resampler = (
            None if self.rate == SAMPLE_RATE else av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
        )

    def __call__(self, frame: bytes) -> np.ndarray:
        if len(frame) % self.width:
            raise ProtocolError(
                f"an audio frame of {len(frame)} bytes is not a whole number of {self.encoding} samples "
                f"({self.width} bytes each)",
                code=ErrorCode.BAD_AUDIO,
            )
        if len(frame) > self.max_frame_bytes:
            raise ProtocolError(
                f"an audio frame of {len(frame)} bytes is over the {self.max_frame_bytes}-byte "
                "limit; send 20–250 ms per frame",
                code=ErrorCode.FRAME_TOO_LARGE,
            )
        samples = pcm.decode(frame, self.encoding)
        if self.encoding == "pcm_f32le":  # floats may say anything: refuse what is not a number, clip the rest
            if not np.isfinite(samples).all():
                raise ProtocolError("pcm_f32le audio holds NaN or infinite samples", code=ErrorCode.BAD_AUDIO)
            samples = np.clip(samples, -1.0, 1.0)
        if self._resampler is None or samples.size == 0:
            return samples
        frame_in = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="flt", layout="mono")
        frame_in.sample_rate = self.rate
        return self._resampled(self._resampler.resample(frame_in))

    def flush(self) -> np.ndarray:
        return np.zeros(0, np.float32) if self._resampler is None else self._resampled(self._resampler.resample(None))

    @staticmethod
    def _resampled(frames: list[av.AudioFrame]) -> np.ndarray:
        if not frames:
            return np.zeros(0, np.float32)
        return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32)


@dataclass
class VadEvent:
    kind: str  # "start" or "stop"
    time: float  # seconds of stream audio


class StreamingVad:
    """Silero VAD over a stream, one 32 ms window at a time, carrying the model's LSTM state between frames.

    ``start`` comes once ``min_speech_ms`` of speech was heard (dated back to its beginning, minus the pad);
    ``stop`` once ``min_silence_ms`` of silence followed (dated at the silence's start, plus the pad)."""

    WINDOW = 512
    CONTEXT = 64

    def __init__(self, config: VadConfig) -> None:
        self.model = get_vad_model()
        self.threshold = config.threshold
        self.neg_threshold = max(config.threshold - 0.15, 0.01)
        self.min_speech = config.min_speech_ms * SAMPLE_RATE // 1000
        self.min_silence = config.min_silence_ms * SAMPLE_RATE // 1000
        self.pad = config.speech_pad_ms * SAMPLE_RATE // 1000
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(self.CONTEXT, np.float32)
        self._pending = np.zeros(0, np.float32)
        self.position = 0  # samples through the model
        self.heard_until = 0  # end of the last window that sounded like speech (samples)
        self.speaking = False
        self._speech_run = 0
        self._silence_run = 0

    def feed(self, samples: np.ndarray) -> list[VadEvent]:
        audio = np.concatenate([self._pending, samples]) if self._pending.size else samples
        n = audio.size // self.WINDOW
        self._pending = audio[n * self.WINDOW :].copy()
        if n == 0:
            return []
        windows = audio[: n * self.WINDOW].reshape(n, self.WINDOW)
        contexts = np.concatenate([self._context[None, :], windows[:-1, -self.CONTEXT :]], axis=0)
        self._context = windows[-1, -self.CONTEXT :].copy()
        batch = np.concatenate([contexts, windows], axis=1).astype(np.float32)
        out, self._h, self._c = self.model.session.run(None, {"input": batch, "h": self._h, "c": self._c})
        events: list[VadEvent] = []
        for p in np.asarray(out).reshape(-1):
            self.position += self.WINDOW
            if p >= self.threshold:
                self.heard_until = self.position
                self._silence_run = 0
                if not self.speaking:
                    self._speech_run += self.WINDOW
                    if self._speech_run >= max(self.min_speech, self.WINDOW):
                        self.speaking = True
                        begin = max(self.position - self._speech_run - self.pad, 0)
                        events.append(VadEvent("start", begin / SAMPLE_RATE))
            elif p < self.neg_threshold:
                if self.speaking:
                    self._silence_run += self.WINDOW
                    if self._silence_run >= self.min_silence:
                        self.speaking = False
                        end = self.position - self._silence_run + self.pad
                        events.append(VadEvent("stop", end / SAMPLE_RATE))
                        self._silence_run = 0
                else:
                    self._speech_run = 0
        return events
