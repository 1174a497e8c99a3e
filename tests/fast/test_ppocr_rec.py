"""PP-OCR's recognition on OpenVINO (:class:`streamprocess.ocr.engines.ppocr.StreamedRec`): batches padded to width
buckets, split over single-threaded streams, the best class per step computed in the model, English read with the
Latin classes only, and a page that may hold Chinese too read with them first. Checked against rapidocr's own session
on rendered text lines: the same text."""

from __future__ import annotations

import platform

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from streamprocess.ocr.engines.ppocr import REC_WIDTH_STEP, BestClass, LatinFirst, PPOCREngine, latin_classes

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"  # face 2: simplified Chinese
CHINESE = "光学字符识别将图像转换为文本"
LINES = [
    "Invoice 2024-117",
    "Total due: $1,250.00",
    "The quick brown fox jumps over the lazy dog",
    "Recording a Sequence: press RECORD, then PLAY.",
    "Composition Without Compromise",
    "42",
    "See your dealer today for a demonstration of the new features",
]


def test_latin_classes_are_the_blank_latin_letters_punctuation_and_the_space() -> None:
    # rapidocr's dictionary order: the CTC blank first, the space last.
    characters = ["blank", "a", "Z", "é", "ß", "½", "•", "€", "中", "ア", "Ж", "α", "한", " "]
    kept = [characters[i] for i in latin_classes(characters)]
    assert kept == ["blank", "a", "Z", "é", "ß", "½", "•", "€", " "]


def test_best_class_answers_the_decoders_two_calls_only() -> None:
    indices, scores = np.array([[3, 0, 5]], dtype=np.int32), np.array([[0.9, 0.5, 0.7]], dtype=np.float32)
    best = BestClass(indices, scores)
    assert best.shape == (1, 3) and len(best) == 1
    assert best.argmax(axis=2).tolist() == [[3, 0, 5]]
    assert best.max(axis=-1)[0].tolist() == pytest.approx([0.9, 0.5, 0.7])
    with pytest.raises(NotImplementedError):
        best.argmax(axis=1)


def _crop(text: str) -> np.ndarray:
    font = ImageFont.truetype(FONT, 36)
    width = int(font.getlength(text)) + 24
    image = Image.new("RGB", (width, 60), "white")
    ImageDraw.Draw(image).text((12, 8), text, font=font, fill="black")
    return np.asarray(image)


@pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64"), reason="OpenVINO is a dependency on x86 only (pyproject.toml)"
)
def test_streamed_recognition_reads_as_rapidocrs_own_session() -> None:
    from rapidocr.ch_ppocr_rec import TextRecInput

    engine = PPOCREngine(runtime="openvino", threads=2)
    rec = engine._text_rec
    crops = [_crop(t) for t in LINES]
    streamed = rec.session = engine._rec_session("all")
    assert streamed.streams == 2
    ours = rec(TextRecInput(img=crops, return_word_box=True))
    latin = engine._rec_session("latin")
    assert len(latin.classes) < 2000  # of the 18,710
    rec.session = latin
    ours_latin = rec(TextRecInput(img=crops, return_word_box=True))

    engine._ocr.text_rec = None  # rapidocr's own session: one request, unpadded widths, the whole softmax out
    theirs = engine._ocr._load_rec_model()(TextRecInput(img=crops, return_word_box=True))

    assert list(ours.txts) == list(theirs.txts) == LINES
    assert list(ours_latin.txts) == LINES
    # Steps are cut back to the unpadded batch, so the word positions the decoder derives from them agree: the
    # padding changes what the model sees a little, by a step (8 px of the 48-px crop) at most.
    for a, b in zip(ours.word_results, theirs.word_results, strict=True):
        assert a.line_txt_len == pytest.approx(b.line_txt_len)
        cols_a, cols_b = sum(a.word_cols, []), sum(b.word_cols, [])
        assert len(cols_a) == len(cols_b) and max(abs(x - y) for x, y in zip(cols_a, cols_b, strict=True)) <= 1
    # A batch whose width is not a multiple of the bucket is padded, answered, and cut back.
    batch = np.random.default_rng(0).random((3, 3, 48, 330), dtype=np.float32)
    best = streamed(batch)
    assert 330 % REC_WIDTH_STEP and best.shape == (3, 41)  # (330 + 3) // 8 steps, as the model gives unpadded

    # The engine reads an English page with the Latin classes, a Chinese one with the whole dictionary, and a page
    # that may hold both (lang=auto) with the Latin classes first, then every class for the lines they read badly.
    engine._ocr.text_rec = rec
    page = Image.new("RGB", (1400, 300), "white")
    page.paste(Image.fromarray(crops[2]), (40, 40))
    assert [line.text for line in engine.recognize(page, ["eng"])] == [LINES[2]]
    assert rec.session is latin and engine._ocr.text_rec is rec
    engine.recognize(page, ["chi_sim"])
    assert rec.session is streamed
    ImageDraw.Draw(page).text((40, 180), CHINESE, font=ImageFont.truetype(CJK, 40, index=2), fill="black")
    assert [line.text for line in engine.recognize(page, ["chi_sim", "eng", "jpn"])] == [LINES[2], CHINESE]
    assert isinstance(engine._ocr.text_rec, LatinFirst) and rec.session is streamed  # the Chinese line, read again
