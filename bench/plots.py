"""Plots for the README, drawn from the benchmark JSON files (no measuring here).

    python bench/plots.py [--results bench/results] [--out DIR] [--machine "2 cores, Intel Xeon ..."]

Reads whichever of live.json, ocr.json, pipeline.json and stt.json exist in the results folder and writes one PNG
each (live.png, ocr.png, pipeline.png, stt.png, ~1100 px wide, deterministic bytes for unchanged input):
- live:     word latency p50/p95 (ms, log scale) against concurrent live streams, hot pool vs naive design and the
            peers of the same run, goal lines at 1 s p95 (the "streams held" threshold) and 300 ms (the STT latency
            target);
- ocr:      seconds per page (p50) for this engine, the pipeline job, Tesseract and rapidocr, rendered pages and
            real scans under separate headers, goal line at 2 s a page, CER beside a bar where above 0;
- pipeline: overhead p50/p95 (ms) per queue backend with each backend's p50 goal, throughput under the name;
- stt:      real-time factor per file for plain faster-whisper, the STT engine and the pipeline job, and the long
            file sequential vs batched.
A file that is missing is skipped; one that is present but malformed raises PlotInputError naming file and key.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

ROOT = Path(__file__).resolve().parent.parent
WIDTH_IN = 8.0  # × DPI = 1120 px
DPI = 140
GOAL = "#c0392b"
COLORS = {
    "pool": "#1f77b4",
    "naive": "#d62728",
    "whisperlive": "#2ca02c",
    "whisperlive2": "#98df8a",
    "whisperlivekit": "#9467bd",
}
OCR_METHODS = (  # key, label, colour (top to bottom within a page)
    ("engine", "this engine", "#1f77b4"),
    ("pipeline", "pipeline job", "#6baed6"),
    ("tesseract", "Tesseract", "#ff7f0e"),
    ("rapidocr", "rapidocr (defaults)", "#9e9e9e"),
)
STT_METHODS = (
    ("raw", "plain faster-whisper", "#9e9e9e"),
    ("engine", "STT engine", "#1f77b4"),
    ("pipeline", "pipeline job", "#6baed6"),
)
STYLE: dict[Any, Any] = {  # rcParams, fixed so the output does not depend on a matplotlibrc
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 12,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.7,
    "axes.axisbelow": True,
    "svg.hashsalt": "streamprocess",
}


class PlotInputError(ValueError):
    """A results file is present but does not have the shape a plot needs."""


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise PlotInputError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise PlotInputError(f"{path}: top level is {type(data).__name__}, expected an object")
    return data


def _get(obj: Any, key: str, where: str, kind: type | tuple[type, ...] = (int, float)) -> Any:
    """``obj[key]`` checked against ``kind``; ``where`` is "file: path.to.obj" for the error message."""
    if not isinstance(obj, dict) or key not in obj:
        raise PlotInputError(f"{where}: missing key {key!r}")
    value = obj[key]
    bad_bool = isinstance(value, bool) and kind in ((int, float), int, float)
    if bad_bool or not isinstance(value, kind):
        raise PlotInputError(f"{where}.{key}: got {value!r}, expected {getattr(kind, '__name__', 'a number')}")
    return value


def _optional_dict(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _machine_of(data: dict[str, Any]) -> str | None:
    """The machine line a bench script stored: meta.machine (a string) or live.json's machine dict."""
    meta = data.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("machine"), str):
        return meta["machine"]
    m = data.get("machine")
    if isinstance(m, dict) and isinstance(m.get("cpu_count"), int):
        return f"{m['cpu_count']} cores"
    return m if isinstance(m, str) else None


def _figure(height: float, **kwargs: Any) -> tuple[Figure, Any]:
    return plt.subplots(figsize=(WIDTH_IN, height), dpi=DPI, **kwargs)


