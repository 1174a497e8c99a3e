"""Where the OCR engine's CPU time goes on real scans, stage by stage, against plain Tesseract on the same pages.

    python bench/ocr_profile.py [--pages linn,typewriter,c03-29] [--repeat 3] [--jitter 0.013] [--tesseract]
                                [--lang eng|auto] [--variant NAME=key=value,key=value ...] [--json out.json]

CPU seconds, not wall-clock: the process's CPU time (``time.process_time``: every thread of this process, so
OpenVINO's and onnxruntime's worker threads count) and, for Tesseract, its child's user + system time
(``RUSAGE_CHILDREN``; the Tesseract runs the engine makes itself, ``tess``, count in the engine's total). On a
shared machine wall-clock time says more about the neighbours than about the code; CPU seconds per page are what
decide pages per second when every core is busy (one page per core at a time). ``--lang`` is the engine's
languages option: ``eng`` (the default here) or ``auto`` (the engine's own default: every class of the dictionary,
and Tesseract re-reading what PP-OCR left).

Stages are timed by wrapping rapidocr's and the engine's steps in place (inclusive CPU seconds per call, summed per
page): ``ppocr`` (the PP-OCR backend: the page to an RGB array, rapidocr, lines out; ``rapidocr`` is rapidocr's own
part of it), ``det.pre`` / ``det.infer`` / ``det.post`` (detection: resize and normalise, the network, boxes from
the map), ``crop`` (each box cut out of the page), ``rec.pre`` / ``rec.infer`` / ``rec.post`` (recognition: resize
and pad each crop, the network, CTC decoding), ``words`` (word boxes), ``geometry`` (skew and gutters,
:mod:`streamprocess.ocr.gutters`) and ``layout`` (reading order, tables, regions, forms). ``osd`` is Tesseract's
orientation and script detection on the page (what ``lang=auto`` and ``orientation`` pay), timed apart.

Variants are engine keyword arguments (``threads=1``, ``det_side=1280``, ...) or the tweaks in :data:`TWEAKS`; all
run interleaved, page by page (the order flipped every repetition), so they meet the same load. ``--jitter`` scales
each repetition's page a little, so recognition meets new crop widths as it does on a new page (OpenVINO prepares
its kernels per input shape, and a page seen before would hide that). CER is against each page's truth.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from PIL import Image  # noqa: E402

from bench.corpus import RENDERED_NAMES, ScanPage, ensure_corpus, rendered_pages  # noqa: E402
from streamprocess.ocr import OcrEngine, OcrOptions  # noqa: E402
from streamprocess.ocr import engine as engine_module  # noqa: E402
from streamprocess.ocr.inputs import PageImage  # noqa: E402
from tests.scoring import cer  # noqa: E402

Stages = dict[str, float]
_current: list[Stages] = []  # the page being timed: stage → CPU seconds


@contextmanager
def collecting() -> Iterator[Stages]:
    stages: Stages = defaultdict(float)
    _current.append(stages)
    try:
        yield stages
    finally:
        _current.pop()


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            if _current:
                _current[-1][name] += time.process_time() - t

    return wrapper


class TimedSession:
    def __init__(self, name: str, session: Any) -> None:
        self.name, self.session = name, session

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return timed(self.name, self.session)(*args, **kwargs)

    def __getattr__(self, item: str) -> Any:
        return getattr(self.session, item)


def instrument_module() -> None:
    """Wrap the engine's module-level steps (once per process)."""
    for name, stage in (
        ("page_geometry", "geometry"),
        ("reading_order", "layout"),
        ("find_tables", "layout"),
        ("classify", "layout"),
        ("find_fields", "layout"),
    ):
        if hasattr(engine_module, name):
            setattr(engine_module, name, timed(stage, getattr(engine_module, name)))
    from rapidocr.ch_ppocr_det.utils import DBPostProcess, DetPreProcess
    from rapidocr.ch_ppocr_rec.main import TextRecognizer
    from rapidocr.ch_ppocr_rec.utils import CTCLabelDecode
    from rapidocr.main import RapidOCR

    from streamprocess.ocr.engines import ppocr

    for owner, attr, stage in (
        (DetPreProcess, "__call__", "det.pre"),
        (DBPostProcess, "__call__", "det.post"),
        (TextRecognizer, "resize_norm_img", "rec.pre"),
        (CTCLabelDecode, "__call__", "rec.post"),
        (RapidOCR, "crop_text_regions", "crop"),
        (RapidOCR, "calc_word_boxes", "words"),
        (RapidOCR, "__call__", "rapidocr"),
        (ppocr.PPOCREngine, "recognize", "ppocr"),
    ):
        setattr(owner, attr, timed(stage, getattr(owner, attr)))


