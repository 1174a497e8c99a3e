"""The ``ocr`` processor: a document job writes ocr.json, ocr.txt, ocr.hocr and a searchable ocr.pdf.

Options come from the job (the object's ``x-amz-meta-*`` metadata, e.g. ``lang: kor+eng``, ``engine``, ``dpi``,
``text-layer``, ``orientation``), over the ``STREAMPROCESS_OCR_*`` defaults.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Settings, get_settings
from ..ocr import OcrEngine, OcrOptions
from ..ocr.formats import to_hocr, to_json, to_txt, write_searchable_pdf
from ..ocr.inputs import PageImage
from ..ocr.types import Page
from .base import JobContext, ProcessResult

CONTENT_TYPES = {
    "ocr.json": "application/json",
    "ocr.txt": "text/plain; charset=utf-8",
    "ocr.hocr": "text/html; charset=utf-8",
    "ocr.pdf": "application/pdf",
}


def default_options(settings: Settings) -> OcrOptions:
    return OcrOptions.from_mapping(
        {"languages": settings.ocr_languages, "engine": settings.ocr_engine, "dpi": settings.ocr_dpi}
    )


def engine_from(settings: Settings) -> OcrEngine:
    return OcrEngine(
        det_side=settings.ocr_det_side,
        threads=settings.ocr_threads,
        runtime=settings.ocr_runtime,
        max_pixels=settings.ocr_max_pixels,
        max_pages=settings.ocr_max_pages,
    )


class OcrProcessor:
    name = "ocr"

    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        self.engine = engine_from(settings)
        self.engine.warm_up()  # a worker pays model compilation at start, not on its first page
        self.defaults = default_options(settings)

    def process(self, ctx: JobContext) -> ProcessResult:
        options = OcrOptions.from_mapping(ctx.options, self.defaults)
        images: list[Path] = []

        def keep(page: PageImage, result: Page) -> None:
            path = ctx.output_dir.parent / f"page-{page.index:05d}.jpg"
            page.image.save(path, quality=90)
            images.append(path)

        doc = self.engine.process(
            ctx.input_path,
            options,
            progress=lambda done, total: ctx.report_progress(done, total, "pages"),
            on_page=keep,
        )
        outputs = {}
        for name, text in (("ocr.json", to_json(doc)), ("ocr.txt", to_txt(doc)), ("ocr.hocr", to_hocr(doc))):
            outputs[name] = ctx.output(name)
            outputs[name].write_text(text, encoding="utf-8")
        outputs["ocr.pdf"] = ctx.output("ocr.pdf")
        write_searchable_pdf(doc, images, outputs["ocr.pdf"])
        summary = {
            "pages": len(doc.pages),
            "engine": doc.engine,
            "languages": doc.languages,
            "characters": sum(len(p.text) for p in doc.pages),
        }
        return ProcessResult(outputs=outputs, summary=summary, content_types=CONTENT_TYPES)
