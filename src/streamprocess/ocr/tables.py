"""Tables: ruled and unruled tables found on the page, each to its cell grid (rows × columns, spanning cells).

Ruled tables come from the ruling lines in the image (:mod:`.rules`). The rules that cross one another form a
grid: its columns lie between the vertical rules, its rows between the horizontal ones (a table drawn without its
outer border is closed by the ends of its rules). Two neighbouring grid positions with no rule between them are one
spanning cell. Each line inside the table goes to the cell its box lies in; a line that runs across a rule (the
layout joins a table's row into one line) is cut by its words, each going to the cell its centre is in.

Unruled tables are the regions the layout (:func:`.layout.xy_cut`) found to be set in aligned rows. Each of their
lines is a row; the columns are separated by the white strips that every row (all but one row in five, to let a
heading span) leaves free, at least a line height wide. A run of words closer together than that which reaches
across a strip is a cell spanning those columns.

A table becomes one ``table`` block carrying its :class:`.Table` (cell boxes in page pixels) and its lines top to
bottom, in place of the lines it took, at the position of the first block it took lines from. Work is done in the
page's deskewed frame (:class:`.gutters.PageGeometry`).
"""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .gutters import PageGeometry
from .languages import join_pieces
from .rules import Rule, clusters, find_rules
from .types import Block, Box, Cell, Line, Table, Word, union

#: Words a vertical rule is misread as, when the detector's box takes it in.
_RULE_GLYPHS = frozenset("|Il[]!｜")
#: Characters written without spaces between them (Han, kana, CJK and full-width punctuation).
#: Fewest rows and columns of a table.
MIN_ROWS, MIN_COLS = 2, 2


class _Frame:
    """The page's deskewed frame: boxes into it (centre turned, size kept: text boxes are upright) and back."""

    def __init__(self, geometry: PageGeometry) -> None:
        self.geometry = geometry
        self.inverse = PageGeometry(geometry.width, geometry.height, -geometry.angle)

    def box(self, b: Box) -> Box:
        if not self.geometry.angle:
            return b
        cx, cy = self.geometry.deskew((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)
        w, h = (b[2] - b[0]) / 2, (b[3] - b[1]) / 2
        return (round(cx - w), round(cy - h), round(cx + w), round(cy + h))

    def page_box(self, x0: float, y0: float, x1: float, y1: float) -> Box:
        corners = [self.inverse.deskew(x, y) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))]
        xs, ys = [p[0] for p in corners], [p[1] for p in corners]
        return (round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys)))


def _cx(b: Box) -> float:
    return (b[0] + b[2]) / 2


def _cy(b: Box) -> float:
    return (b[1] + b[3]) / 2


def _line_of(words: list[Word], cjk: bool) -> Line:
    return Line(
        text=join_pieces([w.text for w in words], cjk),
        bbox=union([w.bbox for w in words]),
        confidence=round(sum(w.confidence for w in words) / len(words), 4),
        words=words,
    )


def _reading(fragments: list[tuple[Box, str]], cjk: bool) -> str:
    """Text fragments (deskewed box, text) joined in reading order: rows top to bottom, left to right in a row."""
    rows: list[list[tuple[Box, str]]] = []
    for box, text in sorted(fragments, key=lambda f: _cy(f[0])):
        last = rows[-1][-1][0] if rows else None
        if last and min(last[3], box[3]) - max(last[1], box[1]) > 0.5 * min(last[3] - last[1], box[3] - box[1]):
            rows[-1].append((box, text))
        else:
            rows.append([(box, text)])
    return join_pieces([t for row in rows for _, t in sorted(row, key=lambda f: f[0][0])], cjk).strip()


# ---------------------------------------------------------------------------------------------- ruled
def _positions(values: list[float], min_gap: float) -> list[float]:
    """``values`` sorted, those closer than ``min_gap`` to the previous one taken as one (their mean)."""
    groups: list[list[float]] = []
    for v in sorted(values):
        if groups and v - groups[-1][-1] < min_gap:
            groups[-1].append(v)
        else:
            groups.append([v])
    return [sum(g) / len(g) for g in groups]


@dataclass
class _Grid:
    xs: list[float]
    ys: list[float]
    cells: list[tuple[int, int, int, int]]  # (row, col, row_span, col_span)
    owner: dict[tuple[int, int], int]  # grid position → index in cells

    @property
    def region(self) -> tuple[float, float, float, float]:
        return self.xs[0], self.ys[0], self.xs[-1], self.ys[-1]

    def at(self, x: float, y: float) -> int | None:
        """The cell at a point, if inside the grid."""
        if not (self.xs[0] <= x <= self.xs[-1] and self.ys[0] <= y <= self.ys[-1]):
            return None
        col = min(max(bisect.bisect(self.xs, x) - 1, 0), len(self.xs) - 2)
        row = min(max(bisect.bisect(self.ys, y) - 1, 0), len(self.ys) - 2)
        return self.owner[(row, col)]

    def contains(self, box: Box, slack: float) -> bool:
        x0, y0, x1, y1 = self.region
        return box[0] >= x0 - slack and box[2] <= x1 + slack and box[1] >= y0 - slack and box[3] <= y1 + slack


