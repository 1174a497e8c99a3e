"""Typed OCR results (what ``ocr.json`` holds): document → pages → blocks → lines → words.

Boxes are ``[x0, y0, x1, y1]`` in page pixels at the page's ``dpi``; polygons are four corner points.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

Box = tuple[int, int, int, int]


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

    @property
    def height(self) -> int:
        return self.bbox[3] - self.bbox[1]


class Block(BaseModel):
    bbox: Box
    kind: str = "text"  # text or table
    lines: list[Line] = Field(default_factory=list)

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
