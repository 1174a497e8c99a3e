"""OCR: accuracy on rendered pages (CER with word spaces kept), reading order, inputs, outputs and bad inputs."""

from __future__ import annotations

import io
import os
import subprocess
import time
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from streamprocess.ocr import (
    Document,
    DocumentError,
    EncryptedDocument,
    OcrEngine,
    OcrOptions,
    PageTooLarge,
    TooManyPages,
)
from streamprocess.ocr.formats import to_hocr, to_txt, write_searchable_pdf
from streamprocess.ocr.options import InvalidOcrOptions

from . import documents as docs
from .helpers import ROOT, cli, cli_env
from .scoring import cer, normalise_spaces
from .script_pages import georgian_page

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine()


def ocr_image(ocr: OcrEngine, tmp_path: Path, image: Image.Image, **options: object) -> Document:
    path = tmp_path / f"page-{time.monotonic_ns()}.png"
    image.save(path, dpi=(docs.DPI, docs.DPI))
    return ocr.process(path, OcrOptions(**options))


# ---------------------------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("font_path", [docs.SANS, docs.SERIF])
def test_english_prose(engine: OcrEngine, tmp_path: Path, font_path: str) -> None:
    image, ref = docs.prose_page(font_path=font_path)
    doc = ocr_image(engine, tmp_path, image)
    assert doc.pages[0].engine == "ppocr"
    assert cer(ref, doc.pages[0].text) <= 0.02, doc.pages[0].text


def test_rotated_and_noisy(engine: OcrEngine, tmp_path: Path) -> None:
    image, ref = docs.rotated_noisy_page(2.0)
    assert cer(ref, ocr_image(engine, tmp_path, image).pages[0].text) <= 0.05


@pytest.mark.parametrize("lang, text, limit", [("chi_sim", docs.CHINESE, 0.05), ("jpn", docs.JAPANESE, 0.05)])
def test_chinese_and_japanese(engine: OcrEngine, tmp_path: Path, lang: str, text: str, limit: float) -> None:
    image, ref = docs.cjk_page(text, lang)
    doc = ocr_image(engine, tmp_path, image, languages=[lang])
    assert doc.pages[0].engine == "ppocr"
    assert cer(ref, doc.pages[0].text) <= limit, doc.pages[0].text


def test_korean_goes_to_tesseract(engine: OcrEngine, tmp_path: Path) -> None:
    image, ref = docs.cjk_page(docs.KOREAN, "kor")
    doc = ocr_image(engine, tmp_path, image, languages="ko")
    assert doc.pages[0].engine == "tesseract" and doc.pages[0].languages == ["kor"]
    assert cer(ref, doc.pages[0].text) <= 0.08, doc.pages[0].text


def test_auto_language_picks_per_page(engine: OcrEngine, tmp_path: Path) -> None:
    korean, ko_ref = docs.cjk_page(docs.KOREAN, "kor")
    english, en_ref = docs.prose_page()
    pdf = docs.save_pdf([korean, english], tmp_path / "mixed.pdf")
    doc = engine.process(pdf, OcrOptions(languages="auto"))
    assert [p.engine for p in doc.pages] == ["tesseract", "ppocr"]
    assert cer(ko_ref, doc.pages[0].text) <= 0.08 and cer(en_ref, doc.pages[1].text) <= 0.02


def test_two_columns_read_in_order(engine: OcrEngine, tmp_path: Path) -> None:
    image, ref = docs.two_column_page()
    doc = ocr_image(engine, tmp_path, image)
    assert cer(ref, doc.pages[0].text) <= 0.05, doc.pages[0].text
    text = normalise_spaces(doc.pages[0].text)
    assert text.index("returns stayed flat") < text.index("Customer calls fell")  # the left column ends first


def test_invoice_table_rows_stay_whole(engine: OcrEngine, tmp_path: Path) -> None:
    image, ref = docs.table_page()
    doc = ocr_image(engine, tmp_path, image)
    assert cer(ref, doc.pages[0].text) <= 0.03, doc.pages[0].text
    lines = [line.text for line in doc.pages[0].lines()]
    assert "Cardboard boxes large 250 1.15 287.50" in lines