def _ruled_grid(rules: list[Rule], tol: float) -> _Grid | None:
    hs = [r for r in rules if r.horizontal]
    vs = [r for r in rules if not r.horizontal]
    min_gap = 3 * tol
    # The outer edges where the table has no border: the ends of the rules that cross it.
    xs = _positions([r.pos for r in vs] + [min(r.start for r in hs), max(r.end for r in hs)], min_gap)
    ys = _positions([r.pos for r in hs] + [min(r.start for r in vs), max(r.end for r in vs)], min_gap)
    if len(xs) < MIN_COLS + 1 or len(ys) < MIN_ROWS + 1:
        return None

    def ruled(pos: float, a: float, b: float, horizontal: bool) -> bool:
        return any(
            r.horizontal == horizontal
            and abs(r.pos - pos) <= 2 * tol
            and min(r.end, b) - max(r.start, a) >= 0.5 * (b - a)
            for r in rules
        )

    rows, cols = len(ys) - 1, len(xs) - 1
    parent = {(r, c): (r, c) for r in range(rows) for c in range(cols)}

    def root(p: tuple[int, int]) -> tuple[int, int]:
        while parent[p] != p:
            p = parent[p]
        return p

    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols and not ruled(xs[c + 1], ys[r], ys[r + 1], False):
                parent[root((r, c + 1))] = root((r, c))
            if r + 1 < rows and not ruled(ys[r + 1], xs[c], xs[c + 1], True):
                parent[root((r + 1, c))] = root((r, c))
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for p in parent:
        groups.setdefault(root(p), []).append(p)
    cells: list[tuple[int, int, int, int]] = []
    owner: dict[tuple[int, int], int] = {}
    for members in groups.values():
        r0, r1 = min(p[0] for p in members), max(p[0] for p in members)
        c0, c1 = min(p[1] for p in members), max(p[1] for p in members)
        parts = [(r0, c0, r1 - r0 + 1, c1 - c0 + 1)]
        if len(members) != (r1 - r0 + 1) * (c1 - c0 + 1):  # not a rectangle: one cell per position
            parts = [(r, c, 1, 1) for r, c in members]
        for r, c, rs, cs in parts:
            for dr in range(rs):
                for dc in range(cs):
                    owner[(r + dr, c + dc)] = len(cells)
            cells.append((r, c, rs, cs))
    if len(cells) < 2:
        return None
    return _Grid(xs, ys, cells, owner)


def _is_rule_glyph(word: Word, box: Box, grid: _Grid, tol: float) -> bool:
    """Whether ``word`` is a vertical rule read as text: a thin "|", "I" or "l" standing on one of the grid's rules."""
    text = word.text.strip()
    thin = box[2] - box[0] <= 0.5 * (box[3] - box[1])
    return bool(text) and thin and set(text) <= _RULE_GLYPHS and any(abs(_cx(box) - x) <= 2 * tol for x in grid.xs)


def _fill_ruled(grid: _Grid, lines: list[Line], frame: _Frame, tol: float, cjk: bool) -> Table | None:
    fragments: list[list[tuple[Box, str]]] = [[] for _ in grid.cells]
    for line in lines:
        box = frame.box(line.bbox)
        first, last = grid.at(box[0] + tol, _cy(box)), grid.at(box[2] - tol, _cy(box))
        if first is not None and first == last and first == grid.at(_cx(box), _cy(box)):
            fragments[first].append((box, line.text))
            continue
        for word in line.words or [Word(text=line.text, bbox=line.bbox, confidence=line.confidence)]:
            wbox = frame.box(word.bbox)
            cell = grid.at(_cx(wbox), _cy(wbox))
            if cell is not None and not _is_rule_glyph(word, wbox, grid, tol):
                fragments[cell].append((wbox, word.text))
    texts = [_reading(f, cjk).strip("|｜ ") for f in fragments]
    if sum(1 for t in texts if t) < 2:
        return None
    cells = []
    for (r, c, rs, cs), text in sorted(zip(grid.cells, texts, strict=True)):
        bbox = frame.page_box(grid.xs[c], grid.ys[r], grid.xs[c + cs], grid.ys[r + rs])
        cells.append(Cell(row=r, col=c, row_span=rs, col_span=cs, bbox=bbox, text=text))
    return Table(rows=len(grid.ys) - 1, cols=len(grid.xs) - 1, ruled=True, cells=cells)


