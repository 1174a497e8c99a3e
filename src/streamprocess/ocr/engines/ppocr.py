"""PaddleOCR's PP-OCR models (PP-OCRv6 small detection and recognition, ONNX) run by rapidocr on onnxruntime.

The models ship inside the ``rapidocr`` wheel: nothing is downloaded. They read English, Chinese and Japanese, not
Korean (no Hangul in the dictionary). The per-line angle classifier is off: it flipped upright English lines, and the
page orientation is decided once per page instead. Detection runs on the page scaled so its longer side is at most
``det_side`` pixels.

The models run on OpenVINO when it is installed (x86 CPUs): the same ONNX files and 3–4× faster than onnxruntime on
this project's CPU benchmark (bench/ocr.py); otherwise on onnxruntime, with its memory arena on. On OpenVINO,
recognition (80–90% of a real scan's CPU time: bench/ocr_profile.py) runs in :class:`StreamedRec`: each batch of
crops padded to a width bucket and split over one single-threaded stream per core, the model answering only each
step's best character and its score; English is read with the dictionary's Latin classes only (:func:`latin_classes`:
the last layer cut from 18,710 classes to about 1,600), and a page that may also hold Chinese or Japanese (``auto``)
with them first (:class:`LatinFirst`). CPU seconds per page before → after, with bench/ocr_profile.py (medians of
runs on pages rescaled 1.3% apart, 2 shared cores), the same CER on every page: ``eng`` linn 5.59 → 4.21, c03-29
2.17 → 1.69, typewriter 1.88 → 1.62; ``auto`` linn 5.79 → 4.53, typewriter 1.93 → 1.53, c03-29 2.12 → 1.76, the
rendered dense English page 6.28 → 4.31, but the rendered Chinese and Japanese pages 0.72 → 0.95 and 0.75 → 0.90
(both passes). onnxruntime reads the rendered test pages as OpenVINO does.

With ``triton`` options the models run on a Triton Inference Server instead (engine name ``triton``): rapidocr's
pre- and post-processing stay here, its stage sessions are swapped for remote ones (:mod:`..triton.client`), and
pages are read concurrently (no lock: the server batches).
"""

from __future__ import annotations

import contextlib
import os
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


#: Recognition batches are padded on the right to a multiple of this width (pixels of the 48-pixel-high crop): OpenVINO
#: prepares its kernels the first time it meets an input width (80–90 ms of CPU for a batch of 6 at 640–1280 px, on
#: top of the batch's 180–380 ms), and unpadded widths are new on almost every page, while a few dozen buckets are
#: soon all prepared. Net of the padding's own cost: 2–5% less recognition CPU on pages rescaled 1.1% apart.
REC_WIDTH_STEP = 64
#: The recognition model answers one step per this many pixels of width: ``(width + 3) // 8`` steps (measured on
#: PP-OCRv6 small for every width from 96 to 420 px and a few wider ones; tests/fast/test_ppocr_rec.py compares the
#: cut answer with rapidocr's own unpadded one).
REC_STRIDE = 8


def cores() -> int:
    """The CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class BestClass:
    """Stands in for recognition's softmax ``[N, T, classes]`` in rapidocr's ``CTCLabelDecode``, which reads it only
    through ``argmax(axis=2)`` and ``max(axis=2)``: those answer the model's own TopK outputs."""

    def __init__(self, indices: np.ndarray, scores: np.ndarray) -> None:
        self.indices, self.scores = indices.astype(np.int64), scores.astype(np.float32)

    @property
    def shape(self) -> tuple[int, int]:
        n, t = self.indices.shape
        return n, t

    def __len__(self) -> int:
        return len(self.indices)

    def argmax(self, axis: int) -> np.ndarray:
        self._class_axis(axis)
        return self.indices

    def max(self, axis: int) -> np.ndarray:
        self._class_axis(axis)
        return self.scores

    @staticmethod
    def _class_axis(axis: int) -> None:
        if axis not in (2, -1):
            raise NotImplementedError("only the class axis (2) is reduced")


def latin_classes(characters: Sequence[str]) -> np.ndarray:
    """The classes of the recognition dictionary (rapidocr's list: the CTC blank first, the space last) that a Latin
    page can hold: the blank, Latin letters (Basic Latin to Extended-B, Extended Additional), punctuation, symbols,
    digits and the space; not the CJK, Cyrillic, Greek, ... classes that make most of the 18,710."""

    def latin(c: str) -> bool:
        o = ord(c[0]) if len(c) == 1 else -1
        return 0x20 <= o < 0x250 or 0x1E00 <= o < 0x1F00 or 0x2000 <= o < 0x2C00

    return np.array([i for i, c in enumerate(characters) if i == 0 or latin(c)], dtype=np.int64)


