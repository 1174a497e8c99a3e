"""Whisper's log-Mel features in bounded memory.

faster-whisper's :class:`~faster_whisper.feature_extractor.FeatureExtractor` computes the STFT of the whole
recording at once: a frame matrix and its complex spectrum, about 50 MiB of temporaries per minute of audio (9 GB
for a three-hour file, measured), before a single window is decoded. :class:`ChunkedFeatureExtractor` computes the
same features block by block: each frame depends only on its own 400 samples, and the one global step — the
clamp to 8 decades below the loudest value — is applied once at the end. Memory is the output (80 × 4 bytes per
10 ms frame, 1.15 MiB per minute) plus one block's temporaries (:data:`BLOCK_FRAMES` frames, about 45 MiB measured),
whatever the length. The values equal the stock extractor's to float32 rounding (tested).
"""

from __future__ import annotations

import numpy as np
from faster_whisper.feature_extractor import FeatureExtractor

#: Frames per block (30 s of audio at the 10 ms hop).
BLOCK_FRAMES = 3000


class ChunkedFeatureExtractor(FeatureExtractor):
    @classmethod
    def like(cls, stock: FeatureExtractor) -> ChunkedFeatureExtractor:
        """The same extractor (filters, hop, sizes) as ``stock``, computing in blocks."""
        fe = cls.__new__(cls)
        fe.__dict__.update(stock.__dict__)
        return fe

    def __call__(self, waveform: np.ndarray, padding: int = 160, chunk_length: int | None = None) -> np.ndarray:
        if chunk_length is not None:
            self.n_samples = chunk_length * self.sampling_rate
            self.nb_max_frames = self.n_samples // self.hop_length
        waveform = np.asarray(waveform, dtype=np.float32)
        n_fft, hop = self.n_fft, self.hop_length
        half = n_fft // 2
        # The stock path: pad `padding` zeros, then reflect-pad n_fft/2 on both sides (STFT centering).
        padded_len = len(waveform) + padding
        if padded_len <= half:  # too short to reflect: the stock extractor handles (and refuses) it
            return super().__call__(waveform, padding=padding, chunk_length=None)
        total = padded_len + 2 * half
        n_frames = 1 + (total - n_fft) // hop
        kept = n_frames - 1  # the stock extractor drops the last frame
        window = np.hanning(n_fft + 1)[:-1].astype("float32")
        out = np.empty((self.mel_filters.shape[0], kept), dtype=np.float32)
        peak = -np.inf
        for start in range(0, kept, BLOCK_FRAMES):
            stop = min(kept, start + BLOCK_FRAMES)
            # Samples of the padded signal these frames read: [start*hop, (stop-1)*hop + n_fft).
            lo, hi = start * hop, (stop - 1) * hop + n_fft
            segment = self._padded(waveform, padding, half, lo, hi)
            frames = np.lib.stride_tricks.as_strided(
                segment, (stop - start, n_fft), (hop * segment.strides[0], segment.strides[0]), writeable=False
            )
            spectrum = np.fft.rfft(frames * window, n=n_fft, axis=-1).astype("complex64").T
            magnitudes = np.abs(spectrum) ** 2
            block = np.log10(np.clip(self.mel_filters @ magnitudes, a_min=1e-10, a_max=None))
            out[:, start:stop] = block
            peak = max(peak, float(block.max()))
        np.maximum(out, peak - 8.0, out=out)
        out += 4.0
        out /= 4.0
        return out

    @staticmethod
    def _padded(waveform: np.ndarray, padding: int, half: int, lo: int, hi: int) -> np.ndarray:
        """Samples [lo, hi) of reflect_pad(zero_pad(waveform, padding), half), built without the whole signal."""
        if lo - half >= 0 and hi - half <= len(waveform):  # inside the recording: a view, no copy
            return waveform[lo - half : hi - half]
        body = len(waveform) + padding

        def raw(i: np.ndarray) -> np.ndarray:  # the zero-padded signal at indices i (0 <= i < body)
            values = np.zeros(len(i), dtype=np.float32)
            inside = i < len(waveform)
            values[inside] = waveform[i[inside]]
            return values

        idx = np.arange(lo, hi) - half  # index into the zero-padded signal, before reflection
        idx = np.where(idx < 0, -idx, idx)  # numpy's "reflect": mirror without repeating the edge
        idx = np.where(idx >= body, 2 * (body - 1) - idx, idx)
        return raw(idx)
