"""Test pages for region types and forms, drawn with Pillow and Debian's DejaVu fonts at the DPI of
tests/documents.py; each comes with the line boxes where its text was drawn (a box per word, as a detector gives
them) and what the page should be read as.

- :func:`regions_page`: a running header, a title, paragraphs, a heading in bold body type kept with its
  paragraph, an introduction and a bulleted list (one item wrapped under a hanging indent), a bar chart with its
  caption, and a page number at the foot.
- :func:`form_page`: a form with a label and value on one line, a label and a value further right on its row, a
  label left of a box with the value inside, a label above a box, an empty box, and two checkboxes, one ticked
  with an X and one left empty.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

from PIL import Image, ImageDraw, ImageFont

from streamprocess.ocr.types import BlockKind, Line

from .documents import DPI, PROSE, SANS, blank, draw_line

SANS_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
MARGIN = int(0.8 * DPI)


def _font(size_pt: float, path: str = SANS) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, int(size_pt * DPI / 72))


@dataclass
class RegionsPage:
    image: Image.Image
    lines: list[Line]  # every drawn line, in reading order
    kinds: list[tuple[BlockKind, str]]  # the blocks it should be typed as: kind and first line, in reading order
    text: str


def regions_page() -> RegionsPage:
    """A4: header, title, paragraph, bold heading with its paragraph, introduction and a bulleted list, a bar
    chart with its caption below, a closing paragraph, and "Page 3" at the foot."""
    image = blank()
    d = ImageDraw.Draw(image)
    body, bold = _font(11), _font(11, SANS_BOLD)
    step = int(body.size * 1.4)
    lines: list[Line] = []
    kinds: list[tuple[BlockKind, str]] = []

    def paragraph(text: str, y: int, kind: BlockKind = "paragraph", indent: int = 0, width: int = 78) -> int:
        wrapped = textwrap.wrap(text, width)
        for i, row in enumerate(wrapped):
            lines.append(draw_line(d, row, MARGIN + (indent if i == 0 else 0), y, body))
            y += step
        kinds.append((kind, wrapped[0]))
        return y

    header = "Northern depot - weekly report"
    lines.append(draw_line(d, header, MARGIN, int(0.3 * DPI), _font(9)))
    kinds.append(("header", header))
    title = "Weekly operations review"
    lines.append(draw_line(d, title, MARGIN, int(0.9 * DPI), _font(20)))
    kinds.append(("title", title))
    sentences = [s.rstrip(".") + "." for s in PROSE.split(". ")]
    y = paragraph(" ".join(sentences[:3]), int(1.5 * DPI))
    y += step
    heading = "Changes this month"
    lines.append(draw_line(d, heading, MARGIN, y, bold))  # body size, bold, one line pitch above its paragraph
    kinds.append(("title", heading))
    y = paragraph(" ".join(sentences[3:5]), y + step, indent=int(0.3 * DPI))
    y += step
    y = paragraph("The team agreed on three actions for the coming weeks:", y)
    items = [
        "Enter the road works by hand until the map provider updates its data, and check every route that "
        "crosses the city centre before the drivers leave.",
        "Replace the handheld scanners that lost their connection.",
        "Test weekend deliveries in two districts.",
    ]
    bullet_x = MARGIN + int(0.15 * DPI)
    text_x = bullet_x + int(body.getlength("• "))
    for n, item in enumerate(items):
        for i, row in enumerate(textwrap.wrap(item, 70)):
            if i == 0:
                lines.append(draw_line(d, "• " + row, bullet_x, y, body))
                if n == 0:
                    kinds.append(("list", "• " + row))
            else:
                lines.append(draw_line(d, row, text_x, y, body))  # the hanging indent
            y += step
    # A bar chart: no text in it.
    y += step
    chart_top, chart_bottom = y, y + int(2.2 * DPI)
    d.line([(MARGIN, chart_bottom), (MARGIN + int(5 * DPI), chart_bottom)], fill="black", width=3)
    d.line([(MARGIN, chart_top), (MARGIN, chart_bottom)], fill="black", width=3)
    for i, share in enumerate([0.55, 0.8, 0.35, 0.95, 0.6]):
        x = MARGIN + int((0.4 + i * 0.9) * DPI)
        d.rectangle([x, chart_bottom - int(share * 2.0 * DPI), x + int(0.5 * DPI), chart_bottom], fill="#555555")
    y = chart_bottom + int(0.25 * DPI)
    caption = "Figure 1: Parcels delivered per district in March."
    lines.append(draw_line(d, caption, MARGIN, y, _font(10)))
    kinds.append(("caption", caption))
    y += 2 * step
    paragraph(" ".join(sentences[5:7]), y)
    footer = "Page 3"
    f9 = _font(9)
    lines.append(draw_line(d, footer, (image.width - int(f9.getlength(footer))) // 2, int(11.25 * DPI), f9))
    kinds.append(("footer", footer))
    return RegionsPage(image, lines, kinds, "\n".join(line.text for line in lines))


@dataclass
class FormPage:
    image: Image.Image
    lines: list[Line]  # every drawn line (a label and a value drawn apart are two lines)
    fields: list[tuple[str, str]]  # (key, value), top to bottom
    checkboxes: list[tuple[str, bool]]  # (label, checked)
    boxes: list[tuple[int, int, int, int]] = field(default_factory=list)  # the value boxes drawn
    squares: list[tuple[int, int, int, int]] = field(default_factory=list)  # the checkboxes drawn


def form_page() -> FormPage:
    """A4 library card application: "Name: Jane Doe" on one line; "Date of birth:" with its value further right on
    the row; "Address" left of a box holding the value; "Email address" above a box holding the value; "Member
    number" left of an empty box; two checkboxes, the first ticked with an X."""
    image = blank()
    d = ImageDraw.Draw(image)
    body = _font(11)
    lh = body.size
    page = FormPage(image, [], [], [])
    page.lines.append(draw_line(d, "Library card application", MARGIN, int(0.9 * DPI), _font(18)))
    value_x = MARGIN + int(2.2 * DPI)
    box_right = image.width - MARGIN

    def box(x0: int, y0: int, x1: int, value: str) -> int:
        """A box a line and a half high at (x0, y0); the value written inside it; its bottom."""
        y1 = y0 + int(1.7 * lh)
        d.rectangle([x0, y0, x1, y1], outline="black", width=3)
        page.boxes.append((x0, y0, x1, y1))
        if value:
            page.lines.append(draw_line(d, value, x0 + int(0.4 * lh), y0 + int(0.3 * lh), body))
        return y1

    y = int(1.8 * DPI)
    page.lines.append(draw_line(d, "Name: Jane Doe", MARGIN, y, body))
    page.fields.append(("Name", "Jane Doe"))
    y += int(0.6 * DPI)
    page.lines.append(draw_line(d, "Date of birth:", MARGIN, y, body))
    page.lines.append(draw_line(d, "12 March 1990", value_x, y, body))
    page.fields.append(("Date of birth", "12 March 1990"))
    y += int(0.6 * DPI)
    page.lines.append(draw_line(d, "Address", MARGIN, y + int(0.3 * lh), body))
    y = box(value_x, y, box_right, "14 Harbour Road, Leith")
    page.fields.append(("Address", "14 Harbour Road, Leith"))
    y += int(0.5 * DPI)
    page.lines.append(draw_line(d, "Email address", MARGIN, y, body))
    y = box(MARGIN, y + int(1.5 * lh), MARGIN + int(4.5 * DPI), "jane.doe@example.org")
    page.fields.append(("Email address", "jane.doe@example.org"))
    y += int(0.5 * DPI)
    page.lines.append(draw_line(d, "Member number", MARGIN, y + int(0.3 * lh), body))
    y = box(value_x, y, value_x + int(2.5 * DPI), "")
    page.fields.append(("Member number", ""))
    y += int(0.6 * DPI)
    side = int(1.1 * lh)
    for label, checked in (("Send me the monthly newsletter", True), ("Share my details with partners", False)):
        x0, y0 = MARGIN, y
        d.rectangle([x0, y0, x0 + side, y0 + side], outline="black", width=3)
        if checked:
            pad = int(0.2 * side)
            d.line([(x0 + pad, y0 + pad), (x0 + side - pad, y0 + side - pad)], fill="black", width=4)
            d.line([(x0 + pad, y0 + side - pad), (x0 + side - pad, y0 + pad)], fill="black", width=4)
        page.squares.append((x0, y0, x0 + side, y0 + side))
        page.lines.append(draw_line(d, label, x0 + side + int(0.5 * lh), y0 + int(0.05 * lh), body))
        page.checkboxes.append((label, checked))
        y += int(0.5 * DPI)
    return page
