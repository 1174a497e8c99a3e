"""Documents: the PP-OCR models, the OCR runtime (onnxruntime, OpenVINO, or a Triton server), Tesseract and its
languages."""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Settings
from ..ocr.engines.tesseract import parse_list_langs
from .report import Check, Status, apt, pip

if TYPE_CHECKING:
    from ..ocr.options import OcrOptions

#: Tesseract languages ``scripts/setup.sh`` installs; jobs may ask for any of them (``lang: kor``); ``kor`` reads the
#: Hangul lines PP-OCR cannot under ``lang: auto`` (the default), and ``osd`` turns pages upright (``orientation``).
STANDARD_TESSERACT_LANGUAGES = ("eng", "kor", "jpn", "chi_sim", "osd")


def tesseract_package(lang: str) -> str:
    """The Debian package holding a Tesseract language: ``chi_sim`` → ``tesseract-ocr-chi-sim``."""
    return "tesseract-ocr-" + lang.lower().replace("_", "-")


def _ocr_options(settings: Settings) -> OcrOptions:
    from ..ocr.options import OcrOptions

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
                pip("rapidocr"),
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
                pip("--force-reinstall rapidocr") + "; the models ship inside its wheel",
                required,
            )
        ]
    return [Check("PP-OCR models", Status.ok, f"{det[-1].name}, {rec[-1].name} in {folder}", required=required)]


def check_ocr_runtime(settings: Settings) -> list[Check]:
    return _check_local_runtime(settings) + check_triton(settings)


def check_triton(settings: Settings) -> list[Check]:
    """With ``STREAMPROCESS_TRITON_URL`` set (required when ``STREAMPROCESS_OCR_ENGINE=triton``): the server and the
    PP-OCR models ready, and its recognition dictionary the local one."""
    required = settings.ocr_processor == "ocr" and settings.ocr_engine == "triton"
    if not settings.triton_url:
        return []
    try:
        import tritonclient  # noqa: F401

        from ..ocr.triton.client import TritonConnection, TritonOptions, TritonRequestError, check_dictionary
    except ImportError as e:
        return [
            Check("Triton", Status.fail, f"tritonclient does not import: {e}", pip("'streamprocess[triton]'"), required)
        ]
    connection = TritonConnection(
        TritonOptions(settings.triton_url, timeout=min(5.0, settings.triton_timeout), attempts=1)
    )
    if not connection.is_ready():
        return [
            Check(
                "Triton",
                Status.fail,
                f"{connection.target} is not ready (unreachable, or models ppocr_det, ppocr_cls, ppocr_rec not loaded)",
                "start it (`streamprocess triton serve` for development) or fix STREAMPROCESS_TRITON_URL",
                required,
            )
        ]
    try:
        from ..ocr.triton.models import characters

        check_dictionary(connection, characters())
    except TritonRequestError as e:
        return [
            Check(
                "Triton", Status.fail, e.message, "serve this rapidocr's models (`streamprocess triton repo`)", required
            )
        ]
    except Exception as e:  # the dictionary cannot be read here (no onnx package, say): readiness is still news
        return [
            Check("Triton", Status.warn, f"{connection.target} ready; dictionary not compared: {e}", required=False)
        ]
    return [
        Check(
            "Triton", Status.ok, f"{connection.target} ready: PP-OCR models loaded, same dictionary", required=required
        )
    ]


def _check_local_runtime(settings: Settings) -> list[Check]:
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
                pip("onnxruntime"),
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
                    pip("openvino") + ", or set STREAMPROCESS_OCR_RUNTIME=auto",
                )
            )
        elif x86:
            checks.append(
                Check(
                    "OpenVINO",
                    Status.warn,
                    "not installed: PP-OCR runs on onnxruntime, 3-4x slower",
                    pip("openvino"),
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
    from ..ocr.engines.ppocr import LANGUAGES as PPOCR_LANGUAGES

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
        if options.auto_language:  # Hangul lines go to Tesseract's kor (engine tesseract: OSD picks the language)
            needed = {"kor"} | (set(STANDARD_TESSERACT_LANGUAGES) if options.engine == "tesseract" else set())
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
                f"{apt('tesseract-ocr', *packs)} (macOS: brew install tesseract tesseract-lang)",
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
                f"{apt('tesseract-ocr')}, or fix TESSDATA_PREFIX ({prefix})"
                if prefix
                else apt("--reinstall", "tesseract-ocr"),
                uses,
            )
        ]
    checks = [Check("Tesseract", Status.ok, f"{info.version or info.exe} ({info.exe})", required=uses)]

    def fix_for(langs: Iterable[str]) -> str:
        langs = sorted(langs)
        fix = apt(*(tesseract_package(lang) for lang in langs))
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
                    "`orientation` does not work" if "osd" in others else "",
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
