"""OCR per page: the pipeline's OCR job against plain rapidocr and plain Tesseract, same pages, same run.

    python bench/ocr.py [--runs 5]

Pages are rendered from text written here (tests/documents.py), A4 at 200 DPI: a light English page (11 lines),
a dense English page (~60 lines), a two-column page, an invoice table, Chinese, Japanese and Korean. For each page,
interleaved run by run:
- rapidocr:  ``RapidOCR()`` with its shipped defaults (angle classifier on, detection at full resolution);
- tesseract: the ``tesseract`` command, ``OMP_THREAD_LIMIT=1``, the page's language, plain text out;
- engine:    this project's OCR engine on the page (routing, PP-OCR as configured, reading order);
- pipeline:  a whole job on the embedded default (object written → event → router → queue → worker → JSON, text,
             hOCR and searchable PDF written, record), event to done.
Reports p50/p95/p99 seconds per page over all pages and runs, the ratio to raw rapidocr, and the CER of each
(character error rate with single spaces kept; the Korean page is Tesseract's in the engine and pipeline columns,
as PP-OCR has no Hangul). Prints tables and writes JSON (default bench/results/ocr.json).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamprocess.config import Settings  # noqa: E402
from streamprocess.jobs import JobState, job_id_for  # noqa: E402
from streamprocess.ocr import OcrOptions  # noqa: E402
from streamprocess.ocr.inputs import PageImage  # noqa: E402
from streamprocess.processors.ocr import OcrProcessor  # noqa: E402
from streamprocess.runtime import Runtime  # noqa: E402
from tests import documents as docs  # noqa: E402
from tests.scoring import cer  # noqa: E402


def dense_page() -> tuple[Image.Image, str]:
    img = docs.blank()
    lines = textwrap.wrap((docs.PROSE + " ") * 6, 95)[:60]
    docs.draw_lines(img, lines, int(0.6 * docs.DPI), int(0.6 * docs.DPI), docs.font(docs.SANS, 9.5), spacing=1.45)
    return img, "\n".join(lines)


def pages() -> dict[str, tuple[Image.Image, str, list[str]]]:
    return {
        "english-light": (*docs.prose_page(), ["eng"]),
        "english-dense": (*dense_page(), ["eng"]),
        "two-column": (*docs.two_column_page(), ["eng"]),
        "invoice-table": (*docs.table_page(), ["eng"]),
        "chinese": (*docs.cjk_page(docs.CHINESE, "chi_sim"), ["chi_sim"]),
        "japanese": (*docs.cjk_page(docs.JAPANESE, "jpn"), ["jpn"]),
        "korean": (*docs.cjk_page(docs.KOREAN, "kor"), ["kor"]),
    }


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(statistics.median(values), 3),
        "p95_s": round(pct(values, 95), 3),
        "p99_s": round(pct(values, 99), 3),
        "n": len(values),
    }


def raw_tesseract(path: Path, languages: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(
        ["tesseract", str(path), "stdout", "-l", "+".join(languages)],
        capture_output=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        check=True,
    ).stdout.decode()
    return time.perf_counter() - t0, out


async def pipeline_job(rt: Runtime, path: Path, languages: list[str]) -> tuple[float, str]:
    key = f"inbox/bench/{uuid.uuid4().hex}.png"
    t0 = time.time()
    info = await rt.store.put(key, path, metadata={"lang": "+".join(languages)})
    job_id = job_id_for(rt.settings.bucket, key, info.etag, "ocr")
    while True:
        rec = await rt.jobs.get(job_id)
        if rec is not None and rec.state in (JobState.succeeded, JobState.failed):
            break
        await asyncio.sleep(0.02)
    if rec.state is JobState.failed or rec.finished_at is None:
        raise RuntimeError(f"job failed: {rec.error}")
    return rec.finished_at.timestamp() - t0, (await rt.store.get(rec.results["ocr.txt"])).decode()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from rapidocr import RapidOCR

    raw_ppocr = RapidOCR(params={"Global.log_level": "warning"})
    with tempfile.TemporaryDirectory(prefix="sp-bench-ocr-") as tmp:
        workdir = Path(tmp)
        settings = Settings(data_dir=workdir / "data", stt_processor="noop", ocr_processor="ocr", concurrency=1)
        processor = OcrProcessor(settings)
        times: dict[str, list[float]] = {m: [] for m in ("rapidocr", "tesseract", "engine", "pipeline")}
        per_page: list[dict[str, Any]] = []
        async with Runtime(settings) as rt:
            await rt.ensure()
            worker, _ = rt.worker(["events", "ocr"])
            for _, handler in worker.consumers:
                if getattr(handler, "kind", None) == "ocr":
                    handler.processor = processor  # the same loaded models as the engine column
            task = asyncio.create_task(worker.run())
            for name, (image, ref, languages) in pages().items():
                path = workdir / f"{name}.png"
                image.save(path, dpi=(docs.DPI, docs.DPI))
                arr = np.asarray(image)
                page_times: dict[str, list[float]] = {m: [] for m in times}
                texts: dict[str, str] = {}
                raw_ppocr(arr)  # warm-up
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    result = raw_ppocr(arr)
                    page_times["rapidocr"].append(time.perf_counter() - t0)
                    texts["rapidocr"] = "\n".join(result.txts or ())
                    t, texts["tesseract"] = raw_tesseract(path, languages)
                    page_times["tesseract"].append(t)
                    t0 = time.perf_counter()
                    page = processor.engine.recognize_page(
                        PageImage(1, image, docs.DPI), OcrOptions(languages=languages)
                    )
                    page_times["engine"].append(time.perf_counter() - t0)
                    texts["engine"] = page.text
                    t, texts["pipeline"] = await pipeline_job(rt, path, languages)
                    page_times["pipeline"].append(t)
                entry: dict[str, Any] = {"page": name, "languages": languages, "engine_used": page.engine}
                for mode, values in page_times.items():
                    times[mode] += values
                    entry[mode] = {"p50_s": round(statistics.median(values), 3), "cer": round(cer(ref, texts[mode]), 4)}
                print(
                    f"{name}: "
                    + ", ".join(f"{m} {entry[m]['p50_s']} s (CER {entry[m]['cer']:.1%})" for m in page_times),
                    file=sys.stderr,
                    flush=True,
                )
                per_page.append(entry)
            worker.stop()
            await task
    overall = {mode: stats(values) for mode, values in times.items()}
    raw_p50 = overall["rapidocr"]["p50_s"]
    for mode in overall:
        overall[mode]["ratio_p50_to_rapidocr"] = round(overall[mode]["p50_s"] / raw_p50, 3)
    return {"pages": per_page, "overall": overall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ocr.json")
    args = parser.parse_args()
    results = asyncio.run(run(args))

    from rich.console import Console
    from rich.table import Table

    console = Console(width=180)
    t = Table(title="OCR per page (A4, 200 DPI), median seconds and CER")
    for col in ("page", "rapidocr", "tesseract", "engine", "pipeline job", "engine used"):
        t.add_column(col)
    for p in results["pages"]:
        t.add_row(
            p["page"],
            *(f"{p[m]['p50_s']} s · {p[m]['cer']:.1%}" for m in ("rapidocr", "tesseract", "engine", "pipeline")),
            p["engine_used"],
        )
    console.print(t)
    o = Table(title="All pages and runs: seconds per page")
    for col in ("mode", "p50", "p95", "p99", "p50 ratio to rapidocr"):
        o.add_column(col)
    for mode, s in results["overall"].items():
        o.add_row(mode, str(s["p50_s"]), str(s["p95_s"]), str(s["p99_s"]), str(s["ratio_p50_to_rapidocr"]))
    console.print(o)
    meta = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "command": "python bench/ocr.py " + " ".join(sys.argv[1:]),
        "runs": args.runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, **results}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
