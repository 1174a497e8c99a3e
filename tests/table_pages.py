"""Rendered table pages (Pillow, DejaVu Sans) with the grid each should read as: a ruled table whose header spans
every column and one of whose body cells spans two, and an unruled table aligned in columns by white space only.
Each page has a paragraph above the table and one below it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

from .documents import SANS

ABOVE = (
    "The depots sent their figures for the third quarter on Friday. The table below gives the parcels and the "
    "returns of each depot."
)
BELOW = "The airport depot stays closed until the new loading ramps are finished."

#: The ruled table: (text, col_span) per row.
RULED: list[list[tuple[str, int]]] = [
    [("Quarterly depot report", 4)],
    [("Depot", 1), ("Parcels", 1), ("Returns", 1), ("Change", 1)],
    [("Northern depot", 1), ("12480", 1), ("310", 1), ("+8%", 1)],
    [("Harbour road", 1), ("9215", 1), ("198", 1), ("-2%", 1)],
    [("City centre", 1), ("15002", 1), ("455", 1), ("+11%", 1)],
    [("Airport", 1), ("closed for repairs", 2), ("none", 1)],
]
#: Column widths of the ruled table, in inches.
RULED_WIDTHS = (2.2, 1.5, 1.5, 1.3)

UNRULED = [
    ["Route", "Stops", "Distance", "Driver"],
    ["North loop", "14", "62 km", "Maria"],
    ["Harbour", "9", "38 km", "Tomas"],
    ["Old town", "21", "17 km", "Ahmed"],
    ["Airport run", "6", "75 km", "Grace"],
    ["Night express", "11", "140 km", "Peter"],
]
#: Left edges of the unruled table's columns, in inches.
UNRULED_XS = (0.8, 3.4, 4.6, 6.0)


@dataclass
class TablePage:
    image: Image.Image
    dpi: int
    grid: list[list[str]]  # rows × columns, a spanning cell's text in its first position and "" in the others
    spans: list[tuple[int, int, int, int]] = field(default_factory=list)  # (row, col, row_span, col_span), span > 1
    above: str = ABOVE
    below: str = BELOW


def _font(dpi: int, size_pt: float) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(SANS, round(size_pt * dpi / 72))


def _prose(draw: ImageDraw.ImageDraw, text: str, x: int, y: int, f: ImageFont.FreeTypeFont) -> int:
    for line in textwrap.wrap(text, 80):
        draw.text((x, y), line, font=f, fill="black")
        y += round(f.size * 1.5)
    return y


def ruled_table_page(dpi: int = 200) -> TablePage:
    """A4: a paragraph, the ruled table (rules 1 pt thick, outer border included), a paragraph."""
    image = Image.new("RGB", (round(8.27 * dpi), round(11.69 * dpi)), "white")
    draw = ImageDraw.Draw(image)
    f = _font(dpi, 11)
    left = round(0.8 * dpi)
    y = _prose(draw, ABOVE, left, left, f) + round(0.4 * dpi)
    xs = [left]
    for w in RULED_WIDTHS:
        xs.append(xs[-1] + round(w * dpi))
    row_h = round(f.size * 2.2)
    ys = [y + i * row_h for i in range(len(RULED) + 1)]
    rule = max(2, round(dpi / 72))
    pad = round(0.08 * dpi)
    for r, row in enumerate(RULED):
        col = 0
        for text, span in row:
            draw.text((xs[col] + pad, ys[r] + (row_h - f.size) // 2), text, font=f, fill="black")
            col += span
            if col < len(RULED_WIDTHS):  # the rule to the right of this cell, down this row only
                draw.line([(xs[col], ys[r]), (xs[col], ys[r + 1])], fill="black", width=rule)
    for yy in ys:
        draw.line([(xs[0], yy), (xs[-1], yy)], fill="black", width=rule)
    for xx in (xs[0], xs[-1]):
        draw.line([(xx, ys[0]), (xx, ys[-1])], fill="black", width=rule)
    _prose(draw, BELOW, left, ys[-1] + round(0.4 * dpi), f)
    grid, spans = [], []
    for r, row in enumerate(RULED):
        cells: list[str] = []
        for text, span in row:
            if span > 1:
                spans.append((r, len(cells), 1, span))
            cells += [text] + [""] * (span - 1)
        grid.append(cells)
    return TablePage(image, dpi, grid, spans)


def unruled_table_page(dpi: int = 200, spacing: float = 1.6) -> TablePage:
    """A4: a paragraph, the table's columns set apart by white space only (rows ``spacing`` font sizes apart), a
    paragraph."""
    image = Image.new("RGB", (round(8.27 * dpi), round(11.69 * dpi)), "white")
    draw = ImageDraw.Draw(image)
    f = _font(dpi, 11)
    left = round(0.8 * dpi)
    y = _prose(draw, ABOVE, left, left, f) + round(0.4 * dpi)
    for row in UNRULED:
        for x, text in zip(UNRULED_XS, row, strict=True):
            draw.text((round(x * dpi), y), text, font=f, fill="black")
        y += round(f.size * spacing)
    _prose(draw, BELOW, left, y + round(0.4 * dpi), f)
    return TablePage(image, dpi, [list(row) for row in UNRULED])