def _only_classes(softmax: Any, classes: np.ndarray) -> Any:
    """The rec model's softmax over ``classes`` only: its last FullyConnected layer (MatMul + Add) cut to those
    classes' columns, so the cut layers cost what the kept classes cost."""
    from openvino import opset13 as ops

    node = softmax.get_node()
    if node.get_type_name() != "Softmax":
        raise ValueError(f"the rec model ends in {node.get_type_name()}, not Softmax")
    add = node.input_value(0).get_node()
    while add.get_type_name() == "Identity":
        add = add.input_value(0).get_node()
    matmul = add.input_value(0).get_node()
    if add.get_type_name() != "Add" or matmul.get_type_name() != "MatMul":
        raise ValueError("the rec model's softmax does not follow a MatMul + Add")
    attrs = matmul.get_attributes()
    index = ops.constant(classes.astype(np.int32))
    weights = ops.gather(matmul.input_value(1), index, ops.constant(np.int32(0 if attrs["transpose_b"] else 1)))
    bias = ops.gather(add.input_value(1), index, ops.constant(np.int32(0)))
    logits = ops.matmul(matmul.input_value(0), weights, attrs["transpose_a"], attrs["transpose_b"])
    return ops.softmax(ops.add(logits, bias), 2).output(0)


class StreamedRec:
    """rapidocr's recognition session on OpenVINO, replaced: the same ONNX model with a TopK over its classes
    appended (the 18,710-wide softmax never leaves OpenVINO), compiled with one single-threaded stream per core.
    Each batch is padded to a multiple of :data:`REC_WIDTH_STEP` and split over the streams, which run at once; the
    answer is cut back to the unpadded batch's steps. One thread per stream spends less CPU per crop than two
    threads on one request (no synchronisation inside each layer: 4.4 s against 5.1 s for the same crops), and a
    page still uses every core. ``classes``: only those classes of the dictionary (:func:`_only_classes`); the
    answer's indices are mapped back to the whole dictionary's, so rapidocr's decoder is unchanged."""

    def __init__(
        self, model: Any, streams: int, width_step: int = REC_WIDTH_STEP, classes: np.ndarray | None = None
    ) -> None:
        import openvino as ov
        from openvino import opset13 as ops

        softmax = model.get_results()[0].input_value(0)  # the softmax node's output, not the model's Result
        self.classes = classes
        if classes is not None:
            softmax = _only_classes(softmax, classes)
        best = ops.topk(softmax, 1, 2, "max", "none", "i32")
        squeezed = [ops.squeeze(best.output(i), ops.constant(np.array([2], dtype=np.int64))) for i in (0, 1)]
        reduced = ov.Model([s.output(0) for s in squeezed], model.get_parameters(), "rec_best_class")
        self.streams, self.width_step = max(1, streams), width_step
        compiled = ov.Core().compile_model(
            reduced, "CPU", {"NUM_STREAMS": self.streams, "INFERENCE_NUM_THREADS": self.streams}
        )
        self._queue = ov.AsyncInferQueue(compiled, self.streams)
        self._parts: list[tuple[np.ndarray, np.ndarray] | None] = []
        self._queue.set_callback(self._done)

    def _done(self, request: Any, index: int) -> None:
        self._parts[index] = (request.get_output_tensor(1).data.copy(), request.get_output_tensor(0).data.copy())

    def __call__(self, batch: np.ndarray) -> BestClass:
        n, c, h, w = batch.shape
        padded = np.zeros((n, c, h, -(-w // self.width_step) * self.width_step), dtype=np.float32)
        padded[..., :w] = batch
        chunks = [chunk for chunk in np.array_split(padded, min(n, self.streams)) if len(chunk)]
        self._parts = [None] * len(chunks)
        for i, chunk in enumerate(chunks):
            self._queue.start_async({0: chunk}, i)
        self._queue.wait_all()
        parts = [p for p in self._parts if p is not None]
        steps = (w + 3) // REC_STRIDE  # the unpadded batch's own number of steps (the model's rounding, measured)
        indices = np.concatenate([p[0] for p in parts])[:, :steps]
        if self.classes is not None:
            indices = self.classes[indices]
        scores = np.concatenate([p[1] for p in parts])[:, :steps]
        return BestClass(indices, scores)


#: A line read with the Latin classes alone is read again with every class when its score is below
#: :data:`LATIN_FIRST_SCORE` or it holds fewer than :data:`LATIN_FIRST_DENSITY` characters (spaces aside) per crop
#: height of its width: the Latin classes read a Chinese line mostly as CTC blanks, a few commas at a high score
#: (",," at 0.95). On the real scans (linn, typewriter, c03-29) and the rendered English pages, each at three scales,
#: Latin lines hold 1.06–2.6 characters per crop height and all but 2 of about 200 score above 0.9 (two short ones of
#: c03-29); the Latin readings of the rendered Chinese and Japanese lines hold 0.09–0.27, and no Latin reading of an
#: English line differs from the whole dictionary's.
LATIN_FIRST_SCORE = 0.9
LATIN_FIRST_DENSITY = 0.5


class LatinFirst:
    """Stands in for rapidocr's recogniser on a page that may hold Latin and Chinese or Japanese text: every line
    read with the Latin classes first, then the lines they read badly (:data:`LATIN_FIRST_SCORE`) read again with
    every class, their second reading kept. A Latin page pays the Latin classes' cost alone; a Chinese page
    about 1.8× the whole dictionary's (both passes)."""

    def __init__(self, rec: Any, latin: StreamedRec, every: StreamedRec) -> None:
        self.rec, self.latin, self.every = rec, latin, every

    def __call__(self, args: Any) -> Any:
        from rapidocr.ch_ppocr_rec import TextRecInput

        self.rec.session = self.latin
        out = self.rec(args)
        again = [
            i
            for i, (text, score, crop) in enumerate(zip(out.txts, out.scores, out.imgs, strict=True))
            if score < LATIN_FIRST_SCORE
            or len(text.replace(" ", "")) < LATIN_FIRST_DENSITY * crop.shape[1] / max(1, crop.shape[0])
        ]
        if not again:
            return out
        self.rec.session = self.every
        second = self.rec(TextRecInput(img=[out.imgs[i] for i in again], return_word_box=args.return_word_box))
        txts, scores, words = list(out.txts), list(out.scores), list(out.word_results)
        for j, i in enumerate(again):
            txts[i], scores[i], words[i] = second.txts[j], second.scores[j], second.word_results[j]
        out.txts, out.scores, out.word_results = tuple(txts), scores, tuple(words)
        return out


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
        #: Recognition sessions by the script they read ("all", "latin"), on OpenVINO; made when first needed.
        self._rec_sessions: dict[str, StreamedRec] = {}
        self._rec_model: Any = None
        self._text_rec: Any = None  # rapidocr's TextRecognizer, whose session is swapped per page
        self._streams = threads or cores()
        if runtime == "openvino":
            # Loading reads the dictionary from the model; its session is replaced on the first page by the one for
            # the page's languages (each compiled when first needed: about half a second).
            self._text_rec = self._ocr._load_rec_model()
            self._rec_model = self._text_rec.session.model
        # One page at a time per local engine: onnxruntime already uses every core.
        self._lock: AbstractContextManager[object] = threading.Lock()
        self.connection: TritonConnection | None = None
        if triton is not None:
            from ..triton.client import TritonConnection, attach

            self.connection = TritonConnection(triton)
            attach(self._ocr, self.connection)
            self.name = self.runtime = "triton"
            self._lock = contextlib.nullcontext()

    def _rec_session(self, script: str) -> StreamedRec:
        if script not in self._rec_sessions:
            characters = self._text_rec.postprocess_op.character
            classes = latin_classes(characters) if script == "latin" else None
            self._rec_sessions[script] = StreamedRec(self._rec_model, self._streams, classes=classes)
        return self._rec_sessions[script]

    def recognize(self, image: Image.Image, languages: list[str]) -> list[Line]:
        widened = _widen_strip(image)
        if widened is None:
            return []
        image = widened
        with self._lock:
            # Detection and recognition both on (the defaults, never changed here): the full result, not one stage's.
            if self._text_rec is not None:  # English alone: the Latin classes; with Chinese or Japanese: Latin first
                ocr: Any = self._ocr  # (rapidocr annotates its recogniser as None)
                ocr.text_rec = self._text_rec
                if set(languages) <= {"eng"}:
                    self._text_rec.session = self._rec_session("latin")
                elif "eng" in languages:
                    ocr.text_rec = LatinFirst(self._text_rec, self._rec_session("latin"), self._rec_session("all"))
                else:
                    self._text_rec.session = self._rec_session("all")
            rgb = image if image.mode == "RGB" else image.convert("RGB")
            result = cast("RapidOCROutput", self._ocr(np.asarray(rgb)))
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
