"""OCR renderings: JSON, plain text in reading order, hOCR, and a searchable PDF.

The searchable PDF is each page image with an invisible text layer, rendered from the hOCR by OCRmyPDF's own
renderer (``ocrmypdf.fpdf_renderer``) and joined with pikepdf. The text layer uses OCRmyPDF's glyphless font
(Occulta) for every script, as Tesseract's PDF renderer does with its GlyphLessFont: invisible text needs no
glyphs, and subsetting real fonts (Noto, CJK) cost 0.4–0.7 s a page against about 0.1 s.
"""

from __future__ import annotations

import functools
import html
import logging
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .types import Document, Line, Page, Word

if TYPE_CHECKING:  # OCRmyPDF is imported when a PDF is written
    from ocrmypdf.font import MultiFontManager

FORMATS = ("json", "txt", "hocr", "pdf")


def to_json(doc: Document) -> str:
    return doc.model_dump_json(indent=2) + "\n"


def to_txt(doc: Document) -> str:
    return "\n\f".join(p.text + "\n" for p in doc.pages)


def _bbox(b: tuple[int, int, int, int]) -> str:
    return f"bbox {b[0]} {b[1]} {b[2]} {b[3]}"


def _words(line: Line) -> Iterator[Word]:
    """The line's words; approximated from its text and box when the engine gave none, or gave pieces that do not
    spell the line's text (Tesseract cuts CJK words; PP-OCR gives CJK characters)."""
    if line.words and " ".join(w.text for w in line.words) == line.text:
        yield from line.words
        return
    parts = line.text.split()
    x0, y0, x1, y1 = line.bbox
    total = sum(len(p) for p in parts) + max(0, len(parts) - 1)
    pos = 0
    for part in parts:
        start = x0 + (x1 - x0) * pos / total
        end = x0 + (x1 - x0) * (pos + len(part)) / total
        yield Word(text=part, bbox=(int(start), y0, max(int(start) + 1, int(end)), y1), confidence=line.confidence)
        pos += len(part) + 1


def _page_hocr(page: Page) -> str:
    out = [
        f'<div class="ocr_page" id="page_{page.index}" title="{_bbox((0, 0, page.width, page.height))}; '
        f'ppageno {page.index - 1}; scan_res {int(page.dpi)} {int(page.dpi)}">'
    ]
    for b_i, block in enumerate(page.blocks, 1):
        bid = f"{page.index}_{b_i}"
        out.append(f'<div class="ocr_carea" id="block_{bid}" title="{_bbox(block.bbox)}">')
        out.append(f'<p class="ocr_par" id="par_{bid}" title="{_bbox(block.bbox)}">')
        for l_i, line in enumerate(block.lines, 1):
            lid = f"{bid}_{l_i}"
            out.append(f'<span class="ocr_line" id="line_{lid}" title="{_bbox(line.bbox)}; baseline 0 0">')
            for w_i, word in enumerate(_words(line), 1):
                out.append(
                    f'<span class="ocrx_word" id="word_{lid}_{w_i}" title="{_bbox(word.bbox)}; '
                    f'x_wconf {round(word.confidence * 100)}">{html.escape(word.text)}</span>'
                )
            out.append("</span>")
        out.append("</p></div>")
    out.append("</div>")
    return "\n".join(out)


def to_hocr(doc: Document) -> str:
    head = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n<head>\n<title></title>\n'
        '<meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>\n'
        f'<meta name="ocr-system" content="streamprocess {html.escape(doc.engine)}"/>\n'
        '<meta name="ocr-capabilities" content="ocr_page ocr_carea ocr_par ocr_line ocrx_word"/>\n'
        "</head>\n<body>\n"
    )
    return head + "\n".join(_page_hocr(p) for p in doc.pages) + "\n</body>\n</html>\n"


@functools.cache
def _glyphless_fonts() -> MultiFontManager:
    """A font manager that only knows OCRmyPDF's glyphless font."""
    import ocrmypdf
    from ocrmypdf.font import MultiFontManager
    from ocrmypdf.font.font_provider import BuiltinFontProvider

    logging.getLogger("ocrmypdf.font").setLevel(logging.ERROR)  # "no font covers …": intended, glyphless
    folder = Path(tempfile.mkdtemp(prefix="sp-fonts-"))
    shutil.copy(Path(ocrmypdf.__file__).parent / "data" / "Occulta.ttf", folder / "Occulta.ttf")
    return MultiFontManager(font_provider=BuiltinFontProvider(folder))


def write_searchable_pdf(doc: Document, images: list[Path], out: Path) -> None:
    """Page images with invisible, selectable text on top; ``images`` holds one image file per page."""
    import pikepdf
    from ocrmypdf.fpdf_renderer import Fpdf2PdfRenderer
    from ocrmypdf.hocrtransform.hocr_parser import HocrParser

    fonts = _glyphless_fonts()
    with tempfile.TemporaryDirectory(prefix="sp-pdf-") as tmp, pikepdf.new() as merged:
        for page, image in zip(doc.pages, images, strict=True):
            hocr = Path(tmp) / f"page-{page.index}.hocr"
            hocr.write_text(to_hocr(Document(pages=[page], engine=doc.engine)), encoding="utf-8")
            single = Path(tmp) / f"page-{page.index}.pdf"
            parsed = HocrParser(hocr).parse()
            Fpdf2PdfRenderer(
                page=parsed, dpi=page.dpi, multi_font_manager=fonts, invisible_text=True, image=image
            ).render(single)
            with pikepdf.open(single) as src:
                merged.pages.extend(src.pages)
        merged.save(out)