def test_tesseract_engine_on_english(engine: OcrEngine, tmp_path: Path) -> None:
    image, ref = docs.prose_page()
    doc = ocr_image(engine, tmp_path, image, engine="tesseract")
    page = doc.pages[0]
    assert page.engine == "tesseract" and cer(ref, page.text) <= 0.02
    words = [w for line in page.lines() for w in line.words]
    assert len(words) > 100 and all(0 <= w.confidence <= 1 for w in words)


# ---------------------------------------------------------------------------------------------- inputs
def test_multi_page_pdf_and_tiff(engine: OcrEngine, tmp_path: Path) -> None:
    pages = [docs.prose_page()[0], docs.table_page()[0], docs.two_column_page()[0]]
    for path in (docs.save_pdf(pages, tmp_path / "three.pdf"), docs.save_tiff(pages, tmp_path / "three.tiff")):
        seen = []
        doc = engine.process(path, progress=lambda done, total, seen=seen: seen.append((done, total)))
        assert [p.index for p in doc.pages] == [1, 2, 3]
        assert "routing software" in doc.pages[0].text and "INVOICE" in doc.pages[1].text
        assert seen == [(1, 3), (2, 3), (3, 3)]


def test_exif_orientation_is_honoured(engine: OcrEngine, tmp_path: Path) -> None:
    image, ref = docs.prose_page()
    turned = image.rotate(90, expand=True)  # stored sideways, with EXIF saying "rotate 270° to view"
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    turned.save(path, exif=exif, quality=92)
    doc = engine.process(path)
    assert doc.pages[0].width < doc.pages[0].height and cer(ref, doc.pages[0].text) <= 0.02


def test_pdf_text_layer_can_skip_ocr(engine: OcrEngine, tmp_path: Path) -> None:
    image, ref = docs.prose_page()
    scanned = docs.save_pdf([image], tmp_path / "scan.pdf")
    first = engine.process(scanned)
    images = [tmp_path / "p1.png"]
    image.save(images[0])
    searchable = tmp_path / "searchable.pdf"
    write_searchable_pdf(first, images, searchable)
    doc = engine.process(searchable, OcrOptions(text_layer=True))
    assert doc.pages[0].engine == "text-layer" and cer(ref, doc.pages[0].text) <= 0.02


def test_searchable_pdf_has_the_text(engine: OcrEngine, tmp_path: Path) -> None:
    pages = [docs.prose_page()[0], docs.table_page()[0]]
    pdf = docs.save_pdf(pages, tmp_path / "in.pdf")
    images: list[Path] = []

    def keep(page, result) -> None:  # type: ignore[no-untyped-def]
        images.append(tmp_path / f"img{page.index}.jpg")
        page.image.save(images[-1], quality=90)

    doc = engine.process(pdf, on_page=keep)
    out = tmp_path / "out.pdf"
    write_searchable_pdf(doc, images, out)
    reader = pdfium.PdfDocument(str(out))
    try:
        assert len(reader) == 2
        for i, page in enumerate(doc.pages):
            layer = reader[i].get_textpage().get_text_range()
            assert cer(page.text, layer) <= 0.05, layer[:300]
        width, height = reader[0].get_size()
        assert abs(width - 8.27 * 72) < 2 and abs(height - 11.69 * 72) < 2  # page size kept
    finally:
        reader.close()
    hocr = to_hocr(doc)
    assert hocr.count('class="ocr_page"') == 2 and 'class="ocrx_word"' in hocr and "x_wconf" in hocr
    assert to_txt(doc).count("\f") == 1


# ---------------------------------------------------------------------------------------------- bad inputs
def _encrypted_pdf(tmp_path: Path) -> Path:
    import pikepdf

    plain = docs.save_pdf([docs.prose_page()[0]], tmp_path / "plain.pdf")
    out = tmp_path / "locked.pdf"
    with pikepdf.open(plain) as pdf:
        pdf.save(out, encryption=pikepdf.Encryption(owner="o", user="secret"))
    return out