def instrument_engine(engine: OcrEngine) -> None:
    pp = engine.ppocr
    ocr = pp._ocr
    ocr.text_det.session = TimedSession("det.infer", ocr.text_det.session)
    if pp._rec_model is not None:  # the engine picks its session per page: wrap each
        for k, v in pp._rec_sessions.items():
            pp._rec_sessions[k] = TimedSession("rec.infer", v)
    else:
        ocr.text_rec.session = TimedSession("rec.infer", ocr.text_rec.session)


def child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def tesseract_page(path: Path, languages: list[str]) -> tuple[float, float, str]:
    """Plain Tesseract on the page (one thread): CPU seconds, wall seconds, text."""
    c, t = child_cpu(), time.perf_counter()
    out = subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "+".join(languages)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    ).stdout
    return child_cpu() - c, time.perf_counter() - t, out


def osd_cpu(path: Path) -> float:
    c = child_cpu()
    subprocess.run(
        ["tesseract", str(path), "stdout", "--psm", "0"],
        capture_output=True,
        check=False,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    return child_cpu() - c


#: Variant keys that are not OcrEngine arguments: ``legacy_rec=1`` puts rapidocr's own recognition session back (one
#: request, every core, unpadded widths, the whole softmax out), ``width_step=N`` pads recognition batches to
#: multiples of N pixels (1: not at all), ``batch=N`` sets rapidocr's recognition batch size, ``all_classes=1`` reads
#: English pages with every class of the dictionary (not the Latin ones alone), ``min_width=N`` pads a batch of short
#: crops to N pixels instead of rapidocr's 320, ``unclip=N`` grows detected boxes by N/10 (rapidocr's 1.6: a taller
#: crop is a narrower one at the recogniser's 48-pixel height).
TWEAKS = ("legacy_rec", "width_step", "batch", "all_classes", "min_width", "unclip")


def parse_variant(spec: str) -> tuple[str, dict[str, Any], dict[str, int]]:
    name, _, rest = spec.partition("=")
    kwargs: dict[str, Any] = {}
    for part in filter(None, rest.split(",")):
        k, _, v = part.partition("=")
        kwargs[k] = int(v) if v.lstrip("-").isdigit() else v
    tweaks = {k: int(kwargs.pop(k)) for k in TWEAKS if k in kwargs}
    return name, kwargs, tweaks


def make_engine(kwargs: dict[str, Any], tweaks: dict[str, int]) -> OcrEngine:
    eng = OcrEngine(**kwargs)
    pp = eng.ppocr
    ocr = pp._ocr
    rec = ocr._load_rec_model()
    if tweaks.get("legacy_rec"):
        pp._rec_model = pp._text_rec = None
        ocr.text_rec = None
        rec = ocr._load_rec_model()
    elif pp._rec_model is not None:  # both sessions made before they are wrapped (instrument_engine)
        pp._rec_session("all")
        pp._rec_session("latin")
        if tweaks.get("all_classes"):
            pp._rec_sessions["latin"] = pp._rec_sessions["all"]
        for session in pp._rec_sessions.values():
            session.width_step = tweaks.get("width_step", session.width_step)
    if "unclip" in tweaks:
        ocr._load_det_model().postprocess_op.unclip_ratio = tweaks["unclip"] / 10
    if "batch" in tweaks:
        rec.rec_batch_num = tweaks["batch"]
    if "min_width" in tweaks:
        rec.rec_image_shape = [*rec.rec_image_shape[:2], tweaks["min_width"]]
    eng.warm_up()
    instrument_engine(eng)
    return eng


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", default="linn,typewriter,c03-29", help="real scans and/or rendered pages, by name")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--variant", action="append", default=[], help="NAME=key=value,key=value (OcrEngine kwargs)")
    ap.add_argument("--no-base", action="store_true", help="only the variants")
    ap.add_argument("--tesseract", action="store_true", help="plain Tesseract and its OSD on the same pages")
    ap.add_argument(
        "--jitter",
        type=float,
        default=0.0,
        help="scale each repetition's page by 1 + jitter × repetition, so crop widths are new as on a new page",
    )
    ap.add_argument("--lang", default="eng", help="the engine's languages option (auto: the default routing)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    names = set(args.pages.split(","))
    pages: list[ScanPage] = ensure_corpus(names=names - set(RENDERED_NAMES)) if names - set(RENDERED_NAMES) else []
    pages += rendered_pages(names & set(RENDERED_NAMES))
    variants = ([] if args.no_base else [("base", {}, {})]) + [parse_variant(v) for v in args.variant]
    instrument_module()
    engines = {name: make_engine(kwargs, tweaks) for name, kwargs, tweaks in variants}
    tmp = Path(tempfile.mkdtemp(prefix="ocr_profile-"))  # the pages as PNG for Tesseract; removed at the end
    results: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(list))
    for rep in range(args.repeat):
        for page in pages:
            rgb = page.image.convert("RGB")
            if args.jitter and rep:
                scale = 1 + args.jitter * rep
                rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.Resampling.LANCZOS)
            png = tmp / f"{page.name}-{rep}.png"
            if args.tesseract and not png.exists():
                rgb.save(png, dpi=(page.dpi, page.dpi))
            for name, eng in engines.items() if rep % 2 == 0 else reversed(engines.items()):
                with collecting() as stages:
                    c, t, k = time.process_time(), time.perf_counter(), child_cpu()
                    result = eng.recognize_page(PageImage(1, rgb, page.dpi), OcrOptions(languages=args.lang))
                    stages["tess"] = child_cpu() - k  # Tesseract run by the engine (OSD, re-reads)
                    stages["total"] = time.process_time() - c + stages["tess"]
                    stages["wall"] = time.perf_counter() - t
                r = results[f"{name}:{page.name}"]
                for k, v in stages.items():
                    r[k].append(v)
                if page.truth is not None:
                    r["cer"].append(cer(page.truth, result.text))
            if args.tesseract:
                tc, tw, text = tesseract_page(png, ["eng"])
                r = results[f"tesseract:{page.name}"]
                r["total"].append(tc)
                r["wall"].append(tw)
                r["osd"].append(osd_cpu(png))
                if page.truth is not None:
                    r["cer"].append(cer(page.truth, text))
    order = ["total", "wall", "ppocr", "rapidocr", "det.pre", "det.infer", "det.post", "crop", "rec.pre", "rec.infer"]
    order += ["rec.post", "words", "geometry", "layout", "tess", "osd", "cer"]
    summary = {
        key: {k: round(statistics.median(v), 4) for k, v in sorted(r.items(), key=lambda kv: order.index(kv[0]))}
        for key, r in results.items()
    }
    cols = [c for c in order if any(c in s for s in summary.values())]
    print("median CPU seconds per page (wall: wall-clock; cer: fraction)")
    print(f"{'':28}" + "".join(f"{c:>10}" for c in cols))
    for key, s in sorted(summary.items(), key=lambda kv: (kv[0].split(":")[1], kv[0])):
        print(f"{key:28}" + "".join(f"{s[c]:>10.3f}" if c in s else f"{'':>10}" for c in cols))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
