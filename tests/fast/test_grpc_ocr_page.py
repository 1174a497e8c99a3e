"""The gRPC OCR door carries everything ``ocr.json`` has: typed blocks, tables with their cells and spans, form
fields, checkboxes, warnings and each line's script."""

from __future__ import annotations

from streamprocess.grpc_server.ocr import to_page
from streamprocess.ocr.types import Block, Cell, Checkbox, FormField, Line, Page, Table


def test_tables_fields_checkboxes_and_warnings_reach_the_grpc_page() -> None:
    table = Table(
        rows=2,
        cols=2,
        ruled=True,
        cells=[
            Cell(row=0, col=0, col_span=2, bbox=(0, 0, 200, 20), text="Totals"),
            Cell(row=1, col=0, bbox=(0, 20, 100, 40), text="a"),
            Cell(row=1, col=1, bbox=(100, 20, 200, 40), text="1"),
        ],
    )
    hangul = Line(text="안녕하세요", bbox=(0, 50, 90, 70), confidence=0.9, script="Hangul", engine="tesseract")
    page = Page(
        index=1,
        width=300,
        height=400,
        dpi=300,
        engine="ppocr+tesseract",
        blocks=[
            Block(bbox=(0, 0, 200, 40), kind="table", table=table, lines=[]),
            Block(bbox=(0, 50, 90, 70), kind="title", lines=[hangul]),
        ],
        fields=[
            FormField(key="Name", value="Ada", key_bbox=(0, 80, 40, 95), value_bbox=(50, 80, 90, 95)),
            FormField(key="Date", value="1 May", key_bbox=(0, 100, 40, 115)),
        ],
        checkboxes=[Checkbox(label="Yes", checked=True, bbox=(0, 120, 12, 132))],
        warnings=["no text read"],
    )
    out = to_page(page)
    assert [b.kind for b in out.blocks] == ["table", "title"]
    got = out.blocks[0].table
    assert (got.rows, got.cols, got.ruled) == (2, 2, True)
    assert [(c.row, c.col, c.row_span, c.col_span, c.text) for c in got.cells] == [
        (0, 0, 1, 2, "Totals"),
        (1, 0, 1, 1, "a"),
        (1, 1, 1, 1, "1"),
    ]
    assert list(got.cells[0].bbox) == [0, 0, 200, 20]
    assert not out.blocks[1].HasField("table")
    line = out.blocks[1].lines[0]
    assert (line.text, line.script, line.engine) == ("안녕하세요", "Hangul", "tesseract")
    assert [(f.key, f.value, list(f.value_bbox)) for f in out.fields] == [
        ("Name", "Ada", [50, 80, 90, 95]),
        ("Date", "1 May", []),
    ]
    assert [(c.label, c.checked) for c in out.checkboxes] == [("Yes", True)]
    assert list(out.warnings) == ["no text read"]
