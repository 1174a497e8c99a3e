"""Region types from line boxes and text (no OCR model): a rendered page's drawn lines through the reading order
and :func:`classify`, and small pages of lines made up here for each rule."""

from __future__ import annotations

import pytest

from streamprocess.ocr.layout import reading_order
from streamprocess.ocr.regions import classify, marker, text_height
from streamprocess.ocr.types import Block, Cell, Line, Table
from tests.form_pages import regions_page

W, H = 1654, 2338  # A4 at 200 DPI
LH = 40  # line box height of the body text


def line(text: str, x: int, y: int, width: int = 1200, height: int = LH) -> Line:
    return Line(text=text, bbox=(x, y, x + width, y + height), confidence=0.99)


def block(*lines: Line) -> Block:
    boxes = [ln.bbox for ln in lines]
    return Block(
        bbox=(min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)),
        lines=list(lines),
    )


def prose(y: int, rows: int = 4, x: int = 160) -> list[Line]:
    return [
        line(f"Body text of the report that runs on across the page, row {i} of it and", x, y + i * 45)
        for i in range(rows)
    ]


def kinds(blocks: list[Block]) -> list[tuple[str, str]]:
    return [(b.kind, b.lines[0].text) for b in blocks]


def test_rendered_page_types_every_region() -> None:
    """Header, title, paragraph, a bold body-size heading kept in its paragraph's block (split off), an
    introduction and its bulleted list in one block (split), a caption under a chart, and the page number."""
    page = regions_page()
    blocks = classify(reading_order(page.lines), page.image.width, page.image.height)
    assert kinds(blocks) == page.kinds
    assert "\n".join(b.text for b in blocks) == page.text  # nothing lost, order kept
    (bullets,) = [b for b in blocks if b.kind == "list"]
    assert len(bullets.lines) == 5  # three items, the first wrapped over three lines


def test_heading_at_the_top_of_a_paragraph_block_is_split_off() -> None:
    body = prose(260)
    body[0] = line(body[0].text, 200, 260)  # the paragraph's first line indented
    blocks = classify([block(line("Recording a Sequence", 160, 210, width=420), *body)], W, H)
    assert kinds(blocks) == [("title", "Recording a Sequence"), ("paragraph", body[0].text)]
    assert blocks[1].bbox[1] == 260 and len(blocks[1].lines) == 4


def test_heading_after_a_wider_gap_inside_a_block() -> None:
    first = prose(300, rows=3)
    first[-1] = line("and the end of it.", 160, first[-1].bbox[1], width=300)
    heading = line("Editing", 160, 300 + 3 * 45 + 20, width=150)  # one and a half pitches below
    second = prose(heading.bbox[1] + 45, rows=2)
    blocks = classify([block(*first, heading, *second)], W, H)
    assert [b.kind for b in blocks] == ["paragraph", "title", "paragraph"]
    assert blocks[1].text == "Editing"


def test_short_last_line_of_a_paragraph_is_not_a_heading() -> None:
    rows = [*prose(300, rows=3), line("Drivers were pleased", 160, 435, width=400), *prose(480, rows=2)]
    blocks = classify([block(*rows)], W, H)
    assert [b.kind for b in blocks] == ["paragraph"]


def test_large_type_is_a_title_and_two_large_lines_one_title() -> None:
    blocks = classify(
        [block(line("The LinnSequencer", 560, 110, 800, 2 * LH), line("32 Track MIDI Recorder", 500, 200, 900, 2 * LH))]
        + [block(*prose(400))],
        W,
        H,
    )
    assert kinds(blocks) == [("title", "The LinnSequencer"), ("paragraph", prose(400)[0].text)]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("• Operation is similar", "bullet"),
        ("•Operation is similar", "bullet"),
        ("- Operation is similar", "bullet"),
        ("▪ Operation", "bullet"),
        ("0 Operation is similar", "bullet"),  # Tesseract's reading of a bullet on a scan
        ("o Operation is similar", "bullet"),
        ("¢ Operation is similar", "bullet"),
        ("1. First step", "number"),
        ("2) Second step", "number"),
        ("(b) the other one", "number"),
        ("iv. Fourth", "number"),
        ("Operation is similar", None),
        ("—existing notes are kept", None),
        ("-5 degrees at night", None),
        ("1.5 million parcels", None),
        ("10:30 in the morning", None),
    ],
)
def test_list_markers(text: str, kind: str | None) -> None:
    assert marker(text) == kind


