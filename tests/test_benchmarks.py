"""Every benchmark in one command, at its smallest: `python bench/run_benchmarks.py --quick` runs each benchmark
(the pipeline on all three queues, STT, live streams against the naive design, OCR on a rendered page and a real
scan, OCR through a local tritonserver, cold starts), records the machine, draws every plot and regenerates the
docs' generated sections — here into copies, so the README's figures stay those of the full run."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from bench import report

from .helpers import ROOT

pytestmark = pytest.mark.slow


def test_the_quick_run_measures_everything_and_regenerates_the_docs(tmp_path: Path) -> None:
    results, plots = tmp_path / "results", tmp_path / "plots"
    docs = [tmp_path / "README.md", tmp_path / "docs" / "deployment.md"]
    docs[1].parent.mkdir()
    for copy, original in zip(docs, (ROOT / "README.md", ROOT / "docs" / "deployment.md"), strict=True):
        shutil.copy(original, copy)
    cmd = [sys.executable, "bench/run_benchmarks.py", "--quick", "--results", str(results), "--plots", str(plots)]
    cmd += [arg for doc in docs for arg in ("--docs", str(doc))]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]

    run = json.loads((results / "run.json").read_text())
    assert run["quick"] is True
    assert {name: b["status"] for name, b in run["benchmarks"].items()} == dict.fromkeys(
        ("pipeline", "stt", "live", "ocr", "triton", "cold_start"), "ok"
    )
    assert run["machine"]["cores"] >= 1 and run["machine"]["cpu"] and run["machine"]["gpu"]
    assert run["total_s"] < 300, f"--quick must stay under 5 minutes for CI; it took {run['total_s']} s"

    pipeline = json.loads((results / "pipeline.json").read_text())
    assert [r["backend"] for r in pipeline["results"]] == ["embedded", "redis", "sqs"]
    assert all(r["latency"]["n"] == 10 and r["throughput_jobs_per_s"] > 0 for r in pipeline["results"])
    stt = json.loads((results / "stt.json").read_text())
    assert [f["file"] for f in stt["files"]] == ["jfk.flac"] and stt["files"][0]["wer"]["pipeline"] < 0.1
    live = json.loads((results / "live.json").read_text())
    assert {(r["design"], r["streams"]) for r in live["rows"]} >= {("pool", 1), ("naive", 1)}
    assert all(r["failed"] == 0 and r["frames"] > 0 for r in live["rows"])
    realtime = json.loads((results / "live_realtime.json").read_text())  # the pool over OpenAI's Realtime API
    assert {(r["design"], r["streams"], r["protocol"]) for r in realtime["rows"]} == {
        ("pool", n, "realtime") for n in (1, 2)
    }
    assert all(r["failed"] == 0 and r["stable_words"] > 0 and r["wer_mean"] < 0.2 for r in realtime["rows"])
    ocr = json.loads((results / "ocr.json").read_text())
    pages = {p["page"]: p for p in ocr["pages"]}
    assert {p["corpus"] for p in pages.values()} == {"rendered", "real"}
    assert pages["linn"]["size"] == [2550, 3300] and pages["linn"]["engine"]["cer"] is not None
    assert set(ocr["overall_by_corpus"]) == {"rendered", "real"}
    assert [r["design"].split(",")[0] for r in ocr["throughput"]] == ["tesseract", "engine", "engine"]
    assert all(r["pages_per_s"] > 0 and r["pages"] > 0 for r in ocr["throughput"])
    triton = json.loads((results / "triton.json").read_text())
    assert [p["page"] for p in triton["pages"]] == ["english-light"] and triton["pages"][0]["same_text"]
    assert {(r["design"], r["concurrency"]) for r in triton["throughput"]} == {
        (d, n) for d in ("dynamic batching", "no batching") for n in (1, 4)
    }
    assert all(r["pages_per_s"] > 0 for r in triton["throughput"])

    for name in ("pipeline", "stt", "live", "ocr"):
        with Image.open(plots / f"{name}.png") as png:
            assert png.format == "PNG" and 800 <= png.width <= 1600, (name, png.size)

    for doc, original in zip(docs, (ROOT / "README.md", ROOT / "docs" / "deployment.md"), strict=True):
        text = doc.read_text()
        assert text != original.read_text()
        assert report.render(text, report.load(results), plots, doc)[0] == text  # exactly what the results say
        outside = report.MARKER.sub("", text)
        assert outside == report.MARKER.sub("", original.read_text()), f"{doc.name}: prose outside the markers changed"
        for m in report.MARKER.finditer(text):
            assert "|" in m["body"] or m["name"] == "machine", m["name"]
    readme = docs[0].read_text()
    assert "Figures from a quick run" in readme
    for name in ("pipeline", "stt", "live", "ocr"):
        assert f"](plots/{name}.png)" in readme  # relative to the doc, as GitHub resolves it
