"""Writing systems (scripts) for ``lang=auto``: which script a line is in, which lines PP-OCR could not read, and
which installed Tesseract languages read what PP-OCR cannot.

PP-OCR reads Latin, Chinese (Han) and Japanese; on a line in any other script it returns nothing (rapidocr drops a
line whose recognition score is below 0.5: every Hangul line of the test pages) or a few stray characters on a long
box (``,`` or ``p hn nun:`` for a line of Georgian or Armenian). So after PP-OCR has read a page:

- :func:`unread_ink` finds the ink that looks like lines of text (connected runs of ink, smeared along the row, of a
  text line's height and shape) and that no line read covers;
- :func:`misread` marks a line whose box holds far more characters than were read;
- those are read again by Tesseract in the installed languages whose script PP-OCR cannot read
  (:func:`reread_languages`: ``kor`` here), and a reading is kept only when it is in that script and confident
  (:func:`accept`: Tesseract's ``kor`` reads a Latin or Georgian line as digits and stray jamo, so a Hangul line is
  one whose letters are mostly Hangul syllables).

:func:`script_of` names a text's script from its characters' Unicode names (the majority of its letters): ``Latin``,
``Han``, ``Japanese`` (any kana among Han), ``Hangul``, ``Cyrillic``, ``Arabic``, …
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from .gutters import binarise
from .types import Box, Line

#: The scripts PP-OCR reads, and the language each one is reported as.
PPOCR_SCRIPTS = {"Latin": "eng", "Han": "chi_sim", "Japanese": "jpn"}

#: Tesseract languages (Debian ``tesseract-ocr-<lang>``) by the script they are written in, for those PP-OCR cannot
#: read. Latin-script languages (deu, fra, vie, …) are not here: PP-OCR reads their script.
LANGUAGE_SCRIPTS = {
    "kor": "Hangul",
    "kor_vert": "Hangul",
    "ara": "Arabic",
    "fas": "Arabic",
    "urd": "Arabic",
    "uig": "Arabic",
    "pus": "Arabic",
    "snd": "Arabic",
    "rus": "Cyrillic",
    "ukr": "Cyrillic",
    "bel": "Cyrillic",
    "bul": "Cyrillic",
    "mkd": "Cyrillic",
    "srp": "Cyrillic",
    "kaz": "Cyrillic",
    "kir": "Cyrillic",
    "mon": "Cyrillic",
    "tgk": "Cyrillic",
    "tat": "Cyrillic",
    "ell": "Greek",
    "grc": "Greek",
    "heb": "Hebrew",
    "yid": "Hebrew",
    "hin": "Devanagari",
    "mar": "Devanagari",
    "nep": "Devanagari",
    "san": "Devanagari",
    "ben": "Bengali",
    "asm": "Bengali",
    "tha": "Thai",
    "lao": "Lao",
    "khm": "Khmer",
    "mya": "Myanmar",
    "tam": "Tamil",
    "tel": "Telugu",
    "kan": "Kannada",
    "mal": "Malayalam",
    "guj": "Gujarati",
    "pan": "Gurmukhi",
    "ori": "Oriya",
    "sin": "Sinhala",
    "kat": "Georgian",
    "hye": "Armenian",
    "amh": "Ethiopic",
    "tir": "Ethiopic",
    "bod": "Tibetan",
    "dzo": "Tibetan",
    "div": "Thaana",
    "syr": "Syriac",
    "chr": "Cherokee",
    "iku": "Canadian_Aboriginal",
}

#: Tesseract OSD's script names that differ from these.
_OSD_SCRIPTS = {"Korean": "Hangul", "Katakana": "Japanese", "Hiragana": "Japanese"}
#: Most languages re-read together in one Tesseract run (each adds its model's time); beyond that OSD picks.
MAX_REREAD_LANGUAGES = 3

#: Unicode character-name prefixes that differ from the script's name.
_NAME_SCRIPTS = {
    "CJK": "Han",
    "HIRAGANA": "Japanese",
    "KATAKANA": "Japanese",
    "HALFWIDTH": None,  # halfwidth katakana / forms: decided by the second word
    "FULLWIDTH": None,  # fullwidth Latin letters / digits
    "CANADIAN": "Canadian_Aboriginal",
}

#: Fewest characters read per box aspect (width / height) before a line counts as misread: a line of Latin text
#: reads about 2 characters per height of box width, Chinese and Japanese about 1; PP-OCR's readings of Georgian
#: and Armenian lines measured 0.07–0.36.
MIN_CHARS_PER_ASPECT = 0.5
#: Least Tesseract confidence (mean of its words) for a re-read line to be kept, and least share of its letters in
#: the language's script. Hangul lines measured 0.92–0.94; Tesseract's kor on Latin, Georgian and Armenian lines
#: 0.01–0.48 with no Hangul syllables at all.
MIN_REREAD_CONFIDENCE = 0.6
MIN_SCRIPT_SHARE = 0.6
#: A text line's height, as a fraction of the page width: from about 4-point to about 50-point type on an A4 page.
MIN_LINE_HEIGHT, MAX_LINE_HEIGHT = 1 / 160, 1 / 12
#: Ink cover of a text line's box (unsmeared): thin rules and solid areas fall outside.
MIN_DENSITY, MAX_DENSITY = 0.08, 0.7
#: Least width of a line of unread ink, in heights (one Hangul syllable is about square), and of one that is
#: surely text.
MIN_ASPECT = 0.8
LIKELY_TEXT_ASPECT = 5.0
#: Fewest stroke edges per cell (:class:`Ink`) of ink that is surely text.
MIN_STROKES = 0.12
#: Fewest characters read on a page with unread ink for it not to warn (a page of scribbles read as one "Z").
MIN_PAGE_TEXT = 4
#: Width the page is analysed at (a 1654-pixel A4 page at 200 DPI: a 3× reduction).
WORK_WIDTH = 640


def char_script(ch: str) -> str | None:
    """The script of one character (None for digits, punctuation, spaces and marks)."""
    if not ch.isalpha():
        return None
    words = unicodedata.name(ch, "").split()
    if not words:
        return None
    if words[0] in _NAME_SCRIPTS:
        mapped = _NAME_SCRIPTS[words[0]]
        if mapped is not None or len(words) < 2:
            return mapped
        return _NAME_SCRIPTS.get(words[1], words[1].title())
    if words[0] == "HANGUL":  # syllables; a lone jamo (ㅣ, ㅁ) is what Tesseract's kor makes of a stroke or a box
        return "Hangul" if words[1:2] == ["SYLLABLE"] else None
    return words[0].title()


def script_counts(text: str) -> Counter[str]:
    return Counter(s for s in map(char_script, text) if s)


def script_of(text: str) -> str | None:
    """The script most of a text's letters are in; kana among Han make it ``Japanese``."""
    counts = script_counts(text)
    if not counts:
        return None
    if counts["Japanese"] and counts["Japanese"] + counts["Han"] >= max(counts.values()):
        return "Japanese"
    return counts.most_common(1)[0][0]


