"""Typed OCR results (what ``ocr.json`` holds): document → pages → blocks → lines → words.

Boxes are ``[x0, y0, x1, y1]`` in page pixels at the page's ``dpi``; polygons are four corner points.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

Box = tuple[int, int, int, int]


def union(boxes: Sequence[Box]) -> Box:
    """The smallest box holding all of ``boxes`` (at least one)."""
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


#: What a block is: ``text`` until :mod:`.regions` types it; ``table`` blocks carry their :class:`Table`.
BlockKind = Literal["text", "title", "paragraph", "list", "table", "caption", "header", "footer"]


class Word(BaseModel):
    text: str
    bbox: Box
    confidence: float


class Line(BaseModel):
    text: str
    bbox: Box
    polygon: list[tuple[float, float]] | None = None
    confidence: float
    words: list[Word] = Field(default_factory=list)
    script: str | None = None  # the writing system it was read as (Latin, Han, Hangul, …), where detected
    engine: str | None = None  # the engine that read it, where a page mixes them

    @property
    def height(self) -> int:
        return self.bbox[3] - self.bbox[1]


class Cell(BaseModel):
    """One cell of a table's grid; a spanning cell covers ``row_span`` × ``col_span`` grid positions."""

    row: int  # 0-based
    col: int
    row_span: int = 1
    col_span: int = 1
    bbox: Box
    text: str = ""


class Table(BaseModel):
    rows: int
    cols: int
    ruled: bool  # its cells were found from ruling lines drawn on the page (else from the text's alignment)
    cells: list[Cell] = Field(default_factory=list)

    def grid(self) -> list[list[str]]:
        """Rows × columns of text; a spanning cell's text in its top-left position, "" in the others."""
        out = [["" for _ in range(self.cols)] for _ in range(self.rows)]
        for cell in self.cells:
            out[cell.row][cell.col] = cell.text
        return out


class FormField(BaseModel):
    """A label and the value filled in beside or under it (on one line, or in a box)."""

    key: str
    value: str
    key_bbox: Box
    value_bbox: Box | None = None
    confidence: float = 1.0


class Checkbox(BaseModel):
    label: str
    checked: bool
    bbox: Box  # the box itself


class Block(BaseModel):
    bbox: Box
    kind: BlockKind = "text"
    lines: list[Line] = Field(default_factory=list)
    table: Table | None = None  # for kind ``table``

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


class Page(BaseModel):
    index: int  # 1-based
    width: int
    height: int
    dpi: float
    engine: str  # ppocr, tesseract, or text-layer
    languages: list[str] = Field(default_factory=list)
    rotation: int = 0  # degrees the page was turned before recognition
    blocks: list[Block] = Field(default_factory=list)
    fields: list[FormField] = Field(default_factory=list)  # key–value pairs, where the page is a form
    checkboxes: list[Checkbox] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)  # e.g. ink on the page but no text in any installed language
    timings: dict[str, float] = Field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(b.text for b in self.blocks if b.lines)

    def lines(self) -> list[Line]:
        return [line for b in self.blocks for line in b.lines]


class Document(BaseModel):
    pages: list[Page] = Field(default_factory=list)
    engine: str
    languages: list[str] = Field(default_factory=list)
    timings: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def from_json(cls, data: str | bytes) -> Document:
        """A document from its JSON (``ocr.json`` as a job writes it, or :func:`.formats.to_json`)."""
        return cls.model_validate_json(data)

    @property
    def text(self) -> str:
        return "\n\f\n".join(p.text for p in self.pages)
