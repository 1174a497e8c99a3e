"""Region types: each block typed as title, paragraph, list, caption, header or footer (tables typed before).

From the line boxes and their text alone (no image), in this order:

- header / footer: a block of at most three short lines, none taller than the body text, lying within the top or
  bottom :data:`MARGIN` of the page (running titles, page numbers; a page number alone may sit a little further in,
  :data:`PAGE_NUMBER_MARGIN`);
- caption: a block whose first line starts "Figure 3", "Fig. 3", "Table 2", "Tab. 2", "Chart 1" (or 图/表/그림/표
  and a number; followed by a separator such as ":" or ".", unless the block is only one or two lines), next to
  a table block or to an empty stretch of the page (where a figure is);
- title: lines clearly taller than the page's body text (the median line height), or a heading set in the body
  size: a short line of a few words, not ending like a sentence, at the top of a block or after a wider gap than
  the block's line spacing, and followed by something that sets it apart (an indented, much wider or list line);
- list: lines starting with a bullet (•, -, *, ▪ …, and "o"/"0", which OCR often reads for a bullet on scans) or
  an item number or letter ("1.", "2)", "(a)", "iv."), with their wrapped continuation lines; at least two items
  with the same kind of marker;
- paragraph: the rest.

A block that mixes these (the reading order keeps a heading with its paragraph when the gap is small, an
introduction with the list it introduces) is split into consecutive blocks, in order.

Line heights are the text's, skew left out (:func:`text_height`). Measured on the real-scans corpus
(bench/corpus.py, PP-OCR through ``OcrEngine``; typing takes about a millisecond a page):

- ``linn`` (the brochure, 300 DPI): all right but the foot. The title block (title and subtitle, twice the body
  height) is a title; the five section headings, set in bold body size ("Recording a Sequence", "Editing",
  "Creating a Song", "Composition Without Compromise", "Additional Features"), are titles split off the blocks
  that held them; the two bulleted lists (14 lines each, with their continuation lines) are lists, the
  introduction above the first one a paragraph, the column text paragraphs. Wrong: the "Linn" logo at the foot is
  typed a title (it is large type), and the company address under it a paragraph, not a footer: its box starts a
  pixel above the bottom 6% (with Tesseract's tighter boxes it is a footer). Tesseract's readings of the bullets
  ("¢", "©", "®", "*") are lists too.
- ``skew`` (the same brochure skewed, holdout): the same types as ``linn``.
- ``rotated-skew`` (holdout): titles and headings right, but the reading order cuts the two lists into pieces
  that start with a continuation line, so five such pieces are typed paragraphs between six list blocks.
- ``c03-29`` (a book page): "Chapter III" a title, the text a paragraph; ``typewriter``: its heading a title,
  the recipe a paragraph; ``multipage-p6``: two columns of paragraphs.
"""

from __future__ import annotations

import math
import re
import statistics

from .types import Block, BlockKind, Box, Line, union

#: Share of the page height at the top and bottom where running headers and footers sit.
MARGIN = 0.06
#: A page number alone ("12", "Page 3", "- 4 -", "3 / 10") is a footer or header a little further in.
PAGE_NUMBER_MARGIN = 0.10
#: A line at least this many times the body's line height is set in a larger type (PP-OCR's body line boxes vary by
#: up to about 1.2 times their median, with ascenders, descenders and accents).
TALL = 1.4
#: A lone line this many times the body's line height is a title (with text below it).
LARGER = 1.2
#: A gap before a line this many times the block's median line pitch starts a new section.
WIDE_PITCH = 1.3
#: Most words in a heading.
HEADING_WORDS = 12

_BULLET = re.compile(r"^(?:[•·●○◦▪■□◆◇‣⁃➢➤►▸✓✔]\s*|[*\-–«©®¢oO0°]\s+)\S")
_NUMBERED = re.compile(r"^\(?(?:\d{1,3}|[ivxIVX]{1,4}|[A-Za-z])[.)、](?:\s+\S|\S*$)|^[①-⑳]")
_CAPTION = re.compile(
    r"^(?:(?:figure|fig\.?|table|tab\.|chart|plate|exhibit)\s*[0-9ivxIVX]+[0-9a-z.\-]*|(?:图|圖|表|그림|표)\s*\d+)",
    re.IGNORECASE,
)
_PAGE_NUMBER = re.compile(r"^(?:page\s*)?[-–—]?\s*\d{1,4}\s*[-–—]?(?:\s*(?:/|of)\s*\d{1,4})?$", re.IGNORECASE)
_SENTENCE_END = tuple(".,;:!?。，；：！？、-")


def _width(line: Line) -> int:
    return line.bbox[2] - line.bbox[0]


