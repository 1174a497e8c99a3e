"""OCR languages: Tesseract's codes (``eng``, ``chi_sim``, ``jpn``, ``kor``), the ISO names accepted for them (and
``auto``, any case), which of them are CJK, and which are written without spaces between words (Chinese, Japanese,
Thai, …), which decides how the pieces of a row of text are joined."""

from __future__ import annotations

from collections.abc import Iterable

#: ISO 639-1 codes and English names → Tesseract codes.
ALIASES = {
    "auto": "auto",
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
#: Languages written without spaces between words: pieces of one row of text join without one. Korean, though
#: CJK, spaces its words.
SPACELESS_LANGUAGES = frozenset(
    {"chi_sim", "chi_tra", "jpn", "jpn_vert", "chi_sim_vert", "chi_tra_vert", "tha", "lao", "khm", "mya", "bod", "dzo"}
)


def any_cjk(languages: Iterable[str]) -> bool:
    return any(lang in CJK_LANGUAGES for lang in languages)


def written_without_spaces(languages: Iterable[str]) -> bool:
    return any(lang in SPACELESS_LANGUAGES for lang in languages)


def spaceless_char(ch: str) -> bool:
    """Han, kana, CJK punctuation or full-width forms: a character of text written without spaces."""
    o = ord(ch)
    return 0x3000 <= o <= 0x30FF or 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0xFF00 <= o <= 0xFFEF


def join_pieces(texts: Iterable[str], cjk: bool = True) -> str:
    """Pieces of one row of text in order, with a space between two pieces unless (``cjk``) both sides of the join
    are written without spaces: Chinese and Japanese join up, Korean and Latin words keep their spaces, and a page
    read as Chinese may still hold Latin words."""
    out = ""
    for text in texts:
        if out and text:
            out += "" if cjk and spaceless_char(out[-1]) and spaceless_char(text[0]) else " "
        out += text
    return out