def _save(fig: Figure, title: str, subtitle: str, path: Path) -> Path:
    fig.suptitle(title, x=0.01, ha="left", fontsize=13, fontweight="bold")
    fig.text(0.01, 0.0, subtitle, ha="left", va="bottom", fontsize=8.5, color="#555555")
    caption_in = 0.07 + 0.17 * (subtitle.count("\n") + 1)
    fig.tight_layout(rect=(0, caption_in / fig.get_figheight(), 1, 1))
    fig.savefig(path, dpi=DPI, metadata={"Software": None})
    plt.close(fig)
    return path


def _legend_above(ax: Any, ncol: int, handles: list[Any] | None = None, labels: list[str] | None = None) -> None:
    """Legend in a row above the plot area, so it never covers data."""
    args = (handles, labels) if handles is not None else ()
    ax.legend(*args, loc="lower left", bbox_to_anchor=(0.0, 1.02), ncol=ncol, frameon=False, borderaxespad=0.0)


def _subtitle(*parts: str | None, width: int = 125) -> str:
    """Parts joined by " · ", wrapped onto a second line (or more) when wider than the figure."""
    lines: list[str] = []
    for part in (p for p in parts if p):
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return "\n".join(lines)


def draw_live(data: dict[str, Any], path: Path, machine: str | None, src: str = "live.json") -> Path:
    rows = _get(data, "rows", src, list)
    p50, p95 = "word_p50_ms", "word_p95_ms"
    series: dict[str, list[tuple[int, float, float]]] = {}
    for i, row in enumerate(rows):
        where = f"{src}: rows[{i}]"
        design = _get(row, "design", where, str)
        point = (_get(row, "streams", where, int), _get(row, p50, where), _get(row, p95, where))
        series.setdefault(design, []).append(point)
    if not series:
        raise PlotInputError(f"{src}: rows is empty")
    held = _optional_dict(data, "held_at_word_p95_under_1s")
    fig, ax = _figure(4.6)
    names = {
        "pool": "hot pool (this project)",
        "naive": "naive design",
        "whisperlive": "WhisperLive",
        "whisperlive2": "WhisperLive, 2 threads",
        "whisperlivekit": "WhisperLiveKit",
    }
    levels = sorted({p[0] for pts in series.values() for p in pts})
    values = [v for pts in series.values() for p in pts for v in p[1:] if v == v]  # nan: a level that saw no word
    for design, pts in sorted(series.items(), key=lambda kv: (kv[0] != "pool", kv[0])):
        pts.sort()
        colour = COLORS.get(design, "#555555")
        x = [p[0] for p in pts]
        label = names.get(design, design)
        n = held.get(design)
        if isinstance(n, int) and not isinstance(n, bool):
            held_text = f"holds {n} stream{'s' if n != 1 else ''}" if n else "holds none"
        else:
            held_text = ""
        label = f"{label}: p95" + (f" ({held_text})" if held_text else "")
        ax.plot(x, [p[2] for p in pts], "-s", color=colour, lw=2, ms=5, label=label)
        ax.plot(x, [p[1] for p in pts], "--o", color=colour, lw=1.3, ms=4, alpha=0.75, label="p50")
    ax.axhline(1000, color=GOAL, lw=1.2, ls="-", zorder=1)
    ax.axhline(300, color=GOAL, lw=1.0, ls=":", zorder=1)
    ax.set_xscale("log", base=2)
    ax.set_xticks(levels, [str(n) for n in levels])
    ax.xaxis.set_minor_formatter(NullFormatter())
    pad = 2**0.35
    ax.set_xlim(levels[0] / pad, levels[-1] * pad)
    lo, hi = min(values + [300.0]), max(values + [1000.0])
    ax.set_yscale("log")
    ylo, yhi = lo / 1.5, hi * 1.5
    ax.set_ylim(ylo, yhi)
    ticks = [t for t in (50, 100, 200, 300, 500, 1000, 2000, 3000, 5000, 10000, 20000, 50000) if ylo <= t <= yhi]
    ax.set_yticks(ticks)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="major", axis="both")
    ax.grid(False, which="minor")
    trans = ax.get_yaxis_transform()
    for y, text in ((1000, "goal: p95 < 1 s\n(stream held)"), (300, "300 ms STT\nlatency target")):
        ax.text(1.01, y, text, color=GOAL, fontsize=8.5, va="center", ha="left", transform=trans)
    ax.set_xlabel("concurrent live streams (real-time audio, 100 ms frames)")
    ax.set_ylabel("word latency (ms, log scale)")
    _legend_above(ax, ncol=2)
    model = data.get("model") if isinstance(data.get("model"), str) else None
    sub = _subtitle("naive = one stock transcribe() per decode, 30 s padding", model, machine or _machine_of(data))
    title = "Live captioning: word latency vs concurrent streams"
    return _save(fig, title, sub, path)


