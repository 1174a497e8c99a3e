"""Forms from a rendered page's drawn line boxes (no OCR model): key–value pairs on a line, further right on the
row and in drawn boxes, checkbox states, and the pages that are not forms."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from streamprocess.ocr.forms import find_boxes, find_fields
from streamprocess.ocr.layout import reading_order
from streamprocess.ocr.regions import classify
from streamprocess.ocr.types import Block, Cell, Line, Table
from tests.form_pages import FormPage, draw_line, form_page, regions_page
from tests.form_pages import _font as font


@pytest.fixture(scope="module")
def page() -> FormPage:
    return form_page()


def blocks_of(page: FormPage) -> list[Block]:
    return classify(reading_order(page.lines), page.image.width, page.image.height)


def test_form_fields_and_checkboxes(page: FormPage) -> None:
    fields, checkboxes = find_fields(page.image, blocks_of(page))
    assert [(f.key, f.value) for f in fields] == page.fields
    assert [(c.label, c.checked) for c in checkboxes] == page.checkboxes
    # Each checkbox's box is the square drawn (within the border's width); a boxed value's box is the box drawn.
    for found, drawn in zip(checkboxes, page.squares, strict=True):
        assert all(abs(a - b) <= 3 for a, b in zip(found.bbox, drawn, strict=True)), (found.bbox, drawn)
    boxed = {f.key: f.value_bbox for f in fields}
    for key, drawn in zip(["Address", "Email address", "Member number"], page.boxes, strict=True):
        found = boxed[key]
        assert found is not None and all(abs(a - b) <= 4 for a, b in zip(found, drawn, strict=True)), (found, drawn)


@pytest.mark.parametrize("joined", [True, False])
def test_label_with_its_value_further_right(page: FormPage, joined: bool) -> None:
    """ "Date of birth:" and its value far right on the row: one line box (the reading order joins a row's boxes
    within a block) or two blocks (the value read as a column of its own)."""
    label = next(ln for ln in page.lines if ln.text == "Date of birth:")
    value = next(ln for ln in page.lines if ln.text == "12 March 1990")
    others = [ln for ln in page.lines if ln not in (label, value)]
    blocks = [Block(bbox=ln.bbox, lines=[ln]) for ln in others]
    if joined:
        box = (label.bbox[0], min(label.bbox[1], value.bbox[1]), value.bbox[2], max(label.bbox[3], value.bbox[3]))
        row = Line(text="Date of birth: 12 March 1990", bbox=box, confidence=0.99, words=label.words + value.words)
        blocks.append(Block(bbox=box, lines=[row]))
    else:
        blocks += [Block(bbox=label.bbox, lines=[label]), Block(bbox=value.bbox, lines=[value])]
    fields, _ = find_fields(page.image, blocks)
    date = next(f for f in fields if f.key == "Date of birth")
    assert date.value == "12 March 1990"
    assert date.key_bbox == union(label) and date.value_bbox == union(value)


def union(line: Line) -> tuple[int, int, int, int]:
    boxes = [w.bbox for w in line.words]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def test_boxes_found_are_the_drawn_ones(page: FormPage) -> None:
    lh = 50  # PP-OCR's line boxes for 11 pt text at 200 DPI
    found = find_boxes(page.image, lh)
    insides = sorted(b.inside for b in found)
    drawn = sorted([*page.boxes, *page.squares])
    assert len(insides) == len(drawn)
    for inside, box in zip(insides, drawn, strict=True):
        assert all(abs(a - b) <= 4 for a, b in zip(inside, box, strict=True)), (inside, box)


def _square(mark: str) -> Image.Image:
    image = Image.new("RGB", (600, 120), "white")
    d = ImageDraw.Draw(image)
    x0, y0, side = 40, 40, 34
    d.rectangle([x0, y0, x0 + side, y0 + side], outline="black", width=3)
    if mark == "x":
        d.line([(x0 + 7, y0 + 7), (x0 + side - 7, y0 + side - 7)], fill="black", width=4)
        d.line([(x0 + 7, y0 + side - 7), (x0 + side - 7, y0 + 7)], fill="black", width=4)
    elif mark == "tick":
        d.line([(x0 + 7, y0 + 18), (x0 + 14, y0 + side - 7), (x0 + side - 5, y0 + 6)], fill="black", width=4)
    elif mark == "shaded":
        d.rectangle([x0 + 6, y0 + 6, x0 + side - 6, y0 + side - 6], fill="black")
    elif mark == "speck":
        d.rectangle([x0 + 16, y0 + 18, x0 + 18, y0 + 20], fill="black")  # a dust speck: not clear
    return image


@pytest.mark.parametrize(
    ("mark", "state"), [("x", True), ("tick", True), ("shaded", True), ("", False), ("speck", None)]
)
def test_checkbox_states(mark: str, state: bool | None) -> None:
    image = _square(mark)
    d = ImageDraw.Draw(image)
    label = draw_line(d, "Yes please", 95, 42, font(11))
    # Two "Label: value" lines beside it make the page a form (three items), so the box alone is judged here.
    others = [draw_line(d, "Name: Jane", 300, 5, font(11)), draw_line(d, "Town: Leith", 300, 75, font(11))]
    blocks = [Block(bbox=ln.bbox, lines=[ln]) for ln in [label, *others]]
    _, checkboxes = find_fields(image, blocks)
    assert [(c.label, c.checked) for c in checkboxes] == ([] if state is None else [("Yes please", state)])


def test_prose_with_a_note_is_not_a_form() -> None:
    rows = [
        "Note: the sequencer keeps every track in memory while you record, and the disk drive",
        "stores complex songs in seconds. Tempo: set it in beats per minute or frames per beat,",
        "and change it within a song with smooth transitions if desired. Any time signature",
        "may be used. Remote control: optional.",
    ]
    image = Image.new("RGB", (1654, 600), "white")
    d = ImageDraw.Draw(image)
    lines = [draw_line(d, text, 160, 100 + 45 * i, font(11)) for i, text in enumerate(rows)]
    blocks = classify(reading_order(lines), image.width, image.height)
    assert find_fields(image, blocks) == ([], [])


def test_two_fields_are_not_a_form() -> None:
    image = Image.new("RGB", (1654, 400), "white")
    d = ImageDraw.Draw(image)
    lines = [draw_line(d, "To: the depot manager", 160, 100, font(11)), draw_line(d, "From: Jane", 160, 160, font(11))]
    assert find_fields(image, reading_order(lines)) == ([], [])


def test_prose_page_has_no_fields() -> None:
    page = regions_page()
    blocks = classify(reading_order(page.lines), page.image.width, page.image.height)
    assert find_fields(page.image, blocks) == ([], [])


def test_boxes_inside_a_table_are_cells_not_fields(page: FormPage) -> None:
    """Where the tables' finder made a table of the boxed rows, their boxes are its cells: no boxed fields."""
    area = (0, page.boxes[0][1] - 10, page.image.width, page.boxes[-1][3] + 10)
    table = Block(
        bbox=area,
        kind="table",
        lines=[],
        table=Table(rows=1, cols=1, ruled=True, cells=[Cell(row=0, col=0, bbox=area)]),
    )
    fields, checkboxes = find_fields(page.image, [*blocks_of(page), table])
    assert [(f.key, f.value) for f in fields] == page.fields[:2]  # the ones on a line
    assert [(c.label, c.checked) for c in checkboxes] == page.checkboxes
