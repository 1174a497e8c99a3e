"""Test documents rendered with Pillow and Debian's fonts from text written here; each comes with its reference."""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from streamprocess.ocr.types import Line, Word

DPI = 200
SANS = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
CJK_INDEX = {"jpn": 0, "kor": 1, "chi_sim": 2}  # faces inside the .ttc

PROSE = (
    "Most of the improvement came from the new routing software, which now plans every delivery route overnight. "
    "Drivers told us that the morning briefings are shorter and that they spend less time waiting at the loading "
    "dock. There were two problems. First, the software does not yet know about road works in the city centre, so "
    "some routes were planned through closed streets. Second, the handheld scanners lost their connection several "
    "times on Wednesday afternoon, and parcels had to be logged by hand. The supplier has promised a fix for the "
    "scanners by the end of the month, and the road works will be entered manually until the map provider updates "
    "its data. Next week we will test weekend deliveries in two districts. If the test goes well, weekend service "
    "will start in every region after the holidays."
)
LEFT_COLUMN = (
    "The northern depot reopened on Monday after three weeks of repairs to the roof and the loading ramps. "
    "Shipments from the depot rose by eight percent, and returns stayed flat across the region."
)
RIGHT_COLUMN = (
    "Customer calls fell by a fifth in the same period. Most callers asked about weekend deliveries, which "
    "will be tested in two districts next month before they start everywhere."
)
CHINESE = (
    "今天上午，公司召开了季度工作会议。会议总结了过去三个月的销售情况，并讨论了新产品的推广计划。"
    "销售部表示，北方地区的订单增长明显，但南方市场仍然面临较大的竞争压力。"
    "会议决定下个月在上海和广州增加两个服务中心，以提高客户满意度。"
)
JAPANESE = (
    "本日の会議では、新しい配送システムの導入について話し合いました。配送時間は平均して二割短くなり、"
    "運転手の待ち時間も減りました。ただし、市内の道路工事の情報がまだ反映されていないため、"
    "一部の経路に問題がありました。来月からは週末の配送も試験的に始める予定です。"
)
KOREAN = (
    "오늘 회의에서는 새로운 배송 시스템에 대해 논의했습니다. 배송 시간은 평균 이십 퍼센트 줄었고 "
    "운전기사의 대기 시간도 감소했습니다. 다만 시내 도로 공사 정보가 아직 반영되지 않아 일부 경로에 "
    "문제가 있었습니다. 다음 달부터는 주말 배송도 시범적으로 시작할 예정입니다."
)
INVOICE = [
    ["Item", "Qty", "Unit price", "Amount"],
    ["Pallet wrap 500 mm", "12", "18.40", "220.80"],
    ["Cardboard boxes large", "250", "1.15", "287.50"],
    ["Packing tape brown", "48", "2.35", "112.80"],
    ["Label printer ribbons", "6", "24.90", "149.40"],
    ["Handheld scanner repair", "2", "85.00", "170.00"],
    ["Total", "", "", "940.50"],
]


def draw_line(d: ImageDraw.ImageDraw, text: str, x: int, y: int, f: ImageFont.FreeTypeFont) -> Line:
    """Draw one line of text; its Line with a box per word (as the detector gives them)."""
    d.text((x, y), text, font=f, fill="black")
    words, pos = [], 0
    for word in text.split(" "):
        left = x + int(f.getlength(text[:pos]))
        box = d.textbbox((left, y), word, font=f)
        words.append(Word(text=word, bbox=(box[0], box[1], box[2], box[3]), confidence=0.99))
        pos += len(word) + 1
    box = d.textbbox((x, y), text, font=f)
    return Line(text=text, bbox=(box[0], box[1], box[2], box[3]), confidence=0.99, words=words)


def blank(width_in: float = 8.27, height_in: float = 11.69) -> Image.Image:
    return Image.new("RGB", (int(width_in * DPI), int(height_in * DPI)), "white")


