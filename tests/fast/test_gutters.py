"""Column gutters from the page image, and reading order with them: pages drawn here with Pillow, line boxes taken
from where the text was drawn (no OCR model: the layout logic alone)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from PIL import Image, ImageDraw, ImageFont

from streamprocess.ocr.gutters import Gutter, PageGeometry, page_geometry
from streamprocess.ocr.layout import reading_order
from streamprocess.ocr.types import Line, Word
from tests import documents as docs

DPI = 300
WIDTH, HEIGHT = int(8.5 * DPI), 11 * DPI
MARGIN = int(0.8 * DPI)
GUTTER = WIDTH // 40  # a narrow gutter: 1/40 of the page width


@dataclass
class DrawnPage:
    image: Image.Image
    lines: list[Line]  # every drawn line with its words' boxes, in reading order
    text: str  # the reference, in reading order
    gap: tuple[int, int]  # x range of the gutter between the columns' text
    band: tuple[int, int]  # y range of the rows where both columns have text


def _font(size_pt: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(docs.SERIF, int(size_pt * DPI / 72))


def _wrap(text: str, f: ImageFont.FreeTypeFont, width: int) -> list[str]:
    out: list[str] = []
    for word in text.split():
        if out and f.getlength(out[-1] + " " + word) <= width:
            out[-1] += " " + word
        else:
            out.append(word)
    return out


def narrow_gutter_page() -> DrawnPage:
    """Letter at 300 DPI: a title and a paragraph across the page, two columns with a gutter of 1/40 of the page
    width (the left one a line longer), then a paragraph across the page again."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    d = ImageDraw.Draw(image)
    body, title = _font(11), _font(20)
    step = int(body.size * 1.25)
    full = WIDTH - 2 * MARGIN
    column = (full - GUTTER) // 2
    lines = [docs.draw_line(d, "Weekly operations review", MARGIN, MARGIN, title)]
    y = MARGIN + int(title.size * 1.8)
    sentences = [t.rstrip(".") + "." for t in docs.PROSE.split(". ")]  # eight
    for text in _wrap(" ".join(sentences[:2]), body, full):
        lines.append(docs.draw_line(d, text, MARGIN, y, body))
        y += step
    y += step
    top = y
    left = _wrap(" ".join([docs.LEFT_COLUMN, *sentences[2:5]]), body, column)
    right = _wrap(" ".join([docs.RIGHT_COLUMN, *sentences[5:6]]), body, column)
    rows = min(len(left) - 1, len(right))
    left, right = left[: rows + 1], right[:rows]  # the left column a line longer
    left_lines = [docs.draw_line(d, text, MARGIN, top + i * step, body) for i, text in enumerate(left)]
    right_lines = [
        docs.draw_line(d, text, MARGIN + column + GUTTER, top + i * step, body) for i, text in enumerate(right)
    ]
    lines += left_lines + right_lines
    bottom = top + len(left) * step
    y = bottom + step
    for text in _wrap(" ".join(sentences[6:]), body, full):
        lines.append(docs.draw_line(d, text, MARGIN, y, body))
        y += step
    gap = (max(line.bbox[2] for line in left_lines), min(line.bbox[0] for line in right_lines))
    return DrawnPage(image, lines, "\n".join(line.text for line in lines), gap, (top, right_lines[-1].bbox[3]))


