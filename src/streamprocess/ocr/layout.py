"""Reading order: lines into blocks, columns before rows, table rows kept whole.

A recursive XY-cut over the line boxes: a region is split at its widest horizontal gap (between paragraphs, or a
title and the body) or vertical gap (the gutter between columns), so a two-column page reads the whole left column,
then the right. A vertical gap is not a gutter when the lines on its two sides sit on the same rows and are short —
that is a table, kept as rows with the cells in order. Within a block, boxes on one row (a line the detector cut in
pieces, or the cells of a table row) are joined left to right.

Given the page's geometry (:mod:`.gutters`: its skew and the column gutters found in the image), boxes are first
taken into the deskewed frame, and a line box that crosses a gutter (the detector merged the two columns' lines
across a narrow gutter) is split there by its words. The page then reads as bands from top to bottom: what spans
the page, then each column of a two-column band top to bottom, then what spans again below. A gutter that only
separates the cells of a table (lines paired row by row, and short) is ignored, as is one with too few lines
beside it (white beside a figure).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from .gutters import Gutter, PageGeometry
from .languages import join_pieces
from .types import Block, BlockKind, Box, Line, Word, union

#: Fewest lines on each side of a gutter for it to separate columns.
MIN_COLUMN_LINES = 3
#: Narrowest gutter, in line heights (the median height of the page's line boxes).
MIN_GUTTER_LINE_HEIGHTS = 0.6


def _gaps(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Empty intervals between the union of ``spans`` (each (start, end))."""
    spans = sorted(spans)
    out, reach = [], spans[0][1]
    for start, end in spans[1:]:
        if start > reach:
            out.append((reach, start))
        reach = max(reach, end)
    return out


def _same_row(a: Line, b: Line) -> bool:
    overlap = min(a.bbox[3], b.bbox[3]) - max(a.bbox[1], b.bbox[1])
    return overlap > 0.5 * min(a.height, b.height)


def _looks_like_table(left: list[Line], right: list[Line], width: int) -> bool:
    paired = sum(1 for a in left if any(_same_row(a, b) for b in right))
    short = statistics.median((line.bbox[2] - line.bbox[0]) for line in left + right) < 0.35 * width
    return paired >= 0.6 * len(left) and short


def xy_cut(lines: list[Line], line_height: float) -> list[tuple[BlockKind, list[Line]]]:
    """Regions in reading order, each tagged ``text`` or ``table``."""
    if len(lines) <= 1:
        return [("text", lines)]
    box = union([line.bbox for line in lines])
    width = box[2] - box[0]
    # 1. Columns first: the widest vertical gap that no line crosses, unless it only separates table cells.
    v_gaps = [g for g in _gaps([(line.bbox[0], line.bbox[2]) for line in lines]) if g[1] - g[0] >= 1.2 * line_height]
    table = False
    if v_gaps:
        gap = max(v_gaps, key=lambda g: g[1] - g[0])
        cut = (gap[0] + gap[1]) / 2
        left = [line for line in lines if line.bbox[2] <= cut]
        right = [line for line in lines if line.bbox[0] >= cut]
        if _looks_like_table(left, right, width):
            table = True
        else:
            return xy_cut(left, line_height) + xy_cut(right, line_height)
    # 2. Then paragraphs and sections: the widest horizontal gap, if wider than ordinary line spacing.
    h_gaps = [g for g in _gaps([(line.bbox[1], line.bbox[3]) for line in lines]) if g[1] - g[0] >= 0.8 * line_height]
    if h_gaps:
        gap = max(h_gaps, key=lambda g: g[1] - g[0])
        cut = (gap[0] + gap[1]) / 2
        top = [line for line in lines if line.bbox[3] <= cut]
        bottom = [line for line in lines if line.bbox[1] >= cut]
        return xy_cut(top, line_height) + xy_cut(bottom, line_height)
    return [("table" if table else "text", lines)]


def _join_row(row: list[Line], cjk: bool) -> Line:
    row = sorted(row, key=lambda line: line.bbox[0])
    if len(row) == 1:
        return row[0]
    words: list[Word] = [w for line in row for w in line.words]
    conf = sum(line.confidence for line in row) / len(row)
    return Line(
        text=join_pieces((line.text for line in row), cjk),
        bbox=union([line.bbox for line in row]),
        confidence=round(conf, 4),
        words=words,
    )


def _rows(lines: list[Line]) -> list[list[Line]]:
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda line: (line.bbox[1] + line.bbox[3]) / 2):
        if rows and any(_same_row(line, other) for other in rows[-1]):
            rows[-1].append(line)
        else:
            rows.append([line])
    return rows