def _ocr_value(page: dict[str, Any], method: str, where: str) -> tuple[float, float | None] | None:
    if method not in page or page[method] is None:
        return None
    seconds = _get(page[method], "p50_s", f"{where}.{method}")
    cer = page[method].get("cer") if isinstance(page[method], dict) else None
    if cer is not None and (isinstance(cer, bool) or not isinstance(cer, (int, float))):
        raise PlotInputError(f"{where}.{method}.cer: got {cer!r}, expected a number or null")
    return float(seconds), cer


def draw_ocr(data: dict[str, Any], path: Path, machine: str | None, src: str = "ocr.json") -> Path:
    pages = _get(data, "pages", src, list)
    if not pages:
        raise PlotInputError(f"{src}: pages is empty")
    corpora: dict[str, list[tuple[str, dict[str, tuple[float, float | None]]]]] = {}
    for i, page in enumerate(pages):
        where = f"{src}: pages[{i}]"
        name = _get(page, "page", where, str)
        corpus = page.get("corpus", "rendered")
        if not isinstance(corpus, str):
            raise PlotInputError(f"{where}.corpus: got {corpus!r}, expected a string")
        vals = {m: v for m, _, _ in OCR_METHODS if (v := _ocr_value(page, m, where)) is not None}
        if not vals:
            raise PlotInputError(f"{where}: none of {', '.join(m for m, _, _ in OCR_METHODS)}")
        corpora.setdefault(corpus, []).append((name, vals))
    order = sorted(corpora, key=lambda c: (c != "rendered", c != "real", c))
    methods = [m for m in OCR_METHODS if any(m[0] in v for pg in corpora.values() for _, v in pg)]
    n_pages = sum(len(pg) for pg in corpora.values())
    fig, ax = _figure(2.3 + 0.22 * len(methods) * n_pages + 0.3 * len(order))
    top = max(v[0] for pg in corpora.values() for _, vals in pg for v in vals.values())
    xmax = max(top, 2.0) * 1.14
    bar_h = 0.8 / len(methods)
    overall = _optional_dict(data, "overall")
    titles = {"rendered": "rendered pages (A4, 200 DPI)", "real": "real scans"}
    ticks: list[tuple[float, str]] = []
    row = 0.0
    for c, corpus in enumerate(order):  # one header row per corpus, then its pages
        if c:
            ax.axhline(row - 0.55, color="#888888", lw=0.8)
        box = {"facecolor": "white", "edgecolor": "none", "pad": 1.0}
        header = titles.get(corpus, corpus)
        ax.text(xmax * 0.012, row - 0.05, header, fontweight="bold", fontsize=9.5, va="center", bbox=box, zorder=4)
        row += 0.75
        for name, vals in corpora[corpus]:
            for j, (key, _, colour) in enumerate(methods):
                if key not in vals:
                    continue
                y = row + (j - (len(methods) - 1) / 2) * bar_h
                seconds, cer = vals[key]
                ax.barh(y, seconds, height=bar_h * 0.92, color=colour)
                if cer:
                    ax.text(seconds + xmax * 0.008, y, f"CER {cer:.2f}", va="center", fontsize=7.5, color="#333333")
            ticks.append((row, name))
            row += 1.0
        row += 0.1
    ax.set_yticks([t for t, _ in ticks], [n for _, n in ticks])
    ax.set_ylim(row - 0.5, -0.45)
    ax.axvline(2.0, color=GOAL, lw=1.3, zorder=3)
    ax.grid(False, axis="y")
    ax.set_xlim(0, xmax)
    ax.set_xlabel("seconds per page (p50 over runs; lower is better)")
    handles: list[Any] = [plt.Rectangle((0, 0), 1, 1, color=c) for _, _, c in methods]
    handles.append(plt.Line2D([], [], color=GOAL, lw=1.3))
    labels = []
    for key, label, _ in methods:
        o = overall.get(key)
        if (
            isinstance(o, dict)
            and isinstance(o.get("p50_s"), (int, float))
            and isinstance(o.get("p99_s"), (int, float))
        ):
            label += f" — all pages p50 {o['p50_s']:.2f} s, p99 {o['p99_s']:.2f} s"
        labels.append(label)
    labels.append("goal: p99 < 2 s a page")
    _legend_above(ax, 1, handles, labels)
    notes = "pipeline job = event → done, all outputs written · labels: character error rate where above 0"
    sub = _subtitle(notes, machine or _machine_of(data))
    return _save(fig, "OCR: seconds per page", sub, path)


