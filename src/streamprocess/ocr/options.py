"""Per-job OCR options: from job options, object metadata (strings) or settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import PermanentError

ALIASES = {
    "en": "eng",
    "english": "eng",
    "zh": "chi_sim",
    "zh-cn": "chi_sim",
    "ch": "chi_sim",
    "chinese": "chi_sim",
    "ja": "jpn",
    "jp": "jpn",
    "japanese": "jpn",
    "ko": "kor",
    "kr": "kor",
    "korean": "kor",
}


class InvalidOcrOptions(PermanentError):
    code = "invalid_options"


class OcrOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    languages: list[str] = Field(
        default_factory=lambda: ["eng"], description="Tesseract codes or ISO 639-1 (`eng`, `en`, `kor+jpn`), or `auto`."
    )
    engine: Literal["auto", "ppocr", "tesseract"] = "auto"
    dpi: float = Field(200, ge=50, le=600, description="Resolution PDF pages are rendered at.")
    text_layer: bool = Field(False, description="Use a PDF page's own text instead of OCR when it has some.")
    orientation: bool = Field(False, description="Detect each page's orientation (Tesseract OSD) and turn it upright.")

    @field_validator("languages", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [p for p in v.replace(",", "+").replace(" ", "+").split("+") if p]
        return [ALIASES.get(str(x).strip().lower(), str(x).strip()) for x in v] or ["eng"]

    @property
    def auto_language(self) -> bool:
        return self.languages == ["auto"]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], defaults: OcrOptions | None = None) -> OcrOptions:
        base = (defaults or cls()).model_dump()
        given = {k.replace("-", "_").lower(): v for k, v in values.items() if v is not None}
        for alias in ("lang", "language"):
            if alias in given:
                given["languages"] = given.pop(alias)
        given = {k: v for k, v in given.items() if k in cls.model_fields}
        try:
            return cls.model_validate({**base, **given})
        except ValidationError as e:
            err = e.errors()[0]
            raise InvalidOcrOptions(f"option {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
