"""OCR renderings: JSON, plain text in reading order, hOCR, Markdown, the tables as HTML, and a searchable PDF.

Markdown (``ocr.md``) is the whole document in reading order: a ``<!-- page N -->`` comment opens each page and a
thematic break (``---``) separates pages; titles are ``#`` headings, list lines ``-`` items, captions in italics,
tables GitHub-style pipe tables (a spanning cell's text in its first position), other blocks paragraphs.
``tables.html`` holds every table as an HTML ``<table>`` (``rowspan``/``colspan`` kept), captioned with its page and
number; a document without tables gives a short page saying so.

The searchable PDF is each page image with an invisible text layer, rendered from the hOCR by OCRmyPDF's own
renderer (``ocrmypdf.fpdf_renderer``) and joined with pikepdf. The text layer uses OCRmyPDF's glyphless font
(Occulta) for every script, as Tesseract's PDF renderer does with its GlyphLessFont: invisible text needs no
glyphs, and subsetting real fonts (Noto, CJK) cost 0.4–0.7 s a page against about 0.1 s.
"""

from __future__ import annotations

import functools
import html
import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from .types import Block, Document, Line, Page, Table, Word

if TYPE_CHECKING:  # OCRmyPDF is imported when a PDF is written
    from ocrmypdf.font import MultiFontManager

FORMATS = ("json", "txt", "hocr", "md", "html", "pdf")


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


#: Characters Markdown would read as markup inside a line.
_MD_INLINE = re.compile(r"([\\`*_\[\]<>|])")
#: What starts a Markdown heading, quote, list item, thematic break or table row at the start of a line.
_MD_LINE_START = re.compile(r"^([#>+\-=])|^(\d+)([.)])(?=\s|$)")
#: Bullets a list line starts with (written back as "- ").
_BULLET = re.compile(r"^\s*(?:[•·▪‣◦●○■□\-–*]|[oO0](?=\s))\s*")


def _md_escape(text: str, line: bool = True) -> str:
    """``text`` on one line, its markup characters escaped (and what would start a block, for a ``line``)."""
    text = _MD_INLINE.sub(r"\\\1", " ".join(text.split()))
    return _MD_LINE_START.sub(lambda m: "\\" + m[1] if m[1] else m[2] + "\\" + m[3], text) if line else text


def _md_table(table: Table) -> str:
    grid = [[_md_escape(cell, line=False) for cell in row] for row in table.grid()]
    out = ["| " + " | ".join(grid[0]) + " |", "|" + "---|" * table.cols]
    out += ["| " + " | ".join(row) + " |" for row in grid[1:]]
    return "\n".join(out)


def _md_block(block: Block) -> str:
    if block.kind == "table" and block.table is not None and block.table.cells:
        return _md_table(block.table)
    lines = [line.text for line in block.lines if line.text.strip()]
    if block.kind == "title":
        return "# " + _md_escape(" ".join(lines))
    if block.kind == "list":
        return "\n".join("- " + _md_escape(_BULLET.sub("", line, count=1)) for line in lines)
    if block.kind == "caption":
        return "*" + _md_escape(" ".join(lines)) + "*"
    return "\n".join(_md_escape(line) for line in lines)  # paragraph, text, header, footer: one paragraph


def to_markdown(doc: Document) -> str:
    pages = []
    for page in doc.pages:
        blocks = [_md_block(b) for b in page.blocks if b.lines or b.table]
        pages.append("\n\n".join([f"<!-- page {page.index} -->", *[b for b in blocks if b]]))
    return "\n\n---\n\n".join(pages) + "\n"


def _html_table(table: Table, caption: str) -> str:
    out = [f"<table>\n<caption>{html.escape(caption)}</caption>"]
    starts = {(c.row, c.col): c for c in table.cells}
    covered = {
        (c.row + dr, c.col + dc)
        for c in table.cells
        for dr in range(c.row_span)
        for dc in range(c.col_span)
        if dr or dc
    }
    for r in range(table.rows):
        cells = []
        for c in range(table.cols):
            if (r, c) in covered:
                continue
            cell = starts.get((r, c))
            spans = ""
            if cell is not None and cell.row_span > 1:
                spans += f' rowspan="{cell.row_span}"'
            if cell is not None and cell.col_span > 1:
                spans += f' colspan="{cell.col_span}"'
            cells.append(f"<td{spans}>{html.escape(cell.text if cell else '')}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def to_tables_html(doc: Document) -> str:
    tables = []
    for page in doc.pages:
        found = [b.table for b in page.blocks if b.kind == "table" and b.table is not None]
        for number, table in enumerate(found, 1):
            tables.append(_html_table(table, f"Page {page.index}, table {number}"))
    body = "\n".join(tables) if tables else "<p>No tables were found in this document.</p>"
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>Tables</title>\n'
        "<style>table{border-collapse:collapse;margin:1em 0}td{border:1px solid #888;padding:2px 6px}"
        "caption{text-align:left;font-weight:bold}</style>\n"
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


#: The text renderings, by format (the searchable PDF is written from the page images as well).
TEXT_RENDERERS: dict[str, Callable[[Document], str]] = {
    "json": to_json,
    "txt": to_txt,
    "hocr": to_hocr,
    "md": to_markdown,
    "html": to_tables_html,
}


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
