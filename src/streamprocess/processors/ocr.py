"""The ``ocr`` processor: a document job writes ocr.json, ocr.txt, ocr.hocr, ocr.md, tables.html and a searchable
ocr.pdf.

Options come from the job (the object's ``x-amz-meta-*`` metadata, e.g. ``lang: kor+eng``, ``engine``, ``dpi``,
``text-layer``, ``orientation``), over the ``STREAMPROCESS_OCR_*`` defaults.

With ``STREAMPROCESS_OCR_ENGINE=triton`` the processor waits, when it starts, until the Triton server
(``STREAMPROCESS_TRITON_URL``) and its models are ready, so a worker never takes OCR jobs it cannot do.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Settings
from ..kinds import OCR
from ..ocr import OcrEngine, OcrOptions
from ..ocr.formats import TEXT_RENDERERS, write_searchable_pdf
from ..ocr.inputs import PageImage
from ..ocr.types import Page
from .base import JobContext, ProcessResult

if TYPE_CHECKING:  # the triton extra (tritonclient, tenacity): imported only when a Triton URL is set
    from ..ocr.triton.client import TritonOptions


def default_options(settings: Settings) -> OcrOptions:
    return OcrOptions.from_mapping(
        {"languages": settings.ocr_languages, "engine": settings.ocr_engine, "dpi": settings.ocr_dpi}
    )


def triton_options(settings: Settings) -> TritonOptions | None:
    if not settings.triton_url:
        return None
    from ..ocr.triton.client import TritonOptions

    return TritonOptions(settings.triton_url, timeout=settings.triton_timeout, attempts=settings.triton_attempts)


def engine_from(settings: Settings) -> OcrEngine:
    return OcrEngine(
        det_side=settings.ocr_det_side,
        threads=settings.ocr_threads,
        runtime=settings.ocr_runtime,
        max_pixels=settings.ocr_max_pixels,
        max_pages=settings.ocr_max_pages,
        triton=triton_options(settings),
    )


class OcrProcessor:
    name = "ocr"

    def __init__(self, settings: Settings) -> None:
        self.engine = engine_from(settings)
        self.defaults = default_options(settings)
        if self.defaults.engine == "triton" and self.engine.triton_options is not None:
            from ..ocr.triton.client import wait_until_ready

            wait_until_ready(self.engine.triton_options)  # connects, and checks the dictionary, in warm_up
        # A worker pays model compilation (or the connection to Triton) at start, not on its first page.
        self.engine.warm_up("triton" if self.defaults.engine == "triton" else "ppocr")

    def process(self, ctx: JobContext) -> ProcessResult:
        options = OcrOptions.from_mapping(ctx.options, self.defaults)
        images: list[Path] = []

        def keep(page: PageImage, result: Page) -> None:
            path = ctx.output_dir.parent / f"page-{page.index:05d}.jpg"
            page.image.save(path, quality=90)
            images.append(path)

        doc = self.engine.process(ctx.input_path, options, progress=ctx.progress_in("pages"), on_page=keep)
        outputs: dict[str, Path] = {}
        for result in OCR.results:
            outputs[result.name] = out = ctx.output(result.name)
            if result.format == "pdf":
                write_searchable_pdf(doc, images, out)
            else:
                out.write_text(TEXT_RENDERERS[result.format](doc), encoding="utf-8")
        summary = {
            "pages": len(doc.pages),
            "engine": doc.engine,
            "languages": doc.languages,
            "characters": sum(len(p.text) for p in doc.pages),
            # e.g. a page whose text is in no installed language: in the job record, not only in ocr.json
            "warnings": [f"page {p.index}: {w}" for p in doc.pages for w in p.warnings],
        }
        return ProcessResult(outputs=outputs, summary=summary, content_types=OCR.media_types())
