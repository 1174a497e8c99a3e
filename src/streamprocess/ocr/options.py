"""Per-job OCR options: from job options, object metadata (strings) or settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import ErrorCode, PermanentError
from ..options import options_from_mapping
from .languages import ALIASES


class InvalidOcrOptions(PermanentError):
    code = ErrorCode.INVALID_OPTIONS


class OcrOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    languages: list[str] = Field(
        default_factory=lambda: ["auto"],
        description="`auto` (the script found per page and per line), or Tesseract codes or ISO 639-1 (`eng`, `en`, "
        "`kor+jpn`).",
    )
    engine: Literal["auto", "ppocr", "tesseract", "triton"] = "auto"  # triton: PP-OCR on Triton, routed as auto
    dpi: float = Field(200, ge=50, le=600, description="Resolution PDF pages are rendered at.")
    text_layer: bool = Field(False, description="Use a PDF page's own text instead of OCR when it has some.")
    orientation: bool = Field(False, description="Detect each page's orientation (Tesseract OSD) and turn it upright.")

    @field_validator("languages", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [p for p in v.replace(",", "+").replace(" ", "+").split("+") if p]
        return [ALIASES.get(str(x).strip().lower(), str(x).strip()) for x in v] or ["auto"]

    @property
    def auto_language(self) -> bool:
        return self.languages == ["auto"]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], defaults: OcrOptions | None = None) -> OcrOptions:
        """Options from strings (object metadata: ``lang: kor+eng``, ``text-layer: true``); unknown keys ignored."""
        return options_from_mapping(
            cls, values, defaults, error=InvalidOcrOptions, aliases={"lang": "languages", "language": "languages"}
        )
