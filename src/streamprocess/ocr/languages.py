"""OCR languages: Tesseract's codes (``eng``, ``chi_sim``, ``jpn``, ``kor``), the ISO names accepted for them, and
which of them are written without spaces between words (CJK), which decides how a row of text is joined."""

from __future__ import annotations

from collections.abc import Iterable

#: ISO 639-1 codes and English names → Tesseract codes.
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

#: Chinese, Japanese and Korean.
CJK_LANGUAGES = frozenset({"chi_sim", "chi_tra", "jpn", "kor"})


def any_cjk(languages: Iterable[str]) -> bool:
    return any(lang in CJK_LANGUAGES for lang in languages)