def font(path: str = SANS, size_pt: float = 11, index: int = 0) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, int(size_pt * DPI / 72), index=index)


def draw_lines(
    img: Image.Image, lines: list[str], x: int, y: int, f: ImageFont.FreeTypeFont, spacing: float = 1.5
) -> int:
    d = ImageDraw.Draw(img)
    step = int(f.size * spacing)
    for line in lines:
        d.text((x, y), line, font=f, fill="black")
        y += step
    return y


def prose_page(text: str = PROSE, font_path: str = SANS, width: int = 80) -> tuple[Image.Image, str]:
    img = blank()
    lines = textwrap.wrap(text, width)
    draw_lines(img, lines, int(0.8 * DPI), int(0.8 * DPI), font(font_path))
    return img, "\n".join(lines)


def cjk_page(text: str, lang: str, per_line: int = 28) -> tuple[Image.Image, str]:
    img = blank()
    lines = [text[i : i + per_line] for i in range(0, len(text), per_line)]
    if lang == "kor":  # Korean has spaces: wrap on them
        lines = textwrap.wrap(text, 36)
    draw_lines(img, lines, int(0.8 * DPI), int(0.8 * DPI), font(CJK, 12, CJK_INDEX[lang]), spacing=1.7)
    return img, "\n".join(lines)


def rotated_noisy_page(degrees: float = 2.0, seed: int = 7) -> tuple[Image.Image, str]:
    img, ref = prose_page()
    img = img.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    rng = random.Random(seed)
    px = img.load()
    w, h = img.size
    for _ in range(w * h // 150):  # salt and pepper
        x, y = rng.randrange(w), rng.randrange(h)
        px[x, y] = (0, 0, 0) if rng.random() < 0.5 else (255, 255, 255)
    return img.filter(ImageFilter.GaussianBlur(0.6)), ref


def two_column_page() -> tuple[Image.Image, str]:
    """A title across the page, then two columns whose lines sit on the same rows."""
    img = blank()
    title = "Weekly operations review"
    y = draw_lines(img, [title], int(0.8 * DPI), int(0.8 * DPI), font(SANS, 16))
    y += int(0.3 * DPI)
    left, right = textwrap.wrap(LEFT_COLUMN, 38), textwrap.wrap(RIGHT_COLUMN, 38)
    f = font(SANS, 11)
    draw_lines(img, left, int(0.8 * DPI), y, f)
    draw_lines(img, right, int(4.4 * DPI), y, f)
    return img, "\n".join([title, *left, *right])


def table_page() -> tuple[Image.Image, str]:
    img = blank()
    d = ImageDraw.Draw(img)
    f = font(SANS, 11)
    xs = [int(0.8 * DPI), int(4.0 * DPI), int(5.0 * DPI), int(6.5 * DPI)]
    y = int(0.8 * DPI)
    d.text((xs[0], y), "INVOICE 2026-1187", font=font(SANS, 16), fill="black")
    y += int(0.6 * DPI)
    for row in INVOICE:
        for x, cell in zip(xs, row, strict=True):
            d.text((x, y), cell, font=f, fill="black")
        y += int(f.size * 1.6)
    ref = ["INVOICE 2026-1187"] + [" ".join(c for c in row if c) for row in INVOICE]
    return img, "\n".join(ref)


def save_pdf(pages: list[Image.Image], path: Path) -> Path:
    pages = [p.copy() for p in pages]  # saving leaves encoder state on the images (Pillow 13)
    pages[0].save(path, "PDF", resolution=DPI, save_all=True, append_images=pages[1:])
    return path


def save_tiff(pages: list[Image.Image], path: Path) -> Path:
    pages = [p.copy() for p in pages]
    pages[0].save(path, "TIFF", dpi=(DPI, DPI), save_all=True, append_images=pages[1:], compression="tiff_lzw")
    return path
