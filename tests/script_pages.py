"""Test pages for script detection (``lang=auto``), rendered like tests/documents.py's (200 DPI, Debian's fonts):
Korean and English lines on one page, text in a script no installed OCR language reads, and scribbles. Each page
comes with its reference text, line by line."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw

from . import documents as docs

KOREAN_LINES = [
    "오늘 회의에서는 새로운 배송 시스템에 대해 논의했습니다.",
    "운전기사의 대기 시간도 감소했습니다.",
    "다음 달부터는 주말 배송도 시범적으로 시작할 예정입니다.",
]
ENGLISH_LINES = [
    "The northern depot reopened on Monday after repairs.",
    "Customer calls fell by a fifth in the same period.",
    "Weekend deliveries will be tested in two districts.",
]
#: Georgian (DejaVu Sans draws it; no Tesseract pack for it, kat, is installed by the project's scripts).
GEORGIAN_LINES = [
    "საქართველო არის ქვეყანა კავკასიაში, შავი ზღვის",
    "აღმოსავლეთ სანაპიროზე. დედაქალაქი არის თბილისი.",
]


def lines_page(lines: list[tuple[str, str]], size_pt: float = 12) -> tuple[Image.Image, list[str]]:
    """One line per (text, kind), top to bottom; kind ``ko`` is drawn with Noto Sans CJK KR, anything else with
    DejaVu Sans."""
    img = docs.blank()
    y = int(0.8 * docs.DPI)
    for text, kind in lines:
        f = docs.font(docs.CJK, size_pt, docs.CJK_INDEX["kor"]) if kind == "ko" else docs.font(docs.SANS, size_pt)
        y = docs.draw_lines(img, [text], int(0.8 * docs.DPI), y, f, 2.0)
    return img, [text for text, _ in lines]


def mixed_page(korean: int, english: int) -> tuple[Image.Image, list[str]]:
    """Korean and English lines taking turns (Korean first), ``korean`` and ``english`` of each."""
    order: list[tuple[str, str]] = []
    for i in range(max(korean, english)):
        if i < korean:
            order.append((KOREAN_LINES[i], "ko"))
        if i < english:
            order.append((ENGLISH_LINES[i], "en"))
    return lines_page(order)


def georgian_page() -> tuple[Image.Image, list[str]]:
    return lines_page([(t, "ka") for t in GEORGIAN_LINES])


def scribbles_page(seed: int = 3) -> Image.Image:
    """A dozen zigzag pen strokes: ink, but no text."""
    img = docs.blank()
    d = ImageDraw.Draw(img)
    rng = random.Random(seed)
    for _ in range(12):
        x, y = rng.randrange(200, 1400), rng.randrange(200, 2000)
        d.line([(x + rng.randrange(-150, 150), y + rng.randrange(-60, 60)) for _ in range(8)], fill="black", width=4)
    return img


def korean_table_page() -> tuple[Image.Image, list[str]]:
    """A ruled table with Korean labels and numbers: PP-OCR reads the numbers, and reads the two-syllable heading
    품목 as the Han 苦号 with a low score (and drops 합계)."""
    rows = [
        ["품목", "수량", "금액"],
        ["사과 상자", "12", "36,000"],
        ["배 선물 세트", "4", "88,000"],
        ["합계", "", "124,000"],
    ]
    img = docs.blank()
    d = ImageDraw.Draw(img)
    f = docs.font(docs.CJK, 11, docs.CJK_INDEX["kor"])
    xs, top, step = [160, 700, 1000, 1400], 200, 70
    for i, row in enumerate(rows):
        for x, cell in zip(xs, row, strict=False):
            d.text((x + 15, top + i * step + 15), cell, font=f, fill="black")
    for i in range(len(rows) + 1):
        d.line([(xs[0], top + i * step), (xs[-1], top + i * step)], fill="black", width=3)
    for x in xs:
        d.line([(x, top), (x, top + len(rows) * step)], fill="black", width=3)
    return img, [" ".join(c for c in row if c) for row in rows]