def language_of_script(script: str | None, installed: Iterable[str] = ()) -> str | None:
    """The language a line in ``script`` is reported as: PP-OCR's for its scripts, else the first installed
    Tesseract language of that script."""
    if script is None or script in PPOCR_SCRIPTS:
        return PPOCR_SCRIPTS.get(script or "")
    return next((lang for lang in sorted(installed) if LANGUAGE_SCRIPTS.get(lang) == script), None)


def page_languages(lines: Iterable[Line], installed: Iterable[str] = ()) -> list[str]:
    """The languages of a page read with ``lang=auto``: one per script that is the script of a line with at least
    two of its letters (a stray character PP-OCR read as Han in an English table does not make the page Chinese)."""
    found = set()
    for line in lines:
        counts = script_counts(line.text)
        letters = counts[line.script or ""] + (counts["Han"] if line.script == "Japanese" else 0)
        if letters >= 2:
            found.add(language_of_script(line.script, installed))
    return sorted(lang for lang in found if lang)


def spaceless_text(lines: Iterable[Line]) -> bool:
    """Whether most letters of the lines are Chinese or Japanese (pieces of a row then join without a space)."""
    counts: Counter[str] = Counter()
    for line in lines:
        counts.update(script_counts(line.text))
    total = sum(counts.values())
    return total > 0 and counts["Han"] + counts["Japanese"] >= 0.5 * total