def draw_pipeline(data: dict[str, Any], path: Path, machine: str | None, src: str = "pipeline.json") -> Path:
    results = _get(data, "results", src, list)
    if not results:
        raise PlotInputError(f"{src}: results is empty")
    rows = []
    for i, r in enumerate(results):
        where = f"{src}: results[{i}]"
        over = _get(r, "overhead", where, dict)
        rows.append(
            (
                _get(r, "backend", where, str),
                _get(over, "p50_ms", f"{where}.overhead"),
                _get(over, "p95_ms", f"{where}.overhead"),
                r.get("goal_p50_overhead_ms") if isinstance(r.get("goal_p50_overhead_ms"), (int, float)) else None,
                r.get("throughput_jobs_per_s") if isinstance(r.get("throughput_jobs_per_s"), (int, float)) else None,
            )
        )
    fig, ax = _figure(4.2)
    w = 0.36
    xs = range(len(rows))
    top = max(max(r[2], r[3] or 0) for r in rows)
    for x, (_, p50, p95, goal, _) in zip(xs, rows, strict=True):
        b50 = ax.bar(x - w / 2, p50, w, color="#1f77b4", label="overhead p50" if x == 0 else None)
        b95 = ax.bar(x + w / 2, p95, w, color="#9ecae1", label="overhead p95" if x == 0 else None)
        for bars, v in ((b50, p50), (b95, p95)):
            ax.text(bars[0].get_x() + w / 2, v + top * 0.012, f"{v:.0f}", ha="center", va="bottom", fontsize=8.5)
        if goal is not None:
            ax.hlines(
                goal, x - 0.45, x + 0.45, color=GOAL, lw=2, label="goal for this backend's p50" if x == 0 else None
            )
            ax.text(x, goal + top * 0.012, f"goal {goal:g} ms", color=GOAL, fontsize=8.5, va="bottom", ha="center")
    labels = [f"{b}\n{t:.0f} jobs/s" if t is not None else b for b, _, _, _, t in rows]
    ax.set_xticks(list(xs), labels)
    pad = max(0.0, (3 - len(rows)) / 2)  # keep bars the same width with one or two backends
    ax.set_xlim(-0.6 - pad, len(rows) - 0.4 + pad)
    ax.set_ylim(0, top * 1.18)
    ax.grid(False, axis="x")
    ax.set_ylabel("overhead (ms, lower is better)")
    ax.set_xlabel("queue backend (throughput with the no-op processor under the name)")
    _legend_above(ax, 3)
    notes = "overhead = event → done latency minus the processor's own time (no-op processor), one job at a time"
    return _save(fig, "Pipeline overhead per queue backend", _subtitle(notes, machine or _machine_of(data)), path)


