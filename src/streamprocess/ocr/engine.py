"""The OCR engine: pages in, a :class:`~.types.Document` in reading order out.

Routing by language. ``auto`` (the default) finds the script per page and per line (:mod:`.scripts`): PP-OCR
(``ppocr``) reads the page — Latin, Chinese and Japanese —, then the ink it left unread, and the lines it misread (a
few stray characters on a long box), are read again by Tesseract in the installed languages whose script PP-OCR
cannot read (``kor``: Hangul), all those lines in one Tesseract run on a strip of their crops; a reading is kept when
it is in that script and confident. A page where PP-OCR read nothing (a Korean page) is read the same way, line by
line, in this engine's reading order rather than Tesseract's page layout, which on the test pages dropped the first
syllable of lines and scrambled two columns (CER 4.7% and 64%, against 0 both). Each line says its
``script``, and its ``engine`` where the page mixes them (the page's engine is then ``ppocr+tesseract``). Ink that
looks like text and that nothing read gives the page a warning instead of a silent empty result.

Explicit languages route as before: PP-OCR reads English, Chinese and Japanese; any other language (Korean, …)
goes to Tesseract with all the requested languages together (``kor+jpn+chi_sim``). ``triton`` routes as ``auto``,
with PP-OCR's models on a Triton server (:mod:`.triton.client`, given ``triton`` options): its pages say ``engine:
triton``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from ..errors import ErrorCode
from ..progress import ProgressFn
from .engines import OcrEngineBackend
from .engines.ppocr import PPOCREngine
from .engines.tesseract import TesseractEngine, detect_orientation
from .forms import find_fields
from .gutters import page_geometry
from .inputs import PageImage, count_pages, load_pages
from .languages import written_without_spaces
from .layout import reading_order
from .options import InvalidOcrOptions, OcrOptions
from .regions import classify
from .scripts import (
    DOUBTFUL,
    MAX_REREAD_LANGUAGES,
    MIN_PAGE_TEXT,
    accept,
    likely_text,
    misread,
    no_text_warning,
    page_languages,
    reread_languages,
    script_of,
    spaceless_text,
    unread_ink,
)
from .tables import find_tables
from .types import Block, Box, Document, Line, Page

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


@dataclass
class _Reading:
    engine: str  # ppocr, tesseract, ppocr+tesseract, …
    lines: list[Line]
    warnings: list[str]


def _tag(lines: list[Line], engine: str | None) -> list[Line]:
    """The lines with their script (from their text) and, where the page mixes engines, the engine that read them."""
    return [line.model_copy(update={"script": script_of(line.text), "engine": engine}) for line in lines]


def _overlaps(a: Box, b: Box) -> bool:
    """Whether the boxes overlap by half the smaller one's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    area = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return w > 0 and h > 0 and w * h >= 0.5 * max(1, area)


