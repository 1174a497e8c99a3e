"""Ruling lines drawn on a page (table grids, boxed form fields, underlines), found in the page image.

The page is binarised (ink: darker than its surroundings), shrunk to about 200 DPI keeping every cell with ink,
turned by its skew angle (so a rule is a straight horizontal or vertical run of ink), and opened with a long,
one-pixel-thin kernel in each direction: only runs of ink longer than the kernel survive, which text strokes are not
(:data:`MIN_RULE` of the page's width or height). Each surviving piece is one :class:`Rule`; pieces on the same line
with a short break between them (a scan's broken rule) are joined. Thick pieces (filled areas, photographs) are
dropped, and so are those without paper on both sides (the dark between the letters of white type on a black band).

API, for tables (:mod:`.tables`) and forms (boxed fields):

- :func:`find_rules` ``(image, angle=0.0) -> list[Rule]``: every rule, horizontal and vertical, in the page's
  deskewed frame (:meth:`.gutters.PageGeometry.deskew`'s coordinates for that ``angle``; page pixels when it is 0).
- :func:`clusters` ``(rules, tol) -> list[list[Rule]]``: the rules that touch one another (a table's grid, a box).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

#: Shortest rule, as a fraction of the page's width (horizontal rules) or height (vertical ones): about 1/3 inch on
#: an A4 or Letter page, longer than any stroke of body text or a 24-point title's letters.
MIN_RULE = 1 / 25
#: The page is analysed at no more than this width (about 200 DPI on A4; a 300-DPI scan is halved).
WORK_WIDTH = 1700
#: How much darker than the mean of its surroundings a pixel must be to be ink (grey levels out of 255).
CONTRAST = 15
#: How much lighter the paper beside a rule must be than the rule, as a share of the contrast between paper and rule.
SIDE_CONTRAST = 0.35
#: Thickest rule, as a fraction of the page's width (about 0.05 inch on A4): thicker runs are filled areas.
MAX_THICKNESS = 1 / 150


@dataclass(frozen=True)
class Rule:
    """A ruling line: a horizontal one lies at ``y = pos`` from ``x = start`` to ``end``; a vertical one at
    ``x = pos`` from ``y = start`` to ``end``. Deskewed page pixels."""

    horizontal: bool
    pos: float
    start: float
    end: float
    thickness: float

    @property
    def length(self) -> float:
        return self.end - self.start

    def meets(self, other: Rule, tol: float) -> bool:
        """Whether the two cross or touch (a horizontal and a vertical rule), ``tol`` pixels allowed at the ends."""
        if self.horizontal == other.horizontal:
            return False
        return self.start - tol <= other.pos <= self.end + tol and other.start - tol <= self.pos <= other.end + tol


def _images(image: Image.Image, angle: float) -> tuple[np.ndarray, np.ndarray, int]:
    """The page's ink (255) and its grey levels, turned by ``angle`` and shrunk by an integer factor to at most
    :data:`WORK_WIDTH` wide (a cell is ink when any pixel in it is: a one-pixel rule stays whole), and that factor.
    Ink is what is darker by :data:`CONTRAST` than the mean of a window 1/60 of the page wide around it: a faint
    grey rule on white is ink, where one threshold for the whole page (Otsu's) loses it beside black type."""
    gray = np.asarray(image.convert("L"))
    window = max(15, round(gray.shape[1] / 60)) | 1
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, window, CONTRAST)
    factor = max(1, math.ceil(ink.shape[1] / WORK_WIDTH))
    if factor > 1:
        h, w = ink.shape[0] // factor, ink.shape[1] // factor
        small = cv2.resize(ink[: h * factor, : w * factor], (w, h), interpolation=cv2.INTER_AREA)
        ink = np.where(small > 0, 255, 0).astype(np.uint8)
        gray = cv2.resize(gray[: h * factor, : w * factor], (w, h), interpolation=cv2.INTER_AREA)
    if angle:
        h, w = ink.shape
        turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)  # the frame of PageGeometry.deskew
        ink = cv2.warpAffine(ink, turn, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
        gray = cv2.warpAffine(gray, turn, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)
    return ink, gray, factor


def _pieces(mask: np.ndarray, gray: np.ndarray, horizontal: bool, max_thickness: float, factor: int) -> list[Rule]:
    """The runs left in ``mask`` that are thin and stand out from the paper on both sides (not the dark between the
    letters of white type on a black band)."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    paper = float(np.percentile(gray, 90))
    out = []
    for x, y, w, h, _area in stats[1:count].tolist():
        thick, start, end, pos = (h, x, x + w, y + h / 2) if horizontal else (w, y, y + h, x + w / 2)
        if thick * factor > max_thickness:
            continue
        level = float(gray[y : y + h, x : x + w].mean())
        if horizontal:
            sides = gray[max(y - 2, 0), x : x + w], gray[min(y + h + 1, gray.shape[0] - 1), x : x + w]
        else:
            sides = gray[y : y + h, max(x - 2, 0)], gray[y : y + h, min(x + w + 1, gray.shape[1] - 1)]
        if min(float(side.mean()) for side in sides) - level >= SIDE_CONTRAST * (paper - level):
            out.append(Rule(horizontal, pos * factor, start * factor, end * factor, thick * factor))
    return out


def _join(rules: list[Rule], tol: float) -> list[Rule]:
    """Pieces on one line (positions within ``tol``) with breaks under ``3 * tol`` joined into one rule."""
    out: list[Rule] = []
    for rule in sorted(rules, key=lambda r: (round(r.pos / tol), r.start)):
        last = out[-1] if out else None
        if last and abs(last.pos - rule.pos) <= tol and rule.start - last.end <= 3 * tol:
            span = last.length + rule.length
            pos = (last.pos * last.length + rule.pos * rule.length) / span if span else last.pos
            out[-1] = Rule(
                rule.horizontal, pos, last.start, max(last.end, rule.end), max(last.thickness, rule.thickness)
            )
        else:
            out.append(rule)
    return out


def find_rules(image: Image.Image, angle: float = 0.0) -> list[Rule]:
    """The page's ruling lines, horizontal then vertical, in the frame turned by ``angle`` (degrees, the page's
    skew as :func:`.gutters.page_geometry` finds it) about the page centre."""
    ink, gray, factor = _images(image, angle)
    h, w = ink.shape
    max_thickness = max(4.0, image.width * MAX_THICKNESS)
    tol = max(3.0, image.width / 400)
    rules: list[Rule] = []
    for horizontal in (True, False):
        length = max(20, round((w if horizontal else h) * MIN_RULE))
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1) if horizontal else (1, length))
        opened = cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)
        rules += _join(_pieces(opened, gray, horizontal, max_thickness, factor), tol)
    return rules


def clusters(rules: list[Rule], tol: float) -> list[list[Rule]]:
    """Groups of rules connected by crossings (each group holds at least one horizontal and one vertical rule)."""
    parent = list(range(len(rules)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(rules):
        for j in range(i + 1, len(rules)):
            if a.meets(rules[j], tol):
                parent[root(i)] = root(j)
    groups: dict[int, list[Rule]] = {}
    for i, rule in enumerate(rules):
        groups.setdefault(root(i), []).append(rule)
    return [g for g in groups.values() if any(r.horizontal for r in g) and not all(r.horizontal for r in g)]
