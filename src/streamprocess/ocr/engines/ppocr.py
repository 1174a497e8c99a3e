"""PaddleOCR's PP-OCR models (PP-OCRv6 small detection and recognition, ONNX) run by rapidocr on onnxruntime.

The models ship inside the ``rapidocr`` wheel: nothing is downloaded. They read English, Chinese and Japanese, not
Korean (no Hangul in the dictionary). The per-line angle classifier is off: it flipped upright English lines, and the
page orientation is decided once per page instead. Detection runs on the page scaled so its longer side is at most
``det_side`` pixels.

The models run on OpenVINO when it is installed (x86 CPUs): the same ONNX files, the same output, and 3–4× faster
than onnxruntime on this project's CPU benchmark (bench/ocr.py); otherwise on onnxruntime, with its memory arena on.

With ``triton`` options the models run on a Triton Inference Server instead (engine name ``triton``): rapidocr's
pre- and post-processing stay here, its stage sessions are swapped for remote ones (:mod:`..triton.client`), and
pages are read concurrently (no lock: the server batches).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from PIL import Image

from ..types import Line, Word

if TYPE_CHECKING:  # rapidocr loads its models' runtimes: imported when an engine is made
    from rapidocr.utils.output import RapidOCROutput

    from ..triton.client import TritonConnection, TritonOptions

LANGUAGES = frozenset({"eng", "chi_sim", "jpn"})


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


#: rapidocr's Global.max_side_len below: it first scales a page down to this longer side, rounding both sides to
#: multiples of 32, so a strip thinner than about 1/250 of its length becomes 0 pixels wide and rapidocr raises.
MAX_SIDE = 4000


def _widen_strip(image: Image.Image) -> Image.Image | None:
    """A very thin, long page (1×20000) padded with white on the right or bottom so its short side survives that
    scaling (coordinates of what is found stay those of the original page); None for a strip so long that the
    padding would be large (over 16 MP): at that scale no line of text fits in it."""
    w, h = image.size
    need = -(-max(w, h) * 32 // MAX_SIDE)  # short side that scales to 32 px
    if max(w, h) <= MAX_SIDE or min(w, h) >= need:
        return image
    if max(w, h) * need > MAX_SIDE * MAX_SIDE:
        return None
    padded = Image.new("RGB", (need, h) if w < h else (w, need), "white")
    padded.paste(image.convert("RGB"), (0, 0))
    return padded


class PPOCREngine:
    name = "ppocr"
    languages = LANGUAGES
    runtime: str

    def __init__(
        self, *, det_side: int = 960, threads: int = 0, runtime: str = "auto", triton: TritonOptions | None = None
    ) -> None:
        from rapidocr import EngineType, RapidOCR

        if triton is not None:  # the local sessions only live until attach() swaps them: the lightest runtime
            runtime = "onnxruntime"
        elif runtime == "auto":
            runtime = "openvino" if openvino_available() else "onnxruntime"
        self.runtime = runtime
        params: dict[str, object] = {
            "Global.use_cls": False,
            "Global.return_word_box": True,
            "Global.log_level": "warning",
            "Global.max_side_len": MAX_SIDE,
            "Det.limit_type": "max",
            "Det.limit_side_len": det_side,
            "EngineConfig.onnxruntime.enable_cpu_mem_arena": True,
        }
        if runtime == "openvino":
            params["Det.engine_type"] = params["Rec.engine_type"] = EngineType.OPENVINO
            if threads:
                params["EngineConfig.openvino.inference_num_threads"] = threads
        elif threads:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = threads
        self._ocr = RapidOCR(params=params)
        # One page at a time per local engine: onnxruntime already uses every core.
        self._lock: AbstractContextManager[object] = threading.Lock()
        self.connection: TritonConnection | None = None
        if triton is not None:
            from ..triton.client import TritonConnection, attach

            self.connection = TritonConnection(triton)
            attach(self._ocr, self.connection)
            self.name = self.runtime = "triton"
            self._lock = contextlib.nullcontext()

    def recognize(self, image: Image.Image, languages: list[str]) -> list[Line]:
        widened = _widen_strip(image)
        if widened is None:
            return []
        image = widened
        with self._lock:
            # Detection and recognition both on (the defaults, never changed here): the full result, not one stage's.
            result = cast("RapidOCROutput", self._ocr(np.asarray(image.convert("RGB"))))
        if result.boxes is None or result.txts is None or result.scores is None:
            return []
        # One tuple of (text, score, box) words per line (rapidocr's annotation says one word's tuple).
        word_results: Sequence[Sequence[Any]] = result.word_results or [()] * len(result.txts)
        lines = []
        for box, text, score, words in zip(result.boxes, result.txts, result.scores, word_results, strict=False):
            text = text.strip()
            if not text:
                continue
            pts = [(round(float(x), 1), round(float(y), 1)) for x, y in box]
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            bbox = (int(min(xs)), int(min(ys)), int(max(xs)) + 1, int(max(ys)) + 1)
            word_list = []
            for w in words or ():
                w_text, w_score, w_box = w[0], w[1], w[2]
                if not str(w_text).strip():
                    continue
                wx, wy = [p[0] for p in w_box], [p[1] for p in w_box]
                w_bbox = (int(min(wx)), int(min(wy)), int(max(wx)), int(max(wy)))
                word_list.append(Word(text=str(w_text).strip(), bbox=w_bbox, confidence=round(float(w_score), 4)))
            lines.append(Line(text=text, bbox=bbox, polygon=pts, confidence=round(float(score), 4), words=word_list))
        return lines