# ---------------------------------------------------------------------------------------------- unruled
def _free_strips(rows: list[list[Box]], x0: int, x1: int, min_gap: float) -> list[tuple[int, int]]:
    """The x-runs, at least ``min_gap`` wide and inside (x0, x1), that all rows but one in five leave free."""
    count = np.zeros(x1 - x0, dtype=np.int32)
    for boxes in rows:
        covered = np.zeros(x1 - x0, dtype=bool)
        for b in boxes:
            covered[max(b[0] - x0, 0) : max(b[2] - x0, 0)] = True
        count += covered
    free = count <= len(rows) // 5
    padded = np.concatenate(([False], free, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1]).tolist()
    runs = list(zip(edges[::2], edges[1::2], strict=True))
    return [(a + x0, b + x0) for a, b in runs if a > 0 and b < x1 - x0 and b - a >= min_gap]


def _fill_unruled(lines: list[Line], frame: _Frame, cjk: bool) -> Table | None:
    rows: list[list[tuple[Box, Word]]] = []
    for line in lines:
        words = line.words or [Word(text=line.text, bbox=line.bbox, confidence=line.confidence)]
        rows.append(sorted(((frame.box(w.bbox), w) for w in words if w.text.strip()), key=lambda bw: bw[0][0]))
    rows = [row for row in rows if row]
    if len(rows) < MIN_ROWS:
        return None
    boxes = [[b for b, _ in row] for row in rows]
    flat = [b for row in boxes for b in row]
    x0, x1 = min(b[0] for b in flat), max(b[2] for b in flat)
    min_gap = statistics.median(frame.box(line.bbox)[3] - frame.box(line.bbox)[1] for line in lines)
    strips = _free_strips(boxes, x0, x1, min_gap)
    if len(strips) + 1 < MIN_COLS:
        return None
    cuts = [(a + b) / 2 for a, b in strips]
    bounds = [float(x0), *cuts, float(x1)]
    row_cells: list[list[tuple[int, int, list[tuple[Box, str]]]]] = []  # per row: (first col, last col, words)
    for row in rows:
        phrases: list[list[tuple[Box, Word]]] = [[row[0]]]
        for bw in row[1:]:
            if bw[0][0] - phrases[-1][-1][0][2] >= min_gap:
                phrases.append([bw])
            else:
                phrases[-1].append(bw)
        spans: list[tuple[int, int, list[tuple[Box, str]]]] = []
        for phrase in phrases:
            a = bisect.bisect(cuts, phrase[0][0][0])
            b = bisect.bisect(cuts, phrase[-1][0][2])
            frags = [(box, w.text) for box, w in phrase]
            if spans and a <= spans[-1][1]:  # overlaps the previous phrase's columns: one cell
                spans[-1] = (spans[-1][0], max(b, spans[-1][1]), spans[-1][2] + frags)
            else:
                spans.append((a, b, frags))
        row_cells.append(spans)
    if sum(1 for spans in row_cells if len(spans) >= 2) < max(MIN_ROWS, len(rows) / 2):
        return None
    row_boxes = [union(b) for b in boxes]
    tops = [row_boxes[0][1]] + [(a[3] + b[1]) / 2 for a, b in zip(row_boxes, row_boxes[1:], strict=False)]
    bottoms = [*tops[1:], row_boxes[-1][3]]
    cells = []
    for r, spans in enumerate(row_cells):
        taken: set[int] = set()
        for a, b, frags in spans:
            bbox = frame.page_box(bounds[a], tops[r], bounds[b + 1], bottoms[r])
            cells.append(Cell(row=r, col=a, col_span=b - a + 1, bbox=bbox, text=_reading(frags, cjk)))
            taken.update(range(a, b + 1))
        for c in sorted(set(range(len(bounds) - 1)) - taken):
            cells.append(Cell(row=r, col=c, bbox=frame.page_box(bounds[c], tops[r], bounds[c + 1], bottoms[r])))
    cells.sort(key=lambda cell: (cell.row, cell.col))
    return Table(rows=len(rows), cols=len(bounds) - 1, ruled=False, cells=cells)


