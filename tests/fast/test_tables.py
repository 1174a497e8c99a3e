"""Tables in-process: ruling lines found in small rendered images, ruled and unruled grids built from lines and words
placed by hand, the table block's place among the page's blocks, and the Markdown and HTML renderings."""

from __future__ import annotations

from html.parser import HTMLParser

from PIL import Image, ImageDraw

from streamprocess.kinds import OCR
from streamprocess.ocr.formats import TEXT_RENDERERS, to_markdown, to_tables_html
from streamprocess.ocr.gutters import PageGeometry
from streamprocess.ocr.rules import Rule, clusters, find_rules
from streamprocess.ocr.tables import find_tables
from streamprocess.ocr.types import Block, BlockKind, Box, Cell, Document, Line, Page, Table, Word

W, H = 1000, 800  # the test page; 1/400 of its width is the tables' tolerance (3 px at least)
CHAR = 14  # width of a character of the made-up words, in pixels


def line(y: int, *phrases: tuple[int, str], h: int = 30) -> Line:
    """A line of words at height ``y``: each phrase (x, text) starts at its x, one word box per word."""
    words: list[Word] = []
    for x, phrase in phrases:
        for word in phrase.split():
            words.append(Word(text=word, bbox=(x, y, x + CHAR * len(word), y + h), confidence=0.9))
            x += CHAR * (len(word) + 1)
    box = (min(w.bbox[0] for w in words), y, max(w.bbox[2] for w in words), y + h)
    return Line(text=" ".join(w.text for w in words), bbox=box, confidence=0.9, words=words)


def block(kind: BlockKind, lines: list[Line]) -> Block:
    box: Box = (
        min(line.bbox[0] for line in lines),
        min(line.bbox[1] for line in lines),
        max(line.bbox[2] for line in lines),
        max(line.bbox[3] for line in lines),
    )
    return Block(bbox=box, kind=kind, lines=lines)


def blank() -> Image.Image:
    return Image.new("RGB", (W, H), "white")


# ---------------------------------------------------------------------------------------------- rules
def ruled_image(xs: list[int], ys: list[int], gaps: set[tuple[int, int]] = frozenset(), width: int = 3) -> Image.Image:
    """Horizontal rules at ``ys`` and vertical ones at ``xs``; a vertical rule ``xs[i]`` is left out across row r
    for each (r, i) in ``gaps``."""
    image = blank()
    d = ImageDraw.Draw(image)
    for y in ys:
        d.line([(xs[0], y), (xs[-1], y)], fill="black", width=width)
    for i, x in enumerate(xs):
        for r in range(len(ys) - 1):
            if (r, i) not in gaps:
                d.line([(x, ys[r]), (x, ys[r + 1])], fill="black", width=width)
    return image


def test_find_rules_on_a_grid_and_none_in_text() -> None:
    image = ruled_image([100, 400, 700], [200, 260, 320, 380])
    rules = find_rules(image)
    horizontal = sorted(r.pos for r in rules if r.horizontal)
    vertical = sorted(r.pos for r in rules if not r.horizontal)
    assert [round(p) for p in horizontal] == [200, 260, 320, 380]
    assert [round(p) for p in vertical] == [100, 400, 700]
    assert all(r.length >= 179 for r in rules if not r.horizontal)
    assert len(clusters(rules, 3)) == 1
    text = blank()
    d = ImageDraw.Draw(text)
    for i in range(10):
        d.text((100, 100 + 40 * i), "Lorem ipsum dolor sit amet, |||| llll IIII ---- ____", fill="black")
    assert find_rules(text) == []


def test_an_underline_alone_is_no_cluster_and_a_filled_area_is_no_rule() -> None:
    image = blank()
    d = ImageDraw.Draw(image)
    d.line([(100, 300), (600, 300)], fill="black", width=3)  # an underline
    d.rectangle([100, 500, 600, 700], fill="black")  # a photograph, say
    rules = find_rules(image)
    assert [(r.horizontal, round(r.pos)) for r in rules] == [(True, 300)]
    assert clusters(rules, 3) == []
    assert Rule(True, 300, 100, 600, 3).meets(Rule(False, 598, 300, 400, 3), 3)
    assert not Rule(True, 300, 100, 600, 3).meets(Rule(False, 610, 300, 400, 3), 3)