def _retag(blocks: list[Block], read: list[Line]) -> None:
    """Script and engine again on the lines the layout made (rows joined, lines split at a gutter): the script from
    the final text, the engine(s) of the lines read inside it."""
    for block in blocks:
        for i, line in enumerate(block.lines):
            engines = sorted({r.engine for r in read if r.engine and _overlaps(r.bbox, line.bbox)})
            engine = "+".join(engines) if engines else line.engine
            script = script_of(line.text)
            if (script, engine) != (line.script, line.engine):
                block.lines[i] = line.model_copy(update={"script": script, "engine": engine})


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

    def _backend(self, name: str) -> OcrEngineBackend:
        return self.tesseract if name == "tesseract" else self.triton if name == "triton" else self.ppocr

    def _read_auto(self, image: Image.Image, name: str, reread: bool = True) -> _Reading:
        """``lang=auto`` with PP-OCR (``name``: ``ppocr`` or ``triton``) first, then (``reread``) Tesseract for what
        it could not read (the module's docstring)."""
        installed = self.tesseract.languages
        extra = reread_languages(installed) if reread else []
        if len(extra) > MAX_REREAD_LANGUAGES:  # Tesseract slows with each model: OSD's script narrows them
            extra = reread_languages(installed, detect_orientation(image)[1])[:MAX_REREAD_LANGUAGES]
        # Every language PP-OCR reads: the script is not known yet (``eng`` alone narrows it to Latin letters).
        lines = self._backend(name).recognize(image, sorted(PPOCREngine.languages))
        kept = [line for line in lines if not misread(line)]
        suspects = [line for line in lines if misread(line)]
        unread = unread_ink(image, kept)  # a misread line's ink counts as unread
        doubtful = [line for line in kept if line.confidence < DOUBTFUL] if unread else []
        boxes = [ink.box for ink in unread] + [line.bbox for line in doubtful]
        best = self._reread(image, boxes, [0.0] * len(unread) + [line.confidence for line in doubtful], extra)
        found = [best[i] for i in sorted(best)]
        left = [ink for i, ink in enumerate(unread) if i not in best]
        replaced = {id(line) for j, line in enumerate(doubtful) if len(unread) + j in best}
        kept = [line for line in kept if id(line) not in replaced]
        # What still looks like text: PP-OCR's misread lines, and long unread ink as high as the text read.
        missed = [s.bbox for s in suspects if not any(_overlaps(s.bbox, f.bbox) for f in found)]
        heights = [line.height for line in kept + found]
        missed += [i.box for i in left if likely_text(i, heights) and not any(_overlaps(i.box, m) for m in missed)]
        if left and not found and sum(len(line.text.strip()) for line in kept) < MIN_PAGE_TEXT:
            missed = [i.box for i in left]  # a stray letter or two read among ink nothing else read (scribbles: "Z")
        warnings = [no_text_warning(len(missed), installed)] if missed else []
        if not found:
            return _Reading(name, _tag(kept, None), warnings)
        if not kept:
            return _Reading("tesseract", _tag(found, None), warnings)
        return _Reading(f"{name}+tesseract", _tag(kept, name) + _tag(found, "tesseract"), warnings)

    def _reread(
        self, image: Image.Image, boxes: list[Box], floors: list[float], languages: list[str]
    ) -> dict[int, Line]:
        """Tesseract's readings of ``boxes`` (unread ink, and PP-OCR's doubtful lines) that are in the script of one
        of ``languages`` and surer than their floor (a doubtful line's own confidence), by index. One run per
        language, each on the crops the ones before did not read: ``kat+kor`` together split Korean words apart
        (CER 5.3% on a Georgian, English and Korean page, against 0 for ``kor`` alone)."""
        best: dict[int, Line] = {}
        for lang in languages:
            todo = [i for i in range(len(boxes)) if i not in best]
            if not todo:
                break
            for i, line in zip(
                todo, self.tesseract.recognize_crops(image, [boxes[i] for i in todo], [lang]), strict=True
            ):
                if line is not None and accept(line, lang) and line.confidence > floors[i]:
                    best[i] = line
        return best

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
        if options.orientation or (options.auto_language and options.engine == "tesseract"):
            rotation, script = detect_orientation(image)
            if rotation:
                image = image.rotate(-rotation, expand=True)
            timings["orientation"] = round(time.perf_counter() - t0, 4)
        t1 = time.perf_counter()
        if options.auto_language and options.engine != "tesseract":
            name = "triton" if options.engine == "triton" else "ppocr"
            reading = self._read_auto(image, name, reread=options.engine != "ppocr")
            engine_name, lines, warnings = reading.engine, reading.lines, reading.warnings
            languages = page_languages(lines, self.tesseract.languages)
            cjk = spaceless_text(lines)
        else:
            engine_name, languages = self._choose(options, script)
            cjk = written_without_spaces(languages)
            lines = _tag(self._backend(engine_name).recognize(image, languages), None)
            sound = [line for line in lines if not misread(line)]
            # Next to nothing read: was there text in another language? (Only then is the page looked at again.)
            unread = unread_ink(image, sound) if sum(len(line.text.strip()) for line in sound) < MIN_PAGE_TEXT else []
            warnings = [no_text_warning(len(unread), self.tesseract.languages, languages)] if unread else []
        timings["recognize"] = round(time.perf_counter() - t1, 4)
        t2 = time.perf_counter()
        geometry = page_geometry(image) if lines else None  # skew and column gutters, from the page image
        blocks = reading_order(lines, cjk=cjk, geometry=geometry)
        blocks = find_tables(image, geometry, blocks, cjk=cjk) if blocks else blocks
        blocks = classify(blocks, image.width, image.height)
        fields, checkboxes = find_fields(image, blocks) if blocks else ([], [])
        _retag(blocks, lines)
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
            fields=fields,
            checkboxes=checkboxes,
            warnings=warnings,
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
        engines = sorted({part for p in pages for part in p.engine.split("+")})  # ppocr+tesseract: both
        return Document(
            pages=pages,
            engine="+".join(engines),
            languages=options.languages,
            timings={"total": round(time.perf_counter() - t0, 4)},
        )