# ---------------------------------------------------------------------------------------------- the page
def _split(
    line: Line, box: Box, grids: list[_Grid], frame: _Frame, tol: float, cjk: bool
) -> list[tuple[int | None, Line]]:
    """``line`` as (grid index or None, piece): whole when it lies in one grid or none, else cut by its words."""
    for g, grid in enumerate(grids):
        if grid.contains(box, tol) and grid.at(_cx(box), _cy(box)) is not None:
            return [(g, line)]
    if not line.words:
        return [(None, line)]
    owners: list[int | None] = []
    for word in line.words:
        wbox = frame.box(word.bbox)
        owners.append(next((g for g, grid in enumerate(grids) if grid.at(_cx(wbox), _cy(wbox)) is not None), None))
    if all(o is None for o in owners):
        return [(None, line)]
    pieces: list[tuple[int | None, list[Word]]] = []
    for owner, word in zip(owners, line.words, strict=True):
        if pieces and pieces[-1][0] == owner:
            pieces[-1][1].append(word)
        else:
            pieces.append((owner, [word]))
    return [(owner, _line_of(words, cjk)) for owner, words in pieces]


def find_tables(image: Image.Image, geometry: PageGeometry | None, blocks: list[Block], cjk: bool) -> list[Block]:
    """``blocks`` (in reading order) with each table found as one ``table`` block carrying its :class:`.Table`."""
    frame = _Frame(geometry or PageGeometry(image.width, image.height))
    tol = max(3.0, image.width / 400)
    grids = [grid for c in clusters(find_rules(image, frame.geometry.angle), tol) if (grid := _ruled_grid(c, tol))]
    # Each block's lines, as (the ruled grid that takes it or None, the line or the part of it in that grid).
    claims: list[list[tuple[int | None, Line]]] = []
    taken: list[list[Line]] = [[] for _ in grids]
    for block in blocks:
        parts = [p for line in block.lines for p in _split(line, frame.box(line.bbox), grids, frame, tol, cjk)]
        claims.append(parts)
        for g, piece in parts:
            if g is not None:
                taken[g].append(piece)
    tables: list[Block | None] = []
    for grid, lines in zip(grids, taken, strict=True):
        table = _fill_ruled(grid, lines, frame, tol, cjk) if lines else None
        lines = sorted(lines, key=lambda line: (frame.box(line.bbox)[1], frame.box(line.bbox)[0]))
        tables.append(
            Block(bbox=frame.page_box(*grid.region), kind="table", lines=lines, table=table) if table else None
        )
    out: list[Block] = []
    placed: set[int] = set()
    for block, parts in zip(blocks, claims, strict=True):
        mine = sorted({g for g, _ in parts if g is not None and tables[g] is not None})
        if not mine:
            out.append(block)
            continue
        rest = [piece for g, piece in parts if g is None or tables[g] is None]
        top = min(grids[g].ys[0] for g in mine)
        above = [line for line in rest if _cy(frame.box(line.bbox)) < top]
        below = [line for line in rest if _cy(frame.box(line.bbox)) >= top]
        kind = "text" if block.kind == "table" else block.kind
        if above:
            out.append(Block(bbox=union([line.bbox for line in above]), kind=kind, lines=above))
        for g in mine:
            found = tables[g]
            if found is not None and g not in placed:
                out.append(found)
                placed.add(g)
        if below:
            out.append(Block(bbox=union([line.bbox for line in below]), kind=kind, lines=below))
    return _unruled_tables(out, frame, cjk)


def _continues(above: Block, below: Block) -> bool:
    """Whether ``below`` is more rows of the same aligned table as ``above`` (the layout cuts a table whose rows are
    spaced wide into several regions): close under it, and over the same width."""
    if below.kind != "table" or below.table is not None:
        return False
    height = statistics.median(line.height for line in above.lines)
    overlap = min(above.bbox[2], below.bbox[2]) - max(above.bbox[0], below.bbox[0])
    narrower = min(above.bbox[2] - above.bbox[0], below.bbox[2] - below.bbox[0])
    return below.bbox[1] - above.bbox[3] <= 2.5 * height and overlap >= 0.5 * narrower


def _unruled_tables(blocks: list[Block], frame: _Frame, cjk: bool) -> list[Block]:
    """The regions the layout found set in aligned rows (consecutive ones joined) as unruled tables, or as text
    where their rows do not share columns."""
    out: list[Block] = []
    i = 0
    while i < len(blocks):
        run = [blocks[i]]
        if run[0].kind != "table" or run[0].table is not None:
            out.append(run[0])
            i += 1
            continue
        while i + len(run) < len(blocks) and _continues(run[-1], blocks[i + len(run)]):
            run.append(blocks[i + len(run)])
        lines = [line for block in run for line in block.lines]
        table = _fill_unruled(lines, frame, cjk)
        if table is not None:
            out.append(Block(bbox=union([b.bbox for b in run]), kind="table", lines=lines, table=table))
        else:
            out += [block.model_copy(update={"kind": "text"}) for block in run]
        i += len(run)
    return out
