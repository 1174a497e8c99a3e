"""The processor registry: names to processors, each loaded once per process (and settings) and shared.

A name resolves, in order, to a built-in (``noop``), to a ``streamprocess.processors`` entry point of an
installed package, or to ``module:attribute``: a class or factory, called with the settings when it takes an
argument (as the built-in ``stt`` and ``ocr`` do) and with none otherwise. The STT and OCR engines register
themselves here as ``stt`` and ``ocr``.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable
from importlib.metadata import entry_points

from ..config import Settings
from ..errors import ErrorCode, StreamProcessError
from .base import JobContext, Processor, ProcessResult

__all__ = ["JobContext", "ProcessResult", "Processor", "ProcessorUnavailable", "get_processor"]

BUILTIN: dict[str, str] = {
    "noop": "streamprocess.processors.noop:NoopProcessor",
    "stt": "streamprocess.processors.stt:SttProcessor",
    "ocr": "streamprocess.processors.ocr:OcrProcessor",
}
ENTRY_POINT_GROUP = "streamprocess.processors"

_cache: dict[tuple[str, str], Processor] = {}
_lock = threading.Lock()


class ProcessorUnavailable(StreamProcessError):
    code = ErrorCode.PROCESSOR_UNAVAILABLE


def _target(name: str) -> str:
    if name in BUILTIN:
        return BUILTIN[name]
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            return ep.value
    if ":" in name:
        return name
    known = sorted(set(BUILTIN) | {ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})
    raise ProcessorUnavailable(f"no processor named {name!r} is installed (available: {', '.join(known)})")


def _build(factory: Callable[..., object], settings: Settings) -> object:
    try:
        takes_settings = bool(inspect.signature(factory).parameters)
    except (TypeError, ValueError):  # no signature to read (a builtin): called as a plain factory
        takes_settings = False
    return factory(settings) if takes_settings else factory()


def get_processor(name: str, settings: Settings) -> Processor:
    """The shared instance for ``name`` under ``settings``; raises :class:`ProcessorUnavailable` saying why not."""
    key = (name, settings.model_dump_json())
    with _lock:
        if key in _cache:
            return _cache[key]
        module_name, _, attr = _target(name).partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as e:
            raise ProcessorUnavailable(f"processor {name!r} cannot be loaded: {e}") from e
        try:
            processor = _build(factory, settings)
        except Exception as e:
            raise ProcessorUnavailable(f"processor {name!r} failed to start: {e}") from e
        if not isinstance(processor, Processor):
            raise ProcessorUnavailable(f"{name!r} does not provide process(ctx) and a name")
        _cache[key] = processor
        return processor
