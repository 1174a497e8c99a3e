"""Every benchmark in one command: run them, keep their JSON, draw the plots, regenerate the docs' figures.

    python bench/run_benchmarks.py                  # the full run (about 20 min on 2 cores): the README's figures
    python bench/run_benchmarks.py --quick          # each benchmark at its smallest (under 5 min; CI runs it)
    python bench/run_benchmarks.py --only live,ocr  # some of them (the others' JSON is kept as it is)
    python bench/run_benchmarks.py --report-only    # redraw the plots and the docs from the JSON already there

Each benchmark (bench/pipeline.py, stt.py, live.py, ocr.py, triton.py, cold_start.py) runs in its own process, one
after the other, its output shown as it goes; the run's record (the machine: CPU, cores, memory, GPU, OS, versions,
commit; each benchmark's time and outcome) goes to ``run.json`` beside their JSON.

The full run writes bench/results/*.json and docs/bench/*.png, and regenerates the generated sections of README.md
and docs/deployment.md (between ``<!-- bench:NAME -->`` markers; see bench/report.py). ``--quick`` writes to
bench/results/quick/ (plots in its plots/) and leaves the docs alone unless ``--docs`` names files: its figures are
not the README's. A benchmark that fails does not stop the others; the command then exits 1, naming it. One that
cannot run here (triton.py without the tritonserver binary of nvidia-pytriton) is skipped, saying why.
To add a benchmark: a script that takes ``--out PATH`` and one entry in ``BENCHES`` (and, for the docs, a section
in bench/report.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import plots, report  # noqa: E402


@dataclass(frozen=True)
class Bench:
    name: str
    what: str
    full: tuple[str, ...]  # arguments of the full run (the README's figures)
    quick: tuple[str, ...]  # arguments of --quick (seconds to a minute or so each on 2 cores)
    missing: Callable[[], str | None] = lambda: None  # why it cannot run here (then it is skipped, saying so)

    @property
    def script(self) -> Path:
        return ROOT / "bench" / f"{self.name}.py"


def tritonserver_missing() -> str | None:
    from streamprocess.ocr.triton.server import TritonNotInstalled, find_tritonserver

    try:
        find_tritonserver()
    except TritonNotInstalled as e:
        return str(e)
    return None


BENCHES = (
    Bench(
        "pipeline",
        "pipeline overhead per queue (embedded, Redis Streams, SQS + S3 on moto)",
        (),
        ("--latency-jobs", "10", "--throughput-jobs", "20"),
    ),
    Bench(
        "stt",
        "STT against plain faster-whisper; batched against sequential",
        ("--runs", "10"),
        ("--runs", "1", "--long-runs", "1", "--files", "jfk.flac"),
    ),
    Bench(
        "live",
        "live streams word by word against a naive design and the peers (WhisperLive, WhisperLiveKit); the pool "
        "over OpenAI's Realtime API beside its own",
        (
            "--levels",
            "1,2,4,8,12,16",
            "--protocol",
            "native,realtime",
            "--peers",
            "whisperlive,whisperlive2,whisperlivekit",
        ),
        ("--levels", "1,2", "--protocol", "native,realtime", "--audio", "jfk"),
    ),
    Bench(
        "ocr",
        "OCR per page against plain rapidocr and Tesseract, rendered pages and real scans",
        ("--runs", "5"),
        ("--runs", "1", "--pages", "two-column,korean,linn", "--throughput-rounds", "1"),
    ),
    Bench(
        "triton",
        "OCR through a local Triton: latency against the local engine, dynamic batching against none",
        ("--runs", "3"),
        ("--runs", "1", "--docs", "1", "--concurrency", "1,4", "--pages", "english-light"),
        tritonserver_missing,
    ),
    Bench("cold_start", "cold starts of workers and the API", ("--runs", "3"), ("--runs", "1")),
)
FULL_DOCS = (ROOT / "README.md", ROOT / "docs" / "deployment.md")


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20, cwd=ROOT).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "")
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kib = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")), 0)
    gpu = (
        _run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"])
        if shutil.which("nvidia-smi")
        else ""
    )
    tesseract = _run(["tesseract", "--version"]).splitlines()
    commit = _run(["git", "rev-parse", "--short", "HEAD"])
    dirty = bool(_run(["git", "status", "--porcelain", "--untracked-files=no"]))
    return {
        "cpu": cpu or platform.processor() or platform.machine(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "gpu": "; ".join(gpu.splitlines()) or "none",
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "versions": {
            "faster-whisper": _version("faster-whisper"),
            "ctranslate2": _version("ctranslate2"),
            "rapidocr": _version("rapidocr"),
            "onnxruntime": _version("onnxruntime"),
            "tesseract": tesseract[0].split()[-1] if tesseract else "absent",
        },
        "commit": (commit or "unknown") + ("+changes" if dirty else ""),
    }


def run_one(bench: Bench, quick: bool, results: Path) -> dict[str, Any]:
    args = bench.quick if quick else bench.full
    if reason := bench.missing():
        print(f"\n== {bench.name}: skipped: {reason}", flush=True)
        return {"status": "skipped", "reason": reason, "args": list(args)}
    cmd = [sys.executable, str(bench.script), *args, "--out", str(results / f"{bench.name}.json")]
    print(f"\n== {bench.name}: {bench.what}\n   $ python bench/{bench.name}.py {' '.join(args)}", flush=True)
    t0 = time.monotonic()
    rc = subprocess.run(cmd, cwd=ROOT).returncode
    seconds = round(time.monotonic() - t0, 1)
    status = "ok" if rc == 0 else "failed"
    print(f"== {bench.name}: {status} in {seconds:.0f} s" + ("" if rc == 0 else f" (exit {rc})"), flush=True)
    return {"status": status, "seconds": seconds, "args": list(args), "exit": rc}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [b.name for b in BENCHES]
    parser.add_argument("--quick", action="store_true", help="each benchmark at its smallest (CI)")
    parser.add_argument("--only", type=lambda s: s.split(","), default=names, help=f"some of {','.join(names)}")
    parser.add_argument("--results", type=Path, help="where the JSON goes (bench/results, or bench/results/quick)")
    parser.add_argument("--plots", type=Path, help="where the PNGs go (docs/bench, or RESULTS/plots with --quick)")
    parser.add_argument("--docs", type=Path, action="append", help="docs to regenerate (README.md and deployment)")
    parser.add_argument("--no-docs", action="store_true", help="leave the docs alone")
    parser.add_argument("--report-only", action="store_true", help="run nothing: plots and docs from the JSON")
    args = parser.parse_args(argv)
    if unknown := set(args.only) - set(names):
        parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(names)}")
    args.results = args.results or ROOT / "bench" / "results" / ("quick" if args.quick else "")
    args.plots = args.plots or (args.results / "plots" if args.quick else ROOT / "docs" / "bench")
    if args.no_docs:
        args.docs = []
    elif args.docs is None:
        args.docs = [] if args.quick else list(FULL_DOCS)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.results.mkdir(parents=True, exist_ok=True)
    failed = []
    if not args.report_only:
        started = dt.datetime.now(dt.UTC)
        record: dict[str, Any] = {
            "command": "python bench/run_benchmarks.py" + "".join(f" {a}" for a in (argv or sys.argv[1:])),
            "quick": args.quick,
            "started_at": started.isoformat(timespec="seconds"),
            "machine": machine(),
            "benchmarks": {},
        }
        print(f"Machine: {json.dumps(record['machine'])}", flush=True)
        for bench in (b for b in BENCHES if b.name in args.only):
            record["benchmarks"][bench.name] = run_one(bench, args.quick, args.results)
            # Where each result came from, kept when a later --only run replaces others' (report.machine_section).
            record["benchmarks"][bench.name].update(
                command=record["command"], commit=record["machine"]["commit"], date=record["started_at"][:10]
            )
            if record["benchmarks"][bench.name]["status"] == "failed":
                failed.append(bench.name)
        record["total_s"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)
        previous = args.results / "run.json"
        if set(args.only) != {b.name for b in BENCHES} and previous.exists():  # --only: keep the others' record
            earlier = json.loads(previous.read_text()).get("benchmarks", {})
            record["benchmarks"] = {**earlier, **record["benchmarks"]}
        (args.results / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    results = report.load(args.results)
    m = results.get("run", {}).get("machine")
    label = f"{m['cores']} cores, {m['cpu']}, GPU: {m['gpu']}" if m else None
    drawn = plots.draw_all(args.results, args.plots, label)
    print("\nplots: " + (", ".join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in drawn)))
    for doc, kept in report.update(args.docs, results, args.plots).items():
        print(f"regenerated {doc}" + (f" (no result for: {', '.join(kept)}; left as it was)" if kept else ""))
    if not args.docs:
        print("docs left alone" + (" (quick figures are not the README's)" if args.quick else ""))
    if failed:
        print(f"FAILED: {', '.join(failed)} (see its output above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
