"""OCR through Triton: the latency cost per page against the local engine, and what dynamic batching gains with
1, 4 and 16 concurrent documents against the same server without it, in the same run.

    python bench/triton.py [--runs 3] [--concurrency 1,4,16] [--pages english-light,...] [--url grpc://host:port]

Pages: rendered pages in the languages PP-OCR reads (bench/corpus.py) and the real typewriter scan when the corpus
is there. Without ``--url`` a local development tritonserver is started twice on free ports (nvidia-pytriton's
binary, python backend running the same ONNX files on onnxruntime, CPU): once with the repository's dynamic batching
(preferred batch sizes, 2 ms queue delay), once with dynamic batching off, so each request runs as it came.

- latency: per page, interleaved run by run, this project's engine with PP-OCR local (``engine: ppocr``) against the
  same engine with PP-OCR's models on Triton (``engine: triton``: pre- and post-processing local, detection and
  recognition on the server, over gRPC); the ratio of medians, and whether the text is the same;
- throughput: N concurrent documents (N threads, each its own engine as N OCR job pods would be, each reading every
  page ``--docs`` times) against one server; pages per second, and from Triton's own statistics how many requests
  each recognition execution served (1.0: no batching happened).
On a CPU-only machine the server and the clients share the same cores, so this measures the protocol and batching
cost, not a GPU's gain; with ``--url`` pointing at a GPU Triton the throughput rows are that server's.
Prints tables and writes JSON (default bench/results/triton.json).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402
from bench.corpus import DEFAULT_DIR, CorpusError, ScanPage, ensure_corpus, rendered_pages  # noqa: E402
from infra.local_services import free_port  # noqa: E402
from streamprocess.ocr import OcrOptions  # noqa: E402
from streamprocess.ocr.engine import OcrEngine  # noqa: E402
from streamprocess.ocr.inputs import PageImage  # noqa: E402
from streamprocess.ocr.triton.client import TritonOptions  # noqa: E402
from streamprocess.ocr.triton.models import REC  # noqa: E402
from streamprocess.ocr.triton.repository import write_repository  # noqa: E402
from streamprocess.ocr.triton.server import LocalTriton  # noqa: E402
from tests.scoring import cer  # noqa: E402

DEFAULT_PAGES = ("english-light", "two-column", "chinese", "japanese", "typewriter")


def pages(names: list[str]) -> list[ScanPage]:
    chosen = rendered_pages(set(names))
    if set(names) - {p.name for p in chosen}:
        try:
            chosen += [p for p in ensure_corpus(DEFAULT_DIR) if p.name in names]
        except CorpusError as e:
            print(f"real scans skipped: {e}", file=sys.stderr)
    return [p for p in chosen if set(p.languages) <= {"eng", "chi_sim", "jpn"}]  # what PP-OCR reads


def read(engine: OcrEngine, page: ScanPage, name: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    result = engine.recognize_page(
        PageImage(1, page.image.convert("RGB"), page.dpi), OcrOptions(languages=page.languages, engine=name)
    )
    return time.perf_counter() - t0, result.text


def rec_batching(triton: LocalTriton) -> dict[str, int]:
    """Triton's own counters for the recognition model: requests that succeeded, and model executions (a batch of
    merged requests is one execution)."""
    import tritonclient.http as httpclient

    stats = httpclient.InferenceServerClient(triton.http_address).get_inference_statistics(REC)["model_stats"][0]
    return {"requests": int(stats["inference_stats"]["success"]["count"]), "executions": int(stats["execution_count"])}


def throughput(url: str, triton: LocalTriton | None, corpus: list[ScanPage], n: int, docs: int) -> dict[str, Any]:
    engines = [OcrEngine(triton=TritonOptions(url=url)) for _ in range(n)]
    for engine in engines:
        engine.warm_up("triton")  # connect and check the dictionary before the clock starts
    before = rec_batching(triton) if triton else None
    errors: list[BaseException] = []

    def document(engine: OcrEngine) -> None:
        try:
            for _ in range(docs):
                for page in corpus:
                    read(engine, page, "triton")
        except BaseException as e:  # reported below: the run fails
            errors.append(e)

    threads = [threading.Thread(target=document, args=(e,)) for e in engines]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"{len(errors)} document(s) failed at concurrency {n}: {errors[0]!r}")
    row: dict[str, Any] = {"concurrency": n, "pages": n * docs * len(corpus), "seconds": round(wall, 2)}
    row["pages_per_s"] = round(row["pages"] / wall, 2)
    if triton is not None and before is not None:
        after = rec_batching(triton)
        executions = after["executions"] - before["executions"]
        row["rec_requests_per_execution"] = round((after["requests"] - before["requests"]) / max(executions, 1), 2)
    return row


def latency(url: str, corpus: list[ScanPage], runs: int) -> list[dict[str, Any]]:
    local, remote = OcrEngine(), OcrEngine(triton=TritonOptions(url=url))
    local.warm_up()
    remote.warm_up("triton")
    rows = []
    for page in corpus:
        times: dict[str, list[float]] = {"local": [], "triton": []}
        texts: dict[str, str] = {}
        for _ in range(runs):
            for name, engine, mode in (("local", local, "ppocr"), ("triton", remote, "triton")):
                t, texts[name] = read(engine, page, mode)
                times[name].append(t)
        row: dict[str, Any] = {"page": page.name, "corpus": page.corpus}
        for name, values in times.items():
            row[name] = {"p50_s": round(statistics.median(values), 3)}
        row["ratio_p50"] = round(row["triton"]["p50_s"] / row["local"]["p50_s"], 3)
        row["same_text"] = texts["local"] == texts["triton"]
        if page.truth is not None:
            row["cer"] = {name: round(cer(page.truth, text), 4) for name, text in texts.items()}
        rows.append(row)
        print(
            f"{page.name}: local {row['local']['p50_s']} s, triton {row['triton']['p50_s']} s "
            f"(×{row['ratio_p50']}), same text: {row['same_text']}",
            file=sys.stderr,
            flush=True,
        )
    return rows


def serve(repo: Path, batching: bool) -> LocalTriton:
    write_repository(repo, backend="python", dynamic_batching=batching)
    return LocalTriton(repo, http_port=free_port(), grpc_port=free_port(), metrics_port=free_port())


def run(args: argparse.Namespace) -> dict[str, Any]:
    corpus = pages(args.pages)
    if not corpus:
        raise SystemExit(f"no page to read among {', '.join(args.pages)}")
    results: dict[str, Any] = {"pages": [], "throughput": []}
    if args.url:  # one server, as it is configured
        results["pages"] = latency(args.url, corpus, args.runs)
        for n in args.concurrency:
            results["throughput"].append(
                {"design": "dynamic batching", **throughput(args.url, None, corpus, n, args.docs)}
            )
    else:
        with tempfile.TemporaryDirectory(prefix="sp-bench-triton-") as tmp:
            for design, batching in (("dynamic batching", True), ("no batching", False)):
                with serve(Path(tmp) / design.replace(" ", "-"), batching) as server:
                    if batching:
                        results["pages"] = latency(server.grpc_url, corpus, args.runs)
                    for n in args.concurrency:
                        row = {"design": design, **throughput(server.grpc_url, server, corpus, n, args.docs)}
                        print(f"  {design:17s} N={n:3d}  {row['pages_per_s']} pages/s", file=sys.stderr, flush=True)
                        results["throughput"].append(row)
    by = {(r["design"], r["concurrency"]): r["pages_per_s"] for r in results["throughput"]}
    results["batching_gain"] = {
        str(n): round(by[("dynamic batching", n)] / by[("no batching", n)], 3)
        for n in args.concurrency
        if ("no batching", n) in by
    }
    local = [p["local"]["p50_s"] for p in results["pages"]]
    remote = [p["triton"]["p50_s"] for p in results["pages"]]
    results["latency_ratio_median"] = round(statistics.median(r / lo for r, lo in zip(remote, local, strict=True)), 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="latency runs per page")
    parser.add_argument("--docs", type=int, default=2, help="times each concurrent document reads every page")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16])
    parser.add_argument("--pages", type=lambda s: s.split(","), default=list(DEFAULT_PAGES))
    parser.add_argument(
        "--url", help="an existing Triton (grpc://host:port or http://host:port) instead of a local one"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "triton.json")
    args = parser.parse_args()
    results = run(args)

    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    t = Table(title="OCR per page: PP-OCR local against PP-OCR on Triton, medians")
    for col in ("page", "local", "triton", "ratio", "same text"):
        t.add_column(col)
    for p in results["pages"]:
        t.add_row(
            p["page"], f"{p['local']['p50_s']} s", f"{p['triton']['p50_s']} s", str(p["ratio_p50"]), str(p["same_text"])
        )
    console.print(t)
    th = Table(title="Concurrent documents against one Triton")
    for col in ("design", "documents", "pages/s", "rec requests per execution"):
        th.add_column(col)
    for r in results["throughput"]:
        th.add_row(
            r["design"], str(r["concurrency"]), str(r["pages_per_s"]), str(r.get("rec_requests_per_execution", "—"))
        )
    console.print(th)
    server = args.url or "local tritonserver (nvidia-pytriton), python backend, onnxruntime on CPU"
    write_results(args.out, results, runs=args.runs, docs=args.docs, server=server)


if __name__ == "__main__":
    main()
