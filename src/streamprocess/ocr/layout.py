"""Reading order: lines into blocks, columns before rows, table rows kept whole.

A recursive XY-cut over the line boxes: a region is split at its widest horizontal gap (between paragraphs, or a
title and the body) or vertical gap (the gutter between columns), so a two-column page reads the whole left column,
then the right. A vertical gap is not a gutter when the lines on its two sides sit on the same rows and are short —
that is a table, kept as rows with the cells in order. Within a block, boxes on one row (a line the detector cut in
pieces, or the cells of a table row) are joined left to right.
"""

from __future__ import annotations

import statistics

from .types import Block, Box, Line, Word


def _union(boxes: list[Box]) -> Box:
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


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


def xy_cut(lines: list[Line], line_height: float) -> list[tuple[str, list[Line]]]:
    """Regions in reading order, each tagged ``text`` or ``table``."""
    if len(lines) <= 1:
        return [("text", lines)]
    box = _union([line.bbox for line in lines])
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
    sep = "" if cjk else " "
    words: list[Word] = [w for line in row for w in line.words]
    conf = sum(line.confidence for line in row) / len(row)
    return Line(
        text=sep.join(line.text for line in row),
        bbox=_union([line.bbox for line in row]),
        confidence=round(conf, 4),
        words=words,
    )


def _rows(lines: list[Line], cjk: bool) -> list[Line]:
    rows: list[list[Line]] = []
    for line in sorted(lines, key=lambda line: (line.bbox[1] + line.bbox[3]) / 2):
        if rows and any(_same_row(line, other) for other in rows[-1]):
            rows[-1].append(line)
        else:
            rows.append([line])
    return [_join_row(row, cjk) for row in rows]


def reading_order(lines: list[Line], cjk: bool = False) -> list[Block]:
    """Blocks in reading order, each with its lines top to bottom."""
    lines = [line for line in lines if line.text.strip()]
    if not lines:
        return []
    line_height = statistics.median(line.height for line in lines)
    blocks = []
    for kind, region in xy_cut(lines, line_height):
        if region:
            rows = _rows(region, cjk)
            blocks.append(Block(bbox=_union([r.bbox for r in rows]), kind=kind, lines=rows))
    return blocks
