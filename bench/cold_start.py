"""Cold starts: what a pod pays before it does useful work, each in a fresh process (the OS file cache warm, as on a
node that has run the image before), median of N runs.

    python bench/cold_start.py [--runs 3] [--only stt,ocr,api,api-live,stt-job] [--out bench/results/cold_start.json]

- ``stt``: a Whisper worker: Python start + imports (``streamprocess.cli``, the runtime, the stt processor) + loading
  the bundled tiny.en (``Runtime.job_handler("stt")``, what ``streamprocess worker --queue stt`` does before its
  first receive);
- ``ocr``: the same for PP-OCR (the model load and its warm-up run, as the ocr processor does at start);
- ``api``: ``streamprocess api`` (live off) from process start to the first ``GET /ready`` 200 (no key);
- ``api-live``: the same with ``STREAMPROCESS_LIVE_MAX_STREAMS=4``: the live pool loads and warms its model first;
- ``stt-job``: ``streamprocess worker --queue events --queue stt --burst`` from process start to its exit after one
  job (jfk.flac, 11 s of speech) queued before it started: a KEDA job pod's whole life for one short job.

Settings are the defaults (CPU here: int8 CTranslate2, onnxruntime/OpenVINO) on the embedded queue and the local
store in a temporary folder. Prints a table and writes JSON (default bench/results/cold_start.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.local_services import free_port  # noqa: E402

JFK = ROOT.parent / "shared" / "testdata" / "audio" / "jfk.flac"

# A child that imports what a worker imports, then loads one kind's processor; prints its own phases as JSON.
LOAD = """
import json, sys, time
t0 = time.perf_counter()
import streamprocess.cli, streamprocess.runtime, streamprocess.processors.{kind}
t1 = time.perf_counter()
from streamprocess.config import Settings
from streamprocess.runtime import Runtime
Runtime(Settings()).job_handler("{kind}")
t2 = time.perf_counter()
print(json.dumps({{"import_s": t1 - t0, "load_s": t2 - t1}}), flush=True)
"""


def env_for(data: Path, **settings: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMPROCESS_")}
    env.update({"PYTHONPATH": str(ROOT), "STREAMPROCESS_DATA_DIR": str(data), "STREAMPROCESS_LOG_LEVEL": "WARNING"})
    env.update({f"STREAMPROCESS_{k.upper()}": str(v) for k, v in settings.items()})
    return env


def load(kind: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", LOAD.format(kind=kind)],
            env=env_for(Path(tmp) / "data"),
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        total = time.perf_counter() - t0
    phases = json.loads(out.stdout.strip().splitlines()[-1])
    return {"total_s": total, **phases}


def api(live_streams: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        port, grpc_port = free_port(), free_port()
        env = env_for(
            Path(tmp) / "data", api_keys="bench=key", live_max_streams=live_streams, port=port, grpc_port=grpc_port
        )
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamprocess", "api"],
            env=env,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"api exited with {proc.returncode}: {proc.stderr.read()!r}")  # type: ignore[union-attr]
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as r:
                        if r.status == 200:
                            break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    pass
                time.sleep(0.02)
            total = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(60)
    return {"total_s": total}


def stt_job() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        env = env_for(data, live_max_streams=0)
        cmd = [sys.executable, "-m", "streamprocess"]
        subprocess.run([*cmd, "submit", str(JFK)], env=env, cwd=tmp, capture_output=True, check=True, timeout=120)
        t0 = time.perf_counter()
        subprocess.run(
            [*cmd, "worker", "--queue", "events", "--queue", "stt", "--burst"],
            env=env,
            cwd=tmp,
            capture_output=True,
            check=True,
            timeout=600,
        )
        total = time.perf_counter() - t0
        states = [json.loads(p.read_text())["state"] for p in (data / "jobs").glob("*.json")]
        if states != ["succeeded"]:
            raise RuntimeError(f"the job did not succeed: {states}")
    return {"total_s": total}


CASES: dict[str, tuple[str, Callable[[], dict[str, float]]]] = {
    "stt": ("Whisper tiny.en worker: start, imports, model load", lambda: load("stt")),
    "ocr": ("PP-OCR worker: start, imports, model load + warm-up", lambda: load("ocr")),
    "api": ("`streamprocess api` (live off) to /ready 200", lambda: api(0)),
    "api-live": ("`streamprocess api`, live pool (tiny.en) to /ready 200", lambda: api(4)),
    "stt-job": ("`worker --burst`: start to exit after one 11 s job", stt_job),
}


def _cell(value: float | None, width: int) -> str:
    return " " * width if value is None else f"{value:{width}.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", default=",".join(CASES))
    parser.add_argument(
        "--out", "--json", dest="json", type=Path, default=ROOT / "bench" / "results" / "cold_start.json"
    )
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for name in args.only.split(","):
        what, run = CASES[name]
        runs = [run() for _ in range(args.runs)]
        results[name] = {
            "what": what,
            "runs": runs,
            **{f"median_{k}": statistics.median(r[k] for r in runs) for k in runs[0]},
        }
    print(f"{'case':9} {'median total s':>14} {'import s':>9} {'load s':>7}  what (median of {args.runs} runs)")
    for name, r in results.items():
        cols = [_cell(r.get(f"median_{k}"), w) for k, w in (("total_s", 14), ("import_s", 9), ("load_s", 7))]
        print(f"{name:9} {' '.join(cols)}  {r['what']}")
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "machine": platform.machine()}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"machine": machine, "runs": args.runs, "results": results}, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