def _deskewed_box(geometry: PageGeometry, bbox: Box, polygon: list[tuple[float, float]] | None = None) -> Box:
    """A box in the page's deskewed frame: the bounds of its turned polygon, or, for an upright box around skewed
    text (Tesseract's, a word's), the upright box of the text inside it (its width and height less the skew's
    share) about its turned centre."""
    if not geometry.angle:
        return bbox
    if polygon:
        points = [geometry.deskew(x, y) for x, y in polygon]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return (int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1)
    a = math.radians(abs(geometry.angle))
    w, h = bbox[2] - bbox[0], bbox[3] - bbox[1]
    text_h = max((h - w * math.sin(a)) / math.cos(a), min(h, 8.0))
    text_w = max((w - text_h * math.sin(a)) / math.cos(a), 1.0)
    cx, cy = geometry.deskew((bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2)
    return (int(cx - text_w / 2), int(cy - text_h / 2), int(cx + text_w / 2) + 1, int(cy + text_h / 2) + 1)


@dataclass
class _Band:
    y0: float
    y1: float
    gutters: list[Gutter]


def _crosses(box: Box, gutter: Gutter) -> bool:
    return box[0] < gutter.x0 and box[2] > gutter.x1


def _cy(box: Box) -> float:
    return (box[1] + box[3]) / 2


def _split(line: Line, geometry: PageGeometry, gutters: list[Gutter], cjk: bool = False) -> list[Line]:
    """``line`` cut where its words fall on either side of the gutters it crosses (as it is without words)."""
    if not line.words or not gutters:
        return [line]
    cuts = sorted(g.x for g in gutters)
    parts: list[list[Word]] = [[] for _ in range(len(cuts) + 1)]
    for word in line.words:
        box = _deskewed_box(geometry, word.bbox)
        parts[sum(1 for c in cuts if (box[0] + box[2]) / 2 > c)].append(word)
    parts = [p for p in parts if p]
    if len(parts) < 2:
        return [line]
    return [
        Line(
            text=join_pieces((w.text for w in words), cjk),
            bbox=union([w.bbox for w in words]),
            confidence=round(sum(w.confidence for w in words) / len(words), 4),
            words=words,
        )
        for words in parts
    ]


def _separates_columns(items: list[tuple[Line, Box]], g: Gutter, line_height: float) -> bool:
    """``g`` is wider than the spaces between sentences (a gutter is about a line high or more; a few double
    spaces after full stops that line up make a narrow river), has enough lines on each side, and does not only
    separate the cells of a table."""
    if g.x1 - g.x0 < MIN_GUTTER_LINE_HEIGHTS * line_height:
        return False
    band = [(line, box) for line, box in items if g.y0 <= _cy(box) <= g.y1 and not _crosses(box, g)]
    left = [line.model_copy(update={"bbox": box}) for line, box in band if (box[0] + box[2]) / 2 < g.x]
    right = [line.model_copy(update={"bbox": box}) for line, box in band if (box[0] + box[2]) / 2 >= g.x]
    if len(left) < MIN_COLUMN_LINES or len(right) < MIN_COLUMN_LINES:
        return False
    width = union([line.bbox for line in left + right])
    return not _looks_like_table(left, right, width[2] - width[0])


def _apply_gutters(
    items: list[tuple[Line, Box]], geometry: PageGeometry, line_height: float, cjk: bool
) -> tuple[list[tuple[Line, Box]], list[Gutter]]:
    """The lines split at the gutters they cross within their bands, and the gutters that separate columns (judged
    on the split lines: a detector may have merged every row of the two columns)."""
    kept: list[Gutter] = []
    for g in geometry.gutters:
        trial: list[tuple[Line, Box]] = []
        for line, box in items:
            if g.y0 <= _cy(box) <= g.y1 and _crosses(box, g):
                parts = _split(line, geometry, [g], cjk)
                trial += [(p, box if p is line else _deskewed_box(geometry, p.bbox)) for p in parts]
            else:
                trial.append((line, box))
        if _separates_columns(trial, g, line_height):
            items, kept = trial, [*kept, g]
    return items, kept


def _bands(gutters: list[Gutter]) -> list[_Band]:
    bands: list[_Band] = []
    for g in sorted(gutters, key=lambda g: g.y0):
        if bands and g.y0 <= bands[-1].y1:
            bands[-1].y1 = max(bands[-1].y1, g.y1)
            bands[-1].gutters.append(g)
        else:
            bands.append(_Band(g.y0, g.y1, [g]))
    return bands


def _extend_columns(
    columns: list[list[tuple[Line, Box]]], beside: list[list[tuple[Line, Box]]], gutters: list[Gutter], down: bool
) -> None:
    """Move from ``beside`` (what spans below the band when ``down``, else above it) into a column the lines that
    go on with it: the gutter is only seen on rows where both columns have text near it, so a column longer than
    its neighbour, or one whose first line sits beside a short heading, reaches past the band. A line is taken
    when it lies within the column, one line pitch from the column's nearest line and no taller than its lines (a
    heading further below the columns, taller and after a wider gap, stays with what spans)."""
    rest = sorted(beside[0], key=lambda item: item[1][1], reverse=not down)
    cuts = sorted(g.x for g in gutters)
    for c, column in enumerate(columns):
        if len(column) < 2:
            continue
        column.sort(key=lambda item: item[1][1])
        tops = [box[1] for _, box in column]
        pitch = statistics.median(b - a for a, b in zip(tops, tops[1:], strict=False))
        height = statistics.median(box[3] - box[1] for _, box in column)
        lo, hi = (cuts[c - 1] if c else float("-inf")), (cuts[c] if c < len(cuts) else float("inf"))
        for item in list(rest):
            box = item[1]
            if box[2] <= lo or box[0] >= hi:
                continue  # beside this column
            end = column[-1][1] if down else column[0][1]
            gap = box[1] - end[1] if down else end[1] - box[1]
            if box[0] < lo or box[2] > hi or gap > 1.3 * pitch or box[3] - box[1] > 1.3 * height:
                break
            if down:
                column.append(item)
            else:
                column.insert(0, item)
            rest.remove(item)
    beside[0] = sorted(rest, key=lambda item: item[1][1])


def _column_regions(
    lines: list[Line], geometry: PageGeometry, cjk: bool
) -> list[tuple[BlockKind, list[tuple[Line, Box]]]]:
    """Regions in reading order, each a list of (line, its deskewed box): bands from the top, columns left to
    right within a band."""
    items = [(line, _deskewed_box(geometry, line.bbox, line.polygon)) for line in lines]
    line_height = statistics.median(box[3] - box[1] for _, box in items)  # upright boxes: not the skewed bounds
    items, gutters = _apply_gutters(items, geometry, line_height, cjk)
    bands = _bands(gutters)
    # Segment 2k: what spans above band k (and below band k-1); segment 2k+1: band k, one group per column.
    segments: list[list[list[tuple[Line, Box]]]] = []
    for k in range(2 * len(bands) + 1):
        columns = len(bands[k // 2].gutters) + 1 if k % 2 else 1
        segments.append([[] for _ in range(columns)])
    for line, box in items:
        cy = _cy(box)
        k = 2 * sum(1 for b in bands if (b.y0 + b.y1) / 2 < cy)
        for i, b in enumerate(bands):
            if b.y0 <= cy <= b.y1 and not any(_crosses(box, g) for g in b.gutters):
                k = 2 * i + 1
                c = sum(1 for g in b.gutters if (box[0] + box[2]) / 2 >= g.x)
                segments[k][c].append((line, box))
                break
        else:
            segments[k][0].append((line, box))
    for i, band in enumerate(bands):
        _extend_columns(segments[2 * i + 1], segments[2 * i + 2], band.gutters, down=True)
        _extend_columns(segments[2 * i + 1], segments[2 * i], band.gutters, down=False)
    regions: list[tuple[BlockKind, list[tuple[Line, Box]]]] = []
    for segment in segments:
        for column in segment:
            if not column:
                continue
            by_proxy: dict[int, tuple[Line, Box]] = {}
            proxies = []
            for line, box in column:
                proxy = line.model_copy(update={"bbox": box})
                by_proxy[id(proxy)] = (line, box)
                proxies.append(proxy)
            for kind, region in xy_cut(proxies, line_height):
                regions.append((kind, [by_proxy[id(p)] for p in region]))
    return regions


def reading_order(lines: list[Line], cjk: bool = False, geometry: PageGeometry | None = None) -> list[Block]:
    """Blocks in reading order, each with its lines top to bottom; ``geometry`` (the page's skew and gutters, from
    :func:`.gutters.page_geometry`) lets columns separated by a narrow gutter, or on a skewed page, read right."""
    lines = [line for line in lines if line.text.strip()]
    if not lines:
        return []
    if geometry is None or not (geometry.angle or geometry.gutters):
        line_height = statistics.median(line.height for line in lines)
        regions = [(kind, [(line, line.bbox) for line in region]) for kind, region in xy_cut(lines, line_height)]
    else:
        regions = _column_regions(lines, geometry, cjk)
    blocks = []
    for kind, region in regions:
        if not region:
            continue
        proxies = [line if line.bbox == box else line.model_copy(update={"bbox": box}) for line, box in region]
        original = {id(proxy): line for proxy, (line, _) in zip(proxies, region, strict=True)}
        rows = [_join_row([original[id(p)] for p in row], cjk) for row in _rows(proxies)]
        blocks.append(Block(bbox=union([r.bbox for r in rows]), kind=kind, lines=rows))
    return blocks
