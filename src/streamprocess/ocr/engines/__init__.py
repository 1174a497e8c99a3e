"""OCR engines behind one interface: a page image in, text lines (with words where the engine gives them) out."""

from __future__ import annotations

from typing import Protocol

from PIL import Image

from ..types import Line


class OcrEngineBackend(Protocol):
    """What :class:`~streamprocess.ocr.engine.OcrEngine` routes a page to: PP-OCR or Tesseract."""

    name: str

    @property
    def languages(self) -> frozenset[str]:
        """The Tesseract-style codes it reads."""
        ...

    def recognize(self, image: Image.Image, languages: list[str]) -> list[Line]: ...