def text_height(line: Line) -> float:
    """The height of the line's text, skew left out: across its polygon (the detector's turned box) where it has
    one, else its words' median height (a word's upright box takes in less of the skew than the line's), else its
    box's. On a page skewed by 2 degrees a 1900-pixel line's upright box is twice as high as its text."""
    if line.polygon and len(line.polygon) == 4:
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = line.polygon
        return (math.hypot(x3 - x0, y3 - y0) + math.hypot(x2 - x1, y2 - y1)) / 2
    if line.words:
        return statistics.median(w.bbox[3] - w.bbox[1] for w in line.words)
    return line.height


def _cy(line: Line) -> float:
    return (line.bbox[1] + line.bbox[3]) / 2


def marker(text: str) -> str | None:
    """The kind of list marker ``text`` starts with (``bullet``, ``number``), or None."""
    text = text.strip()
    if _BULLET.match(text):
        return "bullet"
    if _NUMBERED.match(text):
        return "number"
    return None


def _heading_text(text: str) -> bool:
    """A few words, starting with a capital, a digit or a non-Latin letter, not ending like a sentence."""
    text = text.strip()
    if not text or len(text.split()) > HEADING_WORDS or len(text) > 80 or text.endswith(_SENTENCE_END):
        return False
    first = text[0]
    return (first.isupper() or first.isdigit() or (first.isalpha() and not first.isascii())) and any(
        c.isalpha() for c in text
    )


class _Page:
    """What the typing rules measure against: the body text's line height and the page's size."""

    def __init__(self, blocks: list[Block], width: int, height: int) -> None:
        heights = [text_height(line) for b in blocks if b.kind != "table" for line in b.lines]
        self.line_height = statistics.median(heights) if heights else 1.0
        self.width, self.height = width, height

    def tall(self, line: Line) -> bool:
        return text_height(line) >= TALL * self.line_height and len(line.text.split()) <= HEADING_WORDS


def _pitch(lines: list[Line]) -> float:
    """The block's median distance between consecutive line centres."""
    steps = [_cy(b) - _cy(a) for a, b in zip(lines, lines[1:], strict=False)]
    return statistics.median(steps) if steps else 0.0


def _is_heading(lines: list[Line], i: int, pitch: float, page: _Page) -> bool:
    """Line ``i`` of a block is a heading in the body's type size (see the module's docstring)."""
    line = lines[i]
    if i + 1 >= len(lines) or marker(line.text) or not _heading_text(line.text):
        return False
    if _width(line) > 0.8 * max(_width(other) for other in lines):
        return False
    if i > 0 and _cy(line) - _cy(lines[i - 1]) < WIDE_PITCH * pitch:
        return False
    after = lines[i + 1]
    return bool(
        after.bbox[0] - line.bbox[0] >= 0.3 * page.line_height  # the paragraph's first line is indented
        or _width(after) >= 1.5 * _width(line)
        or marker(after.text)
        or _cy(after) - _cy(line) >= WIDE_PITCH * pitch
    )


def _continues_item(line: Line, item: Line, previous: Line, pitch: float, widest: int, page: _Page) -> bool:
    """``line`` is a wrapped continuation of the list item that starts with ``item`` (the line before it is
    ``previous``): indented under the item's text (a hanging indent), or flush after a full line that runs on."""
    if pitch and _cy(line) - _cy(previous) >= WIDE_PITCH * pitch:
        return False
    indent = line.bbox[0] - item.bbox[0]
    if 0.15 * page.line_height <= indent <= 3 * page.line_height:
        return True
    full = _width(previous) >= 0.85 * widest and not previous.text.rstrip().endswith(tuple(".!?。！？"))
    return abs(indent) < 0.15 * page.line_height and full


def _segments(block: Block, page: _Page) -> list[tuple[BlockKind, list[Line]]]:
    """The block's lines cut into runs of one kind each: title, list or paragraph."""
    lines = block.lines
    pitch = _pitch(lines)
    widest = max(_width(line) for line in lines)
    runs: list[tuple[BlockKind, list[Line]]] = []
    item: Line | None = None  # the first line of the current list item
    for i, line in enumerate(lines):
        kind: BlockKind
        if page.tall(line) or _is_heading(lines, i, pitch, page):
            kind, item = "title", None
            if runs and runs[-1][0] == "title" and page.tall(line) and page.tall(runs[-1][1][-1]):
                runs[-1][1].append(line)  # a title over two lines (or a title and its subtitle)
                continue
            runs.append((kind, [line]))
            continue
        if marker(line.text):
            kind, item = "list", line
        elif item is not None and _continues_item(line, item, lines[i - 1], pitch, widest, page):
            kind = "list"
        else:
            kind, item = "paragraph", None
        if runs and runs[-1][0] == kind:
            runs[-1][1].append(line)
        else:
            runs.append((kind, [line]))
    return _merge_lone_items(runs)


