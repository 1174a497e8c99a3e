"""Script detection's logic (src/streamprocess/ocr/scripts.py), in-process: scripts from characters, which installed
Tesseract languages re-read what PP-OCR cannot, misread lines, accepted re-readings, unread ink found in a page image,
and the warning's words. The real engines on rendered pages: tests/test_ocr_scripts.py."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw, ImageFont

from streamprocess.config import Settings
from streamprocess.ocr.languages import written_without_spaces
from streamprocess.ocr.options import OcrOptions
from streamprocess.ocr.scripts import (
    Ink,
    accept,
    join_rows,
    language_of_script,
    likely_text,
    misread,
    no_text_warning,
    page_languages,
    reread_languages,
    script_of,
    spaceless_text,
    unread_ink,
)
from streamprocess.ocr.types import Line

SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def line(text: str, bbox: tuple[int, int, int, int] = (0, 0, 100, 20), confidence: float = 0.95) -> Line:
    return Line(text=text, bbox=bbox, confidence=confidence)


@pytest.mark.parametrize(
    "text, script",
    [
        ("The northern depot", "Latin"),
        ("Größe und Fähre", "Latin"),
        ("ＡＢＣ fullwidth", "Latin"),
        ("오늘 회의에서는 2026년", "Hangul"),
        ("今天上午，公司召开了会议", "Han"),
        ("本日の会議では", "Japanese"),  # Han with kana
        ("カタカナ", "Japanese"),
        ("Привет, мир", "Cyrillic"),
        ("საქართველო", "Georgian"),
        ("สวัสดี", "Thai"),
        ("مرحبا", "Arabic"),
        ("12,345.00 — !", None),
        ("ㅣ ㅁ", None),  # lone jamo: Tesseract's kor reading of a stroke, not Korean text
        ("", None),
    ],
)
def test_script_of(text: str, script: str | None) -> None:
    assert script_of(text) == script


def test_a_mostly_korean_line_with_an_english_word_is_hangul() -> None:
    assert script_of("배송 시스템 OCR 회의") == "Hangul"


def test_reread_languages_are_those_ppocr_cannot_read() -> None:
    assert reread_languages({"eng", "chi_sim", "jpn", "kor", "osd"}) == ["kor"]
    assert reread_languages({"eng", "osd", "deu", "fra"}) == []  # Latin script: PP-OCR reads it
    assert reread_languages({"kor_vert"}) == ["kor_vert"]  # a variant only when it is the only one
    assert reread_languages({"kor", "kor_vert", "tha", "rus", "ukr"}) == ["kor", "rus", "tha"]  # one per script
    # OSD's script first (its name for Hangul is "Korean"), so a cap keeps it.
    assert reread_languages({"kor", "tha", "ara", "heb"}, "Thai")[0] == "tha"
    assert reread_languages({"kor", "tha", "ara", "heb"}, "Korean")[0] == "kor"


def test_language_of_script() -> None:
    installed = {"eng", "kor", "tha"}
    assert [language_of_script(s, installed) for s in ("Latin", "Han", "Japanese", "Hangul", "Thai", "Greek")] == [
        "eng",
        "chi_sim",
        "jpn",
        "kor",
        "tha",
        None,
    ]
    assert language_of_script(None, installed) is None


def test_misread_lines_hold_far_more_than_was_read() -> None:
    # PP-OCR's readings of a Georgian and an Armenian line (boxes from the real pages).
    assert misread(line(",", (153, 148, 973, 208)))
    assert misread(line("p  hn   nun:", (155, 156, 1138, 206)))
    # Real readings: a Latin line (about 2 characters per box height), a Chinese one (about 1), a short box.
    assert not misread(line("The northern depot reopened on Monday after repairs.", (155, 226, 1064, 269)))
    assert not misread(line("今天上午，公司召开了季度工作会议。会议总结了过去三个月的", (160, 160, 1500, 210)))
    assert not misread(line("12", (711, 290, 754, 342)))


def test_accept_wants_the_languages_script_and_confidence() -> None:
    assert accept(line("오늘 회의에서는 새로운 배송", confidence=0.94), "kor")
    assert not accept(line("오늘 회의에서는 새로운 배송", confidence=0.4), "kor")
    # Tesseract's kor on Latin and Georgian lines: digits, brackets and a stray jamo.
    assert not accept(line("16 00116 0600 「[60[ㅁㄷ21160", confidence=0.29), "kor")
    assert not accept(line("56696000039000 60005 0399006", confidence=0.9), "kor")
    assert not accept(line("The depot", confidence=0.99), "kor")
    assert not accept(line("ㅣ", confidence=0.68), "kor") and not accept(line("네", confidence=0.95), "kor")
    assert accept(line("Привет мир", confidence=0.9), "rus") and not accept(line("Hello", confidence=0.9), "rus")


def test_likely_text_is_long_text_like_and_as_high_as_the_text_read() -> None:
    assert likely_text(Ink((0, 0, 800, 40), 0.22), [38, 40, 42])
    assert not likely_text(Ink((0, 0, 120, 40), 0.22), [40])  # short: could be part of a drawing
    assert not likely_text(Ink((0, 0, 2000, 200), 0.22), [40])  # far higher than the text
    assert not likely_text(Ink((0, 0, 800, 40), 0.02), [40])  # few strokes: a shaded cell
    assert likely_text(Ink((0, 0, 800, 40), 0.22), [])  # nothing read: any long line counts


def test_join_rows_joins_words_of_one_row_only() -> None:
    words = [(100, 100, 200, 140), (230, 102, 330, 140), (360, 100, 420, 141), (100, 200, 300, 240)]
    assert join_rows(words) == [(100, 100, 420, 141), (100, 200, 300, 240)]
    # A gap of more than two heights (a column gutter) keeps them apart.
    assert join_rows([(100, 100, 200, 140), (400, 100, 500, 140)]) == [(100, 100, 200, 140), (400, 100, 500, 140)]


def _page_with(texts: list[tuple[str, int]]) -> Image.Image:
    img = Image.new("RGB", (1654, 2338), "white")
    d = ImageDraw.Draw(img)
    f = ImageFont.truetype(SANS, 33)
    for text, y in texts:
        d.text((160, y), text, font=f, fill="black")
    return img


def test_unread_ink_finds_text_lines_nothing_read_covers() -> None:
    img = _page_with([("The northern depot reopened on Monday.", 200), ("Customer calls fell by a fifth.", 400)])
    found = unread_ink(img, [])
    assert len(found) == 2
    first, second = found
    x0, y0, x1, y1 = first.box
    assert x0 <= 160 <= x0 + 20 and y0 <= 210 and y1 >= 230 and x1 >= 700 and second.box[1] > 380
    assert all(ink.strokes >= 0.12 for ink in found)  # text crosses strokes all along
    # The first line read (its box as a detector gives it): only the second is left.
    assert unread_ink(img, [line("The northern depot reopened on Monday.", first.box)]) == [second]


def test_unread_ink_tells_shading_and_scribbles_from_text_by_their_strokes() -> None:
    img = Image.new("RGB", (1654, 2338), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((200, 300, 800, 345), fill=(200, 200, 200))  # a grey shaded cell
    d.line([(200, 600), (300, 660), (400, 600), (500, 660), (600, 600)], fill="black", width=4)  # a zigzag
    found = unread_ink(img, [])
    assert found and all(ink.strokes < 0.12 for ink in found)
    assert not any(likely_text(ink, [40]) for ink in found)


def test_unread_ink_ignores_rules_specks_and_blank_pages() -> None:
    img = Image.new("RGB", (1654, 2338), "white")
    assert unread_ink(img, []) == []
    d = ImageDraw.Draw(img)
    d.line([(100, 500), (1500, 500)], fill="black", width=3)  # a rule across the page
    d.line([(800, 600), (800, 2000)], fill="black", width=3)  # a vertical rule
    for x in range(100, 1500, 97):
        d.point((x, 1000), fill="black")  # specks
    d.rectangle((200, 2100, 700, 2300), fill="black")  # a solid block
    assert unread_ink(img, []) == []


def test_warning_names_the_cause_the_installed_languages_and_the_fix() -> None:
    auto = no_text_warning(2, {"eng", "kor", "osd"})
    assert auto.startswith("2 line(s)") and "eng, kor" in auto and "osd" not in auto
    assert "apt-get install tesseract-ocr-" in auto and "STREAMPROCESS_OCR_LANGUAGES" in auto
    assert "docs/ocr-languages.md" in auto
    asked = no_text_warning(5, {"eng"}, ["eng"])
    assert "not read with lang=eng" in asked and "lang=auto" in asked


def test_auto_is_the_default_everywhere() -> None:
    assert OcrOptions().languages == ["auto"] and OcrOptions().auto_language
    assert OcrOptions(languages="").languages == ["auto"] and OcrOptions(languages="AUTO").auto_language
    assert OcrOptions(languages="ko+en").languages == ["kor", "eng"]
    assert Settings().ocr_languages == "auto"


def test_page_languages_and_spacing_follow_whole_lines() -> None:
    def tagged(text: str) -> Line:
        return line(text).model_copy(update={"script": script_of(text)})

    english = [tagged("Cardboard boxes large 250"), tagged("Total 940.50")]
    assert page_languages(english + [tagged("号")]) == ["eng"]  # one stray Han character
    assert page_languages(english + [tagged("회의에서는")], {"kor"}) == ["eng", "kor"]
    assert page_languages([tagged("本日の会議では")]) == ["jpn"] and page_languages([tagged("123")]) == []
    assert not spaceless_text(english + [tagged("号")])
    assert spaceless_text([tagged("今天上午，公司召开了季度工作会议"), tagged("OCR")])
    assert not spaceless_text([tagged("오늘 회의에서는")]) and not spaceless_text([])


def test_korean_is_written_with_spaces() -> None:
    assert not written_without_spaces(["kor", "eng"])
    assert written_without_spaces(["chi_sim"]) and written_without_spaces(["jpn", "kor"])