def test_find_rules_in_the_deskewed_frame() -> None:
    image = ruled_image([100, 400, 700], [200, 260, 320, 380]).rotate(2, fillcolor="white")  # as -2° skew
    rules = find_rules(image, -2.0)
    assert sorted(round(r.pos) for r in rules if r.horizontal) == [200, 260, 320, 380]
    assert sorted(round(r.pos) for r in rules if not r.horizontal) == [100, 400, 700]


# ---------------------------------------------------------------------------------------------- ruled tables
def test_ruled_table_grid_spans_and_place() -> None:
    xs, ys = [100, 400, 600, 800], [200, 260, 320, 380]
    image = ruled_image(xs, ys, gaps={(0, 1), (0, 2), (2, 2)})  # row 0: one cell; row 2: columns 1-2 one cell
    before = Block(bbox=(100, 100, 500, 130), kind="paragraph", lines=[line(100, (100, "Figures below"))])
    # The layout joins a table row into one line: it crosses the rules and is cut by its words.
    rows = [
        line(215, (110, "Quarterly report")),
        line(275, (110, "Depot"), (410, "Parcels"), (610, "Returns")),
        line(335, (110, "Airport"), (410, "closed for repairs")),
    ]
    after = line(420, (100, "Notes follow"))
    blocks = [before, block("text", [*rows, after])]
    out = find_tables(image, None, blocks, cjk=False)
    assert [b.kind for b in out] == ["paragraph", "table", "text"]
    assert out[0] is before and out[2].lines == [after]
    table = out[1].table
    assert table is not None and table.ruled and (table.rows, table.cols) == (3, 3)
    assert table.grid() == [
        ["Quarterly report", "", ""],
        ["Depot", "Parcels", "Returns"],
        ["Airport", "closed for repairs", ""],
    ]
    spans = {(c.row, c.col): (c.row_span, c.col_span) for c in table.cells}
    assert spans == {(0, 0): (1, 3), (1, 0): (1, 1), (1, 1): (1, 1), (1, 2): (1, 1), (2, 0): (1, 1), (2, 1): (1, 2)}
    cell = next(c for c in table.cells if (c.row, c.col) == (2, 1))
    assert all(abs(a - b) <= 3 for a, b in zip(cell.bbox, (400, 320, 800, 380), strict=True))
    assert [line.text for line in out[1].lines] == [line.text for line in rows]
    assert all(abs(a - b) <= 3 for a, b in zip(out[1].bbox, (100, 200, 800, 380), strict=True))


def test_ruled_table_without_outer_border_and_rule_glyphs_dropped() -> None:
    image = blank()
    d = ImageDraw.Draw(image)
    for y in (200, 260, 320):  # horizontal rules across; one vertical rule between the two columns, no border
        d.line([(100, y), (700, y)], fill="black", width=3)
    d.line([(400, 200), (400, 320)], fill="black", width=3)
    rows = [line(215, (110, "Name"), (398, "|"), (410, "Value")), line(275, (110, "Depth"), (410, "12 m"))]
    out = find_tables(image, None, [block("text", rows)], cjk=False)
    assert len(out) == 1 and out[0].table is not None
    assert out[0].table.grid() == [["Name", "Value"], ["Depth", "12 m"]]


def test_a_box_around_text_is_not_a_table() -> None:
    image = ruled_image([100, 800], [200, 400])
    text = block("paragraph", [line(220, (120, "A boxed note")), line(260, (120, "two lines"))])
    assert find_tables(image, None, [text], cjk=False) == [text]