def reread_languages(installed: Iterable[str], osd_script: str | None = None) -> list[str]:
    """The installed Tesseract languages whose script PP-OCR cannot read (``kor`` with the standard packs), one per
    script (a variant such as ``kor_vert`` only when it is the only one); those of ``osd_script`` (Tesseract OSD's
    name for the page's script) first."""
    by_script: dict[str, str] = {}
    for lang in sorted(installed, key=lambda x: ("_" in x, x)):
        script = LANGUAGE_SCRIPTS.get(lang)
        if script and script not in by_script:
            by_script[script] = lang
    first = _OSD_SCRIPTS.get(osd_script or "", osd_script)
    return sorted(by_script.values(), key=lambda lang: (LANGUAGE_SCRIPTS[lang] != first, lang))


#: PP-OCR lines less sure than this are read again with the unread ink, where there is some, and replaced by a
#: more confident reading in another script (PP-OCR read the Hangul 품목 as the Han 苦号 at 0.84; its readings of
#: the Latin, Chinese and Japanese test pages are above 0.97).
DOUBTFUL = 0.9


def misread(line: Line) -> bool:
    """A line whose box holds far more text than was read (PP-OCR's reading of a script it does not know)."""
    x0, y0, x1, y1 = line.bbox
    height = max(1, y1 - y0)
    aspect = (x1 - x0) / height
    chars = sum(1 for ch in line.text if not ch.isspace())
    return aspect >= 3 and chars < MIN_CHARS_PER_ASPECT * aspect


def accept(line: Line, language: str) -> bool:
    """Whether a Tesseract re-reading in ``language`` is text in that language's script, read with confidence."""
    script = LANGUAGE_SCRIPTS.get(language) or script_of_language(language)
    counts = script_counts(line.text)
    letters = sum(counts.values())
    return (
        counts[script] >= max(2, MIN_SCRIPT_SHARE * letters)  # two letters: a lone mark read as a jamo is not text
        and line.confidence >= MIN_REREAD_CONFIDENCE
    )


def script_of_language(language: str) -> str:
    return next((s for s, lang in PPOCR_SCRIPTS.items() if lang == language), "Latin")


class Ink(NamedTuple):
    """A line of unread ink: its box (page pixels) and how often a row through it crosses a stroke (ink edges per
    cell of the analysed page: 0.18–0.32 on lines of Latin, Chinese, Korean and Georgian text, 0.02 on a grey
    shaded table cell, 0.05–0.08 on pen scribbles)."""

    box: Box
    strokes: float