def test_introduction_and_bulleted_list_with_continuations() -> None:
    rows = [line("Its many remarkable features include:", 160, 300, width=800)]
    y = 345
    for i in range(3):
        rows.append(line(f"0 Feature number {i} that runs on to a", 160, y))
        rows.append(line("second line under the text", 195, y + 45, width=600))
        y += 90
    rows.append(line("The technology you use should never be so complex.", 160, y + 100))
    blocks = classify([block(*rows[:-1]), block(rows[-1])], W, H)
    assert [(b.kind, len(b.lines)) for b in blocks] == [("paragraph", 1), ("list", 6), ("paragraph", 1)]


def test_one_dash_in_prose_is_not_a_list() -> None:
    rows = prose(300, rows=2) + [line("- as the driver said, the scanners were slow", 160, 390)] + prose(435, rows=2)
    assert [b.kind for b in classify([block(*rows)], W, H)] == ["paragraph"]


def test_header_footer_and_page_number() -> None:
    blocks = [
        block(line("Annual report 2026", 160, 60, width=400, height=30)),
        block(*prose(300)),
        block(line("Confidential - internal use", 160, 2250, width=500, height=30)),
        block(line("- 12 -", 800, 2130, width=80, height=30)),  # 9% from the foot: a page number may sit there
    ]
    assert [b.kind for b in classify(blocks, W, H)] == ["header", "paragraph", "footer", "footer"]


def test_long_block_in_the_bottom_margin_is_not_a_footer() -> None:
    blocks = [block(*prose(300)), block(*prose(2200, rows=4))]
    assert [b.kind for b in classify(blocks, W, H)] == ["paragraph", "paragraph"]


def test_caption_below_a_figure_and_above_a_table() -> None:
    table = Block(
        bbox=(160, 1500, 1400, 1700),
        kind="table",
        lines=[line("Item Qty", 160, 1500)],
        table=Table(rows=1, cols=2, ruled=True, cells=[Cell(row=0, col=0, bbox=(160, 1500, 700, 1700), text="Item")]),
    )
    blocks = [
        block(*prose(200)),
        block(line("Figure 2: Parcels per district.", 160, 900, width=700)),  # a figure fills 400-880
        block(line("Table 1. Items ordered", 160, 1440, width=500)),
        table,
        block(line("Table 1 shows that most items were ordered twice, as", 160, 1760), *prose(1805, rows=3)),
        block(*prose(2000, rows=2)),
    ]
    out = classify(blocks, W, H)
    assert [b.kind for b in out] == ["paragraph", "caption", "caption", "table", "paragraph", "paragraph"]
    assert out[3] is table  # a table block is left as it came


def test_cjk_caption() -> None:
    blocks = [block(*prose(200)), block(line("图 3 各地区的订单数量", 160, 1000, width=500))]
    assert [b.kind for b in classify(blocks, W, H)] == ["paragraph", "caption"]


def test_form_labels_are_not_headings() -> None:
    rows = [
        block(line("Address", 160, 600, width=130)),
        block(line("Email address", 160, 700, width=220)),
        block(line("Name: Jane Doe", 160, 800, width=260)),
    ]
    assert [b.kind for b in classify(rows, W, H)] == ["paragraph"] * 3


def test_long_line_on_a_skewed_page_is_not_large_type() -> None:
    """At 2 degrees an 1800-pixel line's upright box is about 100 pixels high, a 600-pixel one's about 60: by
    their boxes the long line would be large type; their polygons say 40 for both."""
    rows = []
    for i, width in enumerate([600, 600, 1800, 600, 600]):
        y, rise = 300 + 45 * i, int(width * 0.035)
        polygon = [(160.0, y + rise), (160.0 + width, float(y)), (160.0 + width, y + 40.0), (160.0, y + rise + 40.0)]
        rows.append(
            Line(
                text="Exclusive REPEAT function",
                bbox=(160, y, 160 + width, y + rise + 40),
                polygon=polygon,
                confidence=0.99,
            )
        )
    assert rows[2].height >= 1.4 * rows[0].height
    assert text_height(rows[2]) == pytest.approx(40, abs=1)
    assert [b.kind for b in classify([block(*rows)], W, H)] == ["paragraph"]
    unturned = [row.model_copy(update={"polygon": None}) for row in rows]  # what the boxes alone would say
    assert "title" in [b.kind for b in classify([block(*unturned)], W, H)]
