"""The no-op processor: reads the input and writes ``noop.json`` (size, SHA-256, media type).

It measures the pipeline itself (``bench/pipeline.py``) and lets the backbone be tested end to end without an
engine. Select it with ``STREAMPROCESS_STT_PROCESSOR=noop`` / ``STREAMPROCESS_OCR_PROCESSOR=noop``.
"""

from __future__ import annotations

import hashlib
import json

from .base import JobContext, ProcessResult


class NoopProcessor:
    name = "noop"

    def process(self, ctx: JobContext) -> ProcessResult:
        digest = hashlib.sha256()
        size = 0
        with open(ctx.input_path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        out = ctx.output("noop.json")
        summary = {"bytes": size, "sha256": digest.hexdigest(), "media_type": ctx.media_type}
        out.write_text(json.dumps({"job_id": ctx.job_id, "source_key": ctx.source_key, **summary}, indent=2))
        return ProcessResult(
            outputs={"noop.json": out}, summary=summary, content_types={"noop.json": "application/json"}
        )