def _rtf(entry: Any, audio_s: float, where: str) -> float:
    if isinstance(entry, dict) and isinstance(entry.get("rtf"), (int, float)) and not isinstance(entry["rtf"], bool):
        return float(entry["rtf"])
    return _get(entry, "median_s", where) / audio_s


def draw_stt(data: dict[str, Any], path: Path, machine: str | None, src: str = "stt.json") -> Path:
    files = _get(data, "files", src, list)
    if not files:
        raise PlotInputError(f"{src}: files is empty")
    groups: list[tuple[str, list[tuple[str, str, float]]]] = []
    for i, f in enumerate(files):
        where = f"{src}: files[{i}]"
        audio = _get(f, "audio_s", where)
        if audio <= 0:
            raise PlotInputError(f"{where}.audio_s: got {audio!r}, expected > 0")
        bars = [(label, c, _rtf(f[k], audio, f"{where}.{k}")) for k, label, c in STT_METHODS if k in f]
        groups.append((f"{_get(f, 'file', where, str)} ({audio:.0f} s)", bars))
    long = data.get("long")
    if isinstance(long, dict) and long:
        audio = _get(long, "audio_s", f"{src}: long")
        modes = [(k, v) for k, v in long.items() if isinstance(v, dict)]
        modes.sort(key=lambda kv: kv[0] != "sequential")
        colours = ["#a1d99b", "#31a354", "#006d2c", "#74c476"]
        bars = [(f"long: {k}", colours[n % 4], _rtf(v, audio, f"{src}: long.{k}")) for n, (k, v) in enumerate(modes)]
        if bars:
            groups.append((f"long file ({audio:.0f} s)", bars))
    nbars = sum(len(b) for _, b in groups)
    fig, ax = _figure(1.4 + 0.24 * nbars + 0.3 * len(groups))
    y, yticks, top = 0.0, [], max(v for _, b in groups for _, _, v in b)
    seen: set[str] = set()
    for name, bars in groups:
        start = y
        for label, colour, v in bars:
            ax.barh(y, v, height=0.82, color=colour, label=label if label not in seen else None)
            seen.add(label)
            ax.text(v + top * 0.01, y, f"{v:.3f}", va="center", fontsize=8)
            y += 1
        yticks.append(((start + y - 1) / 2, name))
        y += 0.8
    ax.set_yticks([t for t, _ in yticks], [n for _, n in yticks])
    ax.set_ylim(y - 0.8 + 0.1, -0.7)
    ax.set_xlim(0, top * 1.15)
    ax.grid(False, axis="y")
    ax.set_xlabel("real-time factor (processing s / audio s, lower is better)")
    _legend_above(ax, 3)
    model = data.get("meta", {}).get("model") if isinstance(data.get("meta"), dict) else None
    sub = _subtitle(model if isinstance(model, str) else None, "median over runs", machine or _machine_of(data))
    return _save(fig, "Speech-to-text: real-time factor", sub, path)


PLOTS: dict[str, Callable[[dict[str, Any], Path, str | None, str], Path]] = {
    "live": draw_live,
    "ocr": draw_ocr,
    "pipeline": draw_pipeline,
    "stt": draw_stt,
}


def draw_all(results: Path, out: Path, machine: str | None = None) -> list[Path]:
    """Draws out/<name>.png for each <name>.json present in ``results``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with plt.rc_context(STYLE):
        for name, draw in PLOTS.items():
            src = results / f"{name}.json"
            if src.is_file():
                written.append(draw(_load(src), out / f"{name}.png", machine, str(src)))
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--out", type=Path, default=None, help="default: the results folder")
    parser.add_argument("--machine", default=None, help="caption line, e.g. '2 cores, Intel Xeon ...'")
    args = parser.parse_args()
    try:
        paths = draw_all(args.results, args.out or args.results, args.machine)
    except PlotInputError as exc:
        sys.exit(f"plots: {exc}")
    for p in paths:
        print(p)


if __name__ == "__main__":
    main()
