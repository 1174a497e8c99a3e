"""``streamprocess doctor``: what this machine has and lacks for the configured setup, and how to fix each.

Every check returns a :class:`Check`: a name, a status (``ok``, ``warn``, ``fail``), what was found, a concrete
fix, and whether it is *required*. Required: what the configured setup cannot run without (for the embedded
default: the bundled Whisper model, the PP-OCR models in ``rapidocr``, Tesseract with the languages in
``STREAMPROCESS_OCR_LANGUAGES``, a writable data folder, free HTTP and gRPC ports; Redis, S3 and SQS when the
settings select them). Optional: what makes it faster or broader (OpenVINO, CUDA, a multilingual Whisper model,
the other Tesseract languages jobs may ask for). An optional check never fails: it warns. :attr:`Report.ok` is
false when a required check failed; ``streamprocess doctor`` then exits 1.

Nothing here changes the machine: ports are probed by binding and closing, the data folder with a temporary file,
the network services with one short request each (at most
:data:`streamprocess.backends.NET_TIMEOUT` seconds).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ..backends import Probe, probe_redis, probe_s3, probe_sqs
from ..config import Settings
from .machine import check_data_dir, check_ports, check_settings
from .ocr import check_ocr_runtime, check_ppocr, check_tesseract
from .report import Check, Report, Status, print_report
from .speech import check_audio, check_cuda, check_speech

__all__ = ["Check", "Report", "Status", "diagnose", "print_report"]

CheckFn = Callable[[Settings], list[Check]]


def _checks(probe: Callable[[Settings], list[Probe]]) -> CheckFn:
    """A backend probe (:mod:`streamprocess.backends`) as doctor's checks: required, ok or failed."""

    def check(settings: Settings) -> list[Check]:
        return [Check(p.name, Status.ok if p.ok else Status.fail, p.detail, p.fix) for p in probe(settings)]

    return check


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
        ("Redis", _checks(probe_redis)),
        ("S3", _checks(probe_s3)),
        ("SQS", _checks(probe_sqs)),
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
