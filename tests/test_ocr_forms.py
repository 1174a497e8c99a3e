"""Region types and forms through the OCR engine (PP-OCR, the default for English): rendered pages
(tests/form_pages.py) and the real brochure scan ``linn`` (bench/corpus.py; OCRmyPDF's test resource, fetched
from PyPI on first use and cached in bench/corpus/).

Measured on this machine (PP-OCR, 2 cores shared): each rendered A4 page at 200 DPI takes 3 to 4 s end to end,
the linn scan (2550x3300, 300 DPI) about 9 s; of that, typing the regions takes about a millisecond, looking for
fields about 0.03 s on a rendered page and 0.2 to 0.3 s on the scan.
"""

from __future__ import annotations

import pytest

from bench.corpus import ensure_corpus
from streamprocess.ocr import OcrEngine, OcrOptions
from streamprocess.ocr.inputs import PageImage
from streamprocess.ocr.types import Page

from .form_pages import DPI, form_page, regions_page
from .scoring import normalise_spaces

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine()


@pytest.fixture(scope="module")
def linn(engine: OcrEngine) -> Page:
    (scan,) = ensure_corpus(names={"linn"})
    return engine.recognize_page(PageImage(1, scan.image.convert("RGB"), scan.dpi), OcrOptions(languages=["eng"]))


def test_simple_form_key_value_pairs_and_checkboxes(engine: OcrEngine) -> None:
    """Name on one line, date further right on its row, address in a box right of its label, email in a box under
    its label, an empty member-number box; one checkbox ticked with an X, one empty."""
    form = form_page()
    page = engine.recognize_page(PageImage(1, form.image, DPI), OcrOptions(languages=["eng"]))
    assert [(f.key, normalise_spaces(f.value)) for f in page.fields] == form.fields, page.fields
    assert [(c.label, c.checked) for c in page.checkboxes] == form.checkboxes, page.checkboxes
    assert all(f.confidence > 0.8 for f in page.fields)


def test_region_types_on_a_rendered_page(engine: OcrEngine) -> None:
    """Header, title, paragraph, a bold heading, paragraph, an introduction, a bulleted list, a figure's caption,
    a paragraph and the page number, in reading order."""
    drawn = regions_page()
    page = engine.recognize_page(PageImage(1, drawn.image, DPI), OcrOptions(languages=["eng"]))
    got = [(b.kind, normalise_spaces(b.lines[0].text)) for b in page.blocks]
    assert got == drawn.kinds, got
    assert page.fields == [] and page.checkboxes == []


def test_brochure_scan_is_no_form_and_its_title_is_a_title(linn: Page) -> None:
    assert linn.fields == [] and linn.checkboxes == []
    first = linn.blocks[0]
    assert first.kind == "title" and first.lines[0].text == "The LinnSequencer", first
    titles = [b.text for b in linn.blocks if b.kind == "title"]
    for heading in ("Recording a Sequence", "Editing", "Creating a Song", "Additional Features"):
        assert heading in titles, titles
    lists = [b for b in linn.blocks if b.kind == "list"]
    assert len(lists) == 2 and all(b.lines[0].text.startswith("•") for b in lists), [b.text for b in lists]
    assert not any(b.kind == "text" for b in linn.blocks)  # every block typed