def test_skewed_page_ruled_table() -> None:
    geometry = PageGeometry(W, H, -2.0)
    image = ruled_image([100, 400, 700], [200, 260, 320]).rotate(2, fillcolor="white")
    inverse = PageGeometry(W, H, 2.0)  # deskewed frame → page

    def placed(x: int, y: int, text: str) -> Line:
        cx, cy = inverse.deskew(x + CHAR * len(text) / 2, y + 15)
        box = (round(cx - CHAR * len(text) / 2), round(cy - 15), round(cx + CHAR * len(text) / 2), round(cy + 15))
        return Line(text=text, bbox=box, confidence=0.9, words=[Word(text=text, bbox=box, confidence=0.9)])

    lines = [placed(110, 215, "Alpha"), placed(410, 215, "Beta"), placed(110, 275, "Gamma"), placed(410, 275, "Delta")]
    out = find_tables(image, geometry, [block("text", lines)], cjk=False)
    assert len(out) == 1 and out[0].table is not None
    assert out[0].table.grid() == [["Alpha", "Beta"], ["Gamma", "Delta"]]


# ---------------------------------------------------------------------------------------------- unruled tables
def test_unruled_table_columns_from_shared_gaps_and_a_spanning_heading() -> None:
    rows = [
        line(100, (100, "Route"), (400, "Stops"), (600, "Driver")),
        line(140, (100, "North loop"), (400, "14"), (600, "Maria")),
        line(180, (100, "Harbour"), (400, "9"), (600, "Tomas")),
        line(220, (100, "Weekend service from May"), (600, "Ahmed")),  # runs across the second column's strip
        line(260, (100, "Night express"), (400, "11"), (600, "Peter")),
    ]
    out = find_tables(blank(), None, [block("table", rows)], cjk=False)
    table = out[0].table
    assert out[0].kind == "table" and table is not None and not table.ruled
    assert table.grid() == [
        ["Route", "Stops", "Driver"],
        ["North loop", "14", "Maria"],
        ["Harbour", "9", "Tomas"],
        ["Weekend service from May", "", "Ahmed"],
        ["Night express", "11", "Peter"],
    ]
    assert [(c.row, c.col, c.col_span) for c in table.cells if c.col_span > 1] == [(3, 0, 2)]
    assert out[0].lines == rows  # the rows as the layout gave them


def test_aligned_regions_one_under_another_are_one_table() -> None:
    """The layout cuts a table whose rows are spaced wide into regions; those close under one another join."""
    rows = [line(100 + 70 * i, (100, f"Route {i}"), (400, f"{i + 10}"), (600, "Maria")) for i in range(4)]
    far = line(600, (100, "Route 9"), (400, "19"), (600, "Peter"))  # 5 line heights below: another table
    blocks = [block("table", rows[:1]), block("table", rows[1:3]), block("table", rows[3:]), block("table", [far])]
    out = find_tables(blank(), None, blocks, cjk=False)
    assert [b.kind for b in out] == ["table", "text"] and out[1].lines == [far]
    assert out[0].table is not None and out[0].table.grid() == [[f"Route {i}", f"{i + 10}", "Maria"] for i in range(4)]
    assert out[0].lines == rows


def test_cjk_words_join_without_spaces_and_latin_words_with() -> None:
    rows = [
        line(100, (100, "产 品"), (400, "价 格"), (600, "Night express")),
        line(140, (100, "纸 箱"), (400, "1.15"), (600, "North loop")),
    ]
    table = find_tables(blank(), None, [block("table", rows)], cjk=True)[0].table
    assert table is not None and table.grid() == [["产品", "价格", "Night express"], ["纸箱", "1.15", "North loop"]]


def test_aligned_rows_of_one_column_are_text() -> None:
    lines = [line(100 + 40 * i, (100, f"Item number {i} in a list")) for i in range(4)]
    out = find_tables(blank(), None, [block("table", lines)], cjk=False)
    assert [b.kind for b in out] == ["text"] and out[0].table is None and out[0].lines == lines


def test_text_blocks_without_rules_are_untouched() -> None:
    blocks = [block("title", [line(50, (100, "Title"))]), block("paragraph", [line(100, (100, "A b"))])]
    assert find_tables(blank(), None, blocks, cjk=False) == blocks


