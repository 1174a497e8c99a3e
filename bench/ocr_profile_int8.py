"""An experiment, not used by the engine: PP-OCRv6 small recognition quantised to INT8 (NNCF post-training
quantisation for OpenVINO), its CPU seconds and CER on the real scans against the FP model, interleaved.

    python bench/ocr_profile_int8.py calibrate /tmp/calib.npz        # crops of the rendered pages (tests/documents.py)
    PY_WITH_NNCF bench/ocr_profile_int8.py quantize /tmp/calib.npz /tmp/rec_int8.xml [--model-type transformer]
    python bench/ocr_profile_int8.py compare /tmp/rec_int8.xml [--repeat 2]

``quantize`` needs ``nncf`` (pip install nncf openvino opencv-python-headless, in a virtualenv of its own: it brings
scikit-learn and scipy, which the project does not need); the other two run in the project's virtualenv. The
calibration crops come from the rendered benchmark pages only, never from the real scans the comparison reads.

Measured on this 2-core machine (shared, CPU seconds; 117 calibration crops): the default preset broke the model
(CER 2.1% → 19% on linn, 0.2% → 16–22% on typewriter); ``--model-type transformer`` (SVTR's attention and norms kept
in floating point) kept linn's CER (2.1%) and cost typewriter 0.2–0.4 points (0.19% → 0.38–0.57%), for 25% less
recognition CPU (linn 3.24 → 2.41 s, c03-29 1.22 → 0.86 s, typewriter 0.78 → 0.66 s).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def calibrate(out: Path) -> None:
    import numpy as np

    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "src"))
    from bench.corpus import rendered_pages
    from streamprocess.ocr.engines.ppocr import PPOCREngine

    engine = PPOCREngine(runtime="onnxruntime")
    ocr = engine._ocr
    rec = ocr._load_rec_model()
    inputs = []
    for page in rendered_pages():
        image, record = ocr.preprocess_img(np.asarray(page.image.convert("RGB")))
        crops, _ = ocr.detect_and_crop(image, record)
        for crop in crops:
            ratio = max(320 / 48, crop.shape[1] / crop.shape[0])
            inputs.append(rec.resize_norm_img(crop, ratio)[None].astype(np.float32))
    from streamprocess.ocr.triton.models import REC, model_files

    np.savez(out, *inputs, model=np.array(str(model_files()[REC])))  # the FP model, for the quantize step
    print(f"{len(inputs)} calibration crops -> {out}")


def quantize(calib: Path, out: Path, model_type: str) -> None:
    import nncf
    import numpy as np
    import openvino as ov

    data = np.load(calib)
    inputs = [data[k] for k in data.files if k != "model"]
    model = ov.Core().read_model(str(data["model"]))
    t = time.perf_counter()
    kwargs = {"model_type": nncf.ModelType.TRANSFORMER} if model_type == "transformer" else {}
    quantized = nncf.quantize(
        model, nncf.Dataset(inputs), subset_size=len(inputs), preset=nncf.QuantizationPreset.MIXED, **kwargs
    )
    print(f"quantised in {time.perf_counter() - t:.0f} s")
    ov.save_model(quantized, out)


def compare(model_xml: Path, repeat: int) -> None:
    import openvino as ov

    sys.path.insert(0, str(ROOT))
    from bench import ocr_profile as op

    pages = op.ensure_corpus(names={"linn", "typewriter", "c03-29"})
    op.instrument_module()
    engines = {}
    for name in ("fp", "int8"):
        eng = op.OcrEngine()
        pp = eng.ppocr
        if name == "int8":
            pp._rec_model, pp._rec_sessions = ov.Core().read_model(model_xml), {}
            pp._text_rec.session = pp._rec_session("all")
        pp._rec_session("latin")
        eng.warm_up()
        op.instrument_engine(eng)
        engines[name] = eng
    for rep in range(repeat):
        for page in pages:
            rgb = page.image.convert("RGB")
            for name, eng in engines.items() if rep % 2 == 0 else reversed(engines.items()):
                with op.collecting() as stages:
                    c = time.process_time()
                    result = eng.recognize_page(op.PageImage(1, rgb, page.dpi), op.OcrOptions(languages=["eng"]))
                    total = time.process_time() - c
                score = f"CER {op.cer(page.truth, result.text):.4f}" if page.truth else ""
                print(
                    f"{rep} {page.name:11} {name:5} CPU {total:.2f} s, recognition {stages['rec.infer']:.2f} s {score}"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="step", required=True)
    c = sub.add_parser("calibrate")
    c.add_argument("out", type=Path)
    q = sub.add_parser("quantize")
    q.add_argument("calib", type=Path)
    q.add_argument("out", type=Path)
    q.add_argument("--model-type", choices=("default", "transformer"), default="transformer")
    m = sub.add_parser("compare")
    m.add_argument("model", type=Path)
    m.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    if args.step == "calibrate":
        calibrate(args.out)
    elif args.step == "quantize":
        quantize(args.calib, args.out, args.model_type)
    else:
        compare(args.model, args.repeat)


if __name__ == "__main__":
    main()
