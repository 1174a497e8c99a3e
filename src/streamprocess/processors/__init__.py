"""The processor registry: names to processors, each loaded once per process and shared.

A name resolves, in order, to a built-in (``noop``), to a ``streamprocess.processors`` entry point of an
installed package, or to ``module:attribute`` (a class or factory called with no arguments). The STT and OCR
engines register themselves here as ``stt`` and ``ocr``.
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points

from ..errors import StreamProcessError
from .base import JobContext, Processor, ProcessResult

__all__ = ["JobContext", "ProcessResult", "Processor", "ProcessorUnavailable", "get_processor"]

BUILTIN: dict[str, str] = {
    "noop": "streamprocess.processors.noop:NoopProcessor",
    "stt": "streamprocess.processors.stt:SttProcessor",
    "ocr": "streamprocess.processors.ocr:OcrProcessor",
}
ENTRY_POINT_GROUP = "streamprocess.processors"

_cache: dict[str, Processor] = {}
_lock = threading.Lock()


class ProcessorUnavailable(StreamProcessError):
    code = "processor_unavailable"


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


def get_processor(name: str) -> Processor:
    """The shared instance for ``name``; raises :class:`ProcessorUnavailable` saying why not."""
    with _lock:
        if name in _cache:
            return _cache[name]
        module_name, _, attr = _target(name).partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as e:
            raise ProcessorUnavailable(f"processor {name!r} cannot be loaded: {e}") from e
        try:
            processor = factory()
        except Exception as e:
            raise ProcessorUnavailable(f"processor {name!r} failed to start: {e}") from e
        if not isinstance(processor, Processor):
            raise ProcessorUnavailable(f"{name!r} does not provide process(ctx) and a name")
        _cache[name] = processor
        return processor