def _merged_rows(page: DrawnPage) -> list[Line]:
    """The page's lines as a detector that merges the two columns' lines across the gutter gives them."""
    merged: list[Line] = []
    right = [line for line in page.lines if line.bbox[0] > WIDTH // 2]
    for line in page.lines:
        if line in right:
            continue
        twin = next((r for r in right if abs(r.bbox[1] - line.bbox[1]) < 5), None)
        if twin is None:
            merged.append(line)
            continue
        box = (line.bbox[0], min(line.bbox[1], twin.bbox[1]), twin.bbox[2], max(line.bbox[3], twin.bbox[3]))
        merged.append(
            Line(text=f"{line.text} {twin.text}", bbox=box, confidence=0.99, words=[*line.words, *twin.words])
        )
    return merged


@pytest.fixture(scope="module")
def page() -> DrawnPage:
    return narrow_gutter_page()


def test_narrow_gutter_is_found_between_the_columns_only(page: DrawnPage) -> None:
    geometry = page_geometry(page.image)
    assert geometry.angle == 0
    assert len(geometry.gutters) == 1, geometry.gutters
    g = geometry.gutters[0]
    assert page.gap[0] - 8 <= g.x0 < g.x1 <= page.gap[1] + 8  # the image is analysed 4x smaller
    line = int(_font(11).size * 1.25)
    assert page.band[0] - line <= g.y0 <= page.band[0] + line  # not up into the paragraph across the page
    assert page.band[1] - line <= g.y1 <= page.band[1] + line  # nor down into the one below


@pytest.mark.parametrize("degrees", [3.0, -2.0])
def test_gutter_found_on_a_skewed_page(page: DrawnPage, degrees: float) -> None:
    turned = page.image.rotate(degrees, resample=Image.Resampling.BILINEAR, fillcolor="white")
    geometry = page_geometry(turned)
    assert geometry.angle == pytest.approx(-degrees, abs=0.3)  # rotate() turns counter-clockwise
    assert len(geometry.gutters) == 1, geometry.gutters
    middle = (page.gap[0] + page.gap[1]) / 2
    assert abs(geometry.gutters[0].x - middle) < GUTTER


def test_reading_order_spanning_then_columns_then_spanning(page: DrawnPage) -> None:
    blocks = reading_order(_merged_rows(page), geometry=page_geometry(page.image))
    text = "\n".join(b.text for b in blocks)
    assert text == page.text


def test_reading_order_on_a_skewed_page(page: DrawnPage) -> None:
    """The same lines turned with the page (their boxes are the turned boxes' bounds, which overlap)."""
    degrees = 2.0
    turned = page.image.rotate(degrees, resample=Image.Resampling.BILINEAR, fillcolor="white")
    frame = PageGeometry(
        WIDTH, HEIGHT, angle=degrees
    )  # the inverse of the turned page's deskew (its angle is -degrees)

    def turn(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        pts = [frame.deskew(x, y) for x, y in ((box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3]))]
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        return (int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1)

    lines = [
        line.model_copy(
            update={"bbox": turn(line.bbox), "words": [w.model_copy(update={"bbox": turn(w.bbox)}) for w in line.words]}
        )
        for line in _merged_rows(page)
    ]
    text = "\n".join(b.text for b in reading_order(lines, geometry=page_geometry(turned)))
    assert text == page.text


def test_a_line_crossing_a_gutter_is_split_by_its_words() -> None:
    def line(text: str, x0: int, y: int) -> Line:
        words, x = [], x0
        for w in text.split():
            words.append(Word(text=w, bbox=(x, y, x + 35 * len(w), y + 30), confidence=0.9))
            x += 35 * len(w) + 15
        return Line(text=text, bbox=(x0, y, x - 15, y + 30), confidence=0.9, words=words)

    left = [line(f"left {i} alpha beta gamma", 100, 100 + 40 * i) for i in range(6)]
    right = [line(f"right {i} delta epsilon", 1100, 100 + 40 * i) for i in range(6)]
    a, b = line("left 6 alpha beta gamma", 100, 340), line("right 6 delta epsilon", 1100, 340)
    crossing = Line(text=f"{a.text} {b.text}", bbox=(100, 340, b.bbox[2], 370), confidence=0.9, words=a.words + b.words)
    geometry = PageGeometry(2000, 1000, gutters=[Gutter(1000, 1090, 90, 380)])
    blocks = reading_order([*left, *right, crossing], geometry=geometry)
    lines = [row for b in blocks for row in b.lines]
    assert [row.text for row in lines] == [f"left {i} alpha beta gamma" for i in range(7)] + [
        f"right {i} delta epsilon" for i in range(7)
    ]
    split_left, split_right = lines[6], lines[13]
    assert [w.text for w in split_left.words] == ["left", "6", "alpha", "beta", "gamma"]
    assert [w.text for w in split_right.words] == ["right", "6", "delta", "epsilon"]
    assert split_left.bbox[2] < 1000 < 1090 < split_right.bbox[0]
    assert split_left.bbox[1] == split_right.bbox[1] == 340


def test_table_columns_are_not_gutters() -> None:
    """An invoice's cells sit on the same rows and are short: its white columns are not gutters, rows stay whole."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    d = ImageDraw.Draw(image)
    f = _font(11)
    xs = [MARGIN, int(4.2 * DPI), int(5.4 * DPI), int(6.8 * DPI)]
    lines, rows = [], []
    for r, row in enumerate(docs.INVOICE):
        y = MARGIN + r * int(f.size * 1.6)
        cells = [docs.draw_line(d, cell, x, y, f) for x, cell in zip(xs, row, strict=True) if cell]
        lines += cells
        rows.append(" ".join(c.text for c in cells))
    geometry = page_geometry(image)
    assert geometry.gutters  # the white between the table's columns is there in the image
    blocks = reading_order(lines, geometry=geometry)
    assert [row.text for b in blocks for row in b.lines] == rows


def test_one_column_page_has_no_gutter() -> None:
    image, _ = docs.prose_page()
    assert page_geometry(image).gutters == []


def test_blank_and_tiny_pages() -> None:
    assert page_geometry(Image.new("L", (1, 20000), 255)).gutters == []
    assert page_geometry(Image.new("1", (5, 5), 1)).gutters == []
    assert page_geometry(Image.new("RGB", (800, 600), "white")) == PageGeometry(800, 600)
