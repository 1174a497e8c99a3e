"""The OCR engine: pages in, a :class:`~.types.Document` in reading order out.

Routing by language: PP-OCR (``ppocr``) reads English, Chinese and Japanese; any other language (Korean, …) goes
to Tesseract with all the requested languages together (``kor+jpn+chi_sim``). ``auto`` picks per page: Tesseract's
script detection sends Hangul pages to Tesseract and the rest to PP-OCR. ``triton`` routes as ``auto``, with PP-OCR's
models on a Triton server (:mod:`.triton.client`, given ``triton`` options): its pages say ``engine: triton``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ErrorCode
from ..progress import ProgressFn
from .engines import OcrEngineBackend
from .engines.ppocr import PPOCREngine
from .engines.tesseract import TesseractEngine, detect_orientation
from .gutters import page_geometry
from .inputs import PageImage, count_pages, load_pages
from .languages import any_cjk
from .layout import reading_order
from .options import InvalidOcrOptions, OcrOptions
from .types import Block, Document, Line, Page

if TYPE_CHECKING:
    from .triton.client import TritonOptions

# Tesseract OSD script names → languages.
_SCRIPT_LANGUAGES = {
    "Korean": ["kor"],
    "Hangul": ["kor"],
    "Japanese": ["jpn"],
    "Katakana": ["jpn"],
    "Hiragana": ["jpn"],
    "Han": ["chi_sim"],
    "Latin": ["eng"],
}


def _no_triton() -> InvalidOcrOptions:
    return InvalidOcrOptions(
        "engine triton: no Triton server is configured here (STREAMPROCESS_TRITON_URL)",
        code=ErrorCode.ENGINE_UNAVAILABLE,
    )


class OcrEngine:
    def __init__(
        self,
        *,
        det_side: int = 960,
        threads: int = 0,
        runtime: str = "auto",
        max_pixels: int = 50_000_000,
        max_pages: int = 500,
        triton: TritonOptions | None = None,
    ) -> None:
        self.det_side, self.threads, self.runtime = det_side, threads, runtime
        self.max_pixels, self.max_pages = max_pixels, max_pages
        self.triton_options = triton
        self.tesseract = TesseractEngine()
        self._ppocr: PPOCREngine | None = None
        self._triton: PPOCREngine | None = None
        self._lock = threading.Lock()

    @property
    def ppocr(self) -> PPOCREngine:
        with self._lock:
            if self._ppocr is None:
                self._ppocr = PPOCREngine(det_side=self.det_side, threads=self.threads, runtime=self.runtime)
            return self._ppocr

    @property
    def triton(self) -> PPOCREngine:
        """PP-OCR on the Triton server (connected, and its dictionary checked, on first use)."""
        if self.triton_options is None:
            raise _no_triton()
        with self._lock:
            if self._triton is None:
                self._triton = PPOCREngine(det_side=self.det_side, triton=self.triton_options)
            return self._triton

    def warm_up(self, engine: str = "ppocr") -> None:
        """Load PP-OCR (``ppocr``, or ``triton``: connect) and run it once on a small rendered line, so the first
        real page does not pay for model compilation (about half a second with OpenVINO)."""
        from PIL import Image, ImageDraw

        image = Image.new("RGB", (480, 64), "white")
        ImageDraw.Draw(image).text((10, 20), "Warm up 0123456789", fill="black")
        (self.triton if engine == "triton" else self.ppocr).recognize(image, ["eng"])

    def _choose(self, options: OcrOptions, script: str | None) -> tuple[str, list[str]]:
        languages = options.languages
        if options.auto_language:
            languages = _SCRIPT_LANGUAGES.get(script or "", ["eng"])
        if options.engine not in ("auto", "triton"):
            return options.engine, languages
        if set(languages) <= PPOCREngine.languages:
            return ("triton" if options.engine == "triton" else "ppocr"), languages
        return "tesseract", languages

    def check(self, options: OcrOptions) -> None:
        if options.engine == "triton" and self.triton_options is None:
            raise _no_triton()
        if options.auto_language:
            return
        unknown = [lang for lang in options.languages if lang not in self.tesseract.languages | PPOCREngine.languages]
        if unknown:
            raise InvalidOcrOptions(
                f"no OCR engine here reads {', '.join(unknown)}; installed Tesseract languages: "
                f"{', '.join(sorted(self.tesseract.languages - {'osd'}))}",
                code=ErrorCode.UNSUPPORTED_LANGUAGE,
            )
        if options.engine == "ppocr" and not set(options.languages) <= PPOCREngine.languages:
            raise InvalidOcrOptions(
                f"PP-OCR reads {', '.join(sorted(PPOCREngine.languages))}, not "
                f"{', '.join(sorted(set(options.languages) - PPOCREngine.languages))}",
                code=ErrorCode.UNSUPPORTED_LANGUAGE,
            )

    def recognize_page(self, page: PageImage, options: OcrOptions) -> Page:
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        if options.text_layer and page.text_layer:
            lines = [
                Line(text=t.strip(), bbox=(0, 0, page.image.width, page.image.height), confidence=1.0)
                for t in page.text_layer.splitlines()
                if t.strip()
            ]
            block = Block(bbox=(0, 0, page.image.width, page.image.height), lines=lines)
            return Page(
                index=page.index,
                width=page.image.width,
                height=page.image.height,
                dpi=page.dpi,
                engine="text-layer",
                blocks=[block],
                timings={"total": round(time.perf_counter() - t0, 4)},
            )
        image, rotation, script = page.image, 0, None
        if options.orientation or options.auto_language:
            rotation, script = detect_orientation(image)
            if rotation:
                image = image.rotate(-rotation, expand=True)
            timings["orientation"] = round(time.perf_counter() - t0, 4)
        engine_name, languages = self._choose(options, script)
        t1 = time.perf_counter()
        backend: OcrEngineBackend = (
            self.tesseract if engine_name == "tesseract" else self.triton if engine_name == "triton" else self.ppocr
        )
        lines = backend.recognize(image, languages)
        timings["recognize"] = round(time.perf_counter() - t1, 4)
        t2 = time.perf_counter()
        geometry = page_geometry(image) if lines else None  # skew and column gutters, from the page image
        blocks = reading_order(lines, cjk=any_cjk(languages), geometry=geometry)
        timings["layout"] = round(time.perf_counter() - t2, 4)
        timings["total"] = round(time.perf_counter() - t0, 4)
        return Page(
            index=page.index,
            width=image.width,
            height=image.height,
            dpi=page.dpi,
            engine=engine_name,
            languages=languages,
            rotation=rotation,
            blocks=blocks,
            timings=timings,
        )

    def process(
        self,
        path: Path,
        options: OcrOptions | None = None,
        progress: ProgressFn | None = None,  # (pages done, pages total)
        on_page: Callable[[PageImage, Page], None] | None = None,
    ) -> Document:
        """OCR every page of ``path``, one page in memory at a time; ``on_page`` sees each image and its result
        (to keep the images for a searchable PDF)."""
        options = options or OcrOptions()
        self.check(options)
        t0 = time.perf_counter()
        total = count_pages(path) if progress else 0
        pages = []
        for page in load_pages(
            path, dpi=options.dpi, max_pixels=self.max_pixels, max_pages=self.max_pages, text_layer=options.text_layer
        ):
            pages.append(self.recognize_page(page, options))
            if on_page is not None:
                on_page(page, pages[-1])
            if progress:
                progress(len(pages), total)
        engines = sorted({p.engine for p in pages})
        return Document(
            pages=pages,
            engine="+".join(engines),
            languages=options.languages,
            timings={"total": round(time.perf_counter() - t0, 4)},
        )
