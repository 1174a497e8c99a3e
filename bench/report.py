"""The benchmark figures in the docs: Markdown sections rendered from bench/results/*.json, spliced between markers.

A generated section sits between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in README.md (machine,
pipeline, stt, live, ocr) and docs/deployment.md (cold_start); everything outside the markers is written by hand and
left alone. ``bench/run_benchmarks.py`` calls :func:`update` after a run; a test renders the committed JSON and checks
that the README says the same, so the tables cannot drift from the run that made them.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

Results = dict[str, Any]  # bench name → its JSON (absent when that benchmark has no result)

BACKENDS = {
    "embedded": "embedded (local store + SQLite queue)",
    "redis": "Redis Streams (local store)",
    "sqs": "SQS + S3 (moto server)",
}
OCR_MODES = (
    ("rapidocr", "plain rapidocr"),
    ("tesseract", "plain Tesseract"),
    ("engine", "OCR engine"),
    ("pipeline", "pipeline job"),
)
COLD_START = {
    "stt": ("STT job pod, Whisper tiny.en (bundled), CPU int8", "model loaded"),
    "ocr": ("OCR job pod, PP-OCR (bundled), CPU", "model loaded and warmed up"),
    "api": ("`streamprocess api`, live off", "first `/ready` 200"),
    "api-live": ("`streamprocess api`, live pool on (tiny.en)", "first `/ready` 200"),
    "stt-job": ("`worker --burst`, one 11 s file (jfk.flac)", "exit after the job"),
}


class ReportError(ValueError):
    """A docs file whose markers are missing or broken, or a result that lacks what its section needs."""


def load(results_dir: Path) -> Results:
    """Every bench result in a folder, by name (``pipeline.json`` → ``pipeline``), plus ``run`` (the run's record)."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(results_dir.glob("*.json"))}


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join([_row(header), _row(["---"] * len(header)), *(_row(r) for r in rows)])


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def image(plots: Path | None, name: str, alt: str, doc: Path) -> str:
    if plots is None or not (plots / name).exists():
        return ""
    return f"\n\n![{alt}]({Path(os.path.relpath(plots / name, doc.parent)).as_posix()})"


def machine_section(results: Results, plots: Path | None, doc: Path) -> str:
    run = results.get("run")
    if run is None:
        raise ReportError("no run.json: run python bench/run_benchmarks.py (it records the machine)")
    m = run["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    machine = (
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, GPU: {m['gpu']}; {m['os']}; Python {m['python']}; "
        f"{versions}"
    )
    if run["quick"]:
        return f"Figures from a quick run (`--quick`: smallest settings, not for comparison) on {machine}."
    runs: dict[tuple[str, str, str], list[str]] = {}  # (command, commit, date) → the benchmarks it made
    for name, b in run["benchmarks"].items():
        if b["status"] == "ok":
            runs.setdefault((b["command"], b["commit"], b["date"]), []).append(name)
    made = "; ".join(
        f"{', '.join(names)} by `{command}` at commit `{commit}` on {date}"
        for (command, commit, date), names in sorted(runs.items(), key=lambda kv: (kv[0][2], "--only" in kv[0][0]))
    )
    return f"Figures made on {machine}. JSON in `bench/results/`. Made: {made}."


def pipeline_section(results: Results, plots: Path | None, doc: Path) -> str:
    rows = []
    for r in results["pipeline"]["results"]:
        lat, over = r["latency"], r["overhead"]
        goal = r["goal_p50_overhead_ms"]
        rows.append(
            [
                BACKENDS.get(r["backend"], r["backend"]),
                f"{lat['p50_ms']} ms",
                f"{lat['p95_ms']} ms",
                f"{lat['p99_ms']} ms",
                f"{over['p50_ms']} ms",
                f"{over['p95_ms']} ms",
                f"{r['processor_noop']['p50_ms']} ms",
                f"< {goal} ms ({'met' if r['meets_goal'] else 'MISSED'})",
                f"{r['throughput_jobs_per_s']} jobs/s",
            ]
        )
    header = ["backend", "latency p50", "p95", "p99", "overhead p50", "overhead p95", "no-op processor p50"]
    meta = results["pipeline"]["meta"]
    return (
        f"{meta['latency_jobs']} sequential jobs for latency, {meta['throughput_jobs']} submitted at once for "
        f"throughput:\n\n"
        + table([*header, "goal (overhead p50)", "throughput"], rows)
        + image(plots, "pipeline.png", "Pipeline overhead per queue backend", doc)
    )


def stt_section(results: Results, plots: Path | None, doc: Path) -> str:
    stt = results["stt"]
    rows = []
    for r in stt["files"]:
        raw, eng, pipe = r["raw"], r["engine"], r["pipeline"]
        rows.append(
            [
                r["file"],
                f"{r['audio_s']} s",
                f"{raw['median_s']:.3f} s",
                f"{eng['median_s']:.3f} s",
                f"{pipe['median_s']:.3f} s ({pipe['p95_s']:.3f} s)",
                str(pipe["rtf"]),
                f"{eng['ratio_to_raw']} / {pipe['ratio_to_raw']}",
                pct(r["wer"]["pipeline"]) if "wer" in r else "—",
            ]
        )
    header = ["file", "audio", "plain faster-whisper", "stt engine", "pipeline job (p95)", "RTF (pipeline)"]
    out = f"{stt['meta']['runs']} interleaved runs per file:\n\n" + table(
        [*header, "ratio engine / pipeline", "WER"], rows
    )
    long = stt.get("long")
    if long:
        modes = [k for k in long if isinstance(long[k], dict)]
        lrows = [
            [m, f"{long[m]['median_s']:.2f} s ({long[m]['p95_s']:.2f} s)", str(long[m]["rtf"]), pct(long[m]["wer"])]
            for m in modes
        ]
        seq, bat = long["sequential"], long["batched (batch 8)"]
        speed = long["batched_speedup"]
        verdict = f"×{speed} faster" if speed >= 1 else f"×{1 / speed:.2f} slower"
        out += (
            f"\n\nBatched against sequential decoding on a long file ({long['file']}, {long['audio_s']} s), "
            f"{seq['n']} runs each:\n\n"
            + table(["mode", "time, median (p95)", "RTF", "WER"], lrows)
            + f"\n\nHere the batched pipeline was {verdict} than sequential decoding, WER {pct(seq['wer'])} → "
            f"{pct(bat['wer'])}."
        )
    return out + image(plots, "stt.png", "STT real-time factor per file", doc)


PEER_NAMES = {"whisperlive": "WhisperLive", "whisperlivekit": "WhisperLiveKit"}


def _ms(row: dict[str, Any] | None, *keys: str) -> str:
    """``row``'s latencies ``keys`` as "192 / 514 ms" ("—" without a row)."""
    if not row:
        return "—"
    return " / ".join(f"{row[k]:,.0f}" for k in keys) + " ms"


def peer_label(name: str, rows: list[dict[str, Any]]) -> str:
    """ "WhisperLive, 2 threads" for the peer row ``name`` (its threads as the rows record them)."""
    row = next(r for r in rows if r["design"] == name)
    base, threads = row.get("peer", name), row.get("threads", 1)
    return f"{PEER_NAMES.get(base, base)}, {threads} thread{'s' if threads != 1 else ''}"


def live_section(results: Results, plots: Path | None, doc: Path) -> str:
    live = results["live"]
    rows = live["rows"]
    by = {(r["design"], r["streams"]): r for r in rows}
    held = live["held_at_word_p95_under_1s"]
    levels = sorted({r["streams"] for r in rows if r["design"] in ("pool", "naive")})
    trows = []
    for n in levels:
        p, q = by.get(("pool", n)), by.get(("naive", n))
        trows.append(
            [
                str(n),
                _ms(p, "word_p50_ms", "word_p95_ms", "word_p99_ms"),
                _ms(p, "committed_p50_ms", "committed_p95_ms"),
                pct(p["wer_mean"]) if p else "—",
                f"{p['server_cpu_cores']:.2f} · {p['server_rss_peak_mb']:.0f} MB" if p else "—",
                _ms(q, "word_p50_ms", "word_p95_ms"),
                pct(q["wer_mean"]) if q else "—",
            ]
        )
    out = (
        f"Audio: {live['audio']}, the same in every stream. Latency per word ({live['reference_words']} reference "
        "words a stream, bench/live_words.py): from sending the frame holding the word's end to the first message "
        "showing it (word: finals or partial; committed: text that will no longer change).\n\n"
    )
    out += table(
        [
            "streams",
            "this pool: word p50 / p95 / p99",
            "committed p50 / p95",
            "WER",
            "server CPU cores · peak RSS",
            "naive: word p50 / p95",
            "WER",
        ],
        trows,
    )
    out += (
        f"\n\nStreams held at word p95 < 1 s: {held.get('pool', 0)} here against the naive design's "
        f"{held.get('naive', 0)} (goals: ≥ 8 on 2 cores, ≥ 2× naive)."
    )
    if one := by.get(("pool", 1)):
        out += (
            f" One stream: word p95 {one['word_p95_ms']:,.0f} ms, committed p50 {one['committed_p50_ms']:,.0f} ms "
            "(goals < 400 ms and < 800 ms)."
        )
    if failed := sum(r["failed"] for r in rows):
        out += f" {failed} stream(s) did not end cleanly."
    if live.get("peers"):
        out += "\n\n" + peers_table(live)
    if "live_realtime" in results:
        out += "\n\n" + realtime_table({n: r for (d, n), r in by.items() if d == "pool"}, results["live_realtime"])
    return out + image(plots, "live.png", "Live caption word latency against concurrent streams", doc)


def peers_table(live: dict[str, Any]) -> str:
    """This pool beside each peer, same run, same audio and method: word p50 / p95 and WER per level; the ratios."""
    rows, peers = live["rows"], live["peers"]
    by = {(r["design"], r["streams"]): r for r in rows}
    names = ["pool", *peers]
    trows = []
    for n in sorted({n for d, n in by if d in names}):
        cells = [str(n)]
        for d in names:
            r = by.get((d, n))
            cells += [_ms(r, "word_p50_ms", "word_p95_ms"), pct(r["wer_mean"]) if r else "—"]
        trows.append(cells)
    header = ["streams", "this pool: word p50 / p95", "WER"]
    for name in peers:
        header += [f"{peer_label(name, rows)}: word p50 / p95", "WER"]
    out = "Against other open-source servers, same run, same model, audio and method (`--peers`):\n\n"
    out += table(header, trows)
    for name, c in peers.items():
        ratio = f"{c['held_ratio']:.1f}×" if c["held_ratio"] is not None else "— (it holds none)"
        p50 = ", ".join(f"{r:.1f}× at {n}" for n, r in c["word_p50_ratio"].items()) or "—"
        out += (
            f"\n\n{peer_label(name, rows)}: streams held at word p95 < 1 s {c['held']}, ours / theirs {ratio}; "
            f"its word p50 over ours: {p50}."
        )
    if failed := {d: f for d in peers if (f := sum(r["failed"] for r in rows if r["design"] == d))}:
        out += " Streams that did not end cleanly: " + ", ".join(f"{d} {f}" for d, f in failed.items()) + "."
    return out


def realtime_table(native: dict[int, dict[str, Any]], realtime: dict[str, Any]) -> str:
    """The pool over OpenAI's Realtime API beside its own protocol, same run. A Realtime client sees only text that
    will not change (deltas, no audio times), so its word and committed latencies are one figure."""
    rows = []
    for r in sorted((r for r in realtime["rows"] if r["design"] == "pool"), key=lambda r: r["streams"]):
        n = native.get(r["streams"])
        rows.append(
            [
                str(r["streams"]),
                _ms(n, "word_p50_ms", "word_p95_ms"),
                _ms(n, "committed_p50_ms", "committed_p95_ms"),
                pct(n["wer_mean"]) if n else "—",
                _ms(r, "committed_p50_ms", "committed_p95_ms"),
                pct(r["wer_mean"]),
            ]
        )
    out = (
        "The same pool over OpenAI's Realtime API (`/v1/realtime`), in the same run; a Realtime client sees only "
        "text that will not change (its deltas), so its one latency compares with the native protocol's committed "
        "latency:\n\n"
    )
    out += table(
        ["streams", "native word p50 / p95", "native committed p50 / p95", "WER", "Realtime p50 / p95", "WER"], rows
    )
    if failed := sum(r["failed"] for r in realtime["rows"]):
        out += f"\n\n{failed} Realtime stream(s) did not end cleanly."
    return out


def _ocr_cell(mode: dict[str, Any]) -> str:
    cer = mode.get("cer")
    return f"{mode['p50_s']:.2f} s" + ("" if cer is None else f" · CER {cer:.1%}")


def ocr_section(results: Results, plots: Path | None, doc: Path) -> str:
    ocr = results["ocr"]
    rows = []
    for p in ocr["pages"]:
        size = f"{p['size'][0]}×{p['size'][1]}" if p.get("size") else "—"
        name = p["page"] + (" (held out)" if p.get("holdout") else "")
        rows.append(
            [name, p.get("corpus", "rendered"), size, *(_ocr_cell(p[m]) for m, _ in OCR_MODES), p["engine_used"]]
        )
    out = table(["page", "corpus", "pixels", *(label for _, label in OCR_MODES), "engine used"], rows)
    groups = ocr.get("overall_by_corpus") or {"all pages": ocr["overall"]}
    orows = []
    for corpus, overall in groups.items():
        for mode, label in OCR_MODES:
            s = overall[mode]
            orows.append(
                [corpus, label, f"{s['p50_s']:.2f} s", f"{s['p95_s']:.2f} s", f"{s['p99_s']:.2f} s"]
                + [str(s["ratio_p50_to_rapidocr"])]
            )
    out += (
        f"\n\nMedians of {ocr['meta']['runs']} runs per page. All runs together, seconds per page (the spec's target "
        "is p99 < 2 s a page):\n\n" + table(["pages", "", "p50", "p95", "p99", "p50 ratio to plain rapidocr"], orows)
    )
    if ocr.get("throughput"):
        trows = [
            [r["design"], str(r["processes"]), r["threads_per_process"], f"{r['pages_per_s']:.3f}"]
            + [f"×{r['ratio_to_tesseract']}"]
            for r in ocr["throughput"]
        ]
        out += (
            f"\n\nThroughput on the whole machine over the real scans ({ocr['throughput'][0]['pages']} pages each):"
            "\n\n" + table(["design", "processes", "threads each", "pages/s", "ratio to Tesseract"], trows)
        )
    return out + image(plots, "ocr.png", "OCR seconds per page for each engine", doc)


def triton_section(results: Results, plots: Path | None, doc: Path) -> str:
    tri = results["triton"]
    rows = []
    for p in tri["pages"]:
        c = p.get("cer")
        rows.append(
            [
                p["page"],
                f"{p['local']['p50_s']:.2f} s" + (f" · CER {c['local']:.1%}" if c else ""),
                f"{p['triton']['p50_s']:.2f} s" + (f" · CER {c['triton']:.1%}" if c else ""),
                f"×{p['ratio_p50']}",
                "yes" if p["same_text"] else "no",
            ]
        )
    out = f"Medians of {tri['meta']['runs']} runs per page; server: {tri['meta']['server']}.\n\n"
    out += table(["page", "PP-OCR local", "PP-OCR on Triton", "ratio", "same text"], rows)
    by: dict[int, dict[str, dict[str, Any]]] = {}
    for r in tri["throughput"]:
        by.setdefault(r["concurrency"], {})[r["design"]] = r
    trows = []
    for n, designs in sorted(by.items()):
        on, off = designs.get("dynamic batching"), designs.get("no batching")
        cells = [str(n), f"{on['pages_per_s']} pages/s" if on else "—", f"{off['pages_per_s']} pages/s" if off else "—"]
        cells.append(f"×{tri['batching_gain'][str(n)]}" if str(n) in tri["batching_gain"] else "—")
        cells.append(str(on.get("rec_requests_per_execution", "—")) if on else "—")
        trows.append(cells)
    out += (
        f"\n\nConcurrent documents against one server (each reads every page {tri['meta']['docs']} times):\n\n"
        + table(["documents", "dynamic batching", "no batching", "gain", "recognition requests per execution"], trows)
    )
    return out


def cold_start_section(results: Results, plots: Path | None, doc: Path) -> str:
    cold = results["cold_start"]
    rows = []
    for name, r in cold["results"].items():
        what, until = COLD_START.get(name, (r["what"], ""))
        parts = [f"{r[k]:.2f} s" if k in r else "" for k in ("median_import_s", "median_load_s")]
        rows.append([what, until, f"{r['median_total_s']:.2f} s", *parts])
    return f"Median of {cold['runs']} runs:\n\n" + table(
        ["what", "process start to", "median", "of which imports", "of which model load"], rows
    )


Section = Callable[[Results, Path | None, Path], str]
SECTIONS: dict[str, tuple[str, Section]] = {  # marker name → (the bench it needs, renderer)
    "machine": ("run", machine_section),
    "pipeline": ("pipeline", pipeline_section),
    "stt": ("stt", stt_section),
    "live": ("live", live_section),
    "ocr": ("ocr", ocr_section),
    "triton": ("triton", triton_section),
    "cold_start": ("cold_start", cold_start_section),
}
MARKER = re.compile(r"(<!-- bench:(?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- /bench:(?P=name) -->)", re.S)


def render(text: str, results: Results, plots: Path | None, doc: Path) -> tuple[str, list[str]]:
    """The doc with every section whose result is present regenerated; and the names of those left as they were."""
    starts = re.findall(r"<!-- bench:([a-z_]+) -->", text)
    found = [m["name"] for m in MARKER.finditer(text)]
    if starts != found:
        raise ReportError(f"{doc}: unmatched bench markers: {sorted(set(starts) - set(found))}")
    kept: list[str] = []

    def replace(m: re.Match[str]) -> str:
        name = m["name"]
        if name not in SECTIONS:
            raise ReportError(f"{doc}: unknown section <!-- bench:{name} --> (known: {', '.join(SECTIONS)})")
        needs, section = SECTIONS[name]
        if needs not in results:
            kept.append(name)
            return m.group(0)
        try:
            body = section(results, plots, doc)
        except KeyError as e:
            raise ReportError(f"{needs}.json lacks {e} for the {name} section of {doc}") from None
        return m.group(1) + body + "\n" + m.group(4)

    return MARKER.sub(replace, text), kept


def update(docs: list[Path], results: Results, plots: Path | None) -> dict[Path, list[str]]:
    """Regenerate the sections of each doc in place; returns, per doc, the sections left unchanged (no result)."""
    kept = {}
    for doc in docs:
        text, kept[doc] = render(doc.read_text(), results, plots, doc)
        doc.write_text(text)
    return kept
