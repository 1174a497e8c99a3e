"""Tables through the real OCR engine: rendered ruled and unruled table pages at 200 and 300 DPI to their exact cell
grid and HTML, no table found on real scans without one, and an OCR job whose results carry ocr.md and tables.html.

The pages are tests/table_pages.py's: a paragraph, the table, a paragraph. The ruled table's header spans its four
columns and one body cell spans two; the unruled one is set in columns by white space alone. Cell text is compared
exactly (runs of white space as one space).
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bench.corpus import ensure_corpus
from streamprocess.ocr import Document, OcrEngine, OcrOptions
from streamprocess.ocr.formats import to_markdown, to_tables_html
from streamprocess.ocr.inputs import PageImage
from streamprocess.ocr.types import Block

from . import documents as docs
from .scoring import cer, normalise_spaces
from .table_pages import TablePage, ruled_table_page, unruled_table_page

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine()


def ocr_page(engine: OcrEngine, tmp_path: Path, page: TablePage) -> Document:
    path = tmp_path / f"page-{time.monotonic_ns()}.png"
    page.image.save(path, dpi=(page.dpi, page.dpi))
    return engine.process(path, OcrOptions(languages=["eng"]))


def tables(doc: Document) -> list[Block]:
    return [b for p in doc.pages for b in p.blocks if b.kind == "table"]


#: The pages: ruled, unruled, and unruled with its rows three font sizes apart (the layout cuts it in pieces).
RENDERS: dict[str, Callable[[int], TablePage]] = {
    "ruled": ruled_table_page,
    "unruled": unruled_table_page,
    "unruled-wide": functools.partial(unruled_table_page, spacing=3.0),
}


@pytest.mark.parametrize("dpi", [200, 300])
@pytest.mark.parametrize("kind", list(RENDERS))
def test_table_page_to_its_grid_and_html(engine: OcrEngine, tmp_path: Path, dpi: int, kind: str) -> None:
    page = RENDERS[kind](dpi)
    doc = ocr_page(engine, tmp_path, page)
    blocks = doc.pages[0].blocks
    assert [b.kind for b in blocks].count("table") == 1, [(b.kind, b.text) for b in blocks]
    t_index = next(i for i, b in enumerate(blocks) if b.kind == "table")
    table = blocks[t_index].table
    assert table is not None and table.ruled == (kind == "ruled")
    assert [[normalise_spaces(c) for c in row] for row in table.grid()] == page.grid
    assert sorted((c.row, c.col, c.row_span, c.col_span) for c in table.cells if c.col_span > 1 or c.row_span > 1) == (
        page.spans
    )
    # The paragraphs stay text, above and below the table in reading order.
    before = normalise_spaces(" ".join(b.text for b in blocks[:t_index]))
    after = normalise_spaces(" ".join(b.text for b in blocks[t_index + 1 :]))
    assert cer(page.above, before) <= 0.02 and cer(page.below, after) <= 0.02, (before, after)
    # Cell boxes lie inside the table's box, in page pixels.
    x0, y0, x1, y1 = blocks[t_index].bbox
    assert all(
        x0 - 3 <= c.bbox[0] < c.bbox[2] <= x1 + 3 and y0 - 3 <= c.bbox[1] < c.bbox[3] <= y1 + 3 for c in table.cells
    )
    html = to_tables_html(doc)
    positions = sum(c.row_span * c.col_span for c in table.cells)
    assert positions == len(page.grid) * len(page.grid[0])
    assert html.count("<tr>") == len(page.grid) and html.count("<td") == len(table.cells)
    assert sorted(re.findall(r'colspan="(\d+)"', html)) == sorted(str(s[3]) for s in page.spans)
    assert "<caption>Page 1, table 1</caption>" in html
    md_rows = [line for line in to_markdown(doc).splitlines() if line.startswith("|")]
    assert len(md_rows) == len(page.grid) + 1  # the rows and the delimiter row
    assert md_rows[2] == "| " + " | ".join(page.grid[1]) + " |"


@pytest.mark.parametrize("name", ["linn", "typewriter"])
def test_no_table_on_real_scans_without_one(engine: OcrEngine, name: str) -> None:
    """The linn brochure (two columns, lists) and the typewritten recipe hold no table: none is found."""
    (scan,) = ensure_corpus(names={name})
    page = engine.recognize_page(PageImage(1, scan.image.convert("RGB"), scan.dpi), OcrOptions(languages=["eng"]))
    assert page.text.strip() and [b for b in page.blocks if b.kind == "table" or b.table] == []


def test_real_ruled_table_scan(engine: OcrEngine) -> None:
    """The benchmark's ``bank-table`` (bench/corpus.py: img2table's test image of a printed bank statement, faint
    grey rules, shaded total rows, a header in white type on a black band): its 18 body rows and 5 columns. Each row
    is compared with the truth's line for it; the truth's "-" (an empty figure) is not read by the OCR and left out.
    Measured: all 18 rows exact; the header (white on black) is read as text above the table, not as its cells."""
    (scan,) = ensure_corpus(names={"bank-table"})
    assert scan.truth is not None
    page = engine.recognize_page(PageImage(1, scan.image.convert("RGB"), scan.dpi), OcrOptions(languages=["eng"]))
    (block,) = [b for b in page.blocks if b.kind == "table"]
    assert block.table is not None and block.table.ruled and block.table.cols == 5
    rows = [" ".join(c for c in (normalise_spaces(c) for c in row) if c) for row in block.table.grid()]
    body = [" ".join(w for w in line.split() if w != "-") for line in scan.truth.splitlines()[2:]]
    assert rows == body


def test_invoice_page_is_an_unruled_table(engine: OcrEngine, tmp_path: Path) -> None:
    """tests/documents.py's invoice: its title stays text, its rows are a 7 × 4 table with an empty cell or two."""
    image, _ = docs.table_page()
    doc = ocr_page(engine, tmp_path, TablePage(image, docs.DPI, []))
    (block,) = tables(doc)
    assert block.table is not None
    assert [[normalise_spaces(c) for c in row] for row in block.table.grid()] == docs.INVOICE
    assert "INVOICE 2026-1187" in doc.pages[0].blocks[0].text