# ---------------------------------------------------------------------------------------------- renderings
def sample_doc() -> Document:
    table = Table(
        rows=3,
        cols=3,
        ruled=True,
        cells=[
            Cell(row=0, col=0, col_span=3, bbox=(0, 0, 30, 10), text="Report <Q3>"),
            Cell(row=1, col=0, bbox=(0, 10, 10, 20), text="a|b"),
            Cell(row=1, col=1, row_span=2, bbox=(10, 10, 20, 30), text="tall"),
            Cell(row=1, col=2, bbox=(20, 10, 30, 20), text="-2%"),
            Cell(row=2, col=0, bbox=(0, 20, 10, 30), text="1 & 2"),
            Cell(row=2, col=2, bbox=(20, 20, 30, 30), text=""),
        ],
    )

    def b(kind: BlockKind, *texts: str) -> Block:
        return Block(
            bbox=(0, 0, 1, 1), kind=kind, lines=[Line(text=t, bbox=(0, 0, 1, 1), confidence=1.0) for t in texts]
        )

    blocks = [
        b("header", "Page header"),
        b("title", "Weekly *review*"),
        b("paragraph", "First line", "# not a heading"),
        b("list", "• one", "- two"),
        Block(bbox=(0, 0, 30, 30), kind="table", lines=[], table=table),
        b("caption", "Figure 1. Routes"),
    ]
    page = Page(index=1, width=100, height=100, dpi=200, engine="ppocr", blocks=blocks)
    page2 = Page(index=2, width=100, height=100, dpi=200, engine="ppocr", blocks=[b("text", "1. Second page")])
    return Document(pages=[page, page2], engine="ppocr")


def test_markdown_of_the_whole_document() -> None:
    assert to_markdown(sample_doc()) == (
        "<!-- page 1 -->\n\n"
        "Page header\n\n"
        "# Weekly \\*review\\*\n\n"
        "First line\n\\# not a heading\n\n"
        "- one\n- two\n\n"
        "| Report \\<Q3\\> |  |  |\n|---|---|---|\n| a\\|b | tall | -2% |\n| 1 & 2 |  |  |\n\n"
        "*Figure 1. Routes*\n\n"
        "---\n\n"
        "<!-- page 2 -->\n\n"
        "1\\. Second page\n"
    )


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta",):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, (tag, self.open)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    tags.close()
    assert tags.open == [], tags.open  # every element closed, in order
    return tags


def test_tables_html_spans_and_escaping() -> None:
    html = to_tables_html(sample_doc())
    assert html.startswith("<!DOCTYPE html>")
    tags = parse(html)
    names = [t for t, _ in tags.tags]
    assert names.count("table") == 1 and names.count("tr") == 3 and names.count("td") == 6
    spans = [(a.get("rowspan"), a.get("colspan")) for t, a in tags.tags if t == "td" and len(a)]
    assert spans == [(None, "3"), ("2", None)]
    assert "Page 1, table 1" in tags.text and "Report <Q3>" in tags.text and "1 & 2" in tags.text
    assert "&lt;Q3&gt;" in html and "1 &amp; 2" in html


def test_tables_html_without_tables() -> None:
    doc = Document(pages=[Page(index=1, width=1, height=1, dpi=200, engine="ppocr")], engine="ppocr")
    tags = parse(to_tables_html(doc))
    assert "table" not in [t for t, _ in tags.tags] and any("No tables" in t for t in tags.text)


def test_every_ocr_result_but_the_pdf_has_a_renderer() -> None:
    assert {r.format for r in OCR.results} - {"pdf"} == set(TEXT_RENDERERS)
    md, html = OCR.result("md"), OCR.result("html")
    assert md is not None and md.name == "ocr.md" and html is not None and html.name == "tables.html"
    assert OCR.media_types()["ocr.md"].startswith("text/markdown")
    assert OCR.media_types()["tables.html"].startswith("text/html")
