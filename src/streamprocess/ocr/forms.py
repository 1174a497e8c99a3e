"""Forms: key–value pairs (a label and its filled value, on one line or in a box) and checkbox states.

Three shapes of field, found from the OCR'd words and the boxes drawn on the page:

- in a box: a rectangle drawn on the page (closed ruling lines: the page's ink opened with horizontal and
  vertical kernels a third of a line long, so the text and an X inside do not matter; the holes left are the
  boxes' insides) with the value's words inside, and a short label left of it on its row or just above it; an
  empty box with a label is a field with an empty value;
- on one line: a short label ending in a colon followed by its value on the same line, or by a separate text box
  further right on the same row ("Date of birth:      12 March 1990");
- checkboxes: small squares about a line high with a label to their right; checked when the square's inside holds
  clear ink (an X, a tick, shading), unchecked when it is empty; a square with only a speck or two is left out
  (its state is not clear), as is a solid black square (a legend marker looks the same).

Boxes inside a table block are the table's cells, not fields. A page is a form only with :data:`MIN_ITEMS` fields
and checkboxes together, and a "Label:" line counts only outside prose (a block of three lines or more where
fewer than half of the lines are "Label: value" lines is prose), so "Note: ..." in a paragraph is not a field.

Measured (PP-OCR through ``OcrEngine``): the rendered form of tests/form_pages.py reads exactly (five fields, two
checkboxes), also turned by 1 and -2 degrees with salt-and-pepper noise and blur; with Tesseract the same but for
the empty box, whose label Tesseract does not read. No fields or checkboxes on any page of the real-scans corpus
(bench/corpus.py: the brochure, skewed and rotated, the typewriter page, the book pages). Looking for them takes
0.2 to 0.3 s on a 2550x3300 scan, 3% of its OCR time (the morphology on the whole page; 2 cores under load).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from .regions import text_height
from .types import Block, Box, Checkbox, FormField, Line, union

#: Fewest fields and checkboxes together for a page to be a form.
MIN_ITEMS = 3
#: Most words and characters in a label.
LABEL_WORDS, LABEL_CHARS = 5, 40
#: Share of a checkbox's inside (its border left out) covered by ink: above CHECKED it is checked, below EMPTY it
#: is not; in between, not clear.
CHECKED, EMPTY = 0.06, 0.012
_COLONS = (":", "：")


@dataclass
class _Word:
    text: str
    bbox: Box
    confidence: float
    line: int  # index of its line

    @property
    def cx(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2

    @property
    def cy(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2


def _inside(word: _Word, box: Box) -> bool:
    return box[0] <= word.cx <= box[2] and box[1] <= word.cy <= box[3]


def _text(words: list[_Word]) -> str:
    """The words' text, row by row from the top, left to right within a row."""
    rows: list[list[_Word]] = []
    for w in sorted(words, key=lambda w: w.cy):
        if rows and w.cy - rows[-1][-1].cy < 0.5 * (w.bbox[3] - w.bbox[1]):
            rows[-1].append(w)
        else:
            rows.append([w])
    ordered = [w for row in rows for w in sorted(row, key=lambda w: w.bbox[0])]
    return " ".join(" ".join(w.text for w in ordered).split())


def _words(line: Line, index: int) -> list[_Word]:
    """The line's words; a line read without word boxes is cut at its spaces, each piece given its share of the
    line's width by its length."""
    if line.words:
        return [_Word(w.text, w.bbox, w.confidence, index) for w in line.words]
    pieces = line.text.split()
    total = max(1, len(" ".join(pieces)))
    x0, y0, x1, y1 = line.bbox
    out, pos = [], 0
    for piece in pieces:
        a = x0 + (x1 - x0) * pos / total
        b = x0 + (x1 - x0) * (pos + len(piece)) / total
        out.append(_Word(piece, (int(a), y0, int(b), y1), line.confidence, index))
        pos += len(piece) + 1
    return out


@dataclass
class DrawnBox:
    inside: Box  # the box's inside (what a value is written in, what a check mark fills)
    outline: Box  # its outer edge, border included


def find_boxes(image: Image.Image, line_height: float) -> list[DrawnBox]:
    """The rectangles drawn on the page (closed ruling lines) at least half a line high inside: the holes in the
    page's long strokes, and the small square frames (a check mark that touches a checkbox's border can close
    its hole up)."""
    return _find_boxes(_ink_mask(image), line_height)