def test_bad_inputs_fail_clearly_and_fast(engine: OcrEngine, tmp_path: Path) -> None:
    png = io.BytesIO()
    docs.prose_page()[0].save(png, "PNG")
    pdf = docs.save_pdf([docs.prose_page()[0]], tmp_path / "ok.pdf").read_bytes()
    bomb = tmp_path / "bomb.png"
    Image.new("1", (12_000, 12_000)).save(bomb)  # 144 megapixels in a small file
    cases: list[tuple[str, bytes | Path, type[Exception], str]] = [
        ("empty.png", b"", DocumentError, "empty"),
        ("text.png", b"just some text, not an image", DocumentError, "not a readable image"),
        ("truncated.png", png.getvalue()[: len(png.getvalue()) // 3], DocumentError, "truncated|cannot"),
        ("truncated.pdf", pdf[: len(pdf) // 2], DocumentError, "PDF"),
        ("locked.pdf", _encrypted_pdf(tmp_path), EncryptedDocument, "encrypted"),
        ("bomb.png", bomb, PageTooLarge, "megapixels"),
    ]
    for name, data, error, fragment in cases:
        path = data if isinstance(data, Path) else tmp_path / name
        if not isinstance(data, Path):
            path.write_bytes(data)
        start = time.monotonic()
        with pytest.raises(error, match=fragment):
            engine.process(path)
        assert time.monotonic() - start < 10, name


def test_page_and_pixel_limits(tmp_path: Path) -> None:
    pdf = docs.save_pdf([Image.new("RGB", (200, 200), "white")] * 4, tmp_path / "four.pdf")
    with pytest.raises(TooManyPages, match="4 pages is over the 3-page limit"):
        OcrEngine(max_pages=3).process(pdf)
    with pytest.raises(PageTooLarge, match="limit"):
        OcrEngine(max_pixels=10_000).process(pdf)


def test_unknown_language_is_a_clear_error(engine: OcrEngine, tmp_path: Path) -> None:
    with pytest.raises(InvalidOcrOptions, match="no OCR engine here reads xyz"):
        engine.process(tmp_path / "missing.png", OcrOptions(languages="xyz"))
    with pytest.raises(InvalidOcrOptions, match="PP-OCR reads"):
        engine.process(tmp_path / "missing.png", OcrOptions(languages="kor", engine="ppocr"))
    opts = OcrOptions.from_mapping({"lang": "en,ja", "dpi": "300", "text-layer": "true"})
    assert (opts.languages, opts.dpi, opts.text_layer) == (["eng", "jpn"], 300, True)


def test_document_loads_from_its_json() -> None:
    """ocr.json (as the ocr processor writes it) reads back into the same typed Document."""
    from streamprocess.ocr.formats import to_json
    from streamprocess.ocr.types import Block, Line, Page, Word

    line = Line(
        text="Hello world",
        bbox=(10, 20, 200, 40),
        polygon=[(10.0, 20.0), (200.0, 20.0), (200.0, 40.0), (10.0, 40.0)],
        confidence=0.97,
        words=[
            Word(text="Hello", bbox=(10, 20, 90, 40), confidence=0.98),
            Word(text="world", bbox=(100, 20, 200, 40), confidence=0.96),
        ],
    )
    page = Page(
        index=1,
        width=640,
        height=480,
        dpi=200.0,
        engine="ppocr",
        languages=["eng"],
        blocks=[Block(bbox=(10, 20, 200, 40), lines=[line])],
        timings={"total": 0.1},
    )
    doc = Document(pages=[page], engine="ppocr", languages=["eng"], timings={"total": 0.1})
    text = to_json(doc)
    assert Document.from_json(text) == doc
    assert Document.from_json(text.encode()).text == "Hello world"


# ---------------------------------------------------------------------------------------------- CLI and pipeline
def test_cli_ocr(tmp_path: Path) -> None:
    image, ref = docs.prose_page()
    image.save(tmp_path / "page.png")
    out = subprocess.run(
        cli("ocr", str(tmp_path / "page.png")), env=cli_env(), cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert cer(ref, out.stdout) <= 0.02
    out = subprocess.run(
        cli("ocr", str(tmp_path / "page.png"), str(ROOT / "README.md"), "-f", "pdf", "-o", "out"),
        env=cli_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1 and "README.md" in out.stderr
    assert (tmp_path / "out" / "page.pdf").read_bytes().startswith(b"%PDF")
    # Markdown on stdout; a page with ink in no installed language says so on stderr (and still succeeds).
    georgian_page()[0].save(tmp_path / "georgian.png")
    out = subprocess.run(
        cli("ocr", str(tmp_path / "page.png"), str(tmp_path / "georgian.png"), "-f", "md"),
        env=cli_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    first, second = out.stdout.split(f"==> {tmp_path / 'georgian.png'} <==")
    assert first.startswith(f"==> {tmp_path / 'page.png'} <==\n<!-- page 1 -->")
    assert cer(ref, first.split("<!-- page 1 -->")[1]) <= 0.05 and second.strip() == "<!-- page 1 -->"
    assert "georgian.png page 1: warning: " in out.stderr and "page.png page" not in out.stderr


async def test_ocr_jobs_through_the_pipeline(tmp_path: Path) -> None:
    from streamprocess.jobs import JobState

    from .helpers import Pipeline

    pipeline = Pipeline(tmp_path, ocr_processor="ocr")
    try:
        pipeline.start_worker()
        pdf = docs.save_pdf([docs.prose_page()[0], docs.table_page()[0]], tmp_path / "in.pdf")
        await pipeline.drop("scans/report.pdf", pdf.read_bytes())
        await pipeline.drop("broken.pdf", b"%PDF-1.7\n" + os.urandom(2000))
        done = await pipeline.wait_state("report.pdf", JobState.succeeded, timeout=120)
        assert set(done.results) == {"ocr.json", "ocr.txt", "ocr.hocr", "ocr.md", "tables.html", "ocr.pdf"}
        assert done.summary["pages"] == 2 and done.progress is not None and done.progress.fraction == 1.0
        results = Path(pipeline.settings.data_dir) / "results" / done.job_id
        doc = Document.model_validate_json((results / "ocr.json").read_text())
        assert len(doc.pages) == 2 and cer(docs.prose_page()[1], doc.pages[0].text) <= 0.02
        bad = await pipeline.wait_state("broken.pdf", JobState.failed, timeout=60)
        assert bad.error is not None and bad.error.code == "corrupt_media" and bad.attempts == 1
    finally:
        pipeline.stop()


def test_onnxruntime_and_openvino_read_alike(tmp_path: Path) -> None:
    """PP-OCR runs on OpenVINO when installed, else onnxruntime: the same models, the same text."""
    from streamprocess.ocr.engines.ppocr import openvino_available

    image, ref = docs.two_column_page()
    texts = {}
    for runtime in ("onnxruntime", "openvino") if openvino_available() else ("onnxruntime",):
        ocr = OcrEngine(runtime=runtime)
        assert ocr.ppocr.runtime == runtime
        texts[runtime] = ocr_image(ocr, tmp_path, image).pages[0].text
        assert cer(ref, texts[runtime]) <= 0.05
    assert len(set(texts.values())) == 1


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_orientation_turns_pages_upright(engine: OcrEngine, tmp_path: Path, degrees: int) -> None:
    image, ref = docs.prose_page()
    doc = ocr_image(engine, tmp_path, image.rotate(degrees, expand=True), orientation=True)
    assert doc.pages[0].rotation == degrees
    assert cer(ref, doc.pages[0].text) <= 0.02


def test_mixed_korean_japanese_chinese_page(engine: OcrEngine, tmp_path: Path) -> None:
    """Tesseract with kor+jpn+chi_sim together reads a page that mixes the three."""
    img = docs.blank()
    parts = [(docs.KOREAN[:36], "kor"), (docs.JAPANESE[:28], "jpn"), (docs.CHINESE[:28], "chi_sim")]
    y = int(0.8 * docs.DPI)
    for text, lang in parts:
        y = docs.draw_lines(img, [text], int(0.8 * docs.DPI), y, docs.font(docs.CJK, 12, docs.CJK_INDEX[lang]), 2.0)
    doc = ocr_image(engine, tmp_path, img, languages="kor+jpn+chi_sim")
    assert doc.pages[0].engine == "tesseract"
    assert cer("\n".join(t for t, _ in parts), doc.pages[0].text) <= 0.08, doc.pages[0].text


@pytest.mark.parametrize("fmt, suffix", [("BMP", ".bmp"), ("WEBP", ".webp"), ("JPEG", ".jpg"), ("GIF", ".gif")])
def test_other_image_formats(engine: OcrEngine, tmp_path: Path, fmt: str, suffix: str) -> None:
    from streamprocess.media import SNIFF_BYTES, detect

    image, ref = docs.prose_page()
    path = tmp_path / f"page{suffix}"
    image.save(path, fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    assert detect(path.read_bytes()[:SNIFF_BYTES]).kind == "ocr"
    assert cer(ref, engine.process(path).pages[0].text) <= 0.02