def unread_ink(image: Image.Image, lines: Iterable[Line]) -> list[Ink]:
    """The ink that looks like lines of text and that none of ``lines`` covers, top to bottom."""
    ink, factor = binarise(image, WORK_WIDTH)
    if not ink.any():
        return []
    ink = ink.copy()
    for line in lines:
        x0, y0, x1, y1 = line.bbox
        ink[max(0, y0 // factor - 1) : y1 // factor + 2, max(0, x0 // factor - 1) : x1 // factor + 2] = False
    if not ink.any():
        return []
    min_h = max(2, round(MIN_LINE_HEIGHT * image.width / factor))
    max_h = round(MAX_LINE_HEIGHT * image.width / factor)
    # Ruling lines (table grids, underlines) out first: text touching one would make a box too tall to be text.
    cells = ink.astype(np.uint8)
    vertical = cv2.morphologyEx(cells, cv2.MORPH_OPEN, np.ones((max_h + 1, 1), np.uint8))
    horizontal = cv2.morphologyEx(cells, cv2.MORPH_OPEN, np.ones((1, 4 * max_h), np.uint8))
    ink &= (vertical == 0) & (horizontal == 0)
    # Letters of a word, and words of a line, touch once smeared along the row by about a line's lowest height.
    smear = cv2.dilate(ink.astype(np.uint8), np.ones((1, max(3, min_h)), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(smear, connectivity=8)
    words: list[Box] = []
    for x, y, bw, bh, _area in stats[1:n]:
        if min_h <= bh <= max_h and MIN_DENSITY <= float(ink[y : y + bh, x : x + bw].mean()) <= MAX_DENSITY:
            words.append((int(x), int(y), int(x + bw), int(y + bh)))
    pad = max(1, min_h // 2) * factor
    edges = np.abs(np.diff(ink.astype(np.int8), axis=1))
    return [
        Ink(
            (
                max(0, x0 * factor - pad),
                max(0, y0 * factor - pad),
                min(image.width, x1 * factor + pad),
                min(image.height, y1 * factor + pad),
            ),
            round(float(edges[y0:y1, x0 : x1 - 1].mean()), 3),
        )
        for x0, y0, x1, y1 in join_rows(words)
        if x1 - x0 >= MIN_ASPECT * (y1 - y0)
    ]


def join_rows(boxes: list[Box]) -> list[Box]:
    """Boxes on one row (overlapping by half the lower one's height) with a gap of at most twice their height
    between them, joined; top to bottom, then left to right."""
    out = sorted(boxes, key=lambda b: (b[0], b[1]))
    joined = True
    while joined:
        joined = False
        for i, a in enumerate(out):
            for j in range(i + 1, len(out)):
                b = out[j]
                ha, hb = a[3] - a[1], b[3] - b[1]
                overlap = min(a[3], b[3]) - max(a[1], b[1])
                gap = max(a[0], b[0]) - min(a[2], b[2])
                if overlap >= 0.5 * min(ha, hb) and gap <= 2 * max(ha, hb):
                    out[i] = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    del out[j]
                    joined = True
                    break
            if joined:
                break
    return sorted(out, key=lambda b: (b[1], b[0]))


def likely_text(ink: Ink, heights: list[int]) -> bool:
    """Whether unread ink is surely a line of text (long, crossing strokes as text does, and as high as the lines
    read on the page): only then does it warn on a page where other text was read (short pieces are often parts of
    a drawing)."""
    x0, y0, x1, y1 = ink.box
    h = y1 - y0
    if x1 - x0 < LIKELY_TEXT_ASPECT * h or ink.strokes < MIN_STROKES:
        return False
    if not heights:
        return True
    median = sorted(heights)[len(heights) // 2]
    return 0.5 * median <= h <= 2.5 * median


def no_text_warning(unread: int, installed: Iterable[str], languages: list[str] | None = None) -> str:
    """What a page's record says when ink that looks like text was not read: by ``lang=auto`` (``languages``
    None) in any installed language, or in the ``languages`` a job asked for."""
    tess = sorted(set(installed) - {"osd"})
    if languages:
        head = (
            f"{unread} line(s) of what looks like text were not read with lang={'+'.join(languages)}: likely text "
            "in another language (lang=auto finds the script of each line), or handwriting, or a drawing."
        )
    else:
        head = (
            f"{unread} line(s) of what looks like text could not be read in any installed language: likely a "
            "script none of them reads, or handwriting, or a drawing."
        )
    return (
        f"{head} PP-OCR reads Latin, Chinese and Japanese; Tesseract's installed languages: "
        f"{', '.join(tess) or 'none'}. "
        "To read another script, install its Tesseract pack (Debian: apt-get install tesseract-ocr-<lang>, e.g. "
        "tesseract-ocr-tha for Thai) and ask for it (lang=<lang>, or STREAMPROCESS_OCR_LANGUAGES); see "
        "docs/ocr-languages.md"
    )