def _ink_mask(image: Image.Image) -> np.ndarray:
    """255 where the page has ink (Otsu's threshold on its grey levels), else 0."""
    _, ink = cv2.threshold(np.asarray(image.convert("L")), 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    return ink


def _find_boxes(ink: np.ndarray, line_height: float) -> list[DrawnBox]:
    k = max(5, int(0.3 * line_height))  # shorter than the side of a small checkbox, longer than most text strokes
    lines = cv2.bitwise_or(
        cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, k), np.uint8)),
        cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((k, 1), np.uint8)),
    )
    lines = cv2.dilate(lines, np.ones((3, 3), np.uint8))  # close the corners the opening leaves open
    contours, hierarchy = cv2.findContours(lines, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    boxes: list[DrawnBox] = []
    if hierarchy is None:
        return boxes
    frames: list[DrawnBox] = []
    for contour, (_, _, _, parent) in zip(contours, hierarchy[0], strict=True):
        x, y, w, h = cv2.boundingRect(contour)
        if parent < 0:  # an outer outline: a square frame, whatever is inside it?
            outline = (x + 1, y + 1, x + w - 1, y + h - 1)  # the dilation added a pixel all round
            if _square(outline, line_height) and min(w, h) >= 0.4 * line_height:
                frame = _frame(ink, outline)
                if frame is not None:
                    frames.append(frame)
            continue
        (_, (rw, rh), _) = cv2.minAreaRect(contour)  # turned with the page, on a skewed scan
        if min(rw, rh) < 0.4 * line_height or cv2.contourArea(contour) < 0.85 * rw * rh:
            continue
        px, py, pw, ph = cv2.boundingRect(contours[parent])
        # The dilation ate a pixel of the inside and added one to the outside.
        boxes.append(DrawnBox((x - 1, y - 1, x + w + 1, y + h + 1), (px + 1, py + 1, px + pw - 1, py + ph - 1)))
    seen = [b.outline for b in boxes]
    boxes += [f for f in frames if not any(_overlap(f.outline, o) > 0.8 for o in seen)]
    return boxes


def _overlap(a: Box, b: Box) -> float:
    """Intersection over union."""
    inter = _area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))
    return inter / max(1, _area(a) + _area(b) - inter)