def _merge_lone_items(runs: list[tuple[BlockKind, list[Line]]]) -> list[tuple[BlockKind, list[Line]]]:
    """A list needs two items with the same kind of marker; a lone "item" (a line of prose that happens to start
    with "-" or "1.") goes back into the paragraphs around it."""
    out: list[tuple[BlockKind, list[Line]]] = []
    for kind, lines in runs:
        if kind == "list":
            kinds = [m for m in (marker(line.text) for line in lines) if m]
            if max((kinds.count(k) for k in set(kinds)), default=0) < 2:
                kind = "paragraph"
        if out and kind == "paragraph" and out[-1][0] == "paragraph":
            out[-1][1].extend(lines)
        else:
            out.append((kind, lines))
    return out


def _margin_kind(block: Block, page: _Page) -> BlockKind | None:
    """``header`` or ``footer`` for a short block in the page's top or bottom margin."""
    if len(block.lines) > 3 or any(page.tall(line) for line in block.lines):
        return None
    if any(len(line.text.split()) > 15 for line in block.lines):
        return None
    margin = MARGIN
    if len(block.lines) == 1 and _PAGE_NUMBER.match(block.lines[0].text.strip()):
        margin = PAGE_NUMBER_MARGIN
    if block.bbox[3] <= margin * page.height:
        return "header"
    if block.bbox[1] >= (1 - margin) * page.height:
        return "footer"
    return None


def _overlaps_x(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 0


def _is_caption(block: Block, blocks: list[Block], page: _Page) -> bool:
    """Starts like a caption, and sits next to a table or to an empty stretch (a figure) above or below it."""
    first = block.lines[0].text.strip()
    found = _CAPTION.match(first)
    if not found:
        return False
    separated = not first[found.end() :].strip() or first[found.end() :].lstrip()[0] in ".:：—–-)"
    if not separated and len(block.lines) > 2:
        return False  # "Table 1 shows that ..." opening a paragraph
    near = 3 * page.line_height
    empty = 4 * page.line_height
    above = [b for b in blocks if b is not block and b.bbox[3] <= block.bbox[1] and _overlaps_x(b.bbox, block.bbox)]
    below = [b for b in blocks if b is not block and b.bbox[1] >= block.bbox[3] and _overlaps_x(b.bbox, block.bbox)]
    prev = max(above, key=lambda b: b.bbox[3], default=None)
    nxt = min(below, key=lambda b: b.bbox[1], default=None)
    for other in (prev, nxt):
        if other is not None and other.kind == "table" and _gap(block.bbox, other.bbox) <= near:
            return True
    edge = MARGIN * page.height  # a figure against the page's top or bottom margin
    gap_above = block.bbox[1] - (prev.bbox[3] if prev is not None else edge)
    gap_below = (nxt.bbox[1] if nxt is not None else page.height - edge) - block.bbox[3]
    return max(gap_above, gap_below) >= empty


def _gap(a: Box, b: Box) -> int:
    return max(b[1] - a[3], a[1] - b[3], 0)


def _lone_heading(block: Block, blocks: list[Block], page: _Page) -> bool:
    """A block of one line that reads as a heading: heading-like text (not a "Label: value" line of a form), in a
    somewhat larger type with anything below it, or short and right above a paragraph or a list (a form's labels,
    a signature, a lone line at the end are not headings)."""
    (line,) = block.lines
    if not _heading_text(line.text) or marker(line.text) or ":" in line.text or "：" in line.text:
        return False
    tolerance = 0.3 * page.line_height  # line boxes of consecutive rows may touch or overlap a little
    below = [b for b in blocks if b.bbox[1] >= line.bbox[3] - tolerance and _overlaps_x(b.bbox, line.bbox)]
    nxt = min(below, key=lambda b: b.bbox[1], default=None)
    if nxt is None:
        return False
    if text_height(line) >= LARGER * page.line_height:
        return True
    text_width = max(b.bbox[2] for b in blocks) - min(b.bbox[0] for b in blocks)
    close = nxt.bbox[1] - line.bbox[3] <= 3 * page.line_height
    body = len(nxt.lines) >= 2 or nxt.kind == "list"
    return _width(line) <= 0.6 * text_width and close and body


def classify(blocks: list[Block], width: int, height: int) -> list[Block]:
    """``blocks`` with their ``kind`` set from their geometry and text; a block that mixes kinds (a heading and its
    paragraph, an introduction and its list) becomes consecutive blocks in the same order. Table blocks (typed by
    :mod:`.tables`) are kept as they are."""
    page = _Page(blocks, width, height)
    split: list[Block] = []
    for block in blocks:
        if block.kind == "table" or not block.lines:
            split.append(block)
            continue
        margin = _margin_kind(block, page)
        if margin:
            split.append(block.model_copy(update={"kind": margin}))
            continue
        for kind, lines in _segments(block, page):
            split.append(Block(bbox=union([line.bbox for line in lines]), kind=kind, lines=lines))
    out: list[Block] = []
    for block in split:
        if block.kind == "paragraph" and _is_caption(block, split, page):
            block = block.model_copy(update={"kind": "caption"})
        elif block.kind == "paragraph" and len(block.lines) == 1 and _lone_heading(block, split, page):
            block = block.model_copy(update={"kind": "title"})
        out.append(block)
    return out