async def test_ocr_job_writes_markdown_and_tables_html(tmp_path: Path) -> None:
    from streamprocess.jobs import JobState

    from .helpers import Pipeline

    pipeline = Pipeline(tmp_path, ocr_processor="ocr")
    try:
        pipeline.start_worker()
        ruled, unruled = ruled_table_page(), unruled_table_page()
        pdf = docs.save_pdf([ruled.image, docs.prose_page()[0], unruled.image], tmp_path / "tables.pdf")
        await pipeline.drop("scans/tables.pdf", pdf.read_bytes())
        done = await pipeline.wait_state("tables.pdf", JobState.succeeded, timeout=180)
        assert {"ocr.md", "tables.html", "ocr.json"} <= set(done.results)
        results = Path(pipeline.settings.data_dir) / "results" / done.job_id
        doc = Document.from_json((results / "ocr.json").read_text())
        found = {p.index: [b.table for b in p.blocks if b.kind == "table"] for p in doc.pages}
        assert [len(found[i]) for i in (1, 2, 3)] == [1, 0, 1]
        assert all(
            t is not None and t.cells and all(c.bbox[2] > c.bbox[0] for c in t.cells) for t in found[1] + found[3]
        )
        html = (results / "tables.html").read_text(encoding="utf-8")
        assert html.count("<table>") == 2 and "Page 1, table 1" in html and "Page 3, table 1" in html
        assert html.count("<tr>") == len(ruled.grid) + len(unruled.grid)
        assert 'colspan="4">Quarterly depot report</td>' in html and 'colspan="2">closed for repairs</td>' in html
        md = (results / "ocr.md").read_text(encoding="utf-8")
        assert md.count("<!-- page ") == 3 and md.count("\n---\n") == 2
        assert "| Northern depot | 12480 | 310 | +8% |" in md and "| North loop | 14 | 62 km | Maria |" in md
        assert "routing software" in md.split("<!-- page 2 -->")[1]
        assert md.index("The depots sent their figures") < md.index("| Quarterly depot report |")
    finally:
        pipeline.stop()


def test_tables_html_is_one_page_without_tables(engine: OcrEngine, tmp_path: Path) -> None:
    image, _ = docs.prose_page()
    doc = ocr_page(engine, tmp_path, TablePage(image, docs.DPI, []))
    assert tables(doc) == []
    html = to_tables_html(doc)
    assert "<table" not in html and "No tables" in html
