"""Column gutters found in the page image: whitespace projection on the binarised, deskewed page.

The page is binarised (Otsu's threshold) and shrunk to about :data:`WORK_WIDTH` pixels wide, keeping a cell dark
when any pixel in it is ink. Its skew is the angle whose horizontal projection is sharpest (text lines give the
peakiest profile); the shrunk page is turned by it, so a gutter stays a straight vertical strip on a page skewed by a
few degrees. A gutter is a strip at least :data:`MIN_GUTTER` of the page width wide with no ink over a run of rows,
kept only between the first and the last row with ink close to it on *both* sides (where two columns stand side by
side: the white below a short last column or beside a left-aligned heading is not a gutter). So a page that is one
column at the top, two in the middle and one at the bottom gives one gutter spanning the middle.

Coordinates are page pixels in the deskewed frame: :meth:`PageGeometry.deskew` maps a point of the page into it.
The layout step (:mod:`.layout`) splits line boxes at the gutters and reads columns in order; whether a gutter only
separates the cells of a table is decided there, from the lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

#: The page is analysed at no more than this width (a 2550-pixel scan: a 5× reduction).
WORK_WIDTH = 512
#: Narrowest gutter, as a fraction of the page width (word spaces are narrower; ~1/40 is a narrow real gutter).
MIN_GUTTER = 1 / 90
#: Shortest two-column band, as a fraction of the page height (a few lines of text).
MIN_HEIGHT = 0.04
#: Fewest text lines with ink on both sides of a gutter.
MIN_LINES = 5
#: How far from a gutter the ink on each side must be, as a fraction of the page width.
NEAR = 0.08
#: Skew angles tried, in degrees (either way).
MAX_SKEW = 6.0


@dataclass(frozen=True)
class Gutter:
    """A vertical strip with no ink between two columns, in deskewed page pixels."""

    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def x(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass(frozen=True)
class PageGeometry:
    width: int
    height: int
    angle: float = 0.0  # degrees; text lines descend to the right when positive (image y points down)
    gutters: list[Gutter] = field(default_factory=list)

    def deskew(self, x: float, y: float) -> tuple[float, float]:
        """A page point in the deskewed frame (turned about the page centre so text lines are horizontal)."""
        if not self.angle:
            return x, y
        a = math.radians(self.angle)
        cx, cy = self.width / 2, self.height / 2
        dx, dy = x - cx, y - cy
        return cx + dx * math.cos(a) + dy * math.sin(a), cy - dx * math.sin(a) + dy * math.cos(a)


def _otsu(hist: list[int]) -> int:
    counts = np.asarray(hist[:256], dtype=np.float64)
    total = counts.sum()
    if total == 0:
        return 128
    levels = np.arange(256)
    w0 = np.cumsum(counts)
    m0 = np.cumsum(counts * levels)
    w1 = total - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (m0[-1] * w0 / total - m0) ** 2 / (w0 * w1)
    between = np.nan_to_num(between)
    return int(np.argmax(between))


def binarise(image: Image.Image, work_width: int = WORK_WIDTH) -> tuple[np.ndarray, int]:
    """The page's ink (True) shrunk by an integer factor to about ``work_width``, and that factor. The page is
    averaged down first (cheap), so a cell is ink when it is darker than the paper by a fifth of the contrast
    between paper and ink (Otsu's classes): a thin stroke in a cell is enough."""
    factor = max(1, math.ceil(image.width / work_width))
    if image.mode not in ("L", "RGB"):  # palette, 1-bit, with alpha, CMYK, 16-bit: what reduce() cannot take
        image = image.convert("L")
    small = (image.reduce(factor) if factor > 1 else image).convert("L")
    hist = np.asarray(small.histogram()[:256], dtype=np.float64)
    t = _otsu(small.histogram())  # the last level of the dark class
    levels = np.arange(256)
    dark, light = hist[: t + 1].sum(), hist[t + 1 :].sum()
    if not dark or not light:
        return np.zeros((small.height, small.width), dtype=bool), factor
    ink_level = (hist[: t + 1] * levels[: t + 1]).sum() / dark
    paper = (hist[t + 1 :] * levels[t + 1 :]).sum() / light
    return np.asarray(small) < paper - 0.2 * (paper - ink_level), factor


def estimate_skew(ink: np.ndarray, max_angle: float = MAX_SKEW) -> float:
    """The angle (degrees) that makes the rows of ink sharpest: text lines descend to the right when positive."""
    ys, xs = np.nonzero(ink)
    if len(ys) > 40_000:  # enough points for the profile
        keep = slice(None, None, len(ys) // 20_000)
        ys, xs = ys[keep], xs[keep]
    if len(ys) < 50:
        return 0.0
    xs_c = xs.astype(np.float64) - ink.shape[1] / 2
    pad = int(ink.shape[1] * math.tan(math.radians(max_angle))) + 2

    def score(angle: float) -> float:
        rows = np.rint(ys - xs_c * math.tan(math.radians(angle))).astype(np.int64) + pad
        hist = np.bincount(rows, minlength=ink.shape[0] + 2 * pad).astype(np.float64)
        return float((hist * hist).sum())

    step = 0.5
    angles = np.arange(-max_angle, max_angle + step / 2, step)
    best = max(angles, key=score)
    fine = np.arange(best - step, best + step + 0.01, 0.1)
    return round(float(max(fine, key=score)), 2)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of the runs of True in a 1-D mask."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def find_gutters_in(ink: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Gutters (x0, x1, y0, y1) in the shrunk, deskewed ink image's pixels (x1, y1 exclusive)."""
    h, w = ink.shape
    width = max(2, math.ceil(w * MIN_GUTTER))
    near = max(width + 1, round(w * NEAR))
    min_height = max(3, round(h * MIN_HEIGHT))
    if w < 3 * width:
        return []
    cs = np.zeros((h, w + 1), dtype=np.int32)
    np.cumsum(ink, axis=1, out=cs[:, 1:])
    starts = np.arange(w - width + 1)
    white = (cs[:, starts + width] - cs[:, starts]) == 0  # window [x, x + width) has no ink
    left = cs[:, starts] - cs[:, np.maximum(starts - near, 0)] > 0
    right = cs[:, np.minimum(starts + width + near, w)] - cs[:, starts + width] > 0
    # Rows of ink both sides, away from the ends of the white run: the sparse tops of the letters of a line that
    # spans the gutter leave the window white for a row or two.
    guard = max(1, round(h * 0.004))
    vs = np.zeros((h + 1, white.shape[1]), dtype=np.int32)
    np.cumsum(white, axis=0, out=vs[1:])
    lo, hi = np.clip(np.arange(h) - guard, 0, h), np.clip(np.arange(h) + guard + 1, 0, h)
    clear = (vs[hi] - vs[lo]) == (hi - lo)[:, None]
    both = clear & left & right
    starts_of_lines = both & ~np.vstack([np.zeros((1, both.shape[1]), dtype=bool), both[:-1]])
    candidates: list[tuple[int, int, int]] = []  # (x, y0, y1): a white run trimmed to rows with ink both sides
    for x in np.flatnonzero(starts_of_lines.sum(axis=0) >= MIN_LINES).tolist():
        run = np.cumsum(~white[:, x])  # rows of one white run share a number
        rows = np.flatnonzero(both[:, x])
        line_runs = run[np.flatnonzero(starts_of_lines[:, x])]
        ids, counts = np.unique(line_runs, return_counts=True)
        for run_id in ids[counts >= MIN_LINES].tolist():
            inside = rows[run[rows] == run_id]
            if inside[-1] + 1 - inside[0] >= min_height:
                candidates.append((x, int(inside[0]), int(inside[-1]) + 1))
    # Neighbouring window positions whose row ranges overlap are one gutter; its columns are those whose run covers
    # most of its rows (not a shorter run beside it, where one column's lines are short).
    clusters: list[list[tuple[int, int, int]]] = []
    for x, y0, y1 in sorted(candidates):
        for c in clusters:
            if x <= c[-1][0] + 1 and any(y0 < b1 and y1 > b0 for _, b0, b1 in c):
                c.append((x, y0, y1))
                break
        else:
            clusters.append([(x, y0, y1)])
    gutters = []
    for c in clusters:
        top, bottom = min(y0 for _, y0, _ in c), max(y1 for _, _, y1 in c)
        xs = [x for x, y0, y1 in c if y1 - y0 >= 0.9 * (bottom - top)] or [x for x, _, _ in c]
        gutters.append([min(xs), max(xs), top, bottom])
    # Strips that overlap (a shorter run beside the gutter, where one column's lines are short) are one gutter:
    # the rows of both, the columns of the tallest.
    merged: list[list[int]] = []
    for x0, x1, y0, y1 in sorted(gutters, key=lambda g: g[2] - g[3]):
        x1 += width
        for m in merged:
            if x0 < m[1] and x1 > m[0] and y0 < m[3] and y1 > m[2]:
                m[2:] = [min(m[2], y0), max(m[3], y1)]
                break
        else:
            merged.append([x0, x1, y0, y1])
    return [(x0, x1, y0, y1) for x0, x1, y0, y1 in merged]


def page_geometry(image: Image.Image) -> PageGeometry:
    """The page's skew and its column gutters (in deskewed page pixels)."""
    ink, factor = binarise(image)
    angle = estimate_skew(ink)
    if abs(angle) >= 0.25:  # less turns the shrunk page by under 3 pixels end to end
        turned = Image.fromarray(ink.astype(np.uint8) * 255).rotate(angle, resample=Image.Resampling.NEAREST)
        ink = np.asarray(turned) > 0
    else:
        angle = 0.0
    gutters = [Gutter(x0 * factor, x1 * factor, y0 * factor, y1 * factor) for x0, x1, y0, y1 in find_gutters_in(ink)]
    return PageGeometry(image.width, image.height, angle, gutters)
