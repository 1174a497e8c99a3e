"""live/decoder.window_features: the features of a short buffer padded with silence to the decoder's window,
computed only as far as the audio reaches, equal the stock extractor's on the whole padded window."""

from __future__ import annotations

import numpy as np
import pytest
from faster_whisper.feature_extractor import FeatureExtractor

from streamprocess.live.decoder import window_features
from streamprocess.stt.features import ChunkedFeatureExtractor


@pytest.mark.parametrize(("seconds", "window"), [(0.3, 10.0), (2.0, 10.0), (9.6, 10.0), (10.9, 11.4), (2.0, 2.5)])
def test_equal_to_the_whole_window(seconds: float, window: float) -> None:
    rng = np.random.default_rng(int(seconds * 10))
    audio = (rng.standard_normal(int(seconds * 16000)) * 0.1).astype(np.float32)
    extractor = ChunkedFeatureExtractor.like(FeatureExtractor())
    samples = int(window * 16000)
    padded = np.zeros(samples, np.float32)
    padded[: audio.size] = audio
    whole = extractor(padded, padding=0)
    assert np.array_equal(window_features(extractor, audio, samples), whole)
