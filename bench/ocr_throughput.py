"""Pages per second on the whole machine, for bench/ocr.py: Tesseract as one process per core against this engine.

The issue's throughput goal is "pages/s on 2 cores ≥ Tesseract run as one process per core". Each design gets the
same work list (the real scans, as PNG files with their DPI, repeated ``rounds`` times) and the whole machine:

- ``tesseract, 1 process per core``: as many ``tesseract`` commands at once as there are cores, each with
  ``OMP_THREAD_LIMIT=1`` (one thread each) and the page's languages;
- ``engine, 1 process, default threads``: one process with this engine as a worker builds it (``ocr_threads`` 0:
  PP-OCR's inference threads on every core), pages one after another;
- ``engine, N processes x 1 thread``: one process per core, each with the engine at ``ocr_threads=1``.

Every design reads and decodes each page's PNG itself (as a worker does with an upload). Model loading and a warm-up
happen before the clock starts, in every process: each engine has read every page once (as a worker that has run a
while has: OpenVINO compiles recognition once per new crop-width bucket, 80–90 ms each, and the bench's own engine
has read the pages in bench/ocr.py's runs; fresh pool workers without this ran at 0.41× Tesseract against 0.65× for
the warm single process). The clock stops when the last page is done. pages/s = pages / wall.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_engine: Any = None  # the engine of a pool worker process, built by _init


@dataclass(frozen=True)
class Task:
    name: str
    path: str  # a PNG written with its DPI
    dpi: float
    languages: tuple[str, ...]


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _tesseract(task: Task) -> int:
    out = subprocess.run(
        ["tesseract", task.path, "stdout", "-l", "+".join(task.languages)],
        capture_output=True,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
        check=True,
    ).stdout
    return len(out)


def _recognize(engine: Any, task: Task) -> int:
    from PIL import Image

    from streamprocess.ocr import OcrOptions
    from streamprocess.ocr.inputs import PageImage

    with Image.open(task.path) as im:
        rgb = im.convert("RGB")
    page = engine.recognize_page(PageImage(1, rgb, task.dpi), OcrOptions(languages=list(task.languages)))
    return len(page.text)


def _init(threads: int, ready: Any, warm: list[Task]) -> None:
    """A pool worker: build and warm up the engine as a worker process would, read each page of ``warm`` once, then
    say so."""
    global _engine
    from streamprocess.config import Settings
    from streamprocess.processors.ocr import engine_from

    _engine = engine_from(Settings(ocr_threads=threads))
    _engine.warm_up("ppocr")
    for task in warm:
        _recognize(_engine, task)
    ready.put(os.getpid())


def _pool_page(task: Task) -> int:
    return _recognize(_engine, task)


def _row(design: str, processes: int, threads: str, wall: float, n: int, chars: int) -> dict[str, Any]:
    return {
        "design": design,
        "processes": processes,
        "threads_per_process": threads,
        "pages": n,
        "seconds": round(wall, 2),
        "pages_per_s": round(n / wall, 3),
        "chars": chars,
    }


def measure(tasks: list[Task], engine: Any) -> list[dict[str, Any]]:
    """The three designs over ``tasks``; ``engine`` is the bench's own, already warm, at its default threads."""
    n, workers = len(tasks), cores()
    rows = []

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:  # threads only wait on the tesseract processes
        chars = sum(pool.map(_tesseract, tasks))
    rows.append(_row("tesseract, 1 process per core", workers, "1", time.perf_counter() - t0, n, chars))

    t0 = time.perf_counter()
    chars = sum(_recognize(engine, task) for task in tasks)
    rows.append(_row("engine, 1 process, default threads", 1, "default", time.perf_counter() - t0, n, chars))

    ctx = mp.get_context("spawn")  # a fresh interpreter per worker, as separate worker processes would be
    with ctx.Manager() as manager:
        ready = manager.Queue()
        warm = list({task.name: task for task in tasks}.values())
        with ctx.Pool(workers, initializer=_init, initargs=(1, ready, warm)) as pool:
            try:
                for _ in range(workers):
                    ready.get(timeout=1200)  # every worker loaded and warm before the clock starts
            except queue.Empty:
                raise RuntimeError(f"the {workers} engine processes were not ready within 1200 s") from None
            t0 = time.perf_counter()
            chars = sum(pool.imap_unordered(_pool_page, tasks))
            wall = time.perf_counter() - t0
    rows.append(_row(f"engine, {workers} processes x 1 thread", workers, "1", wall, n, chars))
    tesseract = rows[0]["pages_per_s"]
    for row in rows:
        row["ratio_to_tesseract"] = round(row["pages_per_s"] / tesseract, 3)
    return rows


def tasks_for(pages: list[Any], workdir: Path, rounds: int) -> list[Task]:
    """The work list: each page's PNG (written by bench/ocr.py into ``workdir``), ``rounds`` times, interleaved."""
    one = [Task(p.name, str(workdir / f"{p.name}.png"), p.dpi, tuple(p.languages)) for p in pages]
    return [t for _ in range(rounds) for t in one]