def _frame(ink: np.ndarray, outline: Box) -> DrawnBox | None:
    """The inside of a square frame drawn at ``outline``: its four sides inked along their length, as thick as
    the ink at the middle of its left side, the band just inside them mostly blank (a solid square, a legend
    marker, is no frame); None if it is not one."""
    x0, y0, x1, y1 = outline
    for _ in range(2):  # the strokes' outline may be a pixel wider than the ink
        x0 += int(ink[y0:y1, x0].mean() < 128)
        x1 -= int(ink[y0:y1, x1 - 1].mean() < 128)
        y0 += int(ink[y0, x0:x1].mean() < 128)
        y1 -= int(ink[y1 - 1, x0:x1].mean() < 128)
    middle = ink[(y0 + y1) // 2, x0:x1] > 0
    t = int(np.argmin(middle)) if not middle.all() else 0
    if t == 0 or t > (x1 - x0) // 4:
        return None
    sides = [(x0, y0, x1, y0 + t), (x0, y1 - t, x1, y1), (x0, y0, x0 + t, y1), (x1 - t, y0, x1, y1)]
    if min(_ink(ink, side) for side in sides) < 0.85:
        return None
    inside = (x0 + t, y0 + t, x1 - t, y1 - t)
    band = (inside[0] + 2, inside[1] + 2, inside[2] - 2, inside[3] - 2)
    ring = _ink(ink, inside) * _area(inside) - _ink(ink, band) * _area(band)
    if ring > 0.7 * (_area(inside) - _area(band)):
        return None
    return DrawnBox(inside, (x0, y0, x1, y1))


def _ink(ink: np.ndarray, box: Box) -> float:
    """Share of ``box`` covered by ink (pixels outside the page count as blank)."""
    x0, y0, x1, y1 = (max(0, v) for v in box)
    region = ink[y0:y1, x0:x1]
    return float(region.sum()) / 255 / max(1, _area(box))


def _area(box: Box) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def _checked(ink: np.ndarray, square: DrawnBox) -> bool | None:
    """Checked, unchecked, or None: not clear, or the square stands among other ink (a glyph such as 口)."""
    x0, y0, x1, y1 = square.inside
    pad = max(2, int(0.2 * (x1 - x0)))
    inner = _ink(ink, (x0 + pad, y0 + pad, x1 - pad, y1 - pad))
    o = square.outline
    ring = max(3, int(0.3 * (o[2] - o[0])))
    around = (o[0] - ring, o[1] - ring, o[2] + ring, o[3] + ring)
    ring_ink = _ink(ink, around) * _area(around) - _ink(ink, o) * _area(o)
    if ring_ink > 0.02 * (_area(around) - _area(o)):
        return None
    if inner >= CHECKED:
        return True
    if inner <= EMPTY:
        return False
    return None


def _square(box: Box, lh: float) -> bool:
    """About a line high (or less) and square."""
    w, h = box[2] - box[0], box[3] - box[1]
    return w <= 1.8 * lh and 0.75 <= w / max(1, h) <= 1.33


def _same_row(word: _Word, top: float, bottom: float) -> bool:
    return top <= word.cy <= bottom


def _label_left(words: list[_Word], box: Box, free: set[int], reach: float, gap: float) -> list[_Word]:
    """The run of words on the box's row that ends nearest left of it (at most ``reach`` away)."""
    row = [w for w in words if id(w) in free and _same_row(w, box[1], box[3]) and w.bbox[2] <= box[0] + 2]
    row = [w for w in row if box[0] - w.bbox[2] <= reach]
    if not row:
        return []
    row.sort(key=lambda w: w.bbox[0])
    run = [row[-1]]
    for w in reversed(row[:-1]):
        if run[0].bbox[0] - w.bbox[2] > gap or w.line != run[0].line:
            break
        run.insert(0, w)
    return run


def _label_above(words: list[_Word], box: Box, free: set[int], lh: float) -> list[_Word]:
    """The words of the line just above the box, starting near its left edge."""
    above = [
        w for w in words if id(w) in free and box[1] - 2 * lh <= w.bbox[3] <= box[1] + 0.2 * lh and w.bbox[0] < box[2]
    ]
    if not above:
        return []
    nearest = max(above, key=lambda w: w.bbox[3]).line
    run = sorted((w for w in above if w.line == nearest), key=lambda w: w.bbox[0])
    return run if abs(run[0].bbox[0] - box[0]) <= 1.5 * lh else []


def _key(words: list[_Word]) -> str:
    return _text(words).rstrip("".join(_COLONS)).strip()


def _is_label(words: list[_Word]) -> bool:
    key = _key(words)
    return bool(key) and len(key) <= LABEL_CHARS and len(key.split()) <= LABEL_WORDS and any(c.isalpha() for c in key)


def _field(key: list[_Word], value: list[_Word], value_bbox: Box | None) -> FormField:
    conf = statistics.fmean(w.confidence for w in key + value)
    if value_bbox is None and value:
        value_bbox = union([w.bbox for w in value])
    return FormField(
        key=_key(key),
        value=_text(value),
        key_bbox=union([w.bbox for w in key]),
        value_bbox=value_bbox,
        confidence=round(conf, 4),
    )


def _colon_split(words: list[_Word]) -> int | None:
    """Index of the word that ends the label ("Name:"), among the line's first words; None if none does."""
    for i, w in enumerate(words[:LABEL_WORDS]):
        if w.text.endswith(_COLONS) or w.text in _COLONS:
            return i if _is_label(words[: i + 1]) else None
    return None


def _prose(block: Block) -> bool:
    """Three lines or more, fewer than half of them "Label: value" lines."""
    if len(block.lines) < 3:
        return False
    labelled = sum(1 for i, line in enumerate(block.lines) if _colon_split(_words(line, i)) is not None)
    return labelled < len(block.lines) / 2


def find_fields(image: Image.Image, blocks: list[Block]) -> tuple[list[FormField], list[Checkbox]]:
    """The page's key–value pairs and checkboxes (none where the page is not a form)."""
    lines: list[Line] = []
    prose: set[int] = set()
    tables = [b.bbox for b in blocks if b.kind == "table"]
    for block in blocks:
        if block.kind != "table" and _prose(block):
            prose.update(range(len(lines), len(lines) + len(block.lines)))
        lines.extend(block.lines)
    if not lines:
        return [], []
    lh = statistics.median(text_height(line) for line in lines)  # skew left out
    words = [w for i, line in enumerate(lines) for w in _words(line, i)]
    free = {id(w) for w in words}
    ink = _ink_mask(image)
    drawn = [
        b
        for b in _find_boxes(ink, lh)
        if not any(
            t[0] <= b.inside[0] and t[1] <= b.inside[1] and b.inside[2] <= t[2] and b.inside[3] <= t[3] for t in tables
        )
    ]
    squares = [b for b in drawn if _square(b.inside, lh)]
    wide = [b.inside for b in drawn if b.inside[3] - b.inside[1] <= 4 * lh and b.inside[2] - b.inside[0] >= 2.5 * lh]
    for w in words:  # a word inside a square is the check mark read as a letter
        if any(_inside(w, s.inside) for s in squares):
            free.discard(id(w))
    fields: list[FormField] = []
    for box in sorted(wide, key=lambda b: (b[1], b[0])):
        value = [w for w in words if id(w) in free and _inside(w, box)]
        outside = {id(w) for w in words if not any(_inside(w, b) for b in wide)}
        candidates = free & outside
        key = _label_left(words, box, candidates, reach=0.35 * image.width, gap=1.5 * lh)
        if not key or not _is_label(key):
            key = _label_above(words, box, candidates, lh)
        if not key or not _is_label(key):
            continue
        fields.append(_field(key, value, box))
        free -= {id(w) for w in key + value}
    checkboxes: list[Checkbox] = []
    for drawn_square in sorted(squares, key=lambda b: (b.inside[1], b.inside[0])):
        state = _checked(ink, drawn_square)
        if state is None:
            continue
        square = drawn_square.outline
        stop = min(
            (
                s.outline[0]
                for s in squares
                if s.outline[0] > square[2] and s.inside[1] < square[3] and s.inside[3] > square[1]
            ),
            default=None,
        )
        row = [
            w
            for w in words
            if id(w) in free and _same_row(w, square[1], square[3]) and w.bbox[0] >= square[2] - 2
            if stop is None or w.bbox[2] <= stop
        ]
        row.sort(key=lambda w: w.bbox[0])
        if not row or row[0].bbox[0] - square[2] > 3 * lh:
            continue
        label = [row[0]]
        for w in row[1:]:
            if w.bbox[0] - label[-1].bbox[2] > 1.5 * lh:
                break
            label.append(w)
        checkboxes.append(Checkbox(label=_text(label), checked=state, bbox=square))
        free -= {id(w) for w in label}
    by_line: dict[int, list[_Word]] = {}
    for w in words:
        if id(w) in free and w.line not in prose:
            by_line.setdefault(w.line, []).append(w)
    for index in sorted(by_line, key=lambda i: (lines[i].bbox[1], lines[i].bbox[0])):
        row_words = [w for w in sorted(by_line[index], key=lambda w: w.bbox[0]) if id(w) in free]
        split = _colon_split(row_words)
        if split is None:
            continue
        key, value = row_words[: split + 1], row_words[split + 1 :]
        if not value:
            value = _value_right(lines, by_line, index, key, free, 0.4 * image.width)
        if not value:
            continue
        fields.append(_field(key, value, None))
        free -= {id(w) for w in key + value}
    if len(fields) + len(checkboxes) < MIN_ITEMS:
        return [], []
    fields.sort(key=lambda f: (f.key_bbox[1], f.key_bbox[0]))
    return fields, checkboxes


def _value_right(
    lines: list[Line], by_line: dict[int, list[_Word]], index: int, key: list[_Word], free: set[int], reach: float
) -> list[_Word]:
    """The words of the nearest other line on the label's row, right of it (a value written further right)."""
    top, bottom = lines[index].bbox[1], lines[index].bbox[3]
    right = key[-1].bbox[2]
    best: list[_Word] = []
    for other, other_words in by_line.items():
        if other == index:
            continue
        candidates = [w for w in other_words if id(w) in free and w.bbox[0] > right and _same_row(w, top, bottom)]
        if not candidates or min(w.bbox[0] for w in candidates) - right > reach:
            continue
        if _colon_split(sorted(other_words, key=lambda w: w.bbox[0])) is not None:
            continue  # another label
        if not best or min(w.bbox[0] for w in candidates) < min(w.bbox[0] for w in best):
            best = candidates
    return sorted(best, key=lambda w: w.bbox[0])
